"""drift.md, rendered from the typed result: the status and its reasons first, what else was found,
the rules it applied, the window and its newest line, the realised outcomes with their limits, the
contract breaches with the lines that broke it (fenced, whatever they hold), then one table row per
column in the result's order (most drifted first), and the labels the training data never had."""

from mlloop.core.column_scores import ColumnScores
from mlloop.monitoring.drift_markdown import render_markdown
from mlloop.monitoring.drift_result import ContractBreach, DriftResult, ExampleLine, Finding


def test_the_status_its_reasons_and_the_rules_come_first(drift_result: DriftResult) -> None:
    lines = render_markdown(drift_result).splitlines()

    assert lines[:5] == [
        "# Drift check: **drift**",
        "",
        "- key features drifted: monthly_charges, payment_method",
        "",
        f"Rules: {drift_result.rule}",
    ]


def test_the_window_lines_give_its_days_the_newest_line_rows_skipped_lines_and_model_versions(
    drift_result: DriftResult,
) -> None:
    markdown = render_markdown(drift_result)

    assert (
        "Window: 2026-11-18 to 2026-11-24 (7 days; log files from 2026-11-18 to 2026-11-24). "
        "Newest log line: 2026-11-24 05:02 UTC.\n"
        "7000 current rows (3 unreadable log lines skipped), 5634 reference rows. Model: churn:v1, churn:v2.\n"
    ) in markdown


def test_each_realised_metric_is_shown_with_the_limits_it_is_held_to_and_the_labels_counted(
    drift_result: DriftResult,
) -> None:
    markdown = render_markdown(drift_result)

    assert (
        "Realised on 200 labelled rows. Delayed labels read: 230; matching no logged row of the window: 30; "
        "unreadable label lines: 1.\n"
        "- roc_auc 0.8125 (held-out 0.8448; worst acceptable 0.83; max regression 0.01)\n"
    ) in markdown


def test_labelled_rows_of_one_outcome_say_so_and_still_count_the_labels(drift_result: DriftResult) -> None:
    assert drift_result.realised is not None
    one_outcome = drift_result.realised.model_copy(update={"metrics": []})

    markdown = render_markdown(drift_result.model_copy(update={"realised": one_outcome}))

    assert (
        "Realised on 200 labelled rows. Delayed labels read: 230; matching no logged row of the window: 30; "
        "unreadable label lines: 1.\n"
        "- no metric: the labelled rows hold one outcome only\n"
    ) in markdown


def test_a_window_without_log_files_says_so_and_shows_no_realised_metrics(drift_result: DriftResult) -> None:
    empty = drift_result.window.model_copy(update={"first_day": None, "last_day": None, "last_seen": None, "files": []})
    result = drift_result.model_copy(update={"window": empty, "model_versions": [], "realised": None, "columns": []})

    markdown = render_markdown(result)

    assert "Window: 2026-11-18 to 2026-11-24 (7 days; no log file). Newest log line: none." in markdown
    assert "Model: none." in markdown
    assert "Realised" not in markdown


def test_the_other_findings_follow_the_status_most_urgent_first(drift_result: DriftResult) -> None:
    findings = [
        Finding(status="stale", reasons=["the newest log line ..."]),
        Finding(status="drift", reasons=["key features drifted: tenure", "7 of 19 features drifted"]),
    ]
    result = drift_result.model_copy(update={"status": "stale", "reasons": findings[0].reasons, "findings": findings})

    lines = render_markdown(result).splitlines()

    assert lines[:7] == [
        "# Drift check: **stale**",
        "",
        "- the newest log line ...",
        "",
        "Also found:",
        "- drift: key features drifted: tenure; 7 of 19 features drifted",
        "",
    ]


def test_contract_breaches_are_a_table_and_their_example_lines_are_fenced(drift_result: DriftResult) -> None:
    breach = ContractBreach(
        feature="payment_method",
        rule="categories",
        count=140,
        share=0.02,
        limit=0.01,
        detail="labels the schema does not have: Crypto | wallet (140)",
        examples=[ExampleLine(file="s3://logs/a.jsonl", line=7, text='{"features": {"note": "``` @here"}}')],
    )

    markdown = render_markdown(drift_result.model_copy(update={"contract": [breach]}))

    cells = "| payment_method | categories | 140 | 2.00% | 1.00% |"
    detail = "labels the schema does not have: Crypto \\| wallet (140)"
    assert f"{cells} {detail} |" in markdown, "a `|` in a label written to the log cannot split the table's row"
    assert (
        "payment_method, categories: the first lines\n"
        "````text\n"
        's3://logs/a.jsonl:7: {"features": {"note": "``` @here"}}\n'
        "````\n"
    ) in markdown, "a fence longer than any run of backticks a writer put in the line"


def test_no_breach_means_no_contract_section(drift_result: DriftResult) -> None:
    assert "Contract breaches" not in render_markdown(drift_result)


def test_each_column_is_a_row_in_order_with_three_significant_digits_and_blanks_where_a_score_does_not_apply(
    drift_result: DriftResult,
) -> None:
    rows = [line for line in render_markdown(drift_result).splitlines() if line.startswith("| ") and "---" not in line]

    assert rows[1:] == [
        "| monthly_charges | numeric | wasserstein, psi | 0.41 |  | 0.62 |  | 0 | 1.2e-40 |",
        "| payment_method | categorical | unseen_share |  | 0.05 | 0.03 | 0.02 | 0 | 0.5 |",
        "| churn_probability | prediction | — | 0.01 |  | 0.002 |  | 0 | 0.9 |",
    ]
    assert rows[0].endswith("| p-value (not used) |")


def test_labels_the_training_data_never_had_are_listed_with_their_counts(drift_result: DriftResult) -> None:
    markdown = render_markdown(drift_result)

    assert markdown.endswith("\nLabels the training data never had:\n- payment_method: Crypto wallet (140)\n")


def test_no_unseen_labels_means_no_such_section(drift_result: DriftResult) -> None:
    column = drift_result.columns[1]
    seen = column.model_copy(update={"drifted_by": [], "scores": ColumnScores(None, 0.05, 0.03, 0.0, 0.0, 0.5, {})})
    result = drift_result.model_copy(update={"columns": [seen]})

    assert "never had" not in render_markdown(result)
