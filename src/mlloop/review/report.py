"""The pull-request commands `report` and `gate`: compare this workspace (the PR head) with a
baseline commit, build the report's typed content and write it as markdown.py renders it, or
print the gate verdict.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError
from sklearn.pipeline import Pipeline

from mlloop.config import Params, ReportParams, ServingCostParams
from mlloop.core.bootstrap import BootstrapResult, paired_bootstrap
from mlloop.core.metrics import METRICS, THRESHOLD_FREE
from mlloop.core.schema import features_and_label, load_schema
from mlloop.errors import ConfigError, GateFailedError, MlloopError, SourceError
from mlloop.pipeline import plots
from mlloop.review import compare, markdown, serving_cost
from mlloop.review.baseline import (
    COMPARED_CURVES,
    Baseline,
    Snapshot,
    load_baseline,
    model_at,
    predictions_at,
    workspace_snapshot,
)
from mlloop.review.gate import GateVerdict, evaluate_gate
from mlloop.storage import revisions
from mlloop.storage.artifacts import load_model, read_table
from mlloop.storage.files import atomic_outputs, sha256_of


def check_gate(
    params: Params, workspace: Snapshot, baseline: Baseline, serving: serving_cost.ServingCost
) -> GateVerdict:
    """The gate verdict of the workspace against the baseline, its latency rules on this run's timing."""
    # Both ensured by workspace_snapshot, which refuses an unreproduced pipeline.
    assert workspace.metrics is not None
    assert workspace.performance is not None
    baseline_metrics = baseline.recorded.metrics if baseline.recorded else None
    return evaluate_gate(params.gate, workspace.metrics, workspace.performance, baseline_metrics, serving)


SCORING_ERRORS = (ValueError, KeyError, TypeError)
"""What scikit-learn raises when a model cannot score the rows, e.g. the PR changed the schema."""


def _baseline_model(params: Params, baseline: Baseline, rows: pd.DataFrame) -> tuple[Pipeline | None, str | None]:
    """The baseline's model once it has scored the PR's rows, else None and why it will not be timed."""
    if baseline.sha is None or baseline.recorded is None:
        return None, "No baseline model to time: this PR's model was timed alone."
    try:
        model = model_at(baseline.sha, params)
        model.predict_proba(rows.iloc[[0]])
    except (MlloopError, OSError, *SCORING_ERRORS) as error:
        return None, f"Baseline model not timed ({error}): this PR's model was timed alone."
    return model, None


def measure_serving_cost(params: Params, baseline: Baseline) -> serving_cost.ServingCost:
    """Time the workspace's model and the baseline's in turn, in this process, on the PR's test rows."""
    features, _ = features_and_label(read_table(params.paths.test, "split"), load_schema(params.data.schema_file))
    pull_request = load_model(params.paths.model)
    baseline_model, note = _baseline_model(params, baseline, features)
    return serving_cost.measure(
        pull_request.predict_proba,
        None if baseline_model is None else baseline_model.predict_proba,
        features,
        params.report.serving_cost,
        note,
    )


class TimedInputs(BaseModel):
    """What a serving-cost measurement was taken on: the same two models, rows and settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    baseline_sha: str | None
    model_sha256: str
    test_sha256: str
    settings: ServingCostParams


class RecordedServingCost(BaseModel):
    """The measurement `report` took, and on what: `gate` reuses it only for the very same inputs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inputs: TimedInputs
    cost: serving_cost.ServingCost


def timed_inputs(params: Params, baseline: Baseline) -> TimedInputs:
    """The inputs a measurement depends on, by content: a retrained model or a moved baseline is a new measurement."""
    return TimedInputs(
        baseline_sha=baseline.sha,
        model_sha256=sha256_of(params.paths.model),
        test_sha256=sha256_of(params.paths.test),
        settings=params.report.serving_cost,
    )


def serving_cost_for_gate(params: Params, baseline: Baseline) -> tuple[serving_cost.ServingCost, str]:
    """The report's measurement when it was taken on these inputs, else a new one; and which it is.

    One measurement per PR: the gate's latency rules then judge the very numbers the comment shows,
    and the job does not spend a second timing run on a busy runner.
    """
    inputs = timed_inputs(params, baseline)
    try:
        recorded = RecordedServingCost.model_validate_json(params.report.serving_cost_file.read_bytes())
    except (OSError, ValidationError):
        recorded = None
    if recorded is not None and recorded.inputs == inputs:
        return recorded.cost, f"serving cost: as the report measured it ({params.report.serving_cost_file})"
    return measure_serving_cost(params, baseline), "serving cost: measured now (no report of these models)"


def check_metric_names(params: Params) -> None:
    """Refuse a gate rule or a bootstrap on a metric the registry lacks, before anything is compared.

    The bootstrap compares two models that may cut at different thresholds, so it takes only the
    metrics of the probabilities.
    """
    gate_rules = {"worst_acceptable": params.gate.worst_acceptable, "max_regression": params.gate.max_regression}
    problems = [
        f"gate.{rule}.{name}: {name!r} is not a metric; known: {', '.join(METRICS)}"
        for rule, limits in gate_rules.items()
        for name in limits
        if name not in METRICS
    ]
    problems += [
        f"report.bootstrap.metrics.{index}: {name!r} is not a threshold-free metric; known: {', '.join(THRESHOLD_FREE)}"
        for index, name in enumerate(params.report.bootstrap.metrics)
        if name not in THRESHOLD_FREE
    ]
    if problems:
        raise ConfigError("; ".join(problems))


def run_gate(params: Params, baseline_ref: str | None) -> None:
    """Print every gate rule with its numbers; raise GateFailedError (exit 5) when any fails."""
    check_metric_names(params)
    baseline = load_baseline(baseline_ref or params.report.baseline, params)
    workspace = workspace_snapshot(params)
    serving, source = serving_cost_for_gate(params, baseline)
    verdict = check_gate(params, workspace, baseline, serving)
    lines = [
        *baseline.notes,
        source,
        *([] if serving.note is None else [serving.note]),
        *(workload.describe(name) for name, workload in serving.workloads.items()),
        *verdict.notes,
        *(rule.describe() for rule in verdict.rules),
    ]
    print("\n".join(lines))
    if not verdict.passed:
        raise GateFailedError(
            f"{len(verdict.failures)} gate rule(s) failed: " + "; ".join(r.rule for r in verdict.failures)
        )
    print("gate passed")


@dataclass(frozen=True)
class Significance:
    """The paired bootstrap of each configured metric, the number of rows it paired, and why it is missing."""

    results: list[BootstrapResult]
    paired_rows: int
    notes: list[str]


def significance(params: Params, baseline: Baseline) -> Significance:
    """Significance of each configured metric's difference, on the test rows both models scored.

    A baseline without predictions is a note; this workspace's predictions must be readable (SourceError).
    """
    if baseline.sha is None or baseline.recorded is None:
        return Significance([], 0, [])
    schema = load_schema(params.data.schema_file)
    try:
        baseline_predictions = predictions_at(baseline.sha, params)
    except (MlloopError, OSError, ValueError) as error:
        return Significance([], 0, [f"Significance not computed: no baseline predictions ({error})."])
    paired = compare.paired_predictions(
        baseline_predictions, read_table(params.paths.predictions, "evaluate"), schema.id_column
    )
    if paired.empty:
        return Significance(
            [], 0, ["Significance not computed: the two models share no test customers (did the split change?)."]
        )
    settings = params.report.bootstrap
    label = paired["label"].to_numpy()
    try:
        results = [
            paired_bootstrap(
                label,
                paired["baseline"].to_numpy(dtype=np.float64),
                paired["pull_request"].to_numpy(dtype=np.float64),
                metric,
                settings.resamples,
                settings.confidence,
                settings.seed,
            )
            for metric in settings.metrics
        ]
    except ValueError as error:
        return Significance([], 0, [f"Significance not computed: {error}."])
    return Significance(results, len(paired), [])


def build_content(params: Params, ref: str, workspace: Snapshot, baseline: Baseline) -> markdown.ReportContent:
    """Everything the report shows, compared side by side; the PR side alone when the baseline recorded nothing."""
    bootstrap = significance(params, baseline)  # first: reproducing the baseline, if needed, caches its model too
    serving = measure_serving_cost(params, baseline)
    verdict = check_gate(params, workspace, baseline, serving)
    base = baseline.recorded
    sides = {"pull_request": workspace} if base is None else {"baseline": base, "pull_request": workspace}
    pr_sha = revisions.head()
    return markdown.ReportContent(
        pull_request=markdown.Revision("this PR", pr_sha),
        baseline=markdown.Revision(ref, baseline.sha),
        notes=baseline.notes + bootstrap.notes,
        verdict=verdict,
        metrics=compare.compare_metrics((base.metrics or {}) if base else {}, workspace.metrics or {}),
        bootstrap=bootstrap.results,
        paired_rows=bootstrap.paired_rows,
        param_changes=compare.params_diff(base.params or {}, workspace.params or {}) if base else [],
        stages_changed=compare.changed_stages(base.lock or {}, workspace.lock or {}) if base else [],
        curves={
            name: {side: snap.curves[name] for side, snap in sides.items() if name in snap.curves}
            for name in COMPARED_CURVES
        },
        validation={side: snap.validation for side, snap in sides.items()},
        performance={side: snap.performance for side, snap in sides.items()},
        serving_cost=serving,
        charts=params.report.charts,
        chart_points=params.report.chart_points,
        png_files=plots.COMPARISON_FILES if base else {},
        reproduce_command=f"git checkout {pr_sha[:12]} && make run && make report BASELINE={ref}",
    )


def _write(
    report_params: ReportParams, text: str, content: markdown.ReportContent | None, timing: RecordedServingCost | None
) -> None:
    """Replace the report directory as a whole: the Markdown, the comparison PNGs the content names, the timing."""
    with atomic_outputs(report_params.directory) as (directory,):
        directory.mkdir()
        if content is not None and content.png_files:
            labels = {side: markdown.side_label(content, side) for side in content.performance}
            plots.render_comparison(content.curves, labels, directory)
        (directory / report_params.report_file.name).write_text(text)
        if timing is not None:
            (directory / report_params.serving_cost_file.name).write_text(timing.model_dump_json())


def run_report(params: Params, baseline_ref: str | None, out: Path | None) -> None:
    """Write the report (and comparison PNGs) into `out`, else report.directory: this workspace against the baseline."""
    check_metric_names(params)
    ref = baseline_ref or params.report.baseline
    report_params = params.report if out is None else params.report.model_copy(update={"directory": out})
    try:
        workspace = workspace_snapshot(params)
    except SourceError as error:
        _write(report_params, f"## Model report\n\n> ❌ {error}\n", None, None)
        raise
    baseline = load_baseline(ref, params)
    content = build_content(params, ref, workspace, baseline)
    timing = RecordedServingCost(inputs=timed_inputs(params, baseline), cost=content.serving_cost)
    _write(report_params, markdown.render(content), content, timing)
