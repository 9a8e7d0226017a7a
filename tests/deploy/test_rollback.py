"""`make deploy` then `make rollback`, for real, against a recording kubectl stand-in
(tests/deploy/stand_ins/kubectl) that keeps one Deployment's revisions; the manifests render for real.

The rollback returns to the revision recorded before the apply, not to "the one before the last":
when the apply made no new revision, or never reached the Deployment, a blind `rollout undo` would
take an older release. A Deployment this deploy created is removed; a deploy that recorded nothing
rolls nothing back.
"""

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]
STAND_INS = Path(__file__).parent / "stand_ins"
DEPLOYMENT = ["deployment/churn-service", "--namespace", "mlloop-staging"]


@dataclass(frozen=True)
class Cluster:
    """A copy of the project's Makefile and manifests, and the stand-in's cluster and record."""

    workspace: Path
    state: Path
    record: Path

    def set(self, **state: Any) -> None:
        self.state.write_text(json.dumps(state))

    def revision(self) -> int | None:
        revision: int | None = json.loads(self.state.read_text())["revision"]
        return revision

    def make(self, target: str) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.workspace),
            "KUBECTL_CLUSTER": str(self.state),
            "STAND_IN_RECORD": str(self.record),
            "IMAGE_TAG": "0123456789abcdef0123456789abcdef01234567",
        }
        command = ["make", target, "-o", ".venv/.synced", "DEPLOY_ENV=staging", f"KUBECTL={STAND_INS / 'kubectl'}"]
        return subprocess.run(command, cwd=self.workspace, env=environment, capture_output=True, text=True)

    def calls(self) -> list[list[str]]:
        """Each kubectl command line recorded since the last `forget_calls`."""
        if not self.record.exists():
            return []
        return [entry["arguments"] for entry in map(json.loads, self.record.read_text().splitlines())]

    def forget_calls(self) -> None:
        self.record.unlink(missing_ok=True)


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(PROJECT / name, workspace)
    shutil.copytree(PROJECT / "bento" / "k8s", workspace / "bento" / "k8s")
    (workspace / ".venv").symlink_to(Path(sys.executable).parents[1])
    return Cluster(workspace, tmp_path / "cluster.json", tmp_path / "record.jsonl")


def _deploy_then_roll_back(cluster: Cluster) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """`make deploy` (whatever its outcome), then `make rollback`; the rollback's output and kubectl calls."""
    cluster.make("deploy")
    cluster.forget_calls()
    rollback = cluster.make("rollback")
    return rollback, cluster.calls()


def test_deploy_records_the_revision_before_it_applies(cluster: Cluster) -> None:
    cluster.set(revision=3, revisions=[1, 2, 3])

    deployed = cluster.make("deploy")

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert (cluster.workspace / "build/deploy/staging/previous-revision").read_text() == "3"
    commands = [call[0] for call in cluster.calls()]
    assert commands == ["get", "apply", "rollout"], "the revision is read before anything is applied"
    assert cluster.revision() == 4


def test_a_failed_rollout_rolls_back_to_the_revision_recorded_before_the_deploy(cluster: Cluster) -> None:
    cluster.set(revision=3, revisions=[1, 2, 3], rollout="fail")

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode != 0, "the rollout status still fails in the stand-in after the undo"
    assert ["rollout", "undo", *DEPLOYMENT, "--to-revision=3"] in calls
    assert "rolling staging back to revision 3" in rollback.stdout


def test_a_smoke_failure_after_a_good_rollout_returns_to_the_recorded_revision(cluster: Cluster) -> None:
    cluster.set(revision=3, revisions=[1, 2, 3])

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert ["rollout", "undo", *DEPLOYMENT, "--to-revision=3"] in calls
    assert ["rollout", "status", *DEPLOYMENT, "--timeout=5m"] in calls


def test_an_apply_that_made_no_new_revision_rolls_nothing_back(cluster: Cluster) -> None:
    # A blind `rollout undo` would go from revision 3 to revision 2, an older release
    cluster.set(revision=3, revisions=[1, 2, 3], apply="unchanged")

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "still at revision 3" in rollback.stdout
    assert [call[:2] for call in calls if call[0] != "get"] == []
    assert cluster.revision() == 3


def test_an_apply_the_server_refused_rolls_nothing_back(cluster: Cluster) -> None:
    cluster.set(revision=3, revisions=[1, 2, 3], apply="fail")

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "still at revision 3" in rollback.stdout
    assert all(call[0] == "get" for call in calls), calls
    assert cluster.revision() == 3


def test_a_deploy_that_never_reached_the_cluster_says_there_is_nothing_to_roll_back(cluster: Cluster) -> None:
    cluster.set(revision=3, revisions=[1, 2, 3], reachable=False)

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "nothing to roll back in staging: make deploy recorded no revision" in rollback.stdout
    assert calls == []


def test_a_first_deploy_that_fails_removes_the_deployment_it_created(cluster: Cluster) -> None:
    cluster.set(revision=None, rollout="fail")

    rollback, calls = _deploy_then_roll_back(cluster)

    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "no Deployment in staging before this deploy" in rollback.stdout
    assert ["delete", *DEPLOYMENT, "--ignore-not-found"] in calls
    assert cluster.revision() is None
