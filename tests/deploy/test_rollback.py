"""`make deploy` then `make rollback`, for real, against the recording kubectl stand-in
(tests/stand_ins/kubectl.py), which keeps the Deployments' revisions; the manifests render for real.

The rollback returns to the revision recorded before the apply, not to "the one before the last":
when the apply made no new revision, or never reached the Deployment, a blind `rollout undo` would
take an older release. A Deployment this deploy created is removed; a deploy that recorded nothing
rolls nothing back.
"""

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.stand_ins import install
from tests.stand_ins.common import RECORD_DIRECTORY, recorded
from tests.stand_ins.kubectl import Faults, deployment, load_cluster, save_cluster

PROJECT = Path(__file__).resolve().parents[2]
DEPLOYMENT = ["deployment/churn-service", "--namespace", "mlloop-staging"]
STAGING = "mlloop-staging/churn-service"


def _release(number: int) -> dict[str, Any]:
    """A pod template of an earlier release, unlike any the project's manifests render."""
    return {"metadata": {"labels": {"release": str(number)}}}


@dataclass(frozen=True)
class Cluster:
    """A copy of the project's Makefile and manifests, the kubectl stand-in, and its cluster and record."""

    workspace: Path
    kubectl: Path
    records: Path

    def runs_releases(self, count: int) -> None:
        """The staging Deployment at revision `count`, each revision an earlier release."""
        save_cluster(self.records, {STAGING: deployment(*(_release(number) for number in range(1, count + 1)))})

    def revision(self) -> int | None:
        deployment = load_cluster(self.records).get(STAGING)
        return None if deployment is None else int(deployment["revision"])

    def template(self) -> dict[str, Any]:
        return dict(load_cluster(self.records)[STAGING]["template"])

    def make(self, target: str) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.workspace),
            RECORD_DIRECTORY: str(self.records),
            "IMAGE_TAG": "0123456789abcdef0123456789abcdef01234567",
        }
        command = ["make", target, "-o", ".venv/.synced", "DEPLOY_ENV=staging", f"KUBECTL={self.kubectl}"]
        return subprocess.run(command, cwd=self.workspace, env=environment, capture_output=True, text=True)

    def calls(self) -> list[list[str]]:
        """Each kubectl command line recorded since the last `forget_calls`, refused ones included."""
        return [call["argv"] for call in recorded(self.records, "kubectl")]

    def forget_calls(self) -> None:
        (self.records / "kubectl.jsonl").unlink(missing_ok=True)


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    workspace, records = tmp_path / "workspace", tmp_path / "records"
    workspace.mkdir()
    records.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(PROJECT / name, workspace)
    shutil.copytree(PROJECT / "bento" / "k8s", workspace / "bento" / "k8s")
    (workspace / ".venv").symlink_to(Path(sys.executable).parents[1])
    return Cluster(workspace, install(tmp_path / "kubectl", "kubectl"), records)


def _deploy_then_roll_back(cluster: Cluster) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """`make deploy` (whatever its outcome), then `make rollback`; the rollback's output and kubectl calls."""
    cluster.make("deploy")
    cluster.forget_calls()
    rollback = cluster.make("rollback")
    return rollback, cluster.calls()


def test_deploy_records_the_revision_before_it_applies(cluster: Cluster) -> None:
    cluster.runs_releases(3)

    deployed = cluster.make("deploy")

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert (cluster.workspace / "build/deploy/staging/previous-revision").read_text() == "3"
    commands = [call[0] for call in cluster.calls()]
    assert commands == ["get", "apply", "rollout"], "the revision is read before anything is applied"
    assert cluster.revision() == 4


def test_a_failed_rollout_rolls_back_to_the_revision_recorded_before_the_deploy(cluster: Cluster) -> None:
    cluster.runs_releases(3)
    Faults(stalls_rollouts=True).save(cluster.records)

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode != 0, "the rollout status still fails in the stand-in after the undo"
    assert ["rollout", "undo", *DEPLOYMENT, "--to-revision=3"] in calls
    assert "rolling staging back to revision 3" in rollback.stdout
    assert cluster.template() == _release(3)


def test_a_smoke_failure_after_a_good_rollout_returns_to_the_recorded_revision(cluster: Cluster) -> None:
    cluster.runs_releases(3)

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert ["rollout", "undo", *DEPLOYMENT, "--to-revision=3"] in calls
    assert ["rollout", "status", *DEPLOYMENT, "--timeout=5m"] in calls
    assert cluster.template() == _release(3)


def test_an_apply_that_made_no_new_revision_rolls_nothing_back(cluster: Cluster) -> None:
    # Given staging already runs this release: the apply changes nothing, and a blind `rollout undo`
    # would go from revision 4 to revision 3, an older release
    cluster.runs_releases(3)
    cluster.make("deploy")

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "still at revision 4" in rollback.stdout
    assert [call[:2] for call in calls if call[0] != "get"] == []
    assert cluster.revision() == 4


def test_an_apply_the_server_refused_rolls_nothing_back(cluster: Cluster) -> None:
    cluster.runs_releases(3)
    Faults(rejects_apply=True).save(cluster.records)

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "still at revision 3" in rollback.stdout
    assert all(call[0] == "get" for call in calls), calls
    assert cluster.revision() == 3


def test_a_deploy_that_never_reached_the_cluster_says_there_is_nothing_to_roll_back(cluster: Cluster) -> None:
    cluster.runs_releases(3)
    Faults(unreachable=True).save(cluster.records)

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "nothing to roll back in staging: make deploy recorded no revision" in rollback.stdout
    assert calls == []


def test_a_first_deploy_that_fails_removes_the_deployment_it_created(cluster: Cluster) -> None:
    Faults(stalls_rollouts=True).save(cluster.records)

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "no Deployment in staging before this deploy" in rollback.stdout
    assert ["delete", *DEPLOYMENT, "--ignore-not-found"] in calls
    assert cluster.revision() is None
