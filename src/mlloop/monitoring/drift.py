"""The drift check: the inference log's latest window against the training split.

Column types come from the feature schema, never from the data. The rule and every threshold
come from params.yaml `drift`, and the report states the rule it applied, so a reader of the
issue it opens can see why it was opened. A drift verdict is a finding, not an error: the
command exits 0 for every verdict.

Outputs in the report directory: drift.json (top-level `status`: drift, no_drift or
insufficient_data), drift.md (a table sorted by score, for the job summary and the issue) and
one PNG per drifted column.
"""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from sklearn.metrics import roc_auc_score

from mlloop.config import DriftParams, Params
from mlloop.core.drift_scores import ColumnScores, categorical_scores, numeric_scores
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring.log_window import LogWindow, read_labels, read_window
from mlloop.pipeline.plots import render_distribution_overlays
from mlloop.storage import revisions
from mlloop.storage.artifacts import require
from mlloop.storage.files import atomic_outputs, json_text, sha256_of

Status = Literal["drift", "no_drift", "insufficient_data"]
PREDICTION = "churn_probability"


@dataclass(frozen=True)
class ColumnResult:
    """One column's scores, and each applicable score over its threshold."""

    name: str
    kind: Literal["numeric", "categorical", "prediction"]
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


def _judge(
    name: str, kind: Literal["numeric", "categorical", "prediction"], scores: ColumnScores, drift: DriftParams
) -> ColumnResult:
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


def _realised_auc(window: LogWindow, labels: dict[str, bool]) -> dict[str, Any] | None:
    joined = window.rows.assign(label=window.rows["request_id"].map(labels)).dropna(subset=["label"])
    if joined.empty or joined["label"].nunique() < 2:
        return None
    return {"rows": len(joined), "roc_auc": float(roc_auc_score(joined["label"].astype(bool), joined[PREDICTION]))}


def _check_key_features(drift: DriftParams, schema: FeatureSchema) -> None:
    unknown = sorted(set(drift.key_features) - set(schema.feature_names))
    if unknown:
        raise ConfigError(f"drift.key_features: {unknown} are not features of the schema ({schema.feature_names})")


def render_markdown(result: dict[str, Any]) -> str:
    """drift.md: the verdict, the rule, the window, then one row per column, most drifted first."""
    lines = [
        f"# Drift check: **{result['status']}**",
        "",
        *(f"- {reason}" for reason in result["reasons"]),
        "",
        f"Rule: {result['rule']}",
        "",
        f"Window: {result['window']['first_day']} to {result['window']['last_day']}, "
        f"{result['rows']['current']} current rows ({result['rows']['skipped_lines']} log lines skipped), "
        f"{result['rows']['reference']} reference rows. Model: {', '.join(result['model_versions']) or 'none'}.",
    ]
    if result["realised"]:
        lines.append(
            f"Realised ROC AUC on {result['realised']['rows']} labelled rows: {result['realised']['roc_auc']:.4f}."
        )
    lines += [
        "",
        "| column | type | drifted by | Wasserstein/std | Jensen-Shannon | PSI | unseen share | null-share change "
        "| p-value (not used) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for column in result["columns"]:
        scores = column["scores"]
        cells = [
            scores[key]
            for key in ("wasserstein", "jensen_shannon", "psi", "unseen_share", "null_share_change", "p_value")
        ]
        shown = ["" if value is None else f"{value:.3g}" for value in cells]
        lines.append(
            f"| {column['name']} | {column['kind']} | {', '.join(column['drifted_by']) or '—'} | {' | '.join(shown)} |"
        )
    unseen = {
        column["name"]: column["scores"]["unseen_labels"]
        for column in result["columns"]
        if column["scores"]["unseen_labels"]
    }
    if unseen:
        lines += ["", "Labels the training data never had:"]
        lines += [
            f"- {name}: " + ", ".join(f"{label} ({count})" for label, count in labels.items())
            for name, labels in unseen.items()
        ]
    return "\n".join(lines) + "\n"


def run_drift(params: Params, reference_path: Path | None, current: str | None, out: Path | None) -> dict[str, Any]:
    """Compare the log window with the reference, write the three outputs, return drift.json's content."""
    schema = load_schema(params.data.schema_file)
    drift = params.drift
    _check_key_features(drift, schema)
    reference_file = reference_path or params.paths.train
    reference = pd.read_parquet(require(reference_file, "split"))
    predictions = pd.read_parquet(require(params.paths.predictions, "evaluate"))
    source = current or params.serve.inference_log_dir.as_posix()
    window = read_window(source, drift.window_days, schema)
    rows = len(window.rows)
    # The predicted probability's reference: the model on held-out customers, as evaluate scored them.
    columns = score_columns(reference, window.rows, predictions[PREDICTION], schema, drift) if rows else []
    status, reasons = verdict(columns, rows, drift)
    try:
        commit = revisions.head()
    except SourceError:
        commit = None
    result: dict[str, Any] = {
        "status": status,
        "reasons": reasons,
        "rule": rule_text(drift),
        "window": {
            "source": source,
            "days": drift.window_days,
            "first_day": window.first_day and window.first_day.isoformat(),
            "last_day": window.last_day and window.last_day.isoformat(),
            "files": window.files,
        },
        "rows": {"current": rows, "reference": len(reference), "skipped_lines": window.skipped_lines},
        "reference": {"path": reference_file.as_posix(), "sha256": sha256_of(reference_file)},
        "model_versions": sorted(window.rows["model_version"].dropna().unique().tolist()),
        "commit": commit,
        "realised": _realised_auc(window, read_labels(source)) if rows else None,
        "columns": [
            {"name": column.name, "kind": column.kind, "drifted_by": column.drifted_by, "scores": asdict(column.scores)}
            for column in columns
        ],
    }
    directory = out or drift.directory
    # One plot per drifted feature; none for insufficient data: too few rows to draw a distribution worth reading.
    drifted = [] if status == "insufficient_data" else [column for column in columns if column.drifted_by]
    with atomic_outputs(directory / "drift.json", directory / "drift.md", directory / "plots") as (
        json_path,
        md_path,
        plots,
    ):
        json_path.write_text(json_text(result))
        md_path.write_text(render_markdown(result))
        plots.mkdir()
        render_distribution_overlays(
            reference,
            window.rows,
            [column.name for column in drifted if column.kind == "numeric"],
            [column.name for column in drifted if column.kind == "categorical"],
            plots,
        )
    return result
