"""The drift check: the inference log's latest window against the training split.

Column types come from the feature schema, never from the data. The rule and every threshold
come from params.yaml `drift`, and the report states the rule it applied, so a reader of the
issue it opens can see why it was opened. A drift verdict is a finding, not an error: the
command exits 0 for every verdict.

Here the check scores the columns, applies the rule and builds its typed result (drift_result);
run_drift reads the inputs and writes the report: drift.json (the result), drift.md (rendered
by drift_markdown) and one PNG per drifted feature.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlloop.config import DriftParams, Params
from mlloop.core.drift_scores import ColumnScores, categorical_scores, numeric_scores
from mlloop.core.metrics import METRICS
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring.drift_markdown import render_markdown
from mlloop.monitoring.drift_result import (
    ColumnKind,
    ColumnReport,
    DriftReportFiles,
    DriftResult,
    Realised,
    ReferenceFile,
    RowCounts,
    Status,
    WindowSummary,
    result_json,
)
from mlloop.monitoring.log_window import LogWindow, read_window
from mlloop.monitoring.outcomes import LABEL, NO_LABELS, Labels, join_outcomes, read_labels
from mlloop.pipeline.plots import render_distribution_overlays
from mlloop.storage import revisions
from mlloop.storage.artifacts import read_table
from mlloop.storage.files import atomic_outputs, sha256_of

PREDICTION = "churn_probability"


@dataclass(frozen=True)
class ColumnResult:
    """One column's scores, and each applicable score over its threshold."""

    name: str
    kind: ColumnKind
    scores: ColumnScores
    ratios: dict[str, float]

    @property
    def drifted_by(self) -> list[str]:
        """The scores that reached their threshold."""
        return [score for score, ratio in self.ratios.items() if ratio >= 1]

    @property
    def severity(self) -> float:
        """The largest score-to-threshold ratio: 1 or more means drifted; it orders the report."""
        return max(self.ratios.values(), default=0.0)


def _judge(name: str, kind: ColumnKind, scores: ColumnScores, drift: DriftParams) -> ColumnResult:
    limits = drift.thresholds
    values = {
        "wasserstein": (scores.wasserstein, limits.wasserstein),
        "jensen_shannon": (scores.jensen_shannon, limits.jensen_shannon),
        "psi": (scores.psi, limits.psi),
        "unseen_share": (scores.unseen_share, limits.unseen_share),
        "null_share": (scores.null_share_change, limits.null_share),
    }
    return ColumnResult(
        name, kind, scores, {score: value / limit for score, (value, limit) in values.items() if value is not None}
    )


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
        _judge(name, "numeric", numeric_scores(reference[name], current[name], bins, epsilon), drift)
        for name in schema.numeric_features
    ]
    results += [
        _judge(
            name, "categorical", categorical_scores(reference[name], current[name], feature.categories, epsilon), drift
        )
        for name, feature in schema.categorical_features.items()
    ]
    results.append(
        _judge(
            PREDICTION, "prediction", numeric_scores(reference_predictions, current[PREDICTION], bins, epsilon), drift
        )
    )
    return sorted(results, key=lambda result: result.severity, reverse=True)


def rule_text(drift: DriftParams) -> str:
    """The verdict rule, in words, with its numbers: the report states what it applied."""
    return (
        f"drift when at least {drift.drifted_share:.0%} of the features drifted, or any key feature "
        f"({', '.join(drift.key_features)}) did; insufficient_data below {drift.min_rows} current rows. "
        f"A feature drifts when a score reaches its threshold: Wasserstein/std {drift.thresholds.wasserstein}, "
        f"Jensen-Shannon {drift.thresholds.jensen_shannon}, PSI {drift.thresholds.psi}, "
        f"unseen-label share {drift.thresholds.unseen_share}, null-share change {drift.thresholds.null_share}."
    )


def verdict(columns: list[ColumnResult], current_rows: int, drift: DriftParams) -> tuple[Status, list[str]]:
    """Apply the rule from params; the reasons say which part of it decided."""
    if current_rows < drift.min_rows:
        return "insufficient_data", [f"{current_rows} current rows, fewer than min_rows {drift.min_rows}"]
    features = [column for column in columns if column.kind != "prediction"]
    drifted = [column.name for column in features if column.drifted_by]
    share = len(drifted) / len(features)
    reasons = []
    if key := [name for name in drifted if name in drift.key_features]:
        reasons.append(f"key features drifted: {', '.join(key)}")
    if share >= drift.drifted_share:
        reasons.append(f"{len(drifted)} of {len(features)} features drifted ({share:.0%} >= {drift.drifted_share:.0%})")
    if reasons:
        return "drift", reasons
    return "no_drift", [f"{len(drifted)} of {len(features)} features drifted, none of them a key feature"]


def _realised(window: LogWindow, labels: Labels) -> Realised | None:
    """The model's quality on the rows whose labels arrived, and the labels that joined no row; None without labels."""
    if not labels.count and not labels.unreadable_lines:
        return None
    outcomes = join_outcomes(window.rows, labels)
    joined = outcomes.rows
    both_outcomes = joined[LABEL].nunique() == 2
    roc_auc = METRICS["roc_auc"].score(joined[LABEL], joined[PREDICTION].to_numpy()) if both_outcomes else None
    return Realised(
        rows=len(joined),
        roc_auc=None if roc_auc is None else float(roc_auc),
        labels=outcomes.labels,
        unmatched_labels=outcomes.unmatched_labels,
        unreadable_label_lines=outcomes.unreadable_label_lines,
    )


def _check_key_features(drift: DriftParams, schema: FeatureSchema) -> None:
    unknown = sorted(set(drift.key_features) - set(schema.feature_names))
    if unknown:
        raise ConfigError(f"drift.key_features: {unknown} are not features of the schema ({schema.feature_names})")


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
    commit: str | None


def check(inputs: DriftInputs, schema: FeatureSchema, drift: DriftParams) -> DriftResult:
    """Score the window against the reference and apply the rule; the result says on which data."""
    window = inputs.window
    rows = len(window.rows)
    columns = score_columns(inputs.reference, window.rows, inputs.predictions, schema, drift) if rows else []
    status, reasons = verdict(columns, rows, drift)
    return DriftResult(
        status=status,
        reasons=reasons,
        rule=rule_text(drift),
        window=WindowSummary(
            source=inputs.source,
            days=drift.window_days,
            first_day=window.first_day,
            last_day=window.last_day,
            files=window.files,
        ),
        rows=RowCounts(current=rows, reference=len(inputs.reference), skipped_lines=window.skipped_lines),
        reference=inputs.reference_file,
        model_versions=sorted(window.rows["model_version"].dropna().unique().tolist()),
        commit=inputs.commit,
        realised=_realised(window, inputs.labels),
        columns=[
            ColumnReport(name=column.name, kind=column.kind, drifted_by=column.drifted_by, scores=column.scores)
            for column in columns
        ],
    )


def _head_commit() -> str | None:
    """The checked-out commit, recorded for tracing; None outside a git repository."""
    try:
        return revisions.head()
    except SourceError:
        return None


def read_inputs(params: Params, schema: FeatureSchema, reference_path: Path | None, current: str | None) -> DriftInputs:
    """Read what the check needs; an unreadable table is a SourceError naming it (exit 4)."""
    reference_file = reference_path or params.paths.train
    reference = read_table(reference_file, "split")
    predictions = read_table(params.paths.predictions, "evaluate")[PREDICTION]
    source = current or params.serve.inference_log_dir.as_posix()
    window = read_window(source, params.drift.window_days, schema)
    return DriftInputs(
        reference=reference,
        reference_file=ReferenceFile(path=reference_file.as_posix(), sha256=sha256_of(reference_file)),
        predictions=predictions,
        source=source,
        window=window,
        labels=read_labels(source, since=window.first_day) if len(window.rows) else NO_LABELS,
        commit=_head_commit(),
    )


def write_report(result: DriftResult, inputs: DriftInputs, files: DriftReportFiles) -> None:
    """drift.json, drift.md and the plots, all or nothing."""
    # One plot per drifted feature; none for insufficient data: too few rows to draw a distribution worth reading.
    drifted = [] if result.status == "insufficient_data" else [column for column in result.columns if column.drifted_by]
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


def run_drift(params: Params, reference_path: Path | None, current: str | None, out: Path | None) -> DriftResult:
    """Compare the log window with the reference, write the report, return its result."""
    schema = load_schema(params.data.schema_file)
    _check_key_features(params.drift, schema)
    inputs = read_inputs(params, schema, reference_path, current)
    result = check(inputs, schema, params.drift)
    write_report(result, inputs, DriftReportFiles(out or params.drift.directory))
    return result
