"""Model versions: GTO's `churn@vX.Y.Z` tags follow the model file's DVC md5, and the image labels carry them.

Specified here, on small real git repositories: the first model is v0.1.0; a commit that keeps the model
keeps its version and registers nothing; a changed model gets the next minor version and `register`
tags HEAD with it (an annotated tag); a dvc.lock without the model is a SourceError naming dvc.lock;
the released model gets stage prod when it becomes the champion (the first release, or any release with
ab.mode "off"), never while a champion is served beside it as the challenger; a deploy of an older version's
commit keeps that version; and the OCI labels name the commit, the version, the model md5 and the headline
metrics, without spaces;
main's gate compares with the previous release (the latest version before HEAD), never with HEAD itself;
a model file is known by the version whose dvc.lock records its md5, the highest when several do, and by none
when no version holds it; the bento labels the workspace's model with the version that tags it, or will once
released, and with none on a build from an uncommitted dvc.lock, saying why.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import gto.api
import pytest
import yaml
from scmrepo.exceptions import SCMError
from tests.git_cli import IDENTITY, git

from mlloop.cli import build_parser, main
from mlloop.config import Params, load_params
from mlloop.errors import SourceError
from mlloop.review import report
from mlloop.serving.bento_model import HEADLINE_METRICS
from mlloop.serving.model_version import (
    current_version,
    image_labels,
    previous_release,
    register,
    registered_version,
    release_version,
)
from mlloop.serving.registry import version_in_stage

PROJECT_ROOT = Path(__file__).parents[3]
PARAMS_FILE = PROJECT_ROOT / "params.yaml"
SCHEMA_FILE = PROJECT_ROOT / "schema.yaml"

FIRST_MODEL_MD5 = "0cc175b9c0f1b6a831c399e269772661"
"""The MD5 of a model file holding FIRST_MODEL_BYTES: what DVC 3 records for it in dvc.lock."""
FIRST_MODEL_BYTES = b"a"
SECOND_MODEL_MD5 = "92eb5ffee6ae2fec3ad71c777531578f"
SECOND_MODEL_BYTES = b"b"
METRICS = {"roc_auc": 0.843219, "average_precision": 0.6, "f1": 0.61234567}
FORMATTED_METRICS = {"roc_auc": "0.8432", "average_precision": "0.6000", "f1": "0.6123"}
SOURCE_LABEL = "org.opencontainers.image.source"


@dataclass(frozen=True)
class Workspace:
    """A git repository (the current directory) whose committed dvc.lock records a model."""

    root: Path
    params: Params

    def git(self, *arguments: str) -> str:
        return git(self.root, *arguments)

    def write_lock(self, model_md5: str | None) -> None:
        """Write dvc.lock with the train stage's model output, or with no output at all when model_md5 is None."""
        outs = [] if model_md5 is None else [{"path": self.params.paths.model.as_posix(), "md5": model_md5, "size": 1}]
        lock = {"schema": "2.0", "stages": {"train": {"cmd": "mlloop train", "outs": outs}}}
        (self.root / "dvc.lock").write_text(yaml.safe_dump(lock))

    def commit(self, message: str) -> None:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--message", message)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def tags_at_head(self) -> list[str]:
        """The version tags on HEAD (the stage tags are read through the registry)."""
        return self.git("tag", "--points-at", "HEAD", "--list", "churn@v*").split()

    def all_tags(self) -> list[str]:
        return self.git("tag", "--list", "churn@v*").split()

    def stage_tags(self) -> list[str]:
        return self.git("tag", "--list", "churn#*").split()

    def with_ab_mode(self, mode: str) -> Params:
        return self.params.model_copy(update={"ab": self.params.ab.model_copy(update={"mode": mode})})


@pytest.fixture
def project_params() -> Params:
    """The real params.yaml, whose paths are relative to the workspace (as dvc.lock records them)."""
    return load_params(PARAMS_FILE)


@pytest.fixture
def workspace(project_params: Params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A fresh repository, entered, with one commit: a dvc.lock recording FIRST_MODEL_MD5 and the metrics."""
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("GITHUB_SERVER_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    created = Workspace(tmp_path, project_params)
    created.git("init", "--quiet", "--initial-branch=main")
    created.write_lock(FIRST_MODEL_MD5)
    metrics = tmp_path / project_params.paths.metrics
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps(METRICS))
    created.commit("train the first model")
    return created


def _register_first_model(workspace: Workspace) -> None:
    register(workspace.params, push=False)
    assert workspace.tags_at_head() == ["churn@v0.1.0"]


def test_the_first_model_is_version_0_1_0_and_still_to_be_registered(workspace: Workspace) -> None:
    version = current_version(workspace.params)

    assert version.version == "v0.1.0"
    assert version.model_md5 == FIRST_MODEL_MD5
    assert version.is_new


def test_registering_the_first_model_tags_head_with_an_annotated_churn_v0_1_0(workspace: Workspace) -> None:
    message = register(workspace.params, push=False)

    assert workspace.tags_at_head() == ["churn@v0.1.0"]
    assert workspace.git("cat-file", "-t", "churn@v0.1.0") == "tag", "GTO versions are annotated tags"
    assert "registered churn@v0.1.0" in message
    assert FIRST_MODEL_MD5 in message
    assert "pushed" not in message


def test_a_registered_model_keeps_its_version_and_is_no_longer_new(workspace: Workspace) -> None:
    _register_first_model(workspace)

    version = current_version(workspace.params)

    assert version.version == "v0.1.0"
    assert not version.is_new


def test_registering_the_same_model_again_says_there_is_nothing_to_register_and_tags_nothing(
    workspace: Workspace,
) -> None:
    _register_first_model(workspace)

    message = register(workspace.params, push=False)

    assert "nothing to register" in message
    assert "churn@v0.1.0" in message
    assert workspace.all_tags() == ["churn@v0.1.0"]


def test_an_unchanged_model_keeps_its_version_across_a_commit_of_other_files(workspace: Workspace) -> None:
    _register_first_model(workspace)
    (workspace.root / "README.md").write_text("the model did not change\n")
    workspace.commit("document something")

    version = current_version(workspace.params)
    message = register(workspace.params, push=False)

    assert version.version == "v0.1.0"
    assert not version.is_new
    assert "nothing to register" in message
    assert workspace.tags_at_head() == []
    assert workspace.all_tags() == ["churn@v0.1.0"]


def test_a_changed_model_gets_the_next_minor_version_and_register_tags_head_with_it(workspace: Workspace) -> None:
    _register_first_model(workspace)
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model")

    version = current_version(workspace.params)
    message = register(workspace.params, push=False)

    assert version.version == "v0.2.0"
    assert version.model_md5 == SECOND_MODEL_MD5
    assert version.is_new
    assert "registered churn@v0.2.0" in message
    assert workspace.tags_at_head() == ["churn@v0.2.0"]
    assert workspace.git("cat-file", "-t", "churn@v0.2.0") == "tag"
    assert sorted(workspace.all_tags()) == ["churn@v0.1.0", "churn@v0.2.0"]


def test_a_dvc_lock_that_records_no_model_is_a_source_error_naming_dvc_lock(workspace: Workspace) -> None:
    workspace.write_lock(None)
    workspace.commit("a lock without the model")

    with pytest.raises(SourceError, match=r"dvc\.lock") as raised:
        current_version(workspace.params)

    assert workspace.params.paths.model.as_posix() in str(raised.value)


def test_a_workspace_without_dvc_lock_is_a_source_error_naming_dvc_lock(workspace: Workspace) -> None:
    (workspace.root / "dvc.lock").unlink()

    with pytest.raises(SourceError, match=r"dvc\.lock"):
        current_version(workspace.params)


def test_a_model_missing_from_dvc_lock_is_never_registered(workspace: Workspace) -> None:
    workspace.write_lock(None)
    workspace.commit("a lock without the model")

    with pytest.raises(SourceError):
        register(workspace.params, push=False)

    assert workspace.all_tags() == []


def test_image_labels_name_the_commit_the_version_the_model_and_its_headline_metrics(workspace: Workspace) -> None:
    labels = image_labels(workspace.params)

    assert labels["org.opencontainers.image.revision"] == workspace.head()
    assert len(labels["org.opencontainers.image.revision"]) == 40, "the full sha, not an abbreviation"
    assert labels["org.opencontainers.image.version"] == "v0.1.0"
    assert labels["io.mlloop.model.md5"] == FIRST_MODEL_MD5
    assert {name: labels[f"io.mlloop.metrics.{name}"] for name in HEADLINE_METRICS} == FORMATTED_METRICS
    assert SOURCE_LABEL not in labels


def test_image_labels_carry_the_version_a_changed_model_will_be_registered_as(workspace: Workspace) -> None:
    _register_first_model(workspace)
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model")

    labels = image_labels(workspace.params)

    assert labels["org.opencontainers.image.version"] == "v0.2.0"
    assert labels["io.mlloop.model.md5"] == SECOND_MODEL_MD5
    assert workspace.tags_at_head() == [], "computing the labels registers nothing"


def test_image_labels_name_the_source_repository_only_on_github(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/churn")

    on_github = image_labels(workspace.params)
    monkeypatch.delenv("GITHUB_REPOSITORY")
    elsewhere = image_labels(workspace.params)

    assert on_github[SOURCE_LABEL] == "https://github.com/acme/churn"
    assert SOURCE_LABEL not in elsewhere


def test_the_source_label_follows_the_github_server(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/churn")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example.com")

    assert image_labels(workspace.params)[SOURCE_LABEL] == "https://github.example.com/acme/churn"


def test_no_image_label_contains_whitespace_since_the_makefile_splits_labels_on_it(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/churn")

    labels = image_labels(workspace.params)

    spaced = {key: value for key, value in labels.items() if any(character.isspace() for character in key + value)}
    assert spaced == {}


def test_the_image_labels_command_prints_one_key_value_a_line(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(PARAMS_FILE, workspace.root / "params.yaml")
    shutil.copy(SCHEMA_FILE, workspace.root / "schema.yaml")
    workspace.commit("add the params")

    code = main(["--params", str(workspace.root / "params.yaml"), "image-labels"])

    printed = capsys.readouterr()
    assert code == 0
    assert printed.err == ""
    lines = printed.out.splitlines()
    assert all(line.count("=") >= 1 and " " not in line for line in lines)
    assert dict(line.split("=", 1) for line in lines) == image_labels(workspace.params)


def test_an_uncommitted_dvc_lock_is_refused_since_the_version_tags_the_commit(workspace: Workspace) -> None:
    # Given a registered model, and a retrained one whose dvc.lock is not committed yet
    _register_first_model(workspace)
    workspace.write_lock(SECOND_MODEL_MD5)

    # Then neither registering nor labelling pretends HEAD holds it
    with pytest.raises(SourceError, match="differs from the committed one"):
        register(workspace.params, push=False)
    with pytest.raises(SourceError, match="differs from the committed one"):
        image_labels(workspace.params)
    assert workspace.all_tags() == ["churn@v0.1.0"]


def test_the_bento_of_a_model_not_yet_released_carries_the_version_its_release_registers(
    workspace: Workspace,
) -> None:
    # Given a registered model, and a retrained one committed, which deploy.yml builds before its release
    _register_first_model(workspace)
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model")

    release = release_version(workspace.params)

    assert release.version == "v0.2.0"
    assert "churn@v0.2.0 is the version the release registers" in release.reason
    register(workspace.params, push=False)
    assert workspace.tags_at_head() == ["churn@v0.2.0"], "the release registers the version the bento carries"


def test_the_bento_of_a_registered_model_carries_its_version(workspace: Workspace) -> None:
    _register_first_model(workspace)

    release = release_version(workspace.params)

    assert release.version == "v0.1.0"
    assert "churn@v0.1.0 is the registered version" in release.reason


def test_the_bento_of_an_uncommitted_model_carries_no_version_and_says_why(workspace: Workspace) -> None:
    # Given a retrained model whose dvc.lock is not committed: a local build
    _register_first_model(workspace)
    workspace.write_lock(SECOND_MODEL_MD5)

    release = release_version(workspace.params)

    assert release.version is None
    assert "dvc.lock differs from the committed one" in release.reason
    assert "tag in the BentoML store" in release.reason


def test_a_tag_that_cannot_be_created_is_a_clear_error_not_a_traceback(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What scmrepo raises on a runner with no git identity to tag with
    def no_identity(*_arguments: object, **_options: object) -> None:
        raise SCMError("Git user name and email must be configured")

    monkeypatch.setattr(gto.api, "register", no_identity)

    with pytest.raises(
        SourceError, match=r"cannot register churn@v0\.1\.0: Git user name and email must be configured"
    ):
        register(workspace.params, push=False)


@pytest.mark.usefixtures("workspace")
def test_without_any_version_the_previous_release_is_heads_parent() -> None:
    assert previous_release() == "HEAD~1"


def test_the_previous_release_is_the_latest_version_before_head_not_head_itself(workspace: Workspace) -> None:
    # Given v0.1.0 on the first commit, v0.2.0 on a later one, and HEAD (being built) tagged too
    _register_first_model(workspace)
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model")
    register(workspace.params, push=False)
    workspace.write_lock(FIRST_MODEL_MD5)
    workspace.commit("go back to the first model")
    (workspace.root / "README.md").write_text("the model did not change\n")
    workspace.commit("document something")
    workspace.git("tag", "--annotate", "churn@v0.3.0", "--message", "a rerun of the deploy on HEAD")

    assert previous_release() == "churn@v0.2.0"


def test_the_gate_against_the_previous_release_takes_that_ref_as_its_baseline(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a registered model and a later commit: main's gate must not compare HEAD with itself
    _register_first_model(workspace)
    (workspace.root / "README.md").write_text("the model did not change\n")
    workspace.commit("document something")
    shutil.copy(PARAMS_FILE, workspace.root / "params.yaml")
    shutil.copy(SCHEMA_FILE, workspace.root / "schema.yaml")
    compared_with: list[str | None] = []
    monkeypatch.setattr(report, "run_gate", lambda _params, baseline: compared_with.append(baseline))

    code = main(["--params", str(workspace.root / "params.yaml"), "gate", "--previous-release"])

    assert code == 0
    assert compared_with == ["churn@v0.1.0"]
    assert "baseline: churn@v0.1.0, the previous release" in capsys.readouterr().out


def test_the_gate_takes_either_a_baseline_or_the_previous_release_not_both() -> None:
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["gate", "--baseline", "main", "--previous-release"])

    assert raised.value.code == 2


def _prod_version() -> str | None:
    staged = version_in_stage("churn")
    return None if staged is None else staged.version


def test_the_first_release_gets_stage_prod_so_later_releases_have_a_champion(workspace: Workspace) -> None:
    assert _prod_version() is None

    message = register(workspace.with_ab_mode("shadow"), push=False)

    assert _prod_version() == "v0.1.0"
    assert "moved stage prod to churn@v0.1.0" in message


def test_a_release_beside_a_champion_is_the_challenger_and_leaves_prod_where_it_is(workspace: Workspace) -> None:
    # Given v0.1.0 in production, and A/B testing on
    register(workspace.with_ab_mode("shadow"), push=False)
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model")

    message = register(workspace.with_ab_mode("shadow"), push=False)

    assert workspace.tags_at_head() == ["churn@v0.2.0"]
    assert _prod_version() == "v0.1.0", "a challenger is promoted by promote.yml, never by its release"
    assert "stays where it is" in message


def test_with_ab_off_every_release_replaces_the_champion_and_takes_stage_prod(workspace: Workspace) -> None:
    register(workspace.with_ab_mode("off"), push=False)
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model")

    register(workspace.with_ab_mode("off"), push=False)

    assert _prod_version() == "v0.2.0"


def test_a_deploy_of_an_older_versions_commit_keeps_that_version_and_registers_nothing(workspace: Workspace) -> None:
    # Given v0.1.0 in production and v0.2.0, a challenger, on a later commit
    register(workspace.with_ab_mode("shadow"), push=False)
    first_commit = workspace.head()
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model")
    register(workspace.with_ab_mode("shadow"), push=False)
    stages_before = workspace.stage_tags()

    # When the champion's own commit is deployed again (the challenger retired)
    workspace.git("checkout", "--quiet", first_commit)
    message = register(workspace.with_ab_mode("shadow"), push=False)

    assert current_version(workspace.params).version == "v0.1.0"
    assert "nothing to register" in message
    assert sorted(workspace.all_tags()) == ["churn@v0.1.0", "churn@v0.2.0"]
    assert workspace.stage_tags() == stages_before


def _model_file(workspace: Workspace, content: bytes) -> Path:
    """A model file outside the repository's own model path, as `mlloop simulate --challenger` is given one."""
    model_file = workspace.root / "elsewhere" / f"model-{content.decode()}.joblib"
    model_file.parent.mkdir(exist_ok=True)
    model_file.write_bytes(content)
    return model_file


def test_a_model_file_is_known_by_the_version_whose_dvc_lock_records_its_md5(workspace: Workspace) -> None:
    _register_first_model(workspace)
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model")
    register(workspace.params, push=False)

    assert registered_version(_model_file(workspace, FIRST_MODEL_BYTES), workspace.params) == "churn@v0.1.0"
    assert registered_version(_model_file(workspace, SECOND_MODEL_BYTES), workspace.params) == "churn@v0.2.0"


def test_a_model_several_versions_hold_is_known_by_the_highest_compared_as_versions_not_text(
    workspace: Workspace,
) -> None:
    # Given the first model at v0.1.0, v0.9.0 and v0.10.0 (retrainings reverted), the second at v0.2.0: as text,
    # v0.1.0 sorts first and v0.9.0 last
    releases = [
        (FIRST_MODEL_MD5, "v0.1.0"),
        (SECOND_MODEL_MD5, "v0.2.0"),
        (FIRST_MODEL_MD5, "v0.9.0"),
        (FIRST_MODEL_MD5, "v0.10.0"),
    ]
    for md5, version in releases:
        workspace.write_lock(md5)
        workspace.git("commit", "--quiet", "--allow-empty", "--all", "--message", f"release {version}")
        gto.api.register(".", "churn", "HEAD", version=version)

    assert registered_version(_model_file(workspace, FIRST_MODEL_BYTES), workspace.params) == "churn@v0.10.0"


def test_a_model_no_version_holds_is_known_by_none(workspace: Workspace) -> None:
    # Given a registered first model, and a commit recording the second that was never registered
    _register_first_model(workspace)
    workspace.write_lock(SECOND_MODEL_MD5)
    workspace.commit("retrain the model, not released")

    assert registered_version(_model_file(workspace, SECOND_MODEL_BYTES), workspace.params) is None
    assert registered_version(_model_file(workspace, b"never trained here"), workspace.params) is None


def test_outside_a_git_repository_no_model_is_known_by_a_version(
    workspace: Workspace, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_first_model(workspace)
    model_file = _model_file(workspace, FIRST_MODEL_BYTES)
    monkeypatch.chdir(tmp_path_factory.mktemp("not-a-repository"))

    assert registered_version(model_file, workspace.params) is None
