"""`make containerize` for real: the real `bentoml containerize` on a small bento named like the
service, with the recording `docker` stand-in (tests/stand_ins/docker.py) in place of buildx.

Make starts with the PATH of a runner, which does not hold the project's environment: the Makefile
adds it, and only a recipe's shell sees that. The image must carry every label docs/delivery.md
documents, with the commit, the model version and the metrics, and both tags.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.git_cli import IDENTITY, git
from tests.stand_ins import install
from tests.stand_ins.common import RECORD_DIRECTORY, recorded

from mlloop.config import load_params
from mlloop.serving.bento_model import HEADLINE_METRICS

PROJECT = Path(__file__).resolve().parents[2]
ENVIRONMENT = Path(sys.executable).parents[1]
MODEL_MD5 = "0cc175b9c0f1b6a831c399e269772661"
METRICS = {"roc_auc": 0.843219, "average_precision": 0.6, "f1": 0.61234567}
IMAGE_TAG = "0123456789abcdef0123456789abcdef01234567"
SMALL_SERVICE = """
import bentoml


@bentoml.service(name="churn_service")
class Service:
    @bentoml.api
    def ping(self) -> str:
        return "ok"
"""


def _documented_labels() -> set[str]:
    """The label names docs/delivery.md promises, `io.mlloop.metrics.*` spelled out for each headline metric."""
    paragraph = re.search(r"\*\*Image labels\.\*\*(.*?)\n\n", (PROJECT / "docs" / "delivery.md").read_text(), re.S)
    assert paragraph is not None, "docs/delivery.md has no **Image labels.** paragraph"
    names = set(re.findall(r"`((?:org\.opencontainers|io\.mlloop)\.[a-z0-9.*_]+)`", paragraph.group(1)))
    assert "io.mlloop.metrics.*" in names, names
    return (names - {"io.mlloop.metrics.*"}) | {f"io.mlloop.metrics.{name}" for name in HEADLINE_METRICS}


def _run(command: list[str], cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{command} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A committed workspace whose dvc.lock holds a model, a bento churn_service built, and a runner's environment."""
    root = tmp_path_factory.mktemp("containerize")
    workspace, bento_home, records, stand_ins = (
        root / name for name in ("workspace", "bentoml-home", "records", "bin")
    )
    for directory in (workspace, records, stand_ins):
        directory.mkdir()
    install(stand_ins / "docker", "docker")
    for name in ("Makefile", "params.yaml", "schema.yaml", "pyproject.toml"):
        shutil.copy(PROJECT / name, workspace)
    params = load_params(PROJECT / "params.yaml")
    outs = [{"path": params.paths.model.as_posix(), "md5": MODEL_MD5, "size": 1}]
    (workspace / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"train": {"outs": outs}}}))
    (workspace / params.paths.metrics).parent.mkdir(parents=True, exist_ok=True)
    (workspace / params.paths.metrics).write_text(json.dumps(METRICS))
    git(workspace, "init", "--quiet", "--initial-branch=main")
    git(workspace, "add", "--all")
    git(workspace, "commit", "--quiet", "--message", "a model")
    (workspace / ".venv").symlink_to(ENVIRONMENT)
    service = root / "small-service"
    service.mkdir()
    (service / "service.py").write_text(SMALL_SERVICE)
    (service / "bentofile.yaml").write_text('service: "service:Service"\npython:\n  lock_packages: false\n')
    tools = {"PATH": f"{ENVIRONMENT / 'bin'}:/usr/bin:/bin", "HOME": str(root), "BENTOML_HOME": str(bento_home)}
    _run(["bentoml", "build", "--output", "tag", "."], service, tools | {"BENTOML_DO_NOT_TRACK": "true"})
    runner = {  # no project environment on PATH: make adds it, as on a runner after setup-python
        "PATH": f"{stand_ins}:/usr/bin:/bin",
        "HOME": str(root),
        "BENTOML_HOME": str(bento_home),
        RECORD_DIRECTORY: str(records),
        "GITHUB_REPOSITORY": "Acme/Churn",
        **IDENTITY,
    }
    return workspace, runner


def _buildx_builds(environment: dict[str, str]) -> list[dict[str, Any]]:
    """The tags, labels and push of each `docker buildx build` the stand-in recorded."""
    return [call["build"] for call in recorded(Path(environment[RECORD_DIRECTORY]), "docker") if "build" in call]


def test_make_containerize_labels_the_image_with_every_documented_label(built: tuple[Path, dict[str, str]]) -> None:
    workspace, runner = built

    _run(["make", "containerize", "-o", ".venv/.synced", f"IMAGE_TAG={IMAGE_TAG}"], workspace, runner)

    builds = _buildx_builds(runner)
    assert len(builds) == 1, builds
    labels = builds[0]["labels"]
    assert set(labels) == _documented_labels()
    head = git(workspace, "rev-parse", "HEAD")
    assert labels["org.opencontainers.image.revision"] == head
    assert labels["org.opencontainers.image.version"] == "v0.1.0"
    assert labels["org.opencontainers.image.source"] == "https://github.com/Acme/Churn"
    assert labels["io.mlloop.model.md5"] == MODEL_MD5
    assert labels["io.mlloop.metrics.roc_auc"] == "0.8432"
    assert set(builds[0]["tags"]) == {f"ghcr.io/acme/churn:{IMAGE_TAG}", "ghcr.io/acme/churn:latest"}
    assert builds[0]["push"]


def test_make_containerize_pushes_nothing_when_the_labels_cannot_be_computed(
    built: tuple[Path, dict[str, str]],
) -> None:
    # Given a workspace whose dvc.lock differs from the committed one: no version can label the image
    workspace, runner = built
    before = len(_buildx_builds(runner))
    lock = workspace / "dvc.lock"
    committed = lock.read_text()
    lock.write_text(committed.replace(MODEL_MD5, "92eb5ffee6ae2fec3ad71c777531578f"))
    try:
        result = subprocess.run(
            ["make", "containerize", "-o", ".venv/.synced"], cwd=workspace, env=runner, capture_output=True, text=True
        )
    finally:
        lock.write_text(committed)

    assert result.returncode != 0
    assert "differs from the committed one" in result.stderr
    assert len(_buildx_builds(runner)) == before, "no image is built without its labels"
