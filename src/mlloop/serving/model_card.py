"""The model card: what the model is for, what it was trained on, how well it does, and what
it accepts. Rendered from the files the pipeline wrote, so it cannot drift from the model.

A bento that serves a champion beside the workspace's model (params `ab`) says so at the top, and
describes the champion after the workspace's model: what it is, and its metrics beside this one's.
The top also names each model as the service's answers and inference log do.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from mlloop.core.schema import CategoricalFeature, FeatureSchema, NumericFeature
from mlloop.serving.champion import Champion, Lineup
from mlloop.serving.inference_log import Variant


def _feature_rule(feature: NumericFeature | CategoricalFeature) -> str:
    if isinstance(feature, CategoricalFeature):
        return "one of " + ", ".join(f"`{category}`" for category in feature.categories)
    low = "-∞" if feature.min is None else f"{feature.min:g}"
    high = "∞" if feature.max is None else f"{feature.max:g}"
    return f"{feature.type} in [{low}, {high}]"


def _nulls(feature: NumericFeature | CategoricalFeature) -> str:
    if feature.max_null_fraction == 0:
        return "no"
    fill = f", read as {feature.fill_missing:g}" if isinstance(feature, NumericFeature) else ""
    return f"up to {feature.max_null_fraction:.0%}{fill}"


def _hyperparameters(metadata: Mapping[str, Any]) -> str:
    return ", ".join(f"`{key}={value}`" for key, value in metadata["hyperparameters"].items()) or "defaults"


def _champion_section(champion: Champion, metrics: Mapping[str, float]) -> list[str]:
    """The champion: its version and commit, its model, and its metrics beside this model's."""
    metadata, staged = champion.metadata, champion.staged
    return [
        "",
        f"## The champion: {staged.tag} (stage {staged.stage})",
        "",
        f"- commit: `{staged.commit}`; model md5 `{champion.model_md5}`",
        f"- estimator: `{metadata['estimator']}` ({_hyperparameters(metadata)}), seed {metadata['seed']}",
        f"- decision threshold: {metadata['threshold']}",
        f"- training rows: {metadata['training_data']['rows']}, "
        f"training data SHA-256: `{metadata['training_data']['sha256']}`",
        "",
        "Each model's metrics on the held-out test split of its own commit:",
        "",
        "| metric | this model (challenger) | champion |",
        "|---|---|---|",
        *(
            f"| {metric} | {value:.4f} | "
            f"{'-' if metric not in champion.metrics else format(champion.metrics[metric], '.4f')} |"
            for metric, value in metrics.items()
        ),
    ]


def _logged_as(logged_as: Mapping[Variant, str]) -> str:
    """Which `model_version` each model answers and logs by, this model's last."""
    if "challenger" not in logged_as:
        return f"Answers and inference log lines name this model `{logged_as['champion']}`."
    return (
        f"Answers and inference log lines name the champion `{logged_as['champion']}` and this model, "
        f"the challenger, `{logged_as['challenger']}`."
    )


def render_model_card(
    name: str,
    metadata: Mapping[str, Any],
    metrics: Mapping[str, float],
    performance: Mapping[str, Any],
    source: str,
    intended_use: str,
    limitations: Sequence[str],
    plots: Sequence[str],
    lineup: Lineup,
    logged_as: Mapping[Variant, str],
) -> str:
    """The card as Markdown; `plots` are paths relative to the card; `lineup` says what the bento serves, and
    `logged_as` the name each of its models is logged by (bento_model.logged_name).
    """
    schema = FeatureSchema.model_validate(metadata["schema"])
    data = metadata["training_data"]
    lines = [
        f"# Model card: {name}",
        "",
        "## Served as",
        "",
        lineup.reason + ".",
        _logged_as(logged_as),
        "",
        "## Intended use",
        "",
        intended_use,
        "",
        "## Data",
        "",
        f"- source: `{source}`",
        f"- training rows: {data['rows']}, positive rate {data['positive_rate']:.3f}",
        f"- training data SHA-256: `{data['sha256']}`",
        "",
        "## Model",
        "",
        f"- estimator: `{metadata['estimator']}` ({_hyperparameters(metadata)}), seed {metadata['seed']}",
        f"- decision threshold: {metadata['threshold']}",
        f"- size: {performance['model_size_bytes']} bytes; single-row latency p50 "
        f"{performance['single_row_latency_ms_p50']:.2f} ms",
        "- libraries: " + ", ".join(f"{lib} {version}" for lib, version in metadata["libraries"].items()),
        "",
        "## Metrics (held-out test split)",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {metric} | {value:.4f} |" for metric, value in metrics.items()),
        "",
        *(f"![{plot}]({plot})" for plot in plots),
        "",
        "## Limitations",
        "",
        *(f"- {limitation}" for limitation in limitations),
        *(_champion_section(lineup.champion, metrics) if lineup.champion else []),
        "",
        "## Feature schema",
        "",
        f"Target `{schema.target.name}`: positive class `{schema.target.positive}`. "
        "Requests with anything outside these rules are refused with HTTP 400.",
        "",
        "| feature | accepts | nulls | description |",
        "|---|---|---|---|",
        *(
            f"| `{name}` | {_feature_rule(feature)} | {_nulls(feature)} | {feature.description} |"
            for name, feature in schema.features.items()
        ),
    ]
    return "\n".join(lines) + "\n"
