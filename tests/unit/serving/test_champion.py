"""Which models a bento serves, on a small real git repository with GTO tags: the workspace's model
alone in mode off, at a first release and when production already holds it; else the version at
stage prod beside it, read at its commit; and never a champion that reads other features."""

import json
from pathlib import Path
from typing import Any

import gto.api
import pytest
import yaml
from tests.git_cli import IDENTITY, git

from mlloop.config import AbMode, Params, load_params
from mlloop.core.schema import CategoricalFeature, FeatureSchema
from mlloop.errors import SourceError
from mlloop.serving.champion import lineup
from mlloop.storage import revisions

PROJECT_ROOT = Path(__file__).parents[3]
NAME = "churn"
CHAMPION_MD5 = "0cc175b9c0f1b6a831c399e269772661"
CHALLENGER_MD5 = "92eb5ffee6ae2fec3ad71c777531578f"
CHAMPION_METRICS = {"roc_auc": 0.81}
CHAMPION_MODEL = b"the champion's model file"


def _params(mode: AbMode) -> Params:
    """The project's params (paths relative to the repository, as dvc.lock records them) with ab.mode set."""
    real = load_params(PROJECT_ROOT / "params.yaml")
    return real.model_copy(update={"ab": real.ab.model_copy(update={"mode": mode})})


def _metadata(schema: FeatureSchema) -> dict[str, Any]:
    return {"schema": schema.model_dump(mode="json"), "threshold": 0.4, "estimator": "logistic_regression"}


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository, entered, whose one commit's dvc.lock records the champion's model and its metrics."""
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    params = _params("shadow")
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    outs = [{"path": params.paths.model.as_posix(), "md5": CHAMPION_MD5, "size": 1}]
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"train": {"outs": outs}}}))
    (tmp_path / params.paths.metrics).write_text(json.dumps(CHAMPION_METRICS))
    git(tmp_path, "add", "--all")
    git(tmp_path, "commit", "--quiet", "--message", "the champion")
    return tmp_path


def _promote_head() -> None:
    gto.api.register(".", NAME, "HEAD", version="v0.1.0")
    gto.api.assign(".", NAME, "prod", version="v0.1.0")


@pytest.fixture
def champion_outputs(repository: Path, schema: FeatureSchema, monkeypatch: pytest.MonkeyPatch) -> dict[Path, bytes]:
    """The champion's DVC outputs, as the cache would give them for its commit (and for no other)."""
    params = _params("shadow")
    outputs = {params.paths.model: CHAMPION_MODEL, params.paths.model_metadata: json.dumps(_metadata(schema)).encode()}
    commit = git(repository, "rev-parse", "HEAD")

    def output_at(sha: str, path: Path) -> bytes:
        assert sha == commit, "the champion is read at its version's commit"
        return outputs[path]

    monkeypatch.setattr(revisions, "dvc_output_at", output_at)
    return outputs


@pytest.mark.usefixtures("repository")
def test_mode_off_serves_the_workspaces_model_alone_even_beside_a_version_in_production(schema: FeatureSchema) -> None:
    _promote_head()

    served = lineup(_params("off"), NAME, CHALLENGER_MD5, _metadata(schema))

    assert served.champion is None
    assert served.reason == 'ab.mode is "off": the bento serves this model alone, as the champion'


@pytest.mark.usefixtures("repository")
@pytest.mark.parametrize("mode", ["shadow", "split"])
def test_a_first_release_serves_the_workspaces_model_alone_and_says_so(mode: AbMode, schema: FeatureSchema) -> None:
    served = lineup(_params(mode), NAME, CHALLENGER_MD5, _metadata(schema))

    assert served.champion is None
    assert served.reason == (
        f'ab.mode is "{mode}", but no version of churn is at stage prod (a first release): '
        "the bento serves this model alone, as the champion"
    )


@pytest.mark.usefixtures("repository")
def test_the_model_already_in_production_is_served_alone_not_against_itself(schema: FeatureSchema) -> None:
    _promote_head()

    served = lineup(_params("shadow"), NAME, CHAMPION_MD5, _metadata(schema))

    assert served.champion is None
    assert "this model is churn@v0.1.0, the version at stage prod" in served.reason


@pytest.mark.usefixtures("champion_outputs")
def test_a_version_in_production_is_the_champion_read_at_its_commit(repository: Path, schema: FeatureSchema) -> None:
    _promote_head()

    served = lineup(_params("split"), NAME, CHALLENGER_MD5, _metadata(schema))

    champion = served.champion
    assert champion is not None
    assert (champion.staged.tag, champion.staged.commit) == ("churn@v0.1.0", git(repository, "rev-parse", "HEAD"))
    assert champion.model_md5 == CHAMPION_MD5
    assert champion.model_file == CHAMPION_MODEL
    assert champion.metadata == _metadata(schema)
    assert champion.metrics == CHAMPION_METRICS
    assert served.reason == (
        'ab.mode is "split": the bento serves churn@v0.1.0 (stage prod) as the champion '
        "and this model as the challenger"
    )


@pytest.mark.usefixtures("champion_outputs")
def test_a_champion_that_reads_other_features_is_refused_naming_them_and_the_way_out(schema: FeatureSchema) -> None:
    # given: the workspace's model accepts one more category of a feature than the champion does
    _promote_head()
    name, feature = next(iter(schema.categorical_features.items()))
    widened = CategoricalFeature(type="category", categories=[*feature.categories, "New"])
    workspace = schema.model_copy(update={"features": schema.features | {name: widened}})

    with pytest.raises(SourceError) as raised:
        lineup(_params("shadow"), NAME, CHALLENGER_MD5, _metadata(workspace))

    assert f"read different features ({name})" in str(raised.value)
    assert 'ab.mode "off"' in str(raised.value)


@pytest.mark.usefixtures("champion_outputs")
def test_a_champion_whose_features_differ_only_in_their_descriptions_is_served(schema: FeatureSchema) -> None:
    _promote_head()
    name, feature = next(iter(schema.features.items()))
    described = schema.model_copy(
        update={"features": schema.features | {name: feature.model_copy(update={"description": "reworded"})}}
    )

    served = lineup(_params("shadow"), NAME, CHALLENGER_MD5, _metadata(described))

    assert served.champion is not None
