"""The Kubernetes manifests, rendered by `make manifests` for each overlay exactly as the deploy
workflow renders them: valid against the Kubernetes schemas, clean under checkov, and in
agreement with the service they run."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlloop.config import load_params
from mlloop.serving.bento_model import LOG_DIRECTORY_VARIABLE

PROJECT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent
OVERLAYS = sorted(path.name for path in (PROJECT / "bento" / "k8s" / "overlays").iterdir())
IMAGE_REPO = "ghcr.io/example/mlloop"
IMAGE_TAG = "0123456789abcdef0123456789abcdef01234567"


def _render(overlay: str) -> Path:
    result = subprocess.run(
        ["make", "manifests", "-o", ".venv/.synced", f"DEPLOY_ENV={overlay}"],
        cwd=PROJECT,
        env={"PATH": f"{TOOLS}:/usr/bin:/bin", "IMAGE_REPO": IMAGE_REPO, "IMAGE_TAG": IMAGE_TAG},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return PROJECT / "build" / "deploy" / overlay / "manifests.yaml"


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, _render(request.param)


def _documents(path: Path) -> dict[str, dict[str, Any]]:
    return {document["kind"]: document for document in yaml.safe_load_all(path.read_text())}


def test_there_are_staging_and_production_overlays() -> None:
    assert OVERLAYS == ["production", "staging"]


def test_manifests_validate_against_the_kubernetes_schemas(rendered: tuple[str, Path]) -> None:
    _, path = rendered
    result = subprocess.run([TOOLS / "kubernetes-validate", "--strict", path], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_nothing_beyond_the_documented_exceptions(rendered: tuple[str, Path]) -> None:
    # --skip-download: checkov would otherwise fetch guidelines from its vendor's API
    _, path = rendered
    result = subprocess.run(
        [TOOLS / "checkov", "-f", path, "--framework", "kubernetes", "--compact", "--quiet", "--skip-download"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Failed checks: 0" in result.stdout, result.stdout[-4000:]


def test_the_image_is_the_workflows_not_a_placeholder_nor_latest(rendered: tuple[str, Path]) -> None:
    _, path = rendered
    containers = _documents(path)["Deployment"]["spec"]["template"]["spec"]["containers"]
    images = {container["name"]: container["image"] for container in containers}
    assert images["service"] == f"{IMAGE_REPO}:{IMAGE_TAG}"
    assert all(":" in image and not image.endswith(":latest") for image in images.values()), images


def test_each_environment_has_its_own_namespace(rendered: tuple[str, Path]) -> None:
    overlay, path = rendered
    assert {document["metadata"]["namespace"] for document in _documents(path).values()} == {f"mlloop-{overlay}"}


def test_probes_and_the_service_reach_the_containers_http_port(rendered: tuple[str, Path]) -> None:
    _, path = rendered
    documents = _documents(path)
    service_container = documents["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert service_container["ports"] == [{"name": "http", "containerPort": 3000}]
    assert service_container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert service_container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert documents["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    assert documents["Service"]["spec"]["selector"] == documents["Deployment"]["spec"]["selector"]["matchLabels"]


def test_the_inference_log_directory_is_a_volume_shared_with_the_shipper(rendered: tuple[str, Path]) -> None:
    _, path = rendered
    pod = _documents(path)["Deployment"]["spec"]["template"]["spec"]
    service, shipper = pod["containers"]
    log_directory = {variable["name"]: variable.get("value") for variable in service["env"]}[LOG_DIRECTORY_VARIABLE]
    mounts = {
        container["name"]: {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        for container in pod["containers"]
    }
    assert mounts["service"][log_directory] == mounts[shipper["name"]][log_directory] == "inference-log"
    assert "/var/log/mlloop" in " ".join(shipper["args"])


def test_every_container_is_non_root_and_bounded(rendered: tuple[str, Path]) -> None:
    _, path = rendered
    pod = _documents(path)["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod["containers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, container["name"]
        assert set(container["resources"]) == {"requests", "limits"}, container["name"]


def test_the_autoscaler_scales_the_deployment_on_cpu(rendered: tuple[str, Path]) -> None:
    _, path = rendered
    documents = _documents(path)
    autoscaler = documents["HorizontalPodAutoscaler"]["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == documents["Deployment"]["metadata"]["name"]
    assert autoscaler["metrics"][0]["resource"]["name"] == "cpu"
    assert "replicas" not in documents["Deployment"]["spec"], "the autoscaler owns the replica count"


def test_the_pods_grace_period_is_the_one_params_declares(rendered: tuple[str, Path]) -> None:
    # The service's shutdown (answer the requests in flight, drain the log) is sized against params' value,
    # which config.py checks; the pod must grant the same, or the kubelet kills the drain halfway.
    _, path = rendered
    pod = _documents(path)["Deployment"]["spec"]["template"]["spec"]
    declared = load_params(PROJECT / "params.yaml").serve.termination_grace_seconds
    assert pod["terminationGracePeriodSeconds"] == declared
