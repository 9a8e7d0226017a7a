"""ab.md: the decision and its reasons first, then each variant's numbers, the difference with its interval,
the floors, the evidence window and the rule applied."""

from datetime import date

from mlloop.monitoring.ab_markdown import render_markdown
from mlloop.monitoring.ab_result import AbResult, AbWindow, Difference, Evidence, Floor, VariantSummary

WINDOW = AbWindow(
    source="s3://bucket/log",
    days=7,
    start=date(2026, 3, 1),
    end=date(2026, 3, 7),
    first_day=date(2026, 3, 1),
    last_day=date(2026, 3, 7),
    rows=40_000,
    labels=39_000,
    unmatched_labels=12,
)
METRICS = {"roc_auc": 0.8, "average_precision": 0.6, "log_loss": 0.45, "brier": 0.15}


def _variant(variant: str, version: str, rows: int, roc_auc: float) -> VariantSummary:
    return VariantSummary.model_validate(
        {
            "variant": variant,
            "model_versions": [version],
            "rows": rows,
            "labelled_rows": rows - 500,
            "mean_prediction": 0.27,
            "metrics": METRICS | {"roc_auc": roc_auc},
        }
    )


def _result(**changes: object) -> AbResult:
    result = AbResult(
        decision="keep_champion",
        reasons=["the challenger's log_loss 0.4700 is worse than gate.worst_acceptable 0.45", "a difference of ..."],
        rule="The rule, in words.",
        mode="split",
        challenger_version="churn:v3",
        skipped_rows=0,
        settled=None,
        window=WINDOW,
        evidence=Evidence(days=7, first_day=date(2026, 3, 1), closed=True),
        variants=[_variant("champion", "churn:v2", 20_000, 0.8123), _variant("challenger", "churn:v3", 20_000, 0.8301)],
        difference=Difference(
            metric="log_loss",
            champion=0.45,
            challenger=0.47,
            delta=0.02,
            bound=0.031,
            improvement_bound=-0.031,
            confidence=0.95,
            resamples=1000,
            paired=False,
        ),
        floors=[Floor(metric="log_loss", limit=0.45, challenger=0.47, met=False)],
        commit="abc123",
    )
    return result.model_copy(update=changes)


def test_the_decision_leads_with_its_reasons_in_order() -> None:
    markdown = render_markdown(_result())

    assert markdown.startswith("# Champion and challenger: 🔴 keep the champion\n\nDecision: `keep_champion`\n\n")
    assert markdown.index("- the challenger's log_loss 0.4700") < markdown.index("- a difference of ...")
    assert "Challenger: `churn:v3`, served in split mode." in markdown
    assert "Evidence window: 7 days, closed; the challenger was first logged on 2026-03-01." in markdown
    assert "40,000 rows. Delayed labels read: 39,000; matching no row of the window: 12." in markdown


def test_each_variant_is_a_row_with_every_metric_and_its_direction() -> None:
    markdown = render_markdown(_result())

    assert "| roc_auc ↑ | average_precision ↑ | log_loss ↓ | brier ↓ |" in markdown
    assert "| champion | churn:v2 | 20,000 | 19,500 | 0.2700 | 0.8123 | 0.6000 | 0.4500 | 0.1500 |" in markdown
    assert "| challenger | churn:v3 | 20,000 | 19,500 | 0.2700 | 0.8301 | 0.6000 | 0.4500 | 0.1500 |" in markdown


def test_a_loss_reads_its_interval_from_above_and_its_gain_as_negative_when_worse() -> None:
    markdown = render_markdown(_result())

    assert (
        "Challenger − champion, log_loss: **+0.0200** (0.4700 against 0.4500); 95% one-sided interval: ≤ +0.0310, "
        "a gain of at least -0.0310 (bootstrap, unpaired: each variant's own rows; 1,000 resamples)."
    ) in markdown
    assert "| log_loss | 0.45 | 0.4700 | **no** |" in markdown


def test_without_a_challenger_there_is_no_table_no_difference_and_no_floor() -> None:
    markdown = render_markdown(
        _result(
            decision="insufficient_data",
            reasons=["no line names a challenger"],
            mode=None,
            challenger_version=None,
            evidence=Evidence(days=7, first_day=None, closed=False),
            variants=[],
            difference=None,
            floors=[],
        )
    )

    assert markdown.startswith("# Champion and challenger: ⚪ insufficient data")
    assert "Challenger: none." in markdown
    assert "Evidence window: 7 days; no challenger logged in it." in markdown
    assert "## Variants" not in markdown
    assert "Challenger − champion" not in markdown
    assert "floor" not in markdown
    assert markdown.endswith("## Rule\n\nThe rule, in words.\n\nParams and code of commit `abc123`.\n")


def test_rows_the_shadow_skipped_under_load_are_said_only_when_there_are_some() -> None:
    assert "skipped 1,234 rows" in render_markdown(_result(mode="shadow", skipped_rows=1234))
    assert "skipped" not in render_markdown(_result())


def test_a_decision_the_log_shows_done_is_said_so() -> None:
    assert "the challenger answers as the champion" in render_markdown(_result(decision="promote", settled="promoted"))
    assert "Already done" not in render_markdown(_result())
