"""The drift check from per-file summaries: what `mlloop drift` does unless told `--exact`.

The window's files are merged from their summaries (monitoring.summaries; any missing or stale is
computed first, in memory), scored from their counts (core.binned_scores) and judged by the same
rules as the line-by-line check (monitoring.judgement), so the status, the reasons and drift.json
are those of `--exact`: identical statuses and counts, scores within `drift.summaries.tolerance`
(bench/README.md measures both). Reading the reference, the probabilities and the summaries needs
neither pandas nor scipy.stats, so a check of a week of tens of millions of lines takes seconds.
"""

from datetime import datetime
from pathlib import Path

import numpy as np

from mlloop.config import DriftParams, Params
from mlloop.core import binned_scores
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.monitoring.degradation import realised_metrics
from mlloop.monitoring.drift_markdown import render_markdown
from mlloop.monitoring.drift_result import (
    DriftReportFiles,
    DriftResult,
    Realised,
    ReferenceFile,
    WindowSummary,
    result_json,
)
from mlloop.monitoring.judgement import (
    PREDICTION,
    ColumnResult,
    WindowFindings,
    check_names,
    head_commit,
    judge,
    judge_column,
    test_metrics,
)
from mlloop.monitoring.log_contract import LINE
from mlloop.monitoring.outcome_join import JoinedOutcomes
from mlloop.monitoring.summaries import Reference, WindowSummaries, read_reference, read_window_summaries
from mlloop.monitoring.summary_counts import WindowTally
from mlloop.storage.files import atomic_outputs, require, sha256_of


def score_columns(
    reference: Reference, tally: WindowTally, schema: FeatureSchema, drift: DriftParams
) -> list[ColumnResult]:
    """Every feature, typed by the schema, and the predicted probability, from the window's counts; most drifted
    first.
    """
    bins, epsilon = drift.psi_bins, drift.psi_epsilon
    results = []
    for name in [*schema.numeric_features, PREDICTION]:
        scores = binned_scores.numeric_scores(
            reference.values[name],
            reference.null_shares[name],
            reference.edges.get(name, np.array([])),
            tally.numeric_counts(name),
            bins,
            epsilon,
        )
        results.append(judge_column(name, "prediction" if name == PREDICTION else "numeric", scores, drift))
    for name, feature in schema.categorical_features.items():
        counts, nulls = tally.label_counts(name)
        scores = binned_scores.categorical_scores(
            reference.labels[name], reference.null_shares[name], counts, nulls, feature.categories, epsilon
        )
        results.append(judge_column(name, "categorical", scores, drift))
    return sorted(results, key=lambda result: result.severity, reverse=True)


def _realised(outcomes: JoinedOutcomes | None, held_out: dict[str, float], params: Params) -> Realised | None:
    """The outcome metrics on the joined rows' cells; None when no label arrived."""
    if outcomes is None:
        return None
    return Realised(
        rows=outcomes.cells.rows,
        metrics=realised_metrics(outcomes.cells, held_out, params.train.threshold, params.drift, params.gate),
        labels=outcomes.labels,
        unmatched_labels=outcomes.unmatched_labels,
        unreadable_label_lines=outcomes.unreadable_label_lines,
    )


def findings(
    window: WindowSummaries,
    reference: Reference,
    source: str,
    held_out: dict[str, float],
    schema: FeatureSchema,
    params: Params,
) -> WindowFindings:
    """What the merged summaries say of the window, as the rules take it."""
    tally = window.tally
    rows = tally.contract.rows
    unreadable = tally.contract.rules.get((LINE, "unreadable"))
    return WindowFindings(
        window=WindowSummary(
            source=source,
            days=params.drift.window_days,
            start=window.start,
            end=window.end,
            first_day=window.first_day,
            last_day=window.last_day,
            last_seen=window.last_seen,
            files=window.files,
        ),
        rows=rows,
        skipped_lines=unreadable.count if unreadable else 0,
        columns=score_columns(reference, tally, schema, params.drift) if rows else [],
        contract=tally.contract,
        realised=_realised(window.outcomes, held_out, params) if rows else None,
        model_versions=sorted(tally.model_versions),
    )


def write_report(result: DriftResult, reference: Reference, tally: WindowTally, files: DriftReportFiles) -> None:
    """drift.json, drift.md and the plots (drawn from the counts), all or nothing."""
    too_few = any(finding.status == "insufficient_data" for finding in result.findings)
    drifted = [] if too_few else [column for column in result.columns if column.drifted_by]
    with atomic_outputs(files.result, files.markdown, files.plots) as (json_path, markdown_path, plots):
        json_path.write_text(result_json(result))
        markdown_path.write_text(render_markdown(result))
        plots.mkdir()
        if not drifted:
            return
        from mlloop.pipeline.count_plots import render_count_overlays  # matplotlib: only when there is a plot

        numeric = {}
        for column in (column for column in drifted if column.kind == "numeric"):
            counts = tally.numeric_counts(column.name)
            filled = counts.counts > 0
            numeric[column.name] = (
                reference.values[column.name],
                counts.sums[filled] / counts.counts[filled],
                counts.counts[filled],
            )
        categorical = {
            column.name: (reference.labels[column.name], tally.label_counts(column.name)[0])
            for column in drifted
            if column.kind == "categorical"
        }
        render_count_overlays(numeric, categorical, plots)


def run_drift(
    params: Params, reference_path: Path | None, current: str | None, out: Path | None, now: datetime
) -> DriftResult:
    """Judge the log's window ending on `now`'s day (UTC) from its summaries, write the report, return its result."""
    schema = load_schema(params.data.schema_file)
    check_names(params.drift, schema)
    reference_file = require(reference_path or params.paths.train, "split")
    sha256 = sha256_of(reference_file)
    predictions = require(params.paths.predictions, "evaluate")
    reference = read_reference(reference_file, sha256, predictions, schema, params.drift)
    held_out = test_metrics(params.paths.metrics)
    source = current or params.serve.inference_log_dir.as_posix()
    window = read_window_summaries(source, reference, schema, params.drift, now.date())
    found = findings(window, reference, source, held_out, schema, params)
    result = judge(
        found,
        reference.rows,
        ReferenceFile(path=reference_file.as_posix(), sha256=sha256),
        head_commit(),
        schema,
        params,
        now,
    )
    write_report(result, reference, window.tally, DriftReportFiles(out or params.drift.directory))
    return result
