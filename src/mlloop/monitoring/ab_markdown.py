"""Render the A/B report's result as ab.md, for the job summary and the release or issue it is posted on.

Pure: it takes the typed result the report built and returns text.
"""

from mlloop.core.metrics import THRESHOLD_FREE
from mlloop.monitoring.ab_result import AbResult, Difference, Evidence, Floor, VariantSummary
from mlloop.monitoring.drift_markdown import table_cell

HEADLINES = {
    "promote": "🟢 promote the challenger",
    "keep_champion": "🔴 keep the champion",
    "insufficient_data": "⚪ insufficient data",
}


def _value(summary: VariantSummary, name: str) -> str:
    value = summary.metrics.get(name)
    return "—" if value is None else f"{value:.4f}"


def _variants(variants: list[VariantSummary]) -> list[str]:
    names = list(THRESHOLD_FREE)
    arrows = {name: "↑" if metric.better == "higher" else "↓" for name, metric in THRESHOLD_FREE.items()}
    lines = [
        "| variant | model version | rows | labelled rows | mean prediction | "
        + " | ".join(f"{name} {arrows[name]}" for name in names)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(names),
    ]
    for summary in variants:
        mean = "—" if summary.mean_prediction is None else f"{summary.mean_prediction:.4f}"
        lines.append(
            f"| {summary.variant} | {table_cell(', '.join(summary.model_versions)) or '—'} | {summary.rows:,} | "
            f"{summary.labelled_rows:,} | {mean} | " + " | ".join(_value(summary, name) for name in names) + " |"
        )
    return lines


def _difference(difference: Difference) -> list[str]:
    side = "≥" if THRESHOLD_FREE[difference.metric].better == "higher" else "≤"
    method = "paired: both variants on the same rows" if difference.paired else "unpaired: each variant's own rows"
    return [
        f"Challenger − champion, {difference.metric}: **{difference.delta:+.4f}** "
        f"({difference.challenger:.4f} against {difference.champion:.4f}); {difference.confidence:.0%} one-sided "
        f"interval: {side} {difference.bound:+.4f}, a gain of at least {difference.improvement_bound:+.4f} "
        f"(bootstrap, {method}; {difference.resamples:,} resamples)."
    ]


def _floors(floors: list[Floor]) -> list[str]:
    return [
        "| floor (gate.worst_acceptable) | limit | challenger | met |",
        "|---|---|---|---|",
        *(
            f"| {floor.metric} | {floor.limit:g} | {floor.challenger:.4f} | {'yes' if floor.met else '**no**'} |"
            for floor in floors
        ),
    ]


def _evidence(evidence: Evidence) -> str:
    if evidence.first_day is None:
        return f"Evidence window: {evidence.days} days; no challenger logged in it."
    state = "closed" if evidence.closed else "open"
    return f"Evidence window: {evidence.days} days, {state}; the challenger was first logged on {evidence.first_day}."


def render_markdown(result: AbResult) -> str:
    """ab.md: the decision and its reasons first, then the numbers, the evidence and the rule applied."""
    window = result.window
    files = f"log files from {window.first_day} to {window.last_day}" if window.first_day else "no log file"
    served = f"served in {result.mode} mode" if result.mode else "not in the log"
    lines = [
        f"# Champion and challenger: {HEADLINES[result.decision]}",
        "",
        f"Decision: `{result.decision}`",
        "",
        *(f"- {reason}" for reason in result.reasons),
        "",
        f"Challenger: `{result.challenger_version}`, {served}." if result.challenger_version else "Challenger: none.",
        _evidence(result.evidence),
        f"Window: {window.start} to {window.end} ({window.days} days; {files}), {window.rows:,} rows. "
        f"Delayed labels read: {window.labels:,}; matching no row of the window: {window.unmatched_labels:,}.",
    ]
    if result.settled:
        done = {"promoted": "answers as the champion", "retired": "is no longer served"}[result.settled]
        lines.append(f"Already done: the newest line of the window shows that the challenger {done}.")
    if result.skipped_rows:
        lines.append(
            f"The challenger skipped {result.skipped_rows:,} rows, the model process being busier than "
            "`ab.shadow_max_busy`; they are in neither variant."
        )
    if result.variants:
        lines += ["", "## Variants", "", *_variants(result.variants)]
    if result.difference:
        lines += ["", *_difference(result.difference)]
    if result.floors:
        lines += ["", *_floors(result.floors)]
    lines += ["", "## Rule", "", result.rule, ""]
    if result.commit:
        lines += [f"Params and code of commit `{result.commit}`.", ""]
    return "\n".join(lines)
