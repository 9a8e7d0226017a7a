"""The drift check: the inference log's window against the training split, its contract and its outcomes.

Column types come from the feature schema, never from the data. Every rule and threshold comes
from params.yaml `drift` (and the gate's limits, for realised outcomes), and the report states the
rules it applied, so a reader of the issue it opens can see why it was opened. A check finds what
holds among stale, contract_breach, degraded and the distribution-shift verdict (drift,
insufficient_data or no_drift); `status` is the most urgent of them (monitoring.status ranks them).
A status is a finding, not an error: the command exits 0 for every one.

Here the check scores the columns, applies the rules and builds its typed result (drift_result);
run_drift reads the inputs and writes the report: drift.json (the result), drift.md (rendered
by drift_markdown) and one PNG per drifted feature.
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from pydantic import TypeAdapter, ValidationError

from mlloop.config import DriftParams, Params, Status
from mlloop.core.column_scores import ColumnScores
from mlloop.core.drift_scores import categorical_scores, numeric_scores
from mlloop.core.metrics import METRICS
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring import degradation, log_contract
from mlloop.monitoring.drift_markdown import render_markdown
from mlloop.monitoring.drift_result import (
    ColumnKind,
    ColumnReport,
    ContractBreach,
    DriftReportFiles,
    DriftResult,
    Finding,
    Realised,
    ReferenceFile,
    RowCounts,
    WindowSummary,
    result_json,
)
from mlloop.monitoring.log_window import LogWindow, read_window
from mlloop.monitoring.outcomes import LABEL, NO_LABELS, Labels, join_outcomes, read_labels
from mlloop.monitoring.status import rank
from mlloop.pipeline.plots import render_distribution_overlays
from mlloop.storage import revisions
from mlloop.storage.artifacts import read_table, require
from mlloop.storage.files import atomic_outputs, read_json, sha256_of

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
    """Every status's rule, in words, with its numbers, most urgent first: the report states what it applied."""
    limits, terms, outcomes = drift.thresholds, drift.contract, drift.outcomes
    return (
        f"The status is the first of these that holds. stale when the newest log line is more than "
        f"{drift.max_silence_hours:g} hours old. contract_breach when, on at least {drift.min_rows} log lines, a "
        f"feature breaks the schema on a larger share of lines than allowed: nulls above its max_null_fraction + "
        f"{terms.null_tolerance:g}, values out of range, of the wrong type or fractional for an integer above "
        f"{terms.max_invalid_share:g}, unknown labels above {terms.max_unknown_label_share:g}; or unreadable lines "
        f"exceed {terms.max_unreadable_share:g} of all lines. degraded when, on at least {drift.min_labelled_rows} "
        f"labelled rows, a realised metric ({', '.join(outcomes.metrics)}) is worse than gate.worst_acceptable, or "
        f"than its held-out value by more than gate.max_regression, even at the better end of its "
        f"{outcomes.confidence:.0%} one-sided interval. "
        f"drift when at least {drift.drifted_share:.0%} of the features drifted, or any key feature "
        f"({', '.join(drift.key_features)}) did; insufficient_data below {drift.min_rows} current rows. "
        f"A feature drifts when a score reaches its threshold: Wasserstein/std {limits.wasserstein}, "
        f"Jensen-Shannon {limits.jensen_shannon}, PSI {limits.psi}, "
        f"unseen-label share {limits.unseen_share}, null-share change {limits.null_share}."
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


def _check_names(drift: DriftParams, schema: FeatureSchema) -> None:
    """Key features must be features of the schema, and outcome metrics metrics of the registry."""
    unknown = sorted(set(drift.key_features) - set(schema.feature_names))
    if unknown:
        raise ConfigError(f"drift.key_features: {unknown} are not features of the schema ({schema.feature_names})")
    unregistered = sorted(set(drift.outcomes.metrics) - set(METRICS))
    if unregistered:
        raise ConfigError(f"drift.outcomes.metrics: {unregistered} are not metrics of the registry ({list(METRICS)})")


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


def staleness(last_seen: datetime | None, now: datetime, drift: DriftParams) -> list[str]:
    """Why the check is `stale`: the newest log line is older than drift.max_silence_hours; empty otherwise.

    A log without a single line is not stale but insufficient_data: there is no silence to measure.
    """
    if last_seen is None:
        return []
    hours = (now - last_seen).total_seconds() / 3600
    if hours <= drift.max_silence_hours:
        return []
    return [
        f"the newest log line was written at {last_seen:%Y-%m-%d %H:%M} UTC, {hours:.0f} hours before this check, "
        f"more than max_silence_hours {drift.max_silence_hours:g}: the last day seen is {last_seen.date()}"
    ]


def breach_reason(breach: ContractBreach) -> str:
    """One breach in one line: the feature, the rule, the share observed against its limit, what was seen."""
    return (
        f"{breach.feature} breaks {breach.rule} on {breach.share:.2%} of lines ({breach.count}), "
        f"more than {breach.limit:.2%}: {breach.detail}"
    )


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
            joined[LABEL].to_numpy(dtype=bool),
            joined[PREDICTION].to_numpy(dtype=float),
            inputs.test_metrics,
            params.train.threshold,
            params.drift,
            params.gate,
        ),
        labels=outcomes.labels,
        unmatched_labels=outcomes.unmatched_labels,
        unreadable_label_lines=outcomes.unreadable_label_lines,
    )


def _findings(
    window: LogWindow,
    breaches: list[ContractBreach],
    realised: Realised | None,
    shift: Finding,
    now: datetime,
    drift: DriftParams,
) -> list[Finding]:
    """Every status whose condition holds, most urgent first; no_drift only when nothing else does."""
    found = [shift] if shift.status != "no_drift" else []
    if stale := staleness(window.last_seen, now, drift):
        found.append(Finding(status="stale", reasons=stale))
    if breaches:
        found.append(Finding(status="contract_breach", reasons=[breach_reason(breach) for breach in breaches]))
    if degraded := degradation.degraded_reasons(realised, drift):
        found.append(Finding(status="degraded", reasons=degraded))
    return sorted(found, key=lambda finding: rank(finding.status)) or [shift]


def check(inputs: DriftInputs, schema: FeatureSchema, params: Params, now: datetime) -> DriftResult:
    """Judge the window (silence, contract, outcomes, shift) and rank what holds; the result says on which data."""
    drift = params.drift
    window = inputs.window
    rows = len(window.rows)
    columns = score_columns(inputs.reference, window.rows, inputs.predictions, schema, drift) if rows else []
    status, reasons = verdict(columns, rows, drift)
    judged = window.contract.lines >= drift.min_rows  # as for the shift rule, a few lines prove nothing
    breaches = log_contract.breaches(window.contract, schema, drift.contract) if judged else []
    realised = _realised(inputs, params)
    findings = _findings(window, breaches, realised, Finding(status=status, reasons=reasons), now, drift)
    return DriftResult(
        status=findings[0].status,
        reasons=findings[0].reasons,
        findings=findings,
        rule=rule_text(drift),
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
        rows=RowCounts(current=rows, reference=len(inputs.reference), skipped_lines=window.skipped_lines),
        reference=inputs.reference_file,
        model_versions=sorted(window.rows["model_version"].dropna().unique().tolist()),
        commit=inputs.commit,
        realised=realised,
        contract=breaches,
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


_METRICS_FILE = TypeAdapter(dict[str, float])


def _test_metrics(path: Path) -> dict[str, float]:
    """metrics.json, as the evaluate stage wrote it; anything else is a SourceError naming the file."""
    try:
        return _METRICS_FILE.validate_python(read_json(require(path, "evaluate")))
    except (OSError, ValueError, ValidationError) as error:
        raise SourceError(f"{path}: not a metrics file of the evaluate stage ({error}); re-run 'evaluate'") from error


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
    test_metrics = _test_metrics(params.paths.metrics)
    source = current or params.serve.inference_log_dir.as_posix()
    window, labels = read_current(source, schema, params.drift, now.date())
    return DriftInputs(
        reference=reference,
        reference_file=ReferenceFile(path=reference_file.as_posix(), sha256=sha256_of(reference_file)),
        predictions=predictions,
        source=source,
        window=window,
        labels=labels,
        test_metrics=test_metrics,
        commit=_head_commit(),
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
    _check_names(params.drift, schema)
    inputs = read_inputs(params, schema, reference_path, current, now)
    result = check(inputs, schema, params, now)
    write_report(result, inputs, DriftReportFiles(out or params.drift.directory))
    return result
