"""The drift check's rules, whatever read the window: the verdict, the statuses and the result they make.

The check reads the window in one of two ways, from per-file summaries (monitoring.summary_check) or
line by line (`--exact`, monitoring.drift), and both hand what they found here as a WindowFindings:
the scored columns, the contract's counts, the realised outcomes, the newest line. A status is a
finding, not an error; `status` is the most urgent that holds (monitoring.status ranks them).
"""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from mlloop.config import DriftParams, Params, Status
from mlloop.core.column_scores import ColumnScores
from mlloop.core.metrics import METRICS
from mlloop.core.schema import FeatureSchema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring import log_contract
from mlloop.monitoring.degradation import degraded_reasons
from mlloop.monitoring.drift_result import (
    ColumnKind,
    ColumnReport,
    ContractBreach,
    DriftResult,
    Finding,
    Realised,
    ReferenceFile,
    RowCounts,
    WindowSummary,
)
from mlloop.monitoring.log_contract import ContractCounts
from mlloop.monitoring.status import rank
from mlloop.storage import revisions
from mlloop.storage.files import read_json, require

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


def judge_column(name: str, kind: ColumnKind, scores: ColumnScores, drift: DriftParams) -> ColumnResult:
    """One column's scores against their thresholds (params drift.thresholds)."""
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


def check_names(drift: DriftParams, schema: FeatureSchema) -> None:
    """Key features must be features of the schema, and outcome metrics metrics of the registry."""
    unknown = sorted(set(drift.key_features) - set(schema.feature_names))
    if unknown:
        raise ConfigError(f"drift.key_features: {unknown} are not features of the schema ({schema.feature_names})")
    unregistered = sorted(set(drift.outcomes.metrics) - set(METRICS))
    if unregistered:
        raise ConfigError(f"drift.outcomes.metrics: {unregistered} are not metrics of the registry ({list(METRICS)})")


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


def _findings(
    last_seen: datetime | None,
    breaches: list[ContractBreach],
    realised: Realised | None,
    shift: Finding,
    now: datetime,
    drift: DriftParams,
) -> list[Finding]:
    """Every status whose condition holds, most urgent first; no_drift only when nothing else does."""
    found = [shift] if shift.status != "no_drift" else []
    if stale := staleness(last_seen, now, drift):
        found.append(Finding(status="stale", reasons=stale))
    if breaches:
        found.append(Finding(status="contract_breach", reasons=[breach_reason(breach) for breach in breaches]))
    if degraded := degraded_reasons(realised, drift):
        found.append(Finding(status="degraded", reasons=degraded))
    return sorted(found, key=lambda finding: rank(finding.status)) or [shift]


@dataclass(frozen=True)
class WindowFindings:
    """What one reading of the window found, before the rules: the same from summaries as from the lines."""

    window: WindowSummary
    rows: int
    skipped_lines: int
    columns: list[ColumnResult]
    """Scored only when there are rows; most drifted first."""
    contract: ContractCounts
    realised: Realised | None
    model_versions: list[str]


def judge(
    found: WindowFindings,
    reference_rows: int,
    reference_file: ReferenceFile,
    commit: str | None,
    schema: FeatureSchema,
    params: Params,
    now: datetime,
) -> DriftResult:
    """Judge the window (silence, contract, outcomes, shift) and rank what holds; the result says on which data."""
    drift = params.drift
    status, reasons = verdict(found.columns, found.rows, drift)
    judged = found.contract.lines >= drift.min_rows  # as for the shift rule, a few lines prove nothing
    breaches = log_contract.breaches(found.contract, schema, drift.contract) if judged else []
    shift = Finding(status=status, reasons=reasons)
    findings = _findings(found.window.last_seen, breaches, found.realised, shift, now, drift)
    return DriftResult(
        status=findings[0].status,
        reasons=findings[0].reasons,
        findings=findings,
        rule=rule_text(drift),
        window=found.window,
        rows=RowCounts(current=found.rows, reference=reference_rows, skipped_lines=found.skipped_lines),
        reference=reference_file,
        model_versions=found.model_versions,
        commit=commit,
        realised=found.realised,
        contract=breaches,
        columns=[
            ColumnReport(name=column.name, kind=column.kind, drifted_by=column.drifted_by, scores=column.scores)
            for column in found.columns
        ],
    )


def head_commit() -> str | None:
    """The checked-out commit, recorded for tracing; None outside a git repository."""
    try:
        return revisions.head()
    except SourceError:
        return None


_METRICS_FILE = TypeAdapter(dict[str, float])


def test_metrics(path: Path) -> dict[str, float]:
    """metrics.json, as the evaluate stage wrote it; anything else is a SourceError naming the file."""
    try:
        return _METRICS_FILE.validate_python(read_json(require(path, "evaluate")))
    except (OSError, ValueError, ValidationError) as error:
        raise SourceError(f"{path}: not a metrics file of the evaluate stage ({error}); re-run 'evaluate'") from error
