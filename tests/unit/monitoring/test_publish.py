"""Publishing the drift report: every file of the report directory under `<url>/<day>/`."""

from datetime import date
from pathlib import Path

import fsspec
import pytest

from mlloop.errors import RemoteError, SourceError
from mlloop.monitoring.drift_result import DriftReportFiles
from mlloop.monitoring.publish import publish_report

DAY = date(2026, 11, 24)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A drift report directory as `mlloop drift` writes it, with one plot."""
    files = DriftReportFiles(tmp_path / "drift")
    files.plots.mkdir(parents=True)
    files.result.write_text('{"status": "drift"}\n')
    files.markdown.write_text("# Drift\n")
    (files.plots / "monthly_charges.png").write_bytes(b"\x89PNG")
    return files.directory


def test_every_file_of_the_report_lands_under_the_days_folder(report: Path, store: str) -> None:
    published = publish_report(report, f"{store}/drift/", DAY)

    assert published == f"{store}/drift/2026-11-24", "a trailing slash on the prefix does not double"
    filesystem, root = fsspec.core.url_to_fs(published)
    assert sorted(Path(name).relative_to(root).as_posix() for name in filesystem.find(root)) == [
        "drift.json",
        "drift.md",
        "plots/monthly_charges.png",
    ]
    assert filesystem.cat_file(f"{root}/drift.json") == (report / "drift.json").read_bytes()


def test_publishing_again_the_same_day_replaces_that_days_report(report: Path, store: str) -> None:
    publish_report(report, store, DAY)
    DriftReportFiles(report).result.write_text('{"status": "no_drift"}\n')

    published = publish_report(report, store, DAY)

    filesystem, root = fsspec.core.url_to_fs(published)
    assert filesystem.cat_file(f"{root}/drift.json") == b'{"status": "no_drift"}\n'


def test_no_report_to_publish_names_the_command_to_run_first(tmp_path: Path, store: str) -> None:
    with pytest.raises(SourceError, match="run `make drift` first"):
        publish_report(tmp_path / "drift", store, DAY)


def test_the_status_history_replaces_the_one_kept_beside_the_days_folders(report: Path, store: str) -> None:
    history = DriftReportFiles(report).history
    history.write_text('{"day": "2026-11-24", "status": "drift", "reasons": []}\n')

    published = publish_report(report, f"{store}/drift", DAY)

    filesystem, root = fsspec.core.url_to_fs(published)
    assert filesystem.cat_file(f"{root}/history.jsonl") == history.read_bytes(), "a copy in the day's folder"
    kept = fsspec.core.url_to_fs(f"{store}/drift/history.jsonl")[1]
    assert filesystem.cat_file(kept) == history.read_bytes(), "where the next check reads it"


def test_a_report_without_a_history_publishes_none_beside_the_days(report: Path, store: str) -> None:
    publish_report(report, f"{store}/drift", DAY)

    filesystem, root = fsspec.core.url_to_fs(f"{store}/drift")
    assert not filesystem.exists(f"{root}/history.jsonl")


def test_a_local_folder_gets_the_days_folders_made_in_it(report: Path, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()

    published = publish_report(report, (tmp_path / "reports").as_posix(), DAY)

    assert (Path(published) / "plots" / "monthly_charges.png").is_file()
    assert Path(published).parent == tmp_path / "reports"


def test_a_local_folder_that_does_not_exist_is_a_remote_error_naming_it(report: Path, tmp_path: Path) -> None:
    with pytest.raises(RemoteError, match="no such folder") as raised:
        publish_report(report, (tmp_path / "typo").as_posix(), DAY)

    assert str(tmp_path / "typo") in str(raised.value)
    assert not (tmp_path / "typo").exists(), "a mistyped folder is not created"
