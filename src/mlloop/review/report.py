"""The pull-request commands `report` and `gate`: gather this workspace (the PR head) and a
baseline commit from git and DVC, compare them, and write the report or the gate verdict.
"""

import json
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from dvc.repo import Repo

from mlloop.config import DEFAULT_PARAMS_FILE, Params
from mlloop.core.schema import load_schema
from mlloop.errors import GateFailedError, MlloopError, SourceError
from mlloop.pipeline import plots
from mlloop.pipeline.stages.evaluate import CURVE_FILES
from mlloop.review import compare, markdown
from mlloop.review.gate import GateVerdict, evaluate_gate
from mlloop.storage import revisions
from mlloop.storage.files import atomic_outputs

COMPARED_CURVES = ("roc", "precision_recall", "confusion")
REPORT_FILE = "report.md"


@dataclass(frozen=True)
class Snapshot:
    """What one commit recorded in git: each field is None when that commit lacks the file."""

    metrics: dict[str, float] | None
    performance: dict[str, Any] | None
    params: dict[str, Any] | None
    lock: dict[str, Any] | None
    validation: dict[str, Any] | None
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)


def _json(content: bytes | None) -> Any:
    return None if content is None else json.loads(content)


def _yaml(content: bytes) -> dict[str, Any]:
    return dict(yaml.safe_load(content) or {})


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _differs(change: Any) -> bool:
    """True for any recorded difference except an output that is only absent from the DVC cache."""
    if isinstance(change, dict):
        return any(_differs(value) for value in change.values())
    return bool(change != "not in cache")


def _out_of_date(status: dict[str, list[Any]]) -> list[str]:
    """Stages whose command, code, data or params differ from dvc.lock.

    An output that is only missing from the DVC cache (a fresh runner) still matches the lock,
    so it does not count.
    """
    return sorted(stage for stage, changes in status.items() if any(_differs(change) for change in changes))


def ensure_reproduced(params: Params) -> None:
    """Refuse to compare stale or missing outputs: the numbers would not describe this code."""
    if not params.paths.metrics.exists():
        raise SourceError(f"{params.paths.metrics} is missing: the pipeline was not reproduced; run `make repro`")
    with Repo() as repository:
        stale = _out_of_date(repository.status())
    if stale:
        raise SourceError(f"the pipeline was not reproduced: stages {stale} are out of date; run `make repro`")


def _snapshot(read: Any, params: Params) -> Snapshot:
    """Build a snapshot with `read(path) -> bytes | None`, the same way for the workspace and for git."""
    paths = params.paths
    curves = {}
    for name in COMPARED_CURVES:
        content = read(paths.plot_data / CURVE_FILES[name])
        if content is not None:
            curves[name] = pd.read_csv(BytesIO(content))
    raw_params, raw_lock = read(DEFAULT_PARAMS_FILE), read(revisions.DVC_LOCK)
    return Snapshot(
        metrics=_json(read(paths.metrics)),
        performance=_json(read(paths.model_perf)),
        params=None if raw_params is None else _yaml(raw_params),
        lock=None if raw_lock is None else _yaml(raw_lock),
        validation=_json(read(paths.validation_report)),
        curves=curves,
    )


def workspace_snapshot(params: Params) -> Snapshot:
    """The PR side: this checkout's reproduced outputs."""
    ensure_reproduced(params)
    return _snapshot(_read, params)


@dataclass(frozen=True)
class Baseline:
    """The resolved baseline: its label, its commit (None when the ref is missing) and what it recorded."""

    label: str
    sha: str | None
    snapshot: Snapshot | None
    notes: list[str]

    @property
    def recorded(self) -> Snapshot | None:
        """The snapshot when the baseline has metrics to compare with (not a first PR, not a missing ref)."""
        return self.snapshot if self.snapshot is not None and self.snapshot.metrics is not None else None


def load_baseline(ref: str, params: Params) -> Baseline:
    """Resolve the ref and read its committed outputs; a missing ref or metrics becomes a note, not a crash."""
    sha = revisions.resolve(ref)
    if sha is None:
        return Baseline(ref, None, None, [f"Baseline `{ref}` was not found: showing this PR alone."])
    snapshot = _snapshot(lambda path: revisions.read_at(sha, path), params)
    notes = []
    if snapshot.metrics is None:
        notes.append(f"Baseline `{ref}` has no metrics yet (the first PR?): showing this PR alone.")
    return Baseline(ref, sha, snapshot, notes)


def check_gate(params: Params, workspace: Snapshot, baseline: Baseline) -> GateVerdict:
    """The gate verdict of the workspace against the baseline."""
    assert workspace.metrics is not None and workspace.performance is not None  # ensured by workspace_snapshot
    baseline_metrics = baseline.recorded.metrics if baseline.recorded else None
    return evaluate_gate(params.gate, workspace.metrics, workspace.performance, baseline_metrics)


def run_gate(params: Params, baseline_ref: str | None) -> None:
    """Print every gate rule with its numbers; raise GateFailedError (exit 5) when any fails."""
    baseline = load_baseline(baseline_ref or params.report.baseline, params)
    verdict = check_gate(params, workspace_snapshot(params), baseline)
    for line in [*baseline.notes, *verdict.notes, *(rule.describe() for rule in verdict.rules)]:
        print(line)
    if not verdict.passed:
        raise GateFailedError(
            f"{len(verdict.failures)} gate rule(s) failed: " + "; ".join(r.rule for r in verdict.failures)
        )
    print("gate passed")


def _bootstrap(params: Params, baseline: Baseline) -> tuple[list[compare.BootstrapResult], int, list[str]]:
    """Significance of each configured metric's difference, on the test rows both models scored."""
    if baseline.sha is None or baseline.recorded is None:
        return [], 0, []
    schema = load_schema(params.data.schema_file)
    try:
        baseline_predictions = pd.read_parquet(BytesIO(revisions.dvc_output_at(baseline.sha, params.paths.predictions)))
    except (MlloopError, OSError, ValueError) as error:
        return [], 0, [f"Significance not computed: no baseline predictions ({error})."]
    paired = compare.paired_predictions(
        baseline_predictions, pd.read_parquet(params.paths.predictions), schema.id_column
    )
    if paired.empty:
        return [], 0, ["Significance not computed: the two models share no test customers (did the split change?)."]
    settings = params.report.bootstrap
    label = paired["label"].to_numpy()
    try:
        results = [
            compare.paired_bootstrap(
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
        return [], 0, [f"Significance not computed: {error}."]
    return results, len(paired), []


def _write(out: Path, text: str, curves: dict[str, dict[str, pd.DataFrame]], labels: dict[str, str]) -> None:
    """Replace the report directory as a whole: the Markdown and, when there is a baseline, its PNGs."""
    with atomic_outputs(out) as (directory,):
        directory.mkdir()
        if len(labels) > 1:
            plots.render_comparison(curves, labels, directory)
        (directory / REPORT_FILE).write_text(text)


def run_report(params: Params, baseline_ref: str | None, out: Path | None) -> None:
    """Write <out>/report.md (and comparison PNGs): this workspace against the baseline."""
    ref = baseline_ref or params.report.baseline
    out = out or params.report.directory
    try:
        workspace = workspace_snapshot(params)
    except SourceError as error:
        _write(out, f"## Model report\n\n> ❌ {error}\n", {}, {})
        raise
    baseline = load_baseline(ref, params)
    verdict = check_gate(params, workspace, baseline)
    bootstrap, paired_rows, bootstrap_notes = _bootstrap(params, baseline)
    base = baseline.recorded
    sides = {"pull_request": workspace} if base is None else {"baseline": base, "pull_request": workspace}
    curves = {
        name: {side: snap.curves[name] for side, snap in sides.items() if name in snap.curves}
        for name in COMPARED_CURVES
    }
    pr_sha = revisions.head()
    content = markdown.ReportContent(
        pull_request=markdown.Revision("this PR", pr_sha),
        baseline=markdown.Revision(ref, baseline.sha),
        notes=baseline.notes + bootstrap_notes,
        verdict=verdict,
        metrics=compare.compare_metrics((base.metrics or {}) if base else {}, workspace.metrics or {}),
        bootstrap=bootstrap,
        paired_rows=paired_rows,
        param_changes=compare.params_diff(base.params or {}, workspace.params or {}) if base else [],
        stages_changed=compare.changed_stages(base.lock or {}, workspace.lock or {}) if base else [],
        curves=curves,
        validation={side: snap.validation for side, snap in sides.items()},
        performance={side: snap.performance for side, snap in sides.items()},
        charts=params.report.charts,
        chart_points=params.report.chart_points,
        png_files=plots.COMPARISON_FILES if base else {},
        reproduce_command=f"git checkout {pr_sha[:12]} && make run && make report BASELINE={ref}",
    )
    _write(out, markdown.render(content), curves, {side: markdown.side_label(content, side) for side in sides})
