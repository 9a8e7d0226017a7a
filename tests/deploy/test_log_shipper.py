"""The inference-log shipper beside the service, run from the Deployment's own command with a recording
stand-in for the AWS CLI (tests/deploy/stand_ins/aws).

When the pod stops, Kubernetes signals both containers at once, and the service goes on writing the lines
it drains from its queue. So the shipper uploads at once, then waits for the service's CLOSED_FILE and
uploads again: the lines answered last reach the store too.
"""

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlloop.serving.inference_log import CLOSED_FILE, log_file

PROJECT = Path(__file__).resolve().parents[2]
STAND_INS = Path(__file__).parent / "stand_ins"
STORE_URL = "s3://bucket/inference-log/staging"
POD_NAME = "churn-service-abc12"
WAIT_SECONDS = 10
"""Upper bound on any wait for the shipper; each step takes milliseconds."""


def _shipper_command(log_directory: Path) -> list[str]:
    """The shipper container's command, with the log volume's mount path moved to `log_directory`."""
    documents = yaml.safe_load_all((PROJECT / "bento" / "k8s" / "base" / "deployment.yaml").read_text())
    pod = next(document for document in documents if document["kind"] == "Deployment")["spec"]["template"]["spec"]
    (shipper,) = [container for container in pod["containers"] if container["name"] == "log-shipper"]
    (mount,) = [mount["mountPath"] for mount in shipper["volumeMounts"] if mount["name"] == "inference-log"]
    return [*shipper["command"], *(argument.replace(mount, str(log_directory)) for argument in shipper["args"])]


def _uploads(record: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT_SECONDS} s for {what}"
        time.sleep(0.05)


@pytest.fixture
def log_directory(tmp_path: Path) -> Path:
    """The pod's log volume, holding a day file of one line."""
    directory = tmp_path / "log"
    directory.mkdir()
    log_file(directory, date(2026, 1, 1)).write_text('{"line": 1}\n')
    return directory


@pytest.fixture
def shipper(tmp_path: Path, log_directory: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The shipper running, after its first upload; yields the process and the stand-in's record."""
    record = tmp_path / "record.jsonl"
    process = subprocess.Popen(
        _shipper_command(log_directory),
        env={
            "PATH": f"{STAND_INS}:/usr/bin:/bin",
            "INFERENCE_LOG_URL": STORE_URL,
            "POD_NAME": POD_NAME,
            "STAND_IN_RECORD": str(record),
        },
        start_new_session=True,  # its `sleep 60` outlives it: the group is killed afterwards
    )
    try:
        _wait_for(lambda: len(_uploads(record)) == 1, "the shipper's first upload")
        yield process, record
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=WAIT_SECONDS)


def test_on_sigterm_the_shipper_uploads_at_once_and_again_when_the_service_has_closed_its_log(
    log_directory: Path, shipper: tuple[subprocess.Popen[bytes], Path]
) -> None:
    process, record = shipper

    # when: the pod stops, and the service writes a line it drained after the signal
    process.send_signal(signal.SIGTERM)
    _wait_for(lambda: len(_uploads(record)) == 2, "the upload on SIGTERM")
    with log_file(log_directory, date(2026, 1, 1)).open("a") as day_file:
        day_file.write('{"line": 2}\n')
    time.sleep(1.5)

    # then: the shipper waits for the service, however long it drains
    assert process.poll() is None, "the shipper stopped before the service had closed its log"

    # when: the service has closed its log
    (log_directory / CLOSED_FILE).touch()

    # then: one more upload, which carries the drained line, and the shipper exits cleanly
    assert process.wait(timeout=WAIT_SECONDS) == 0
    uploads = _uploads(record)
    assert [upload["lines"] for upload in uploads] == [1, 1, 2]
    assert {tuple(upload["arguments"]) for upload in uploads} == {
        ("s3", "sync", str(log_directory), f"{STORE_URL}/{POD_NAME}/", "--exclude", CLOSED_FILE)
    }, "every upload syncs the log volume to the pod's folder, without the service's mark"
