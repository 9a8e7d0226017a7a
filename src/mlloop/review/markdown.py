"""Render the pull-request report as Markdown for `cml comment update` and the job summary.

Pure: it takes the ReportContent that report.py built and returns text. Charts are Mermaid by
default, which GitHub draws itself, so no image has to leave the repository.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlloop.core.bootstrap import BootstrapResult
from mlloop.review.compare import ABSENT, MetricRow, ParamChange
from mlloop.review.gate import GateVerdict, RuleResult
from mlloop.review.serving_cost import ServingCost, Timings, Workload

MARKERS = {"better": "🟢 better", "worse": "🔴 worse", "unchanged": "⚪ same", "new": "🆕 new", "removed": "➖ removed"}


@dataclass(frozen=True)
class Revision:
    """One side of the comparison: a label such as `main` and the commit it resolved to."""

    label: str
    sha: str | None


@dataclass(frozen=True)
class ReportContent:
    """Everything the report shows, as report.build_content gathers it; None marks what the baseline lacks."""

    pull_request: Revision
    baseline: Revision
    notes: list[str]
    verdict: GateVerdict
    metrics: list[MetricRow]
    bootstrap: list[BootstrapResult]
    paired_rows: int
    param_changes: list[ParamChange]
    stages_changed: list[str]
    curves: Mapping[str, Mapping[str, pd.DataFrame]]
    """Curve name → side ('baseline' or 'pull_request') → points; a side is absent when unknown."""
    validation: Mapping[str, Mapping[str, Any] | None]
    performance: Mapping[str, Mapping[str, Any] | None]
    """Side → what its evaluate stage recorded (model size); timings come from serving_cost, not from here."""
    serving_cost: ServingCost
    charts: str
    chart_points: int
    png_files: Mapping[str, str]
    """Chart title → comparison PNG written beside the report; empty when there is no baseline to compare."""
    reproduce_command: str


def _number(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def _short(revision: Revision) -> str:
    return f"`{revision.label}` @ `{revision.sha[:7]}`" if revision.sha else f"`{revision.label}` (not found)"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _rule_lines(rules: Sequence[RuleResult]) -> list[str]:
    return [f"- {rule.describe()}" for rule in rules]


def _gate_section(verdict: GateVerdict) -> list[str]:
    if verdict.passed:
        lines = ["**Gate: ✅ passed** (every rule below holds)."]
    else:
        lines = ["**Gate: ❌ failed**", "", *_rule_lines(verdict.failures)]
    return lines + [f"- note: {note}" for note in verdict.notes]


def _metrics_section(content: ReportContent) -> list[str]:
    rows = [
        [row.metric, _number(row.baseline), _number(row.pull_request), _signed(row.delta), MARKERS[row.verdict]]
        for row in content.metrics
    ]
    header = ["metric", content.baseline.label, content.pull_request.label, "Δ", ""]
    return ["### Metrics (test split)", "", *_table(header, rows)]


def _bootstrap_section(content: ReportContent) -> list[str]:
    if not content.bootstrap:
        return []
    first = content.bootstrap[0]
    rows = [
        [
            result.metric,
            _signed(result.observed_delta),
            f"[{_signed(result.low)}, {_signed(result.high)}]",
            "**significant**" if result.significant else "within noise",
        ]
        for result in content.bootstrap
    ]
    return [
        "### Is the difference real?",
        "",
        f"Paired bootstrap over the {content.paired_rows} test customers both models scored: "
        f"{first.resamples} resamples, {first.confidence:.0%} interval of PR − baseline. "
        "An interval that excludes 0 is significant; one that straddles 0 is within noise.",
        "",
        *_table(["metric", "Δ observed", f"{first.confidence:.0%} interval", "verdict"], rows),
    ]


def _param(value: Any) -> str:
    return repr(value) if value is ABSENT else f"`{value}`"


def _changes_section(content: ReportContent) -> list[str]:
    lines = ["### What changed", ""]
    if content.param_changes:
        rows = [[f"`{c.key}`", _param(c.baseline), _param(c.pull_request)] for c in content.param_changes]
        lines += _table(["param", content.baseline.label, content.pull_request.label], rows)
    else:
        lines.append("No params changed.")
    stages = ", ".join(f"`{stage}`" for stage in content.stages_changed) or "none"
    return [*lines, "", f"Stages whose inputs or outputs changed: {stages}."]


def _resampled(points: pd.DataFrame, x: str, y: str, grid: np.ndarray) -> list[float]:
    """The curve read off at fixed x positions, since a Mermaid line needs one value per category."""
    ordered = points.sort_values([x, y])
    return [round(float(v), 3) for v in np.interp(grid, ordered[x], ordered[y])]


def _mermaid_curve(title: str, x: str, y: str, sides: Mapping[str, pd.DataFrame], content: ReportContent) -> list[str]:
    grid = np.linspace(0, 1, content.chart_points)
    labels = ", ".join(f'"{value:.2f}"' for value in grid)
    legend = " and ".join(f"{name} = line {index}" for index, name in enumerate(_side_names(content, sides), start=1))
    lines = ["```mermaid", "xychart-beta", f'    title "{title} ({legend})"', f'    x-axis "{x}" [{labels}]']
    lines.append(f'    y-axis "{y}" 0 --> 1')
    lines += [f"    line {_resampled(points, x, y, grid)}" for points in sides.values()]
    return [*lines, "```"]


def side_label(content: ReportContent, side: str) -> str:
    """How the report names a side: the baseline's ref, or the PR's label."""
    return content.baseline.label if side == "baseline" else content.pull_request.label


def _side_names(content: ReportContent, sides: Mapping[str, pd.DataFrame]) -> list[str]:
    return [side_label(content, side) for side in sides]


def _confusion_table(content: ReportContent) -> list[str]:
    """Both confusion matrices in one table, baseline columns then PR columns, so they read side by side."""
    sides = content.curves.get("confusion", {})
    if not sides:
        return []
    classes = sorted(set().union(*(set(rows["actual"]) | set(rows["predicted"]) for rows in sides.values())))
    counts = {
        name: pd.crosstab(rows["actual"], rows["predicted"]).reindex(index=classes, columns=classes, fill_value=0)
        for name, rows in zip(_side_names(content, sides), sides.values(), strict=True)
    }
    header = ["actual ↓ / predicted →"] + [f"{name}: {label}" for name in counts for label in classes]
    rows = [
        [actual, *(str(table.loc[actual, predicted]) for table in counts.values() for predicted in classes)]
        for actual in classes
    ]
    return ["#### Confusion matrices", "", *_table(header, rows)]


CURVES = (("roc", "ROC", "fpr", "tpr"), ("precision_recall", "Precision-recall", "recall", "precision"))
"""Curve data name, chart title, x column, y column."""


def _charts_section(content: ReportContent) -> list[str]:
    lines = ["### Curves", ""]
    if content.charts == "png":
        lines += [f"![{title}]({file})" for title, file in content.png_files.items()]
    else:
        for name, title, x, y in CURVES:
            if content.curves.get(name):
                lines += [*_mermaid_curve(title, x, y, content.curves[name], content), ""]
    return [*lines, "", *_confusion_table(content)]


def _validation_section(content: ReportContent) -> list[str]:
    rows = []
    for side, report in content.validation.items():
        label = side_label(content, side)
        if report is None:
            rows.append([label, "–", "–", "–", "–"])
            continue
        nulls = ", ".join(f"{column}: {count}" for column, count in report.get("null_counts", {}).items()) or "none"
        failures = len(report.get("failures", []))
        rows.append([label, str(report.get("status")), str(report.get("rows")), nulls, str(failures)])
    return ["### Data validation", "", *_table(["", "status", "rows", "nulls", "broken rules"], rows)]


RATIO_VERDICTS = {"slower": "**slower**", "faster": "**faster**", "within noise": "within noise"}


def _milliseconds(timings: Timings | None) -> str:
    return "–" if timings is None else f"{timings.p50:.2f} ms"


def _throughput(workload: Workload, timings: Timings | None) -> str:
    return "–" if timings is None else f"{workload.rows_per_second(timings):.0f} rows/s"


def _times(ratio: float) -> str:
    return f"{ratio:.2f}×"


def _timed_sides(content: ReportContent) -> list[list[str]]:
    """A row per side: its recorded model size, and its timings from this run, a dash where not timed."""
    cost = content.serving_cost
    rows = []
    for side, perf in content.performance.items():
        single, batch = (
            (cost.single_row.pull_request, cost.batch.pull_request)
            if side == "pull_request"
            else (cost.single_row.baseline, cost.batch.baseline)
        )
        size = "–" if perf is None else f"{perf['model_size_bytes'] / 1024:.0f} KiB"
        label = side_label(content, side)
        rows.append([label, size, _milliseconds(single), _milliseconds(batch), _throughput(cost.batch, batch)])
    return rows


def _ratio_table(content: ReportContent) -> list[str]:
    ratios = [(name, w.ratio) for name, w in content.serving_cost.workloads.items() if w.ratio is not None]
    if not ratios:
        return []
    first = ratios[0][1]
    rows = [
        [f"{name} call", _times(r.observed), f"[{_times(r.low)}, {_times(r.high)}]", RATIO_VERDICTS[r.verdict]]
        for name, r in ratios
    ]
    return [
        "",
        "PR / baseline: the time of a call of this PR's model over the baseline's call in the same turn, "
        f"the median of those ratios, with its {first.confidence:.0%} interval from {first.resamples} bootstrap "
        "resamples of the turns. An interval that excludes 1 is a real difference; one that contains 1 is "
        "within noise.",
        "",
        *_table(["PR / baseline", "time ratio", f"{first.confidence:.0%} interval", "verdict"], rows),
    ]


def _cost_section(content: ReportContent) -> list[str]:
    cost = content.serving_cost
    timed = "this PR's model alone" if cost.single_row.ratio is None else "both models, called in turn"
    header = [
        "",
        "model size",
        "single-row latency p50",
        f"batch latency p50 ({cost.batch.rows} rows)",
        "batch throughput",
    ]
    lines = [
        "### Serving cost",
        "",
        f"Timed in this run, in one process: {timed}, {cost.single_row.calls} times on one row and "
        f"{cost.batch.calls} times on a batch of {cost.batch.rows} rows of the test split (`report.serving_cost`).",
        "",
        *_table(header, _timed_sides(content)),
        *_ratio_table(content),
    ]
    return lines if cost.note is None else [*lines, "", f"> {cost.note}"]


def render(content: ReportContent) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    sections = [
        [f"## Model report: {_short(content.pull_request)} vs {_short(content.baseline)}", ""],
        [line for note in content.notes for line in (f"> {note}", "")],
        _gate_section(content.verdict),
        _metrics_section(content),
        _bootstrap_section(content),
        _changes_section(content),
        _charts_section(content),
        _validation_section(content),
        _cost_section(content),
        [
            "<details><summary>Every gate rule</summary>",
            "",
            *_rule_lines(content.verdict.rules),
            "",
            "</details>",
        ],
        ["---", f"Reproduce locally: `{content.reproduce_command}`"],
    ]
    return "\n\n".join("\n".join(section).strip("\n") for section in sections if section) + "\n"
