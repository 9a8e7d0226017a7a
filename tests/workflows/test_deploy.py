"""deploy.yml, run for real under act: from a merge to main to production, with versions, releases and rollback."""

import base64
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlloop.serving.bento_model import HEADLINE_METRICS
from tests.git_cli import git
from tests.stand_ins.kubectl import deployment, load_cluster, save_cluster, save_services
from tests.stub_http import BrokenService, HealthyService, serving
from tests.workflows.harness import REPOSITORY, Run, World, push_event
from tests.workflows.test_ci import ONE_TEST_MODULE

pytestmark = pytest.mark.workflows

IMAGE = f"ghcr.io/{REPOSITORY}"
# The cluster's credentials as the secret holds them; the kubectl stand-in needs no real cluster.
KUBECONFIG_DATA = base64.b64encode(b"apiVersion: v1\nkind: Config\nclusters: []\n").decode()
JOBS_IN_ORDER = ["test", "build", "release", "staging", "production"]


def _merge(
    github: World, message: str, files: dict[str, str], changes_the_model: bool, healthy: bool = True
) -> tuple[str, Run]:
    """Push a merge to main and run deploy.yml on it, with a cluster and a service at SERVICE_URL.

    A merge that changes the model carries its reproduced dvc.lock and metrics, as a merged PR does.
    """
    before = git(github.developer, "rev-parse", "origin/main")
    if changes_the_model:
        github.commit_reproduced(message, files)
    else:
        github.commit(message, files)
    event, sha = push_event(github, "main", before)
    github.secrets["KUBECONFIG_DATA"] = KUBECONFIG_DATA
    with serving(HealthyService if healthy else BrokenService) as url:
        _place_service(github, url)
        run = github.run("deploy.yml", "push", event, at=sha, runner=ONE_TEST_MODULE)
    return sha, run


def _place_service(github: World, url: str) -> None:
    """The churn Service of staging and production, as the cluster stand-in forwards to it (and its public link)."""
    save_services(
        github.records, {f"mlloop-{environment}/churn-service": url for environment in ("staging", "production")}
    )
    github.variables["SERVICE_URL"] = url


def _release(github: World, version: str) -> None:
    """An earlier release of main's model, the champion: GTO's annotated version tag and its assignment to stage
    prod, as `mlloop register` makes them for a first release."""
    git(
        github.developer, "tag", "--annotate", f"churn@{version}", "--message", f"model md5 of {version}", "origin/main"
    )
    git(github.developer, "tag", "--annotate", "churn#prod#1", "--message", f"{version} to prod", "origin/main")
    git(github.developer, "push", "--quiet", "origin", f"refs/tags/churn@{version}", "refs/tags/churn#prod#1")


def _regressions(run: Run) -> list[float]:
    """The gate's measured regressions against its baseline, from the build job's log."""
    return [float(value) for value in re.findall(r"regression vs baseline <= [0-9.]+: (-?[0-9.e-]+)", run.output)]


def _job_start_order(run: Run) -> list[str]:
    """The jobs in the order they started, from act's log."""
    started = re.findall(r'"jobID":"([^"]+)","level":"info","matrix":\{\},"msg":"⭐ Run Set up job"', run.log)
    return list(dict.fromkeys(started))


@pytest.fixture(scope="class")
def merged(shared_github: World) -> tuple[World, str, Run]:
    """The first merge that changes the model, on a repository without versions, through deploy.yml."""
    faster = shared_github.edit("params.yaml", "learning_rate: 0.03", "learning_rate: 0.04")
    sha, run = _merge(shared_github, "Merge: learn a little faster", {"params.yaml": faster}, changes_the_model=True)
    return shared_github, sha, run


class TestAFirstMergeThatChangesTheModel:
    """One run of deploy.yml on a merge that changes a hyperparameter, on a repository without versions."""

    def test_the_jobs_run_in_order_test_build_release_staging_production(self, merged: tuple[World, str, Run]) -> None:
        _, _, run = merged
        assert _job_start_order(run) == JOBS_IN_ORDER, run.jobs
        assert all(run.succeeded(job) for job in JOBS_IN_ORDER), run.jobs

    def test_the_image_is_pushed_with_its_commit_tag_and_every_documented_label(
        self, merged: tuple[World, str, Run]
    ) -> None:
        github, sha, _ = merged
        builds = [call["build"] for call in github.recorded("docker") if "build" in call]
        assert len(builds) == 1, builds
        assert builds[0]["tags"] == [f"{IMAGE}:{sha}", f"{IMAGE}:latest"], builds[0]
        assert builds[0]["push"], "the image was built but not pushed"
        labels = builds[0]["labels"]
        assert labels.get("org.opencontainers.image.revision") == sha, labels
        assert labels.get("org.opencontainers.image.version") == "v0.1.0", labels
        assert labels.get("org.opencontainers.image.source") == f"{github.origin.url}/{REPOSITORY}", labels
        assert {"org.opencontainers.image.title", "io.mlloop.model.md5"} <= labels.keys(), labels
        assert {f"io.mlloop.metrics.{name}" for name in HEADLINE_METRICS} <= labels.keys(), labels

    def test_the_version_tag_arrives_at_the_authenticated_origin(self, merged: tuple[World, str, Run]) -> None:
        github, sha, _ = merged
        assert github.origin.refused == [], f"pushes refused for want of credentials: {github.origin.refused}"
        tags = [update for push in github.origin.pushes for update in push.updates if "churn@" in update[2]]
        assert [ref for _, _, ref in tags] == ["refs/tags/churn@v0.1.0"], github.origin.pushes
        assert git(github.developer, "ls-remote", "origin", "refs/tags/churn@v0.1.0^{}").startswith(sha)
        stages = [update for push in github.origin.pushes for update in push.updates if "churn#prod#" in update[2]]
        assert [ref for _, _, ref in stages] == ["refs/tags/churn#prod#1"], "the first release is the champion"

    def test_a_release_is_created_with_the_model_card(self, merged: tuple[World, str, Run]) -> None:
        github, _, _ = merged
        assert [release.tag_name for release in github.api.releases] == ["churn@v0.1.0"]
        card = (github.directory / "artifacts" / "model-card" / "MODEL_CARD.md").read_text()
        assert github.api.releases[0].body == card, "the release notes are not the model card"


@pytest.fixture(scope="class")
def second_model(shared_github: World) -> tuple[World, str, Run]:
    """A merge that changes the model again, after main's model was released as v0.1.0."""
    _release(shared_github, "v0.1.0")
    deeper = shared_github.edit("params.yaml", "max_depth: 4", "max_depth: 5")
    sha, run = _merge(shared_github, "Merge: deeper trees", {"params.yaml": deeper}, changes_the_model=True)
    return shared_github, sha, run


class TestASecondMergeThatChangesTheModel:
    """deploy.yml on a merge that changes the model of a repository whose main was released as v0.1.0."""

    def test_it_gets_the_next_minor_version_and_its_bento_builds(self, second_model: tuple[World, str, Run]) -> None:
        github, sha, run = second_model
        assert run.succeeded("build"), run.jobs
        assert run.succeeded("release"), run.jobs
        assert git(github.developer, "ls-remote", "origin", "refs/tags/churn@v0.2.0^{}").startswith(sha)

    def test_the_gate_compares_with_the_previous_release_not_with_itself(
        self, second_model: tuple[World, str, Run]
    ) -> None:
        _, _, run = second_model
        regressions = _regressions(run)
        assert regressions, "the gate printed no regression against a baseline"
        assert any(value != 0 for value in regressions), "every regression is 0: the baseline is the model itself"


def _render_staging(github: World, sha: str, image_tag: str) -> dict[str, Any]:
    """The staging Deployment's pod template that `make manifests` renders for an image tag, at commit `sha`."""
    git(github.developer, "checkout", "--quiet", "--detach", sha)
    environment = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    variables = ["DEPLOY_ENV=staging", f"IMAGE_REPO={IMAGE}", f"IMAGE_TAG={image_tag}"]
    # The environment taken as installed (-o): the developer's clone has no .venv, and creating one costs 40 s.
    subprocess.run(
        ["make", "-o", ".venv/.synced", "manifests", *variables],
        cwd=github.developer,
        env=environment,
        capture_output=True,
        check=True,
    )
    rendered = (github.developer / "build" / "deploy" / "staging" / "manifests.yaml").read_text()
    deployment = next(doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "Deployment")
    return dict(deployment["spec"]["template"])


STAGING = "mlloop-staging/churn-service"


@pytest.fixture(scope="class")
def docs_merge_failing_smoke(shared_github: World) -> tuple[World, dict[str, Any], set[str], Run]:
    """A merge of a docs note onto released main, on a staging cluster that already runs its image, whose
    service then answers the smoke test with errors: one deploy.yml run, two outcomes."""
    github = shared_github
    _release(github, "v0.1.0")
    tags_before = {ref for ref in github.origin.refs(REPOSITORY) if ref.startswith("refs/tags/")}
    before = git(github.developer, "rev-parse", "origin/main")
    sha = github.commit("Merge: a docs note", {"docs/note.md": "A note.\n"})
    # staging already runs this commit's image, so the redeploy makes no new revision
    current = _render_staging(github, sha, sha)
    older = _render_staging(github, sha, "0" * 40)
    save_cluster(github.records, {STAGING: deployment(older, current)})
    github.secrets["KUBECONFIG_DATA"] = KUBECONFIG_DATA
    event, _ = push_event(github, "main", before)
    with serving(BrokenService) as url:
        _place_service(github, url)
        run = github.run("deploy.yml", "push", event, at=sha, runner=ONE_TEST_MODULE)
    return github, current, tags_before, run


class TestADocsMergeWhoseStagingSmokeTestFails:
    """deploy.yml on a merge that leaves the released model alone, whose staging service then fails its smoke test."""

    def test_a_merge_that_leaves_the_model_alone_gets_no_version(
        self, docs_merge_failing_smoke: tuple[World, dict[str, Any], set[str], Run]
    ) -> None:
        github, _, tags_before, run = docs_merge_failing_smoke
        assert run.succeeded("release"), run.jobs
        assert "already holds this model" in run.output
        assert {ref for ref in github.origin.refs(REPOSITORY) if ref.startswith("refs/tags/")} == tags_before
        assert github.api.releases == []

    def test_a_failed_staging_smoke_test_rolls_back_to_the_revision_recorded_before_the_deploy(
        self, docs_merge_failing_smoke: tuple[World, dict[str, Any], set[str], Run]
    ) -> None:
        github, current, _, run = docs_merge_failing_smoke
        assert run.jobs.get("staging") == "failure", run.jobs
        assert "production" not in run.jobs or run.jobs["production"] != "success", run.jobs
        assert load_cluster(github.records)[STAGING]["template"] == current, "staging was rolled back past its revision"
