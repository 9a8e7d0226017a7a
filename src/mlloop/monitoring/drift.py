"""The drift check line by line (`mlloop drift --exact`): the whole window read into one frame and scored on its rows.

Today's default reads per-file summaries instead (monitoring.summary_check), which is what a log of
millions of lines a day needs; this path reads every line of the window again, so it stays for small
windows, for tests and as the reference the summaries are measured against (bench/README.md). Both
apply the same rules (monitoring.judgement). Column types come from the feature schema, never from
the data. run_drift reads the inputs and writes the report: drift.json (the result), drift.md
(rendered by drift_markdown) and one PNG per drifted feature.
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from mlloop.config import DriftParams, Params
from mlloop.core.drift_scores import categorical_scores, numeric_scores
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.monitoring import degradation
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
from mlloop.monitoring.log_window import LogWindow, read_window
from mlloop.monitoring.outcome_cells import OutcomeCells
from mlloop.monitoring.outcomes import LABEL, NO_LABELS, Labels, join_outcomes, read_labels
from mlloop.pipeline.plots import render_distribution_overlays
from mlloop.storage.artifacts import read_table
from mlloop.storage.files import atomic_outputs, sha256_of


def score_columns(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    reference_predictions: pd.Series,
    schema: FeatureSchema,
    drift: DriftParams,
) -> list[ColumnResult]:
    """Every feature, typed by the schema, and the predicted probability; most drifted first."""
    bins, epsilon = drift.psi_bins, drift.psi_epsilon
    results = [
        judge_column(name, "numeric", numeric_scores(reference[name], current[name], bins, epsilon), drift)
        for name in schema.numeric_features
    ]
    results += [
        judge_column(
            name, "categorical", categorical_scores(reference[name], current[name], feature.categories, epsilon), drift
        )
        for name, feature in schema.categorical_features.items()
    ]
    results.append(
        judge_column(
            PREDICTION, "prediction", numeric_scores(reference_predictions, current[PREDICTION], bins, epsilon), drift
        )
    )
    return sorted(results, key=lambda result: result.severity, reverse=True)


@dataclass(frozen=True)
class DriftInputs:
    """Everything one check reads: the reference, evaluate's predictions, the log window and its labels."""

    reference: pd.DataFrame
    reference_file: ReferenceFile
    predictions: pd.Series
    """The predicted probability's reference: the model on held-out customers, as evaluate scored them."""
    source: str
    window: LogWindow
    labels: Labels
    test_metrics: dict[str, float]
    """metrics.json: the held-out values realised outcomes are held to."""
    commit: str | None


def _realised(inputs: DriftInputs, params: Params) -> Realised | None:
    """The outcome metrics on the window's rows joined to their delayed labels (monitoring.outcomes), and
    the labels that joined no row; None when no label arrived.
    """
    labels = inputs.labels
    if not labels.count and not labels.unreadable_lines:
        return None
    outcomes = join_outcomes(inputs.window.rows, labels)
    joined = outcomes.rows
    return Realised(
        rows=len(joined),
        metrics=degradation.realised_metrics(
            OutcomeCells.of(joined[LABEL].to_numpy(dtype=bool), joined[PREDICTION].to_numpy(dtype=float)),
            inputs.test_metrics,
            params.train.threshold,
            params.drift,
            params.gate,
        ),
        labels=outcomes.labels,
        unmatched_labels=outcomes.unmatched_labels,
        unreadable_label_lines=outcomes.unreadable_label_lines,
    )


def check(inputs: DriftInputs, schema: FeatureSchema, params: Params, now: datetime) -> DriftResult:
    """Judge the window (silence, contract, outcomes, shift) and rank what holds; the result says on which data."""
    drift = params.drift
    window = inputs.window
    rows = len(window.rows)
    found = WindowFindings(
        window=WindowSummary(
            source=inputs.source,
            days=drift.window_days,
            start=window.start,
            end=window.end,
            first_day=window.first_day,
            last_day=window.last_day,
            last_seen=window.last_seen,
            files=window.files,
        ),
        rows=rows,
        skipped_lines=window.skipped_lines,
        columns=score_columns(inputs.reference, window.rows, inputs.predictions, schema, drift) if rows else [],
        contract=window.contract,
        realised=_realised(inputs, params),
        model_versions=sorted(window.rows["model_version"].dropna().unique().tolist()),
    )
    return judge(found, len(inputs.reference), inputs.reference_file, inputs.commit, schema, params, now)


def read_current(source: str, schema: FeatureSchema, drift: DriftParams, today: date) -> tuple[LogWindow, Labels]:
    """The log's window ending `today`, and the delayed labels that can be for its rows (none for an empty window)."""
    window = read_window(source, schema, drift, today)
    return window, read_labels(source, since=window.first_day) if len(window.rows) else NO_LABELS


def read_inputs(
    params: Params, schema: FeatureSchema, reference_path: Path | None, current: str | None, now: datetime
) -> DriftInputs:
    """Read what the check needs, the log's window ending on `now`'s day; an unreadable input is a SourceError."""
    reference_file = reference_path or params.paths.train
    reference = read_table(reference_file, "split")
    predictions = read_table(params.paths.predictions, "evaluate")[PREDICTION]
    held_out = test_metrics(params.paths.metrics)
    source = current or params.serve.inference_log_dir.as_posix()
    window, labels = read_current(source, schema, params.drift, now.date())
    return DriftInputs(
        reference=reference,
        reference_file=ReferenceFile(path=reference_file.as_posix(), sha256=sha256_of(reference_file)),
        predictions=predictions,
        source=source,
        window=window,
        labels=labels,
        test_metrics=held_out,
        commit=head_commit(),
    )


def write_report(result: DriftResult, inputs: DriftInputs, files: DriftReportFiles) -> None:
    """drift.json, drift.md and the plots, all or nothing."""
    # One plot per drifted feature; none for insufficient data: too few rows to draw a distribution worth reading.
    too_few = any(finding.status == "insufficient_data" for finding in result.findings)
    drifted = [] if too_few else [column for column in result.columns if column.drifted_by]
    with atomic_outputs(files.result, files.markdown, files.plots) as (json_path, markdown_path, plots):
        json_path.write_text(result_json(result))
        markdown_path.write_text(render_markdown(result))
        plots.mkdir()
        render_distribution_overlays(
            inputs.reference,
            inputs.window.rows,
            [column.name for column in drifted if column.kind == "numeric"],
            [column.name for column in drifted if column.kind == "categorical"],
            plots,
        )


def run_drift(
    params: Params, reference_path: Path | None, current: str | None, out: Path | None, now: datetime
) -> DriftResult:
    """Judge the log's window ending on `now`'s day (UTC), write the report, return its result."""
    schema = load_schema(params.data.schema_file)
    check_names(params.drift, schema)
    inputs = read_inputs(params, schema, reference_path, current, now)
    result = check(inputs, schema, params, now)
    write_report(result, inputs, DriftReportFiles(out or params.drift.directory))
    return result
