"""
markdown.render: the pull-request comment as Markdown, built from hand-made content so every
number in it can be checked against what went in.
"""

import dataclasses
import re

import pandas as pd
import pytest

from mlloop.core.bootstrap import BootstrapResult
from mlloop.review import markdown
from mlloop.review.compare import MetricRow, params_diff
from mlloop.review.gate import GateVerdict, RuleResult
from mlloop.review.serving_cost import RatioInterval, ServingCost, Timings, Workload

PR_SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
BASELINE_SHA = "0f1e2d3c4b5a69788796a5b4c3d2e1f0aabbccdd"
REPRODUCE = "git checkout a1b2c3d4e5f6 && make run && make report BASELINE=main"
PNG_FILES = {
    "ROC": "compare_roc.png",
    "Precision-recall": "compare_precision_recall.png",
    "Confusion matrices": "compare_confusion.png",
}

PASSING = GateVerdict(
    rules=[
        RuleResult("roc_auc >= 0.8", 0.8456, 0.8, passed=True),
        RuleResult("log_loss regression vs baseline <= 0.05", 0.03, 0.05, passed=True),
    ],
    notes=[],
)
FAILING = GateVerdict(
    rules=[
        RuleResult("roc_auc >= 0.8", 0.8456, 0.8, passed=True),
        RuleResult("log_loss regression vs baseline <= 0.02", 0.03, 0.02, passed=False),
    ],
    notes=[],
)

BASELINE_PARAMS = {
    "split": {"seed": 42, "test_size": 0.2},
    "train": {"seed": 42, "hyperparameters": {"max_depth": 4, "l2_regularization": 1.0}},
}
PR_PARAMS = {
    "split": {"seed": 42, "test_size": 0.2},
    "train": {"seed": 42, "hyperparameters": {"max_depth": 6, "max_leaf_nodes": 31}},
}


def _confusion(pairs: dict[tuple[str, str], int]) -> pd.DataFrame:
    """Confusion rows (actual, predicted), `count` rows of each pair."""
    rows = [pair for pair, count in pairs.items() for _ in range(count)]
    return pd.DataFrame(rows, columns=["actual", "predicted"])


# Counts by (actual, predicted):      No->No  No->Yes  Yes->No  Yes->Yes
BASELINE_CONFUSION = _confusion({("No", "No"): 3, ("No", "Yes"): 1, ("Yes", "No"): 1, ("Yes", "Yes"): 2})
PR_CONFUSION = _confusion({("No", "No"): 4, ("Yes", "Yes"): 3})

CURVES = {
    "roc": {
        "baseline": pd.DataFrame({"fpr": [0.0, 0.2, 1.0], "tpr": [0.0, 0.6, 1.0]}),
        "pull_request": pd.DataFrame({"fpr": [0.0, 0.1, 1.0], "tpr": [0.0, 0.7, 1.0]}),
    },
    "precision_recall": {
        "baseline": pd.DataFrame({"recall": [1.0, 0.5, 0.0], "precision": [0.3, 0.6, 1.0]}),
        "pull_request": pd.DataFrame({"recall": [1.0, 0.5, 0.0], "precision": [0.3, 0.7, 1.0]}),
    },
    "confusion": {"baseline": BASELINE_CONFUSION, "pull_request": PR_CONFUSION},
}

VALIDATION = {
    "baseline": {"status": "passed", "rows": 7043, "null_counts": {"total_charges": 11}, "failures": []},
    "pull_request": {"status": "passed", "rows": 7043, "null_counts": {}, "failures": []},
}
PERFORMANCE = {"baseline": {"model_size_bytes": 204_800}, "pull_request": {"model_size_bytes": 409_600}}
SERVING = ServingCost(
    single_row=Workload(
        rows=1,
        pull_request=Timings((3.0, 3.25, 3.5)),
        baseline=Timings((2.5, 2.5, 2.75)),
        ratio=RatioInterval(observed=1.3, low=1.2, high=1.41, confidence=0.95, resamples=1000),
    ),
    batch=Workload(
        rows=1000,
        pull_request=Timings((25.0, 25.0, 30.0)),
        baseline=Timings((20.0, 20.0, 45.0)),
        ratio=RatioInterval(observed=1.25, low=0.9, high=1.6, confidence=0.95, resamples=1000),
    ),
    note=None,
)
NOT_TIMED = (
    "Baseline model not timed (models/model.joblib at 0f1e2d3c4b5a: cannot be loaded): this PR's model was timed alone."
)
SERVING_ALONE = ServingCost(
    single_row=Workload(1, SERVING.single_row.pull_request, None, None),
    batch=Workload(1000, SERVING.batch.pull_request, None, None),
    note=NOT_TIMED,
)


def _content(**changes: object) -> markdown.ReportContent:
    """A full two-sided report, with the given fields replaced."""
    content = markdown.ReportContent(
        pull_request=markdown.Revision("this PR", PR_SHA),
        baseline=markdown.Revision("main", BASELINE_SHA),
        notes=["Baseline `main` resolved to origin/main."],
        verdict=PASSING,
        metrics=[MetricRow("roc_auc", 0.8123, 0.8456), MetricRow("log_loss", 0.42, 0.45)],
        bootstrap=[
            BootstrapResult("roc_auc", 0.0333, 0.0125, 0.0541, confidence=0.95, resamples=1000),
            BootstrapResult("average_precision", 0.004, -0.011, 0.019, confidence=0.95, resamples=1000),
        ],
        paired_rows=1409,
        param_changes=params_diff(BASELINE_PARAMS, PR_PARAMS),
        stages_changed=["train", "evaluate"],
        curves=CURVES,
        validation=VALIDATION,
        performance=PERFORMANCE,
        serving_cost=SERVING,
        charts="mermaid",
        chart_points=5,
        png_files=PNG_FILES,
        reproduce_command=REPRODUCE,
    )
    return dataclasses.replace(content, **changes)  # type: ignore[arg-type]


def _section(text: str, heading: str) -> str:
    """The text from `heading` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = text.index(heading)
    following = re.search(rf"^#{{1,{len(level)}}} ", text[start + len(heading) :], re.MULTILINE)
    end = start + len(heading) + following.start() if following else len(text)
    return text[start:end]


def _mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)


def _first_pr_content() -> markdown.ReportContent:
    """What review.run_report builds when the baseline has no metrics: the PR side alone."""
    return _content(
        notes=["Baseline `main` has no metrics yet (the first PR?): showing this PR alone."],
        verdict=GateVerdict(PASSING.rules[:1], ["no baseline metrics: regression rules were not applied"]),
        metrics=[MetricRow("roc_auc", None, 0.8456), MetricRow("log_loss", None, 0.45)],
        bootstrap=[],
        paired_rows=0,
        param_changes=[],
        stages_changed=[],
        curves={name: {"pull_request": sides["pull_request"]} for name, sides in CURVES.items()},
        validation={"pull_request": VALIDATION["pull_request"]},
        performance={"pull_request": PERFORMANCE["pull_request"]},
        serving_cost=dataclasses.replace(
            SERVING_ALONE, note="No baseline model to time: this PR's model was timed alone."
        ),
        png_files={},
    )


# --- header, notes, gate ---------------------------------------------------------------


def test_header_names_both_sides_with_labels_and_short_shas() -> None:
    header = markdown.render(_content()).splitlines()[0]

    assert header == "## Model report: `this PR` @ `a1b2c3d` vs `main` @ `0f1e2d3`"


def test_header_says_when_the_baseline_commit_was_not_found() -> None:
    text = markdown.render(_content(baseline=markdown.Revision("main", None)))

    assert text.splitlines()[0] == "## Model report: `this PR` @ `a1b2c3d` vs `main` (not found)"


def test_notes_are_rendered_as_blockquotes() -> None:
    notes = ["Baseline `main` has no metrics yet.", "Significance not computed: no baseline predictions."]

    lines = markdown.render(_content(notes=notes)).splitlines()

    assert [line for line in lines if line.startswith("> ")] == [f"> {note}" for note in notes]


def test_a_passing_gate_says_passed() -> None:
    text = markdown.render(_content(verdict=PASSING))

    assert "**Gate: ✅ passed**" in text
    assert "❌" not in text


def test_a_failing_gate_says_failed_and_shows_the_failing_rule_before_the_metrics() -> None:
    text = markdown.render(_content(verdict=FAILING))

    gate = text[text.index("**Gate:") : text.index("### Metrics")]
    assert "**Gate: ❌ failed**" in gate
    assert "- FAIL log_loss regression vs baseline <= 0.02: 0.03 (limit 0.02)" in gate.splitlines()
    assert "PASS" not in gate, "only failing rules are listed up front"
    assert "✅" not in text


def test_every_gate_rule_is_listed_in_the_details() -> None:
    details = markdown.render(_content(verdict=FAILING)).split("<details>")[1]

    assert "- PASS roc_auc >= 0.8: 0.8456 (limit 0.8)" in details
    assert "- FAIL log_loss regression vs baseline <= 0.02: 0.03 (limit 0.02)" in details


def test_gate_notes_are_listed_under_the_verdict() -> None:
    verdict = GateVerdict(PASSING.rules, ["no baseline metrics: regression rules were not applied"])

    text = markdown.render(_content(verdict=verdict))

    assert "- note: no baseline metrics: regression rules were not applied" in text.splitlines()


# --- metrics and bootstrap -------------------------------------------------------------


def test_metrics_table_shows_both_values_the_signed_delta_and_the_direction_marker() -> None:
    table = _section(markdown.render(_content()), "### Metrics").splitlines()

    assert "| metric | main | this PR | Δ |  |" in table
    assert "| roc_auc | 0.8123 | 0.8456 | +0.0333 | 🟢 better |" in table
    # log_loss going up is worse, though its delta is positive
    assert "| log_loss | 0.4200 | 0.4500 | +0.0300 | 🔴 worse |" in table


def test_bootstrap_table_shows_the_interval_and_whether_it_is_significant() -> None:
    section = _section(markdown.render(_content()), "### Is the difference real?")

    assert "over the 1409 test customers" in section
    assert "1000 resamples, 95% interval" in section
    lines = section.splitlines()
    assert "| roc_auc | +0.0333 | [+0.0125, +0.0541] | **significant** |" in lines
    assert "| average_precision | +0.0040 | [-0.0110, +0.0190] | within noise |" in lines


# --- what changed ----------------------------------------------------------------------


def test_params_table_shows_only_the_changed_keys_and_absent_sides() -> None:
    section = _section(markdown.render(_content()), "### What changed")

    lines = section.splitlines()
    assert "| param | main | this PR |" in lines
    assert "| `train.hyperparameters.max_depth` | `4` | `6` |" in lines
    assert "| `train.hyperparameters.l2_regularization` | `1.0` | (absent) |" in lines
    assert "| `train.hyperparameters.max_leaf_nodes` | (absent) | `31` |" in lines
    table_rows = [line for line in lines if line.startswith("| `")]
    assert len(table_rows) == 3, "unchanged keys such as split.seed are not listed"
    assert "split.seed" not in section
    assert "train.seed" not in section


def test_changed_stages_are_listed() -> None:
    section = _section(markdown.render(_content()), "### What changed")

    assert "Stages whose inputs or outputs changed: `train`, `evaluate`." in section.splitlines()


# --- charts ----------------------------------------------------------------------------


def test_mermaid_charts_draw_both_curves_with_one_line_per_side_and_no_images() -> None:
    text = markdown.render(_content(charts="mermaid"))

    blocks = _mermaid_blocks(text)
    assert len(blocks) == 2, "ROC and precision-recall"
    for block in blocks:
        assert block.splitlines()[0] == "xychart-beta"
        assert len(re.findall(r"^\s+line \[", block, re.MULTILINE)) == 2, block
    assert "![" not in text, "no image links with mermaid charts"


def test_mermaid_roc_chart_reads_each_curve_at_the_chart_points() -> None:
    roc = _mermaid_blocks(markdown.render(_content(chart_points=5)))[0]

    assert 'title "ROC (main = line 1 and this PR = line 2)"' in roc
    assert 'x-axis "fpr" ["0.00", "0.25", "0.50", "0.75", "1.00"]' in roc
    # baseline through (0.2, 0.6): at fpr 0.25 the tpr is 0.6 + 0.05 / 0.8 * 0.4 = 0.625
    assert "    line [0.0, 0.625, 0.75, 0.875, 1.0]" in roc.splitlines()
    # PR through (0.1, 0.7): at fpr 0.25 the tpr is 0.7 + 0.15 / 0.9 * 0.3 = 0.75
    assert "    line [0.0, 0.75, 0.833, 0.917, 1.0]" in roc.splitlines()


def test_png_charts_link_the_png_files_and_draw_no_mermaid() -> None:
    text = markdown.render(_content(charts="png"))

    lines = text.splitlines()
    for title, file in PNG_FILES.items():
        assert f"![{title}]({file})" in lines
    assert "```mermaid" not in text
    assert "xychart-beta" not in text


def test_confusion_table_holds_the_counts_of_both_sides() -> None:
    table = _section(markdown.render(_content()), "#### Confusion matrices").splitlines()

    assert "| actual ↓ / predicted → | main: No | main: Yes | this PR: No | this PR: Yes |" in table
    assert "| No | 3 | 1 | 4 | 0 |" in table
    assert "| Yes | 1 | 2 | 0 | 3 |" in table


@pytest.mark.parametrize("charts", ["mermaid", "png"])
def test_confusion_table_is_shown_with_either_chart_kind(charts: str) -> None:
    assert "#### Confusion matrices" in markdown.render(_content(charts=charts))


# --- validation, serving cost, footer --------------------------------------------------


def test_validation_and_serving_cost_tables_have_a_row_per_side() -> None:
    text = markdown.render(_content())

    validation = _section(text, "### Data validation").splitlines()
    assert "| main | passed | 7043 | total_charges: 11 | 0 |" in validation
    assert "| this PR | passed | 7043 | none | 0 |" in validation
    cost = _section(text, "### Serving cost").splitlines()
    assert "| main | 200 KiB | 2.50 ms | 20.00 ms | 50000 rows/s |" in cost
    assert "| this PR | 400 KiB | 3.25 ms | 25.00 ms | 40000 rows/s |" in cost


def test_serving_cost_says_both_models_were_timed_in_this_run_and_how_often() -> None:
    cost = _section(markdown.render(_content()), "### Serving cost")

    assert "Timed in this run, in one process: both models, called in turn, 3 times on one row" in cost
    assert "3 times on a batch of 1000 rows of the test split" in cost
    assert "| model size | single-row latency p50 | batch latency p50 (1000 rows) | batch throughput |" in cost


def test_serving_cost_shows_the_pr_over_baseline_ratio_with_its_interval_and_verdict() -> None:
    cost = _section(markdown.render(_content()), "### Serving cost").splitlines()

    assert "| PR / baseline | time ratio | 95% interval | verdict |" in cost
    assert "| single-row call | 1.30× | [1.20×, 1.41×] | **slower** |" in cost
    assert "| batch call | 1.25× | [0.90×, 1.60×] | within noise |" in cost, "an interval containing 1 is noise"
    assert any("95% interval from 1000 bootstrap resamples of the turns" in line for line in cost), cost


def test_a_baseline_model_not_timed_leaves_its_timings_blank_and_a_note_says_why() -> None:
    cost = _section(markdown.render(_content(serving_cost=SERVING_ALONE)), "### Serving cost")

    assert "Timed in this run, in one process: this PR's model alone, 3 times on one row" in cost
    assert "| main | 200 KiB | – | – | – |" in cost.splitlines(), "the recorded size stays; no timings"
    assert "| this PR | 400 KiB | 3.25 ms | 25.00 ms | 40000 rows/s |" in cost.splitlines()
    assert "PR / baseline" not in cost, "no ratio without the baseline's timings"
    assert f"> {NOT_TIMED}" in cost.splitlines()


def test_footer_holds_the_reproduce_command() -> None:
    lines = markdown.render(_content()).rstrip("\n").splitlines()

    assert lines[-2:] == ["---", f"Reproduce locally: `{REPRODUCE}`"]


# --- the first pull request ------------------------------------------------------------


def test_first_pr_without_baseline_metrics_renders_the_pr_side_alone() -> None:
    text = markdown.render(_first_pr_content())

    assert "> Baseline `main` has no metrics yet (the first PR?): showing this PR alone." in text
    assert "- note: no baseline metrics: regression rules were not applied" in text
    assert "| roc_auc | – | 0.8456 | – | 🆕 new |" in text.splitlines()
    assert "Is the difference real?" not in text, "no bootstrap without a baseline"
    changes = _section(text, "### What changed").splitlines()
    assert "No params changed." in changes
    assert "Stages whose inputs or outputs changed: none." in changes
    for block in _mermaid_blocks(text):
        assert len(re.findall(r"^\s+line \[", block, re.MULTILINE)) == 1, block
        assert "this PR = line 1" in block
    confusion = _section(text, "#### Confusion matrices").splitlines()
    assert "| actual ↓ / predicted → | this PR: No | this PR: Yes |" in confusion
    assert "| this PR | 400 KiB | 3.25 ms | 25.00 ms | 40000 rows/s |" in text.splitlines()
    assert "> No baseline model to time: this PR's model was timed alone." in text.splitlines()
    assert not any(line.startswith("| main |") for line in text.splitlines()), "no baseline rows anywhere"
