"""drift.md, rendered from the typed result: the verdict and its reasons first, the rule it applied,
the window, then one table row per column in the result's order (most drifted first), and the
labels the training data never had."""

from mlloop.core.drift_scores import ColumnScores
from mlloop.monitoring.drift_markdown import render_markdown
from mlloop.monitoring.drift_result import DriftResult, WindowSummary


def test_the_verdict_its_reasons_and_the_rule_come_first(drift_result: DriftResult) -> None:
    lines = render_markdown(drift_result).splitlines()

    assert lines[:5] == [
        "# Drift check: **drift**",
        "",
        "- key features drifted: monthly_charges, payment_method",
        "",
        f"Rule: {drift_result.rule}",
    ]


def test_the_window_line_gives_days_rows_skipped_lines_and_model_versions(drift_result: DriftResult) -> None:
    markdown = render_markdown(drift_result)

    assert (
        "Window: 2026-11-18 to 2026-11-24, 7000 current rows (3 log lines skipped), 5634 reference rows. "
        "Model: churn:v1, churn:v2.\n"
        "Realised ROC AUC on 200 labelled rows: 0.8125. Delayed labels read: 230; matching no logged row of "
        "the window: 30; unreadable label lines: 1.\n"
    ) in markdown


def test_a_realised_metric_without_both_outcomes_says_so_and_still_counts_the_labels(
    drift_result: DriftResult,
) -> None:
    assert drift_result.realised is not None
    one_outcome = drift_result.realised.model_copy(update={"roc_auc": None})

    markdown = render_markdown(drift_result.model_copy(update={"realised": one_outcome}))

    assert "Realised ROC AUC on 200 labelled rows: n/a (one outcome only). Delayed labels read: 230;" in markdown


def test_an_empty_window_says_none_for_its_days_and_model(drift_result: DriftResult) -> None:
    empty = WindowSummary(source="data/production", days=7, first_day=None, last_day=None, files=[])
    result = drift_result.model_copy(update={"window": empty, "model_versions": [], "realised": None, "columns": []})

    markdown = render_markdown(result)

    assert "Window: None to None," in markdown
    assert "Model: none." in markdown
    assert "Realised ROC AUC" not in markdown


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
