"""Render a drift check's result as drift.md, for the job summary and the issues' body.

Pure: it takes the typed result the check built and returns text.
"""

import re

from mlloop.monitoring.drift_result import ColumnReport, ContractBreach, DriftResult, Realised, WindowSummary

TABLE_HEADER = [
    "| column | type | drifted by | Wasserstein/std | Jensen-Shannon | PSI | unseen share | null-share change "
    "| p-value (not used) |",
    "|---|---|---|---|---|---|---|---|---|",
]


def _row(column: ColumnReport) -> str:
    scores = column.scores
    cells = [
        scores.wasserstein,
        scores.jensen_shannon,
        scores.psi,
        scores.unseen_share,
        scores.null_share_change,
        scores.p_value,
    ]
    shown = ["" if value is None else f"{value:.3g}" for value in cells]
    return f"| {column.name} | {column.kind} | {', '.join(column.drifted_by) or '—'} | {' | '.join(shown)} |"


def _window(window: WindowSummary) -> str:
    files = f"log files from {window.first_day} to {window.last_day}" if window.first_day else "no log file"
    seen = f"{window.last_seen:%Y-%m-%d %H:%M} UTC" if window.last_seen else "none"
    return f"Window: {window.start} to {window.end} ({window.days} days; {files}). Newest log line: {seen}."


def _realised(realised: Realised) -> list[str]:
    lines = [
        f"Realised on {realised.rows} labelled rows. Delayed labels read: {realised.labels}; "
        f"matching no logged row of the window: {realised.unmatched_labels}; "
        f"unreadable label lines: {realised.unreadable_label_lines}."
    ]
    if realised.rows and not realised.metrics:
        lines.append("- no metric: the labelled rows hold one outcome only")
    for metric in realised.metrics:
        limits = [
            f"held-out {metric.test:.4f}" if metric.test is not None else "",
            f"worst acceptable {metric.worst_acceptable:.4g}" if metric.worst_acceptable is not None else "",
            f"max regression {metric.max_regression:.4g}" if metric.max_regression is not None else "",
            f"better end of its interval {metric.bound:.4f}" if metric.bound is not None else "",
        ]
        lines.append(f"- {metric.name} {metric.value:.4f} ({'; '.join(limit for limit in limits if limit)})")
    return lines


def _fence(texts: list[str]) -> str:
    """A code fence longer than any run of backticks in the quoted lines, which anyone may have written."""
    longest = max((len(run) for text in texts for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def table_cell(text: str) -> str:
    """Text for one table cell: labels seen in the log may hold a `|` or a line break."""
    return " ".join(text.split()).replace("|", "\\|")


def _breaches(breaches: list[ContractBreach]) -> list[str]:
    lines = [
        "",
        "## Contract breaches",
        "",
        "| feature | rule | lines | share | limit | what was seen |",
        "|---|---|---|---|---|---|",
        *(
            f"| {breach.feature} | {breach.rule} | {breach.count} | {breach.share:.2%} | {breach.limit:.2%} "
            f"| {table_cell(breach.detail)} |"
            for breach in breaches
        ),
    ]
    for breach in breaches:
        quoted = [f"{example.file}:{example.line}: {example.text}" for example in breach.examples]
        fence = _fence(quoted)
        lines += ["", f"{breach.feature}, {breach.rule}: the first lines", f"{fence}text", *quoted, fence]
    return lines


def render_markdown(result: DriftResult) -> str:
    """drift.md: the status and its reasons, what else was found, the rules, the window, realised outcomes,
    contract breaches with example lines, then one row per column, most drifted first.
    """
    rows = result.rows
    lines = [f"# Drift check: **{result.status}**", "", *(f"- {reason}" for reason in result.reasons)]
    if others := result.findings[1:]:
        lines += ["", "Also found:", *(f"- {finding.status}: {'; '.join(finding.reasons)}" for finding in others)]
    lines += [
        "",
        f"Rules: {result.rule}",
        "",
        _window(result.window),
        f"{rows.current} current rows ({rows.skipped_lines} unreadable log lines skipped), "
        f"{rows.reference} reference rows. Model: {', '.join(result.model_versions) or 'none'}.",
    ]
    if result.realised:
        lines += ["", *_realised(result.realised)]
    if result.contract:
        lines += _breaches(result.contract)
    lines += ["", *TABLE_HEADER, *map(_row, result.columns)]
    unseen = {column.name: column.scores.unseen_labels for column in result.columns if column.scores.unseen_labels}
    if unseen:
        lines += ["", "Labels the training data never had:"]
        lines += [
            f"- {name}: " + ", ".join(f"{label} ({count})" for label, count in labels.items())
            for name, labels in unseen.items()
        ]
    return "\n".join(lines) + "\n"
