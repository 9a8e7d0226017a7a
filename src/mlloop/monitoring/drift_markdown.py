"""Render a drift check's result as drift.md, for the job summary and the drift issue's body.

Pure: it takes the typed result the check built and returns text.
"""

from mlloop.monitoring.drift_result import ColumnReport, DriftResult

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


def render_markdown(result: DriftResult) -> str:
    """drift.md: the verdict, the rule, the window, then one row per column, most drifted first."""
    window, rows = result.window, result.rows
    lines = [
        f"# Drift check: **{result.status}**",
        "",
        *(f"- {reason}" for reason in result.reasons),
        "",
        f"Rule: {result.rule}",
        "",
        f"Window: {window.first_day} to {window.last_day}, "
        f"{rows.current} current rows ({rows.skipped_lines} log lines skipped), "
        f"{rows.reference} reference rows. Model: {', '.join(result.model_versions) or 'none'}.",
    ]
    if realised := result.realised:
        roc_auc = "n/a (one outcome only)" if realised.roc_auc is None else f"{realised.roc_auc:.4f}"
        lines.append(
            f"Realised ROC AUC on {realised.rows} labelled rows: {roc_auc}. Delayed labels read: {realised.labels}; "
            f"matching no logged row of the window: {realised.unmatched_labels}; "
            f"unreadable label lines: {realised.unreadable_label_lines}."
        )
    lines += ["", *TABLE_HEADER, *map(_row, result.columns)]
    unseen = {column.name: column.scores.unseen_labels for column in result.columns if column.scores.unseen_labels}
    if unseen:
        lines += ["", "Labels the training data never had:"]
        lines += [
            f"- {name}: " + ", ".join(f"{label} ({count})" for label, count in labels.items())
            for name, labels in unseen.items()
        ]
    return "\n".join(lines) + "\n"
