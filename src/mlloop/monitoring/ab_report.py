"""The A/B report: the champion and the challenger on the log's window and its delayed labels, and a decision.

Which rows. The challenger is the one the newest line of the window names (the challenger_version of a
shadow line, the model_version of a line it answered); the comparison starts at its first line in the
window, in the mode that line shows, so that both variants are judged on the same days' traffic:
- shadow: every line the champion answered with this challenger's probability beside it. Both models are
  scored on the same rows, and the difference is bootstrapped paired: the noise of which customers
  came cancels. Lines that name the challenger without a probability (it skipped them under load,
  params ab.shadow_max_busy) are in neither variant, and counted.
- split: the lines the challenger answered, against the lines the champion answered meanwhile (by another
  model version). Each variant has its own customers, so the difference is bootstrapped unpaired.
Each row's label is the delayed outcome monitoring.outcomes joins to it.

The decision follows params `ab.decision`, with the gate's floors (gate.worst_acceptable), and is taken
once, when the evidence window closes: insufficient_data until then (the numbers so far are reported), or
with too few labelled rows, or when no line names a challenger; then promote when the challenger meets
every floor and the one-sided interval of its metric minus the champion's lies above min_improvement,
keep_champion otherwise. One look per challenger: a test repeated every day until it says yes promotes an
equal challenger far more often than its confidence says.

Pure functions build the typed result (ab_result); run_ab_report reads the log and the labels as the drift
check does and writes ab.json and ab.md (ab_markdown).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlloop.config import AbDecisionParams, Params
from mlloop.core.bootstrap import Deltas, paired_deltas, unpaired_deltas
from mlloop.core.metrics import THRESHOLD_FREE
from mlloop.core.schema import load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring.ab_markdown import render_markdown
from mlloop.monitoring.ab_result import (
    AbReportFiles,
    AbResult,
    AbWindow,
    Decision,
    Difference,
    Evidence,
    Floor,
    LoggedMode,
    Settled,
    VariantSummary,
    result_json,
)
from mlloop.monitoring.drift import read_current
from mlloop.monitoring.log_window import LogWindow
from mlloop.monitoring.outcomes import LABEL, Labels, join_outcomes
from mlloop.serving.inference_log import Variant
from mlloop.storage import revisions
from mlloop.storage.files import atomic_outputs

PREDICTION = "churn_probability"
SHADOW_PREDICTION = "challenger_probability"


@dataclass(frozen=True)
class Arm:
    """One variant's rows in the comparison: the probability it gave each, and each row's label if it arrived."""

    variant: Variant
    versions: list[str]
    probability: NDArray[np.float64]
    labelled: NDArray[np.bool_]
    label: NDArray[np.bool_]
    """The outcome of each row; meaningful where `labelled`."""

    def summary(self) -> VariantSummary:
        """Its rows, and every metric of the probabilities alone on those labelled, when they hold both outcomes."""
        label, probability = self.label[self.labelled], self.probability[self.labelled]
        both = len(label) > 0 and label.min() != label.max()
        return VariantSummary(
            variant=self.variant,
            model_versions=self.versions,
            rows=len(self.probability),
            labelled_rows=int(self.labelled.sum()),
            mean_prediction=float(self.probability.mean()) if len(self.probability) else None,
            metrics={name: metric.score(label, probability) for name, metric in THRESHOLD_FREE.items()} if both else {},
        )


@dataclass(frozen=True)
class Arms:
    """The champion's and the challenger's rows, how the log shows the challenger served, and since when."""

    mode: LoggedMode
    challenger_version: str
    first_day: date
    champion: Arm
    challenger: Arm
    skipped_rows: int
    """In shadow mode, the lines that name the challenger without its probability: it skipped them under load."""
    settled: Settled | None
    """What the newest line of the window shows already done with the challenger (AbResult.settled)."""


def _text(column: pd.Series) -> pd.Series:
    """A label column as plain objects: the window reads them as categoricals, which cannot be mixed."""
    return column.astype("object").where(column.notna(), None)


def _arm(variant: Variant, rows: pd.DataFrame, probability: str, version: str, outcomes: pd.Series) -> Arm:
    """A variant's rows: its probability and its model version from these columns, the labels from `outcomes`."""
    labelled = rows.index.isin(outcomes.index)
    return Arm(
        variant=variant,
        versions=sorted(_text(rows[version]).dropna().unique().tolist()),
        probability=rows[probability].to_numpy(dtype=np.float64),
        labelled=labelled,
        label=outcomes.reindex(rows.index, fill_value=False).to_numpy(dtype=bool),
    )


def find_arms(rows: pd.DataFrame, outcomes: pd.Series, window_first_day: date) -> Arms | None:
    """The comparison's rows (the module's docstring says which); None when no line names a challenger.

    `outcomes` holds the delayed label of each labelled row, by its index in `rows`.
    """
    moments = pd.to_datetime(rows["timestamp"], utc=True, format="ISO8601", errors="coerce")
    variants = _text(rows["variant"])
    shadow = rows[SHADOW_PREDICTION].notna() & rows["challenger_version"].notna()
    answered = variants == "challenger"
    named = _text(rows["challenger_version"]).where(shadow, _text(rows["model_version"]).where(answered))
    if not named.notna().any():
        return None
    in_order = (
        pd.DataFrame({"moment": moments, "position": np.arange(len(rows))}, index=rows.index)
        .sort_values(["moment", "position"], na_position="first")
        .index
    )
    latest = in_order[named[in_order].notna().to_numpy()][-1]
    version = str(named[latest])
    mode: LoggedMode = "shadow" if shadow[latest] else "split"
    settled = _settled(rows.loc[in_order[-1]], version, mode)
    this = (named == version) & (shadow if mode == "shadow" else answered)
    first_seen = moments[this].min()
    since = moments >= first_seen if not pd.isna(first_seen) else pd.Series(True, index=rows.index)
    first_day = first_seen.date() if not pd.isna(first_seen) else window_first_day
    challenger_rows = rows[this & since]
    skipped = 0
    if mode == "shadow":
        champion = _arm("champion", challenger_rows, PREDICTION, "model_version", outcomes)
        challenger = _arm("challenger", challenger_rows, SHADOW_PREDICTION, "challenger_version", outcomes)
        skipped = int(((_text(rows["challenger_version"]) == version) & rows[SHADOW_PREDICTION].isna() & since).sum())
    else:
        champion_rows = rows[(variants == "champion") & since & (_text(rows["model_version"]) != version)]
        champion = _arm("champion", champion_rows, PREDICTION, "model_version", outcomes)
        challenger = _arm("challenger", challenger_rows, PREDICTION, "model_version", outcomes)
    return Arms(mode, version, first_day, champion, challenger, skipped, settled)


def _settled(newest: pd.Series, version: str, mode: LoggedMode) -> Settled | None:
    """Whether the newest line shows the challenger `version` promoted, or retired from a shadow; in split mode a
    champion's line is no sign of a retirement: most of its lines are the champion's.
    """
    alone = pd.isna(newest["challenger_version"]) and newest["variant"] != "challenger"
    if alone and newest["model_version"] == version:
        return "promoted"
    if alone and mode == "shadow":
        return "retired"
    return None


def difference(arms: Arms, settings: AbDecisionParams) -> Deltas:
    """The challenger's metric minus the champion's on their labelled rows: paired on the same rows in shadow mode,
    each on its own rows in split mode. A ValueError when no resample holds both outcomes.
    """
    champion, challenger = arms.champion, arms.challenger
    if arms.mode == "shadow":
        return paired_deltas(
            champion.label[champion.labelled],
            champion.probability[champion.labelled],
            challenger.probability[challenger.labelled],
            settings.metric,
            settings.resamples,
            settings.seed,
        )
    return unpaired_deltas(
        champion.label[champion.labelled],
        champion.probability[champion.labelled],
        challenger.label[challenger.labelled],
        challenger.probability[challenger.labelled],
        settings.metric,
        settings.resamples,
        settings.seed,
    )


def floors(challenger: VariantSummary, worst_acceptable: dict[str, float]) -> list[Floor]:
    """Each floor of the gate on a metric the report scores, against the challenger's realised value."""
    return [
        Floor(
            metric=name,
            limit=limit,
            challenger=challenger.metrics[name],
            met=THRESHOLD_FREE[name].improvement(challenger.metrics[name] - limit) >= 0,
        )
        for name, limit in worst_acceptable.items()
        if name in challenger.metrics
    ]


def evidence(arms: Arms | None, window: LogWindow, settings: AbDecisionParams) -> Evidence:
    """Closed once the challenger was logged on the window's first day: it has had the whole window."""
    first_day = None if arms is None else arms.first_day
    return Evidence(
        days=settings.evidence_days, first_day=first_day, closed=first_day is not None and first_day <= window.start
    )


def _difference_reason(result: Difference, settings: AbDecisionParams, rows: tuple[int, int]) -> str:
    bound_side = "at least" if THRESHOLD_FREE[result.metric].better == "higher" else "at most"
    verdict = "above" if result.improvement_bound > settings.min_improvement else "not above"
    method = "paired on the same rows" if result.paired else "unpaired, each variant on its own rows"
    return (
        f"the challenger's {result.metric} is {result.challenger:.4f} and the champion's {result.champion:.4f} on "
        f"{rows[1]:,} and {rows[0]:,} labelled rows: a difference of {result.delta:+.4f}, {bound_side} "
        f"{result.bound:+.4f} at {result.confidence:.0%} confidence (bootstrap {method}, {result.resamples:,} "
        f"resamples), a gain of {result.improvement_bound:+.4f}, {verdict} ab.decision.min_improvement "
        f"{settings.min_improvement:g}"
    )


def _insufficient(
    arms: Arms | None, summaries: list[VariantSummary], proof: Evidence, window: LogWindow, settings: AbDecisionParams
) -> list[str]:
    """Every reason there is not yet the evidence to decide on; none when there is."""
    if arms is None:
        return [
            f"no line of the {settings.evidence_days}-day window from {window.start} to {window.end} names a "
            f'challenger: its {len(window.rows):,} rows were the champion\'s alone (ab.mode "off", or no '
            "challenger deployed)"
        ]
    reasons = [
        f"the {summary.variant} has {summary.labelled_rows:,} labelled rows, fewer than "
        f"ab.decision.min_labelled_rows {settings.min_labelled_rows:,}"
        for summary in summaries
        if summary.labelled_rows < settings.min_labelled_rows
    ]
    reasons += [
        f"the {summary.variant}'s {summary.labelled_rows:,} labelled rows hold one outcome only"
        for summary in summaries
        if summary.labelled_rows >= settings.min_labelled_rows and not summary.metrics
    ]
    if not proof.closed:
        day = (window.end - arms.first_day).days + 1
        closes = arms.first_day + timedelta(days=settings.evidence_days - 1)
        reasons.append(
            f"the evidence window is open: the challenger {arms.challenger_version} was first logged on "
            f"{arms.first_day}, day {day} of ab.decision.evidence_days {settings.evidence_days}; the decision is "
            f"taken once, when it closes on {closes}"
        )
    return reasons


def decide(
    arms: Arms | None,
    summaries: list[VariantSummary],
    result: Difference | None,
    checked: list[Floor],
    proof: Evidence,
    window: LogWindow,
    settings: AbDecisionParams,
) -> tuple[Decision, list[str]]:
    """Apply the rule of params ab.decision; the reasons name the numbers that decided."""
    if insufficient := _insufficient(arms, summaries, proof, window, settings):
        return "insufficient_data", insufficient
    if result is None:
        return "insufficient_data", ["no bootstrap resample held both outcomes on each side"]
    rows = (summaries[0].labelled_rows, summaries[1].labelled_rows)
    below = [
        f"the challenger's {floor.metric} {floor.challenger:.4f} is worse than gate.worst_acceptable {floor.limit:g}"
        for floor in checked
        if not floor.met
    ]
    reason = _difference_reason(result, settings, rows)
    if below:
        return "keep_champion", [*below, reason]
    return ("promote" if result.improvement_bound > settings.min_improvement else "keep_champion"), [reason]


def rule_text(settings: AbDecisionParams, worst_acceptable: dict[str, float]) -> str:
    """The rule in words, with its numbers: the report states what it applied."""
    applied = {name: limit for name, limit in worst_acceptable.items() if name in THRESHOLD_FREE}
    floors_text = ", ".join(
        f"{name} {'>=' if THRESHOLD_FREE[name].better == 'higher' else '<='} {limit:g}"
        for name, limit in applied.items()
    )
    return (
        f"Decided once the evidence window of {settings.evidence_days} days has closed (the challenger logged on its "
        f"first day): promote when each variant has at least {settings.min_labelled_rows:,} labelled rows, the "
        f"challenger meets every floor of gate.worst_acceptable on a metric of the probabilities "
        f"({floors_text or 'none'}), and its {settings.metric} minus the champion's, bootstrapped "
        f"({settings.resamples:,} resamples; paired on the same rows in shadow mode, unpaired in split mode), "
        f"is better than {settings.min_improvement:g} even at the worse end of its {settings.confidence:.0%} "
        "one-sided interval; keep_champion otherwise. insufficient_data while the window is open, with fewer "
        "labelled rows, or when no line names a challenger."
    )


def _measured(deltas: Deltas, summaries: list[VariantSummary], arms: Arms, settings: AbDecisionParams) -> Difference:
    metric = deltas.metric
    bound = deltas.worse_end(settings.confidence)
    return Difference(
        metric=metric.name,
        champion=summaries[0].metrics[metric.name],
        challenger=summaries[1].metrics[metric.name],
        delta=deltas.observed,
        bound=bound,
        improvement_bound=metric.improvement(bound),
        confidence=settings.confidence,
        resamples=len(deltas.resampled),
        paired=arms.mode == "shadow",
    )


def check(window: LogWindow, labels: Labels, source: str, params: Params, commit: str | None) -> AbResult:
    """Compare the variants on the window's rows and their labels, and decide."""
    settings = params.ab.decision
    outcomes = join_outcomes(window.rows, labels)
    arms = find_arms(window.rows, outcomes.rows[LABEL], window.first_day or window.start)
    summaries = [] if arms is None else [arms.champion.summary(), arms.challenger.summary()]
    measured = None
    if arms is not None and all(summary.metrics for summary in summaries):
        try:
            measured = _measured(difference(arms, settings), summaries, arms, settings)
        except ValueError:  # no resample held both outcomes: too few labelled rows, which the rule reports
            measured = None
    checked = floors(summaries[1], params.gate.worst_acceptable) if summaries else []
    proof = evidence(arms, window, settings)
    decision, reasons = decide(arms, summaries, measured, checked, proof, window, settings)
    return AbResult(
        decision=decision,
        reasons=reasons,
        rule=rule_text(settings, params.gate.worst_acceptable),
        mode=None if arms is None else arms.mode,
        challenger_version=None if arms is None else arms.challenger_version,
        skipped_rows=0 if arms is None else arms.skipped_rows,
        settled=None if arms is None else arms.settled,
        window=AbWindow(
            source=source,
            days=settings.evidence_days,
            start=window.start,
            end=window.end,
            first_day=window.first_day,
            last_day=window.last_day,
            rows=len(window.rows),
            labels=outcomes.labels,
            unmatched_labels=outcomes.unmatched_labels,
        ),
        evidence=proof,
        variants=summaries,
        difference=measured,
        floors=checked,
        commit=commit,
    )


def _check_metric(settings: AbDecisionParams) -> None:
    if settings.metric not in THRESHOLD_FREE:
        raise ConfigError(
            f"ab.decision.metric: {settings.metric!r} is not a metric of the probabilities alone, which both "
            f"variants' logged probabilities can be scored on; choose one of {', '.join(THRESHOLD_FREE)}"
        )


def _head_commit() -> str | None:
    """The checked-out commit, recorded for tracing; None outside a git repository."""
    try:
        return revisions.head()
    except SourceError:
        return None


def run_ab_report(params: Params, current: str | None, out: Path | None, now: datetime) -> AbResult:
    """Compare the variants on the log's evidence window ending on `now`'s day (UTC), write ab.json and ab.md."""
    settings = params.ab.decision
    _check_metric(settings)
    schema = load_schema(params.data.schema_file)
    source = current or params.serve.inference_log_dir.as_posix()
    window_params = params.drift.model_copy(update={"window_days": settings.evidence_days})
    window, labels = read_current(source, schema, window_params, now.date())
    result = check(window, labels, source, params, _head_commit())
    files = AbReportFiles(out or settings.directory)
    with atomic_outputs(files.result, files.markdown) as (json_path, markdown_path):
        json_path.write_text(result_json(result))
        markdown_path.write_text(render_markdown(result))
    return result
