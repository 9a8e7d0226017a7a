"""The model card: what the model is for, what it was trained on, how well it does, and what
it accepts. Rendered from the files the pipeline wrote, so it cannot drift from the model.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from mlloop.core.schema import CategoricalFeature, FeatureSchema, NumericFeature


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


def render_model_card(
    name: str,
    metadata: Mapping[str, Any],
    metrics: Mapping[str, float],
    performance: Mapping[str, Any],
    source: str,
    intended_use: str,
    limitations: Sequence[str],
    plots: Sequence[str],
) -> str:
    """The card as Markdown; `plots` are paths relative to the card."""
    schema = FeatureSchema.model_validate(metadata["schema"])
    data = metadata["training_data"]
    hyperparameters = ", ".join(f"`{key}={value}`" for key, value in metadata["hyperparameters"].items()) or "defaults"
    lines = [
        f"# Model card: {name}",
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
        f"- estimator: `{metadata['estimator']}` ({hyperparameters}), seed {metadata['seed']}",
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
