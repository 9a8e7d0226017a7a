"""What deploy.yml promises, read from the file: the gate on main faces the previous release, each
environment is smoke-tested through a port-forward and rolled back to its recorded revision, and
the concurrency is the one docs/delivery.md describes (the newest merge wins; a pending one is skipped).
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOW = PROJECT / ".github" / "workflows" / "deploy.yml"
DELIVERY = PROJECT / "docs" / "delivery.md"


def _workflow() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def _runs(job: str) -> list[str]:
    return [step["run"].split("#")[0].strip() for step in _workflow()["jobs"][job]["steps"] if "run" in step]


def test_main_is_gated_against_the_previous_release_not_against_itself() -> None:
    runs = _runs("build")

    assert "make gate-release" in runs
    assert "make gate" not in runs, "on main, `make gate` compares the commit with itself"
    assert runs.index("make gate-release") < runs.index("make bento"), "a model that fails is never built"


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_each_environment_is_deployed_smoke_tested_through_a_port_forward_and_rolled_back_on_failure(
    environment: str,
) -> None:
    job = _workflow()["jobs"][environment]
    steps = {step["run"].split("#")[0].strip(): step for step in job["steps"] if "run" in step}

    assert list(steps)[-3:] == ["make deploy", "make smoke-deployed", "make rollback"]
    assert steps["make rollback"]["if"].startswith("failure()")
    assert "URL" not in job["env"], "the smoke test reaches the Service through kubectl, not a public URL"
    assert {"IMAGE_PULL_SECRET", "LOG_STORE_PORT", "KUBECONFIG_DATA"} <= set(job["env"])


def test_production_follows_staging() -> None:
    assert _workflow()["jobs"]["production"]["needs"] == "staging"


def test_a_running_release_is_never_cancelled_and_runs_of_one_ref_share_a_group() -> None:
    assert _workflow()["concurrency"] == {"group": "deploy-${{ github.ref }}", "cancel-in-progress": False}


def test_the_docs_say_the_newest_merge_deploys_and_a_pending_one_is_skipped() -> None:
    delivery = " ".join(DELIVERY.read_text().split())

    assert "the newest commit is always deployed" in delivery
    assert "an intermediate merge whose run was still pending is skipped" in delivery
    assert "Releases do not queue in merge order" in delivery
    assert "queue" not in WORKFLOW.read_text(), "deploy.yml's comment must not promise a queue"
