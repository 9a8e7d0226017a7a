"""Run a real workflow file under act (host mode) against the loopback stand-ins, and say what happened.

A `World` is one repository on GitHub, as the workflows see it: the git origin, the REST API,
the cache and artifact services, the registry and the cluster (recorded by the stand-ins), and
a developer's clone to make commits and pull requests with. `World.run` runs one workflow for one
event and returns each job's result; everything the stand-ins recorded stays in the world.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.git_cli import IDENTITY, git
from tests.git_origin import GitOrigin, serving_origin
from tests.stand_ins.common import recorded
from tests.workflows.services.github_api import GitHubApi, serving_api
from tests.workflows.triggers import starts

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT / ".github" / "workflows"
STAND_IN_ACTIONS = Path(__file__).resolve().parent / "actions"
ACT = Path(sys.executable).parent / "act"
REPOSITORY = "octo/churn"
WRITE_TOKEN = "ghs_write_token_of_the_run"
READ_TOKEN = "ghs_read_only_token_of_a_fork"
RUN_TIMEOUT_SECONDS = 900
# The pinned actions of .github/workflows and the stand-in folder that replaces each (act --local-repository).
PINNED_ACTIONS = {
    "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1": "checkout",
    "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97": "setup-python",
    "actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae": "cache",
    "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f": "upload-artifact",
    "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c": "download-artifact",
    "docker/setup-buildx-action@37fe631027851001ddb9b187196cc803df7f5f0e": "setup-buildx",
    "docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121": "login",
}
SIMULATED_DAYS = 7
"""Days of traffic in each inference log `simulate` makes: a week."""
DRIFT_SCHEDULE = {"schedule": "17 5 * * *", "ref": "refs/heads/main"}
"""The schedule event of drift.yml's daily check."""
SUMMARIES: list[str] = []
"""One line per workflow run of this process, until conftest.py hands it to the test report; printed at the end."""


def hash_files(workspace: Path, *names: str) -> str:
    """The `hashFiles()` expression: the SHA-256 of the files' SHA-256 digests, in the order of the patterns."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(hashlib.sha256((workspace / name).read_bytes()).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Prepared:
    """What every scenario of the session shares, prepared once (see conftest.py)."""

    origin: Path  # a directory of bare repositories: <origin>/<owner>/<name>, main with the pipeline's commit
    dvc_remote: Path  # the DVC remote holding main's data and models
    dvc_cache: Path  # the .dvc/cache of a run of main, as a restored actions/cache would hold it
    mypy_cache: Path  # the .mypy_cache of `make lint` on main, as ci.yml's cache would hold it
    workspace: Path  # main checked out with its outputs: where the harness makes inference logs
    environment: Path  # the project's .venv, relocatable, kubectl swapped for the stand-in
    tools: Path  # launchers: `action` (the pinned actions' stand-ins)
    runner_tools: Path  # the runner image's own tools: gh, docker, kubectl (stand-ins)
    cml_tools: Path  # the cml that `make comment` runs (stand-in), given as CML
    real_kubectl: Path


@dataclass
class Run:
    """One act run: the workflow, the event and each job's result."""

    workflow: str
    event: str
    jobs: dict[str, str]
    log: str
    seconds: float

    @property
    def output(self) -> str:
        """What the steps printed and act said, decoded from act's JSON log lines (which escape `<`, `>`, `&`)."""
        messages = []
        for line in self.log.splitlines():
            if line.startswith("{"):
                messages.append(str(json.loads(line).get("msg", "")).rstrip("\n"))
            else:
                messages.append(line)
        return "\n".join(messages)

    def succeeded(self, job: str) -> bool:
        """Whether the job ran and succeeded."""
        return self.jobs.get(job) == "success"


@dataclass
class World:
    """One GitHub repository and its services, for one scenario."""

    prepared: Prepared
    directory: Path
    origin: GitOrigin
    api: GitHubApi
    variables: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    @property
    def developer(self) -> Path:
        """The developer's clone of the origin, on main."""
        return self.directory / "developer"

    @property
    def records(self) -> Path:
        """Where the stand-in binaries and actions record their calls."""
        return self.directory / "records"

    def recorded(self, tool: str) -> list[dict[str, Any]]:
        """Every call the stand-in for `tool` recorded, in order."""
        return recorded(self.records, tool)

    def commit(self, message: str, files: dict[str, str], branch: str = "main") -> str:
        """Commit files (path: content) on the branch (new ones start from main) and push it; the commit's SHA."""
        start = f"origin/{branch}" if self.has_branch(branch) else "origin/main"
        git(self.developer, "checkout", "--quiet", "--force", "-B", branch, start)
        for name, content in files.items():
            path = self.developer / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        git(self.developer, "add", "--all")
        git(self.developer, "commit", "--quiet", "--message", message)
        git(self.developer, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        git(self.developer, "fetch", "--quiet", "origin")
        return git(self.developer, "rev-parse", "HEAD")

    def commit_reproduced(self, message: str, files: dict[str, str], branch: str = "main") -> str:
        """Commit files with the pipeline reproduced on them and its outputs pushed, as a merged PR's commit is."""
        start = f"origin/{branch}" if self.has_branch(branch) else "origin/main"
        git(self.developer, "checkout", "--quiet", "--force", "-B", branch, start)
        for name, content in files.items():
            (self.developer / name).write_text(content)
        remote = self.variables["DVC_REMOTE_URL"]
        for command in (["dvc", "remote", "modify", "--local", "local", "url", remote], ["dvc", "pull", "--quiet"]):
            pipeline(command, self.developer)
        pipeline(["dvc", "repro", "--quiet"], self.developer)
        pipeline(["dvc", "push", "--quiet"], self.developer)
        git(self.developer, "add", "--all")
        git(self.developer, "commit", "--quiet", "--message", message)
        git(self.developer, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        git(self.developer, "fetch", "--quiet", "origin")
        return git(self.developer, "rev-parse", "HEAD")

    def has_branch(self, branch: str) -> bool:
        """Whether the origin has the branch."""
        return f"refs/heads/{branch}" in self.origin.refs(REPOSITORY)

    def edit(self, name: str, old: str, new: str, branch: str = "main") -> str:
        """The file's text on the branch with one replacement, for `commit`."""
        source = branch if self.has_branch(branch) else "main"
        text = git(self.developer, "show", f"origin/{source}:{name}")
        assert old in text, f"{old!r} is not in {name} on {branch}"
        return text.replace(old, new, 1) + "\n"

    def pull_request_merge(self, number: int, branch: str) -> str:
        """GitHub's refs/pull/<n>/head and /merge for a branch against main; the merge commit's SHA."""
        git(self.developer, "checkout", "--quiet", "--detach", "origin/main")
        git(self.developer, "merge", "--quiet", "--no-ff", "--message", f"Merge {branch} into main", f"origin/{branch}")
        merge = git(self.developer, "rev-parse", "HEAD")
        git(self.developer, "push", "--quiet", "--force", "origin", f"origin/{branch}:refs/pull/{number}/head")
        git(self.developer, "push", "--quiet", "--force", "origin", f"{merge}:refs/pull/{number}/merge")
        return merge

    def _changes(self, event_name: str, event: dict[str, Any]) -> tuple[str, list[str]]:
        """The branch an event's filters look at, and the files it changes (GitHub's `paths` filter input)."""
        if event_name == "pull_request":
            base, head = event["pull_request"]["base"], event["pull_request"]["head"]
            changed = git(self.developer, "diff", "--name-only", f"{base['sha']}...{head['sha']}")
            return base["ref"], changed.splitlines()
        if event_name == "push" and event.get("before"):
            changed = git(self.developer, "diff", "--name-only", event["before"], event["after"])
            return event["ref"].removeprefix("refs/heads/"), changed.splitlines()
        return event.get("ref", "refs/heads/main").removeprefix("refs/heads/"), []

    def run(
        self, workflow: str, event_name: str, event: dict[str, Any], at: str, runner: dict[str, str] | None = None
    ) -> Run:
        """Run .github/workflows/<workflow> under act for the event, with the workflow files of commit `at`.

        `runner` adds to the runner's environment (what every step sees, like a self-hosted runner's .env).

        As on GitHub, a workflow whose `on:` filters exclude the event does not start: no job runs.
        """
        git(self.developer, "fetch", "--quiet", "origin", "+refs/pull/*:refs/pull/*")
        branch, changed = self._changes(event_name, event)
        definition = Path(git(self.developer, "rev-parse", "--show-toplevel")) / ".github" / "workflows" / workflow
        git(self.developer, "checkout", "--quiet", "--detach", at)
        if not starts(definition, event_name, branch, changed):
            run = Run(workflow, event_name, {}, "not started: the workflow's `on:` filters exclude the event", 0.0)
            self.runs.append(run)
            SUMMARIES.append(self.summary(run))
            return run
        source = self.directory / "event-source"
        if source.exists():
            shutil.rmtree(source)
        git(self.directory, "clone", "--quiet", str(self.origin.repository(REPOSITORY)), str(source))
        branch = event.get("ref", "").removeprefix("refs/heads/")
        git(
            source,
            "checkout",
            "--quiet",
            "--force",
            *(["-B", branch, at] if branch and not branch.startswith("refs/") else ["--detach", at]),
        )
        (self.directory / "event.json").write_text(
            json.dumps(event | {"repository": {"full_name": REPOSITORY, "default_branch": "main"}})
        )
        artifacts = self.directory / "artifacts"
        shutil.rmtree(artifacts, ignore_errors=True)
        artifacts.mkdir()
        command = [
            str(ACT), event_name, "--json",
            "--workflows", f".github/workflows/{workflow}",
            "--eventpath", str(self.directory / "event.json"),
            "--platform", "ubuntu-latest=-self-hosted",
            "--action-cache-path", str(self.directory / "act"),
            "--no-cache-server",
            "--no-skip-checkout",
            "--env", f"GITHUB_REPOSITORY={REPOSITORY}",
            "--env", f"GITHUB_SERVER_URL={self.origin.url}",
            "--env", f"GITHUB_API_URL={self.api.url}",
            "--env", "GITHUB_ACTOR=developer",
        ]  # fmt: skip
        for action, folder in PINNED_ACTIONS.items():
            command += ["--local-repository", f"{action}={STAND_IN_ACTIONS / folder}"]
        for name, value in self.secrets.items():
            command += ["--secret", f"{name}={value}"]
        for name, value in self.variables.items():
            command += ["--var", f"{name}={value}"]
        started = time.monotonic()
        log_file = self.directory / f"act-{len(self.runs)}.log"
        with log_file.open("w") as output:
            subprocess.run(
                command,
                cwd=source,
                env=self._runner_environment(artifacts) | (runner or {}),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=RUN_TIMEOUT_SECONDS,
                check=False,
            )
        log = log_file.read_text()
        run = Run(workflow, event_name, _job_results(log), log, time.monotonic() - started)
        self.runs.append(run)
        SUMMARIES.append(self.summary(run))
        return run

    def _runner_environment(self, artifacts: Path) -> dict[str, str]:
        """What a fresh runner has: its tools, a HOME without credentials, and the stand-ins' services."""
        home, temporary = self.directory / "home", self.directory / "tmp"
        home.mkdir(exist_ok=True)
        temporary.mkdir(exist_ok=True)
        system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        registry_access = {name: value for name, value in os.environ.items() if _reaches_registries(name)}
        return registry_access | {
            "PATH": f"{self.prepared.runner_tools}:{system_path}",
            "HOME": str(home),
            # A runner's temporary directory is its own. Sharing this machine's, the `make test` of ci.yml's
            # job deleted at its exit, as pytest does, the temporary directories of earlier pytest sessions
            # (it keeps three): earlier scenarios' worlds, tens of thousands of files, up to 90 s of the job.
            "TMPDIR": str(temporary),
            "LANG": "C.UTF-8",
            # One thread per native pool, as in the test session (tests/conftest.py): on a busy 2-core
            # machine OpenMP's spin-waiting makes one evaluation take minutes instead of seconds.
            "OMP_NUM_THREADS": "1",
            # act gives each step a terminal, which a hosted runner has not: a client that would prompt
            # for a password there fails at once, so it must here too rather than wait for an answer.
            "GIT_TERMINAL_PROMPT": "0",
            "UV_CACHE_DIR": _uv_cache(),
            "HARNESS_RECORD": str(self.records),
            "HARNESS_CACHE": str(self.directory / "cache"),
            "HARNESS_ARTIFACTS": str(artifacts),
            "HARNESS_TOOLS": str(self.prepared.tools),
            # `make comment` runs this cml instead of installing the npm package (Makefile: CML).
            "CML": str(self.prepared.cml_tools / "cml"),
            "HARNESS_REAL_KUBECTL": str(self.prepared.real_kubectl),
        }

    def summary(self, run: Run) -> str:
        """The scenario's one line: workflow, event, job results and what the stand-ins recorded."""
        jobs = ", ".join(f"{job}={result}" for job, result in run.jobs.items())
        recorded = {
            "comments": len(self.api.comments),
            "issues": len([issue for issue in self.api.issues.values() if not issue.head]),
            "pulls": len(self.api.pulls()),
            "releases": len(self.api.releases),
            "dispatches": len(self.api.dispatches),
            "pushes": len(self.origin.pushes),
            "refused pushes": len(self.origin.refused),
            "images": len([call for call in self.recorded("docker") if "build" in call]),
            "applies": len([call for call in self.recorded("kubectl") if "apply" in call]),
        }
        said = ", ".join(f"{name} {count}" for name, count in recorded.items() if count)
        outcome = f"{jobs or 'no job ran'}; recorded: {said or 'nothing'}"
        return f"{run.workflow} on {run.event}: {outcome} ({run.seconds:.0f} s)"


def _reaches_registries(variable: str) -> bool:
    """Whether a variable of this machine says how to reach the package registries (certificates, proxies, pip)."""
    name = variable.upper()
    return name.startswith("PIP_") or name.endswith(
        ("_PROXY", "CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CA_CERTS")
    )


def _uv_cache() -> str:
    uv = Path(sys.executable).parent / "uv"
    return subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()


def _job_results(log: str) -> dict[str, str]:
    """Each job's result, from act's JSON log lines (`jobResult`), keyed by the job's id."""
    results: dict[str, str] = {}
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if "jobResult" in entry:
            results[entry["jobID"]] = entry["jobResult"]
    return results


@contextmanager
def world(prepared: Prepared, directory: Path) -> Iterator[World]:
    """A repository with main as prepared, its services on loopback, and caches seeded as after earlier runs."""
    origin_root = directory / "origin"
    shutil.copytree(prepared.origin, origin_root, symlinks=True)
    dvc_remote = directory / "dvc-remote"
    subprocess.run(["cp", "-al", str(prepared.dvc_remote), str(dvc_remote)], check=True)
    (directory / "records").mkdir()
    with ExitStack() as stack:
        origin = stack.enter_context(serving_origin(origin_root, {WRITE_TOKEN}))
        api = stack.enter_context(serving_api(REPOSITORY, {WRITE_TOKEN: "write", READ_TOKEN: "read"}))
        api.actions_token = WRITE_TOKEN
        api.branch_head = lambda branch: origin.refs(REPOSITORY).get(f"refs/heads/{branch}", "")
        scenario = World(prepared, directory, origin, api)
        scenario.variables = {"DVC_REMOTE_URL": str(dvc_remote)}
        scenario.secrets = {"GITHUB_TOKEN": WRITE_TOKEN}
        git(directory, "clone", "--quiet", str(origin.repository(REPOSITORY)), str(scenario.developer))
        _seed_cache(prepared, directory, scenario.developer)
        yield scenario


def _seed_cache(prepared: Prepared, directory: Path, workspace: Path) -> None:
    """The entries earlier runs of main would have saved: the environment under its key, the DVC cache, mypy's.

    The environment's entry links to the prepared one, so each job's restore is a symlink: act
    neither walks nor deletes 77,000 files per job, nor each world a copy of them. A session (an
    xdist worker) runs its jobs one at a time, each job's first `make` syncing the environment to
    that job's workspace (its checkout is newer than the environment's mark, conftest.py).
    """
    store = directory / "cache"
    venv_entry = store / f"venv-Linux-py3.11-{hash_files(workspace, 'uv.lock', 'pyproject.toml')}"
    venv_entry.mkdir(parents=True)
    (venv_entry / ".venv").symlink_to(prepared.environment)
    dvc_entry = store / f"dvc-Linux-{hash_files(workspace, 'dvc.lock')}" / ".dvc" / "cache"
    dvc_entry.parent.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(prepared.dvc_cache), str(dvc_entry)], check=True)
    mypy_entry = store / f"mypy-Linux-py3.11-{git(workspace, 'rev-parse', 'HEAD')}" / ".mypy_cache"
    mypy_entry.parent.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(prepared.mypy_cache), str(mypy_entry)], check=True)


def pull_request_event(scenario: World, branch: str, head_repository: str = REPOSITORY) -> tuple[dict[str, Any], str]:
    """Open (or synchronise) the pull request of a pushed branch as GitHub would: its event payload and merge SHA."""
    head = git(scenario.developer, "rev-parse", f"origin/{branch}")
    existing = [pull for pull in scenario.api.pulls() if pull.head == branch and pull.state == "open"]
    pull = existing[0] if existing else scenario.api.open_pull_request(branch, head, "main", f"Change {branch}")
    pull.head_sha = head
    merge = scenario.pull_request_merge(pull.number, branch)
    base = git(scenario.developer, "rev-parse", "origin/main")
    event = {
        "action": "synchronize" if existing else "opened",
        "number": pull.number,
        "pull_request": {
            "number": pull.number,
            "head": {"ref": branch, "sha": head, "repo": {"full_name": head_repository}},
            "base": {"ref": "main", "sha": base, "repo": {"full_name": REPOSITORY}},
        },
    }
    return event, merge


def push_event(scenario: World, branch: str, before: str) -> tuple[dict[str, Any], str]:
    """A push of the branch's current head (after `before`): its event payload and SHA."""
    after = git(scenario.developer, "rev-parse", f"origin/{branch}")
    event = {"ref": f"refs/heads/{branch}", "before": before, "after": after, "head_commit": {"id": after}}
    return event, after


def daily_drift_check(scenario: World) -> Run:
    """drift.yml on its schedule, on main as the origin holds it."""
    main = git(scenario.developer, "rev-parse", "origin/main")
    return scenario.run("drift.yml", "schedule", DRIFT_SCHEDULE, at=main)


def run_dispatched(scenario: World, workflow: str, since: int) -> list[Run]:
    """Run each dispatch of `workflow` recorded after the first `since`, as GitHub would: on its ref's head."""
    git(scenario.developer, "fetch", "--quiet", "origin")
    return [
        scenario.run(
            workflow,
            "workflow_dispatch",
            {"ref": f"refs/heads/{dispatch.ref}", "inputs": dispatch.inputs},
            at=scenario.origin.refs(REPOSITORY)[f"refs/heads/{dispatch.ref}"],
        )
        for dispatch in scenario.api.dispatches[since:]
        if dispatch.workflow == workflow
    ]


def _developer_environment() -> dict[str, str]:
    """The developer's: this session's tools first, one thread per native pool (see the runner's)."""
    tools = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    return os.environ | tools | IDENTITY


def pipeline(command: list[str], cwd: Path) -> None:
    """Run a pipeline command (dvc, mlloop) as the developer."""
    result = subprocess.run(command, cwd=cwd, env=_developer_environment(), capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed: {result.stdout}{result.stderr}"


@contextmanager
def pipeline_alongside(command: list[str], cwd: Path) -> Iterator[None]:
    """Run a command as the developer while the block runs, on the other core; it must succeed too."""
    process = subprocess.Popen(
        command, cwd=cwd, env=_developer_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield
    except BaseException:
        process.kill()
        process.wait()
        raise
    output, _ = process.communicate()
    assert process.returncode == 0, f"{command} failed: {output}"


def simulate(scenario: World, name: str, declared: str) -> Path:
    """An inference log of SIMULATED_DAYS days of traffic ending today, of a scenario params.yaml declares
    (`mlloop simulate --scenario declared`), for INFERENCE_LOG_URL."""
    log = scenario.directory / "inference-logs" / name
    pipeline(
        ["mlloop", "simulate", "--scenario", declared, "--days", str(SIMULATED_DAYS), "--out", str(log)],
        scenario.prepared.workspace,
    )
    return log
