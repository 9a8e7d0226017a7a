"""The S3 remote for real: DVC, the make verbs and the drift check against an S3-compatible server on
loopback (moto, with IAM authentication on), in temporary copies of the repository.

The bucket follows the layout the README documents: `dvc/` for DVC's objects,
`inference-log/<environment>/<pod>/` for the service's day files (`labels/` beside the pods),
`drift/<day>/` for the published drift reports.
"""

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dvc.repo import Repo

from mlloop.errors import RemoteError, RemoteIncompleteError
from mlloop.serving.inference_log import LOG_FILE_GLOB
from mlloop.storage.files import read_json
from tests.integration.repository import copy_repository, run, stages_run
from tests.integration.s3_server import (
    Credentials,
    S3Server,
    StallingProxy,
    free_port,
    isolated_environment,
    running_s3_server,
)

pytestmark = pytest.mark.integration

BUCKET = "mlloop"
REMOTE = f"s3://{BUCKET}/dvc"
READ_ACTIONS = ["s3:GetObject", "s3:ListBucket"]
WRITE_ACTIONS = [*READ_ACTIONS, "s3:PutObject"]
LOG_PREFIX = "inference-log/staging"
PODS = ("churn-service-7d9f-a", "churn-service-7d9f-b")
SIMULATED_DAYS = 2
SIMULATED_ROWS_PER_DAY = 40
# A push that stops after this many uploads has stored the files of the first directory it sends
# (reports/plots, five PNGs) only in part, and DVC sends a directory's listing after its files.
UPLOADS_BEFORE_INTERRUPTION = 2
INTERRUPTION_SECONDS = 60


def make(arguments: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A make verb, with the shared environment taken as installed."""
    return run(["make", *arguments, "-o", ".venv/.synced"], cwd, check=check)


def use(monkeypatch: pytest.MonkeyPatch, credentials: Credentials) -> None:
    """Act as this key's user in every command that follows."""
    for name, value in credentials.environment().items():
        monkeypatch.setenv(name, value)


def clone(source: Path, destination: Path) -> Path:
    """A fresh clone: the committed files, an empty DVC cache, and the shared environment for make."""
    run(["git", "clone", "--quiet", str(source), str(destination)], source.parent)
    (destination / ".venv").symlink_to(Path(sys.executable).parents[1])
    return destination


def snapshot(root: Path) -> dict[str, str]:
    """The SHA-256 of every file in the workspace and the DVC cache: not git's or DVC's bookkeeping (locks),
    nor the remote's URL, which `make remote` writes to .dvc/config.local on purpose."""
    ignored = {root / ".git", root / ".venv", root / ".dvc" / "tmp", root / ".dvc" / "config.local"}
    files: dict[str, str] = {}
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if Path(directory) / name not in ignored]
        for path in (Path(directory) / name for name in names):
            if path not in ignored:
                files[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def cached_outputs(root: Path) -> dict[str, str]:
    """The outputs DVC keeps in its cache, and so in the remote, with the md5 dvc.lock records."""
    with Repo(str(root)) as repository:
        return {output.def_path: output.hash_info.value for output in repository.index.outs if output.use_cache}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """The store, its bucket, and an environment that reaches nothing but it: every command of the
    module finds it through AWS_ENDPOINT_URL, as botocore, s3fs and DVC all honour that variable."""
    scratch = tmp_path_factory.mktemp("s3")
    with pytest.MonkeyPatch.context() as environment:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            environment.delenv(name)
        for name, value in isolated_environment(scratch).items():
            environment.setenv(name, value)
        with running_s3_server(scratch / "moto.log") as server:
            environment.setenv("AWS_ENDPOINT_URL", server.endpoint)
            server.create_bucket(BUCKET)
            yield server


@pytest.fixture(scope="module")
def reader(store: S3Server) -> Credentials:
    """The pull-request loop's key: it reads the whole bucket and writes nothing."""
    return store.add_user("reader", READ_ACTIONS)


@pytest.fixture(scope="module")
def writer(store: S3Server) -> Credentials:
    """main's key: it also writes."""
    return store.add_user("writer", WRITE_ACTIONS)


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    store: S3Server,  # noqa: ARG001 - the bucket must be served before `make push`
    writer: Credentials,
) -> Path:
    """A reproduced copy of the repository, its outputs committed and pushed to the S3 remote by `make push`."""
    root = tmp_path_factory.mktemp("project")
    copy_repository(root)
    run(["dvc", "repro"], root)
    run(["git", "commit", "--quiet", "--all", "--allow-empty", "--message", "outputs"], root)
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    with pytest.MonkeyPatch.context() as environment:
        use(environment, writer)
        make(["push", f"DVC_REMOTE_URL={REMOTE}"], root)
    return root


def test_a_fresh_clone_pulls_what_was_pushed_and_has_nothing_to_reproduce(
    project: Path, reader: Credentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fresh clone of the pushing repository, with an empty DVC cache
    fresh = clone(project, tmp_path / "clone")
    assert not (fresh / ".dvc" / "cache").exists()

    # When it pulls with the read-only key
    use(monkeypatch, reader)
    make(["pull", f"DVC_REMOTE_URL={REMOTE}"], fresh)

    # Then every output has the checksum dvc.lock records, and the same bytes as the pushing clone's
    for path, md5 in cached_outputs(project).items():
        if md5.endswith(".dir"):
            files = sorted(file.relative_to(project) for file in (project / path).rglob("*") if file.is_file())
            assert files, path
            for file in files:
                assert (fresh / file).read_bytes() == (project / file).read_bytes(), file
        else:
            assert hashlib.md5((fresh / path).read_bytes()).hexdigest() == md5, path
    # and dvc repro has nothing to do
    assert stages_run(run(["dvc", "repro"], fresh).stdout) == set()


def test_check_remote_counts_the_outputs_when_the_remote_holds_them_all(
    project: Path, reader: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, reader)

    result = make(["check-remote", f"DVC_REMOTE_URL={REMOTE}"], project)

    expected = f"{REMOTE} holds the objects of all {len(cached_outputs(project))} outputs"
    assert expected in result.stdout, result.stdout


def test_check_remote_fails_naming_each_output_the_remote_lacks(
    project: Path,
    store: S3Server,
    reader: Credentials,
    writer: Credentials,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a remote that lost the model's object and the listing of the plots directory, and a
    # fresh clone of main, whose empty cache cannot stand in for either
    outputs = cached_outputs(project)
    lost = {path: outputs[path] for path in ("models/model.joblib", "reports/plots")}
    for md5 in lost.values():
        store.delete(BUCKET, f"dvc/files/md5/{md5[:2]}/{md5[2:]}")
    fresh = clone(project, tmp_path / "clone")
    use(monkeypatch, reader)
    try:
        # When the integrity check runs there
        result = make(["check-remote", f"DVC_REMOTE_URL={REMOTE}"], fresh, check=False)

        # Then it fails with the remote's URL and exactly the outputs whose objects are gone
        assert f"Error {RemoteIncompleteError.exit_code}" in result.stderr, result.stderr
        message = result.stderr[result.stderr.index("mlloop check-remote: error: ") :]
        assert f"{REMOTE} lacks 2 object(s)" in message, message
        assert [line.strip() for line in message.splitlines()[1:] if line.startswith("  ")] == sorted(lost), message
    finally:
        use(monkeypatch, writer)
        make(["push", f"DVC_REMOTE_URL={REMOTE}"], project)


@dataclass(frozen=True)
class Failure:
    """A broken setting, the remote the user meant, and what the message must say about it."""

    variables: Callable[[], dict[str, str]]
    url: str
    cause: str
    hint: str


FAILURES = {
    "wrong credentials": Failure(
        lambda: {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, REMOTE, "access refused", "AWS_SECRET_ACCESS_KEY"
    ),
    # One attempt: botocore's retries would only make the test wait longer for the same answer.
    "unreachable endpoint": Failure(
        lambda: {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_MAX_ATTEMPTS": "1"},
        REMOTE,
        "the endpoint cannot be reached",
        "AWS_ENDPOINT_URL",
    ),
    "missing bucket": Failure(dict, "s3://no-such-bucket/dvc", "the bucket does not exist", "create it"),
}


@pytest.mark.parametrize("verb", ["push", "pull"])
@pytest.mark.parametrize("failure", FAILURES, ids=str)
def test_a_failed_transfer_names_the_remote_and_the_cause_and_changes_nothing_local(
    failure: str,
    verb: str,
    project: Path,
    reader: Credentials,
    writer: Credentials,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the pushing repository (for a push) or a fresh clone (for a pull), and a broken setting
    workspace = project if verb == "push" else clone(project, tmp_path / "clone")
    use(monkeypatch, writer if verb == "push" else reader)
    broken = FAILURES[failure]
    for name, value in broken.variables().items():
        monkeypatch.setenv(name, value)
    before = snapshot(workspace)

    # When make push or make pull runs
    result = make([verb, f"DVC_REMOTE_URL={broken.url}"], workspace, check=False)

    # Then it fails with DVC's own message, then one line naming the remote, the cause and what to check
    assert result.returncode != 0
    assert "ERROR: " in result.stderr, "DVC's own message is passed on"
    message = result.stderr[result.stderr.index(f"mlloop {verb}: error: ") :].splitlines()[0]
    assert f"{broken.url}: {broken.cause}" in message, message
    assert broken.hint in message, message
    assert f"Error {RemoteError.exit_code}" in result.stderr, result.stderr
    # and the workspace and the DVC cache are byte for byte what they were: nothing half-written
    assert snapshot(workspace) == before


def test_an_interrupted_push_is_completed_by_running_it_again(
    project: Path, store: S3Server, writer: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a push to an empty remote through a connection that stalls after two uploads
    store.create_bucket("interrupted")
    remote = "s3://interrupted/dvc"
    use(monkeypatch, writer)
    make(["remote", f"DVC_REMOTE_URL={remote}"], project)  # the push below is DVC's own, as a user would run it
    before = snapshot(project)
    with StallingProxy(store.endpoint, UPLOADS_BEFORE_INTERRUPTION) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        push = subprocess.Popen(
            [Path(sys.executable).parent / "dvc", "push"],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stalled = proxy.stalled.wait(timeout=INTERRUPTION_SECONDS)
        # When the push is killed mid-way
        push.kill()
        push.wait()
    assert stalled, "the push never got past its first uploads"
    monkeypatch.setenv("AWS_ENDPOINT_URL", store.endpoint)

    # Then the remote holds only the uploads that finished, the check says so, and nothing local changed
    assert len(store.keys("interrupted")) == UPLOADS_BEFORE_INTERRUPTION
    assert snapshot(project) == before
    incomplete = make(["check-remote"], project, check=False)
    assert f"Error {RemoteIncompleteError.exit_code}" in incomplete.stderr, incomplete.stderr
    assert "  reports/plots" in incomplete.stderr, incomplete.stderr

    # When the push is run again, it sends the rest, and the check passes
    make(["push"], project)
    assert "holds the objects of all" in make(["check-remote"], project).stdout
    assert store.keys("interrupted") == store.keys(BUCKET, "dvc/"), "the same objects as a push that was never cut"


@pytest.fixture(scope="module")
def drift_report(
    project: Path, store: S3Server, reader: Credentials, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Two pods' simulated days shipped to the store as the log shipper lays them out, then `make drift`
    reading them from there with the read-only key."""
    log = tmp_path_factory.mktemp("log")
    days, rows = str(SIMULATED_DAYS), str(SIMULATED_ROWS_PER_DAY)
    run(["mlloop", "simulate", "--days", days, "--rows-per-day", rows, "--out", str(log)], project)
    for path in sorted(log.glob(LOG_FILE_GLOB)):
        for pod in PODS:
            store.upload(path, BUCKET, f"{LOG_PREFIX}/{pod}/{path.name}")
    for path in sorted(log.glob("labels/*.jsonl")):
        store.upload(path, BUCKET, f"{LOG_PREFIX}/labels/{path.name}")
    with pytest.MonkeyPatch.context() as environment:
        use(environment, reader)
        make(["drift", f"INFERENCE_LOG_URL=s3://{BUCKET}/{LOG_PREFIX}"], project)
    report: dict[str, Any] = read_json(project / "reports" / "drift" / "drift.json")
    return report


def test_drift_reads_every_pods_day_files_from_the_store(drift_report: dict[str, Any]) -> None:
    window = drift_report["window"]
    assert window["source"] == f"s3://{BUCKET}/{LOG_PREFIX}"
    assert drift_report["rows"]["current"] == len(PODS) * SIMULATED_DAYS * SIMULATED_ROWS_PER_DAY
    assert len(window["files"]) == len(PODS) * SIMULATED_DAYS
    assert {file.split("/")[-2] for file in window["files"]} == set(PODS), window["files"]
    realised = drift_report["realised"]
    assert realised is not None, "the delayed labels beside the pods were read too"
    assert (realised["rows"], realised["unmatched_labels"]) == (drift_report["rows"]["current"], 0), realised


@pytest.mark.usefixtures("drift_report")
def test_the_drift_report_is_published_under_the_drift_prefix_by_day(
    project: Path, store: S3Server, writer: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, writer)

    result = make(["drift-publish", f"DRIFT_REPORT_URL=s3://{BUCKET}/drift"], project)

    day = datetime.now(UTC).date().isoformat()
    assert f"s3://{BUCKET}/drift/{day}" in result.stdout
    local = project / "reports" / "drift"
    published = store.keys(BUCKET, f"drift/{day}/")
    expected = sorted(
        f"drift/{day}/{path.relative_to(local).as_posix()}" for path in local.rglob("*") if path.is_file()
    )
    assert published == expected
    assert store.read(BUCKET, f"drift/{day}/drift.json") == (local / "drift.json").read_bytes()


@pytest.mark.usefixtures("drift_report")
def test_the_status_history_is_read_with_the_read_key_and_kept_beside_the_days_with_the_write_key(
    project: Path,
    store: S3Server,
    reader: Credentials,
    writer: Credentials,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Given a history kept from an earlier day
    earlier = tmp_path / "history.jsonl"
    earlier.write_text('{"day": "2026-01-01", "status": "stale", "reasons": ["the newest log line ..."]}\n')
    store.upload(earlier, BUCKET, "drift/history.jsonl")

    # When the check's status is added with the read key, and the report published with the write key
    use(monkeypatch, reader)
    make(["drift-history", f"DRIFT_REPORT_URL=s3://{BUCKET}/drift"], project)
    use(monkeypatch, writer)
    make(["drift-publish", f"DRIFT_REPORT_URL=s3://{BUCKET}/drift"], project)

    # Then the kept history holds both days, and today's folder its rendering
    day = datetime.now(UTC).date().isoformat()
    kept = [json.loads(line) for line in store.read(BUCKET, "drift/history.jsonl").decode().splitlines()]
    assert [line["day"] for line in kept] == ["2026-01-01", day]
    assert f"| {day} |" in store.read(BUCKET, f"drift/{day}/history.md").decode()


@pytest.mark.usefixtures("drift_report")
def test_publishing_with_the_read_only_key_is_refused_with_a_clear_message(
    project: Path, reader: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, reader)

    result = make(["drift-publish", f"DRIFT_REPORT_URL=s3://{BUCKET}/drift"], project, check=False)

    assert f"Error {RemoteError.exit_code}" in result.stderr, result.stderr
    assert f"s3://{BUCKET}/drift/" in result.stderr, result.stderr
    assert "access refused" in result.stderr, result.stderr
