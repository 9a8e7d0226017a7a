"""pr.yml's own steps as the runner executes them.

Its first step, `make pr-scope`, appends `pipeline=run` or `pipeline=skip` to $GITHUB_OUTPUT, and when
the decision cannot be made it fails the step rather than write an empty verdict, which would skip
every later step and leave the required check green. The workflow has no `paths:` filter, so the
required check always reports. `make comment` runs CML pinned, from npm, with its telemetry off.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.git_cli import git

PROJECT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A pull request's checkout: this project's DVC files on `main`, and a branch `change` on top."""
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("Makefile", "dvc.yaml", "params.yaml", "schema.yaml", "README.md"):
        shutil.copy(PROJECT / name, root / name)
    git(root, "init", "--quiet", "--initial-branch=main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "--quiet"], cwd=root, check=True)
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "main")
    git(root, "switch", "--quiet", "--create", "change")
    return root


def _change(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)
    git(root, "commit", "--quiet", "--all", "--message", f"change {name}")


def _pr_scope(root: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    output = root.parent / "github_output"
    output.touch()
    result = subprocess.run(
        ["make", "-o", ".venv/.synced", "pr-scope"],  # the environment is this test's own
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": f"{TOOLS}:/usr/bin:/bin", "HOME": str(root.parent), "GITHUB_OUTPUT": str(output)},
    )
    return result, output.read_text()


def test_a_pull_request_changing_no_pipeline_input_sets_pipeline_skip(checkout: Path) -> None:
    _change(checkout, "README.md", "words\n")

    result, output = _pr_scope(checkout)

    assert result.returncode == 0, result.stderr
    assert output == "pipeline=skip\n"
    assert "README.md changed, none of them a pipeline input" in result.stderr


def test_a_pull_request_changing_params_sets_pipeline_run(checkout: Path) -> None:
    _change(checkout, "params.yaml", (checkout / "params.yaml").read_text().replace("seed: 42", "seed: 43", 1))

    result, output = _pr_scope(checkout)

    assert result.returncode == 0, result.stderr
    assert output == "pipeline=run\n"


def test_a_decision_that_fails_fails_the_step_and_sets_no_verdict(checkout: Path) -> None:
    _change(checkout, "params.yaml", "report: {}\n")  # params.yaml that config.py refuses

    result, output = _pr_scope(checkout)

    assert result.returncode != 0
    assert "mlloop pr-scope: error: params.yaml" in result.stderr
    assert output == ""


def _pr_workflow() -> dict[Any, Any]:
    return dict(yaml.safe_load((PROJECT / ".github" / "workflows" / "pr.yml").read_text()))


def test_pull_requests_are_never_filtered_out_so_the_required_check_always_reports() -> None:
    trigger = _pr_workflow()[True]["pull_request"] or {}  # PyYAML reads the key `on` as True

    assert not {"paths", "paths-ignore", "branches", "branches-ignore"} & set(trigger), trigger


def test_every_step_after_the_scope_runs_only_when_the_pipeline_changed() -> None:
    steps = _pr_workflow()["jobs"]["model-report"]["steps"]
    scope = next(index for index, step in enumerate(steps) if step.get("id") == "scope")

    assert steps[scope]["run"] == "make pr-scope"
    for step in steps[scope + 1 :]:
        assert "steps.scope.outputs.pipeline == 'run'" in step.get("if", ""), step


def test_the_readme_names_the_required_check_as_the_job_is_named() -> None:
    name = _pr_workflow()["jobs"]["model-report"]["name"]

    assert name == "retrain, report and gate"
    assert f"`{name}` (`pr.yml`" in (PROJECT / "README.md").read_text()


FAKE_CML = """#!/usr/bin/env python3
import json, os, sys
call = {"arguments": sys.argv[1:], "do_not_track": os.environ.get("ITERATIVE_DO_NOT_TRACK")}
with open(os.environ["CML_CALLS"], "a") as calls:
    calls.write(json.dumps(call) + "\\n")
"""


def test_the_comment_is_posted_by_the_pinned_cml_with_its_telemetry_off(tmp_path: Path) -> None:
    cml = tmp_path / "cml"
    cml.write_text(FAKE_CML)
    cml.chmod(0o755)
    calls = tmp_path / "calls.jsonl"

    result = subprocess.run(
        ["make", "-o", ".venv/.synced", "comment", f"CML={cml}"],  # an existing CML: nothing is installed
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={"PATH": f"{TOOLS}:/usr/bin:/bin", "HOME": str(tmp_path), "CML_CALLS": str(calls)},
    )

    assert result.returncode == 0, result.stderr
    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    assert recorded == [
        {
            "arguments": [
                "comment",
                "update",
                "--target=pr",
                "--watermark-title=mlloop model report",
                "reports/pr/report.md",
            ],
            "do_not_track": "true",
        }
    ]
    installs = _dry_run_lines("install-cml")
    assert installs == ["npm install --no-save --no-audit --no-fund --prefix build/cml @dvcorg/cml@0.20.6"]
    assert not any("setup-cml" in step.get("uses", "") for step in _pr_workflow()["jobs"]["model-report"]["steps"])


def _dry_run_lines(target: str) -> list[str]:
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", "-o", ".venv/.synced", target],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={"PATH": f"{TOOLS}:/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()
