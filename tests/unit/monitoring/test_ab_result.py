"""ab.json: the A/B report's result, written and read back only through ab_result; promote.yml reads it."""

from pathlib import Path

import pytest

from mlloop.errors import SourceError
from mlloop.monitoring.ab_result import AbReportFiles, read_result


def test_no_report_is_a_source_error_saying_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"ab\.json: no A/B report; run `make ab-report` first"):
        read_result(tmp_path)


def test_a_file_of_another_shape_is_a_source_error_not_a_guess(tmp_path: Path) -> None:
    AbReportFiles(tmp_path).result.write_text('{"decision": "promote"}')

    with pytest.raises(SourceError, match="not an A/B report this version can read"):
        read_result(tmp_path)


def test_the_files_are_named_in_the_report_directory(tmp_path: Path) -> None:
    files = AbReportFiles(tmp_path / "ab")

    assert (files.result, files.markdown) == (tmp_path / "ab" / "ab.json", tmp_path / "ab" / "ab.md")
