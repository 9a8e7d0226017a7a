"""The service's settings travel in its model's metadata, since a bento carries no params.yaml: what
`mlloop import-model` stores, the service reads back whole and typed; and so do params ab and the
champion the bento holds beside the model, if any. A stored model is logged by its registry version
(`churn@vX.Y.Z`), the name a promotion acts on, and by its BentoML tag only when it has none."""

from pathlib import Path

import bentoml
import pytest
import yaml
from pydantic import ValidationError

from mlloop.config import AbSettings, Params, ServiceSettings
from mlloop.serving.bento_model import (
    AB_SETTINGS,
    CHAMPION,
    CHAMPION_NAME,
    MODEL_NAME,
    SERVICE_SETTINGS,
    VERSION_LABEL,
    ab_settings,
    champion_tag,
    logged_name,
    service_settings,
    stored_ab_settings,
    stored_service_settings,
)


def _through_the_model_store(params: Params) -> dict[str, object]:
    """The metadata as a served model reads it: BentoML writes it to the model's YAML file and loads it back."""
    stored = {
        "threshold": 0.5,
        SERVICE_SETTINGS: stored_service_settings(params.serve),
        AB_SETTINGS: stored_ab_settings(params.ab),
    }
    loaded = yaml.safe_load(yaml.safe_dump(stored))
    assert isinstance(loaded, dict)
    return loaded


def test_the_service_reads_back_every_serve_setting_stored_with_the_model(params: Params) -> None:
    settings = service_settings(_through_the_model_store(params))

    expected = params.serve.model_dump(include=set(ServiceSettings.model_fields))
    assert settings.model_dump() == expected, "every setting must come back with its value"
    assert isinstance(settings.inference_log_dir, Path), "the directory must come back as a Path"


def test_only_the_service_settings_are_stored_not_the_model_card(params: Params) -> None:
    stored = stored_service_settings(params.serve)

    assert set(stored) == set(ServiceSettings.model_fields)
    assert "intended_use" not in stored


def test_a_stored_setting_the_service_does_not_know_is_refused(params: Params) -> None:
    metadata = _through_the_model_store(params)
    settings = metadata[SERVICE_SETTINGS]
    assert isinstance(settings, dict)
    settings["request_timeout"] = 10

    with pytest.raises(ValidationError, match="request_timeout"):
        service_settings(metadata)


@pytest.mark.parametrize("mode", ["off", "shadow", "split"])
def test_the_service_reads_back_the_ab_settings_stored_with_the_model(params: Params, mode: str) -> None:
    # every mode survives the YAML round trip: a bare off would come back as false
    chosen = {"mode": mode, "challenger_share": 0.25, "shadow_max_busy": 0.5}
    with_mode = params.model_copy(update={"ab": params.ab.model_copy(update=chosen)})

    settings = ab_settings(_through_the_model_store(with_mode))

    assert settings == AbSettings.model_validate(chosen)


def test_a_model_stored_without_a_champion_is_the_champion_and_one_stored_with_one_names_its_tag(
    params: Params,
) -> None:
    metadata = _through_the_model_store(params)

    assert champion_tag(metadata) is None
    assert champion_tag(metadata | {CHAMPION: "churn_champion:abc123"}) == "churn_champion:abc123"


def test_a_model_stored_with_a_version_is_logged_by_its_registry_version_tag() -> None:
    labels = {"git_sha": "0123456789ab", VERSION_LABEL: "v0.2.0"}

    assert logged_name(bentoml.Tag(MODEL_NAME, "ekwvvaxmqkth6ax4"), labels) == "churn@v0.2.0"


def test_the_champion_is_logged_by_the_registrys_name_not_its_name_in_the_store() -> None:
    # the store keeps it as churn_champion beside churn; the registry, and `mlloop promote`, know it as churn
    labels = {VERSION_LABEL: "v0.1.0", "stage": "prod"}

    assert logged_name(bentoml.Tag(CHAMPION_NAME, "abc123"), labels) == "churn@v0.1.0"


def test_a_model_stored_without_a_version_label_is_logged_by_its_bentoml_tag() -> None:
    # a build from an uncommitted dvc.lock: no version tags that model
    labels = {"git_sha": "0123456789ab", "dvc_md5": "0cc175b9c0f1b6a831c399e269772661"}

    assert logged_name(bentoml.Tag(MODEL_NAME, "ekwvvaxmqkth6ax4"), labels) == "churn:ekwvvaxmqkth6ax4"
