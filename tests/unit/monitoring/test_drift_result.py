"""A drift check's result is written as drift.json and read back as the same typed result; the
report's file names are declared once, and reading a missing or foreign report is a clear
SourceError (exit 4) naming the file."""

import dataclasses
import json
import math
from pathlib import Path

import pytest

from mlloop.errors import SourceError
from mlloop.monitoring.drift_result import DriftReportFiles, DriftResult, read_result, result_json


def _write(directory: Path, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    DriftReportFiles(directory).result.write_text(text)


def test_the_report_files_are_drift_json_drift_md_and_a_plots_folder(tmp_path: Path) -> None:
    files = DriftReportFiles(tmp_path / "drift")

    assert (files.result, files.markdown, files.plots) == (
        tmp_path / "drift" / "drift.json",
        tmp_path / "drift" / "drift.md",
        tmp_path / "drift" / "plots",
    )


def test_a_written_result_reads_back_equal(tmp_path: Path, drift_result: DriftResult) -> None:
    _write(tmp_path, result_json(drift_result))

    assert read_result(tmp_path) == drift_result


def test_drift_json_is_stable_json_with_days_and_times_as_iso_strings(drift_result: DriftResult) -> None:
    text = result_json(drift_result)

    document = json.loads(text)
    assert list(document) == sorted(document), "sorted keys: equal content is equal bytes"
    assert text.endswith("}\n")
    assert (document["window"]["first_day"], document["window"]["last_day"]) == ("2026-11-18", "2026-11-24")
    assert (document["window"]["start"], document["window"]["end"]) == ("2026-11-18", "2026-11-24")
    assert document["window"]["last_seen"] == "2026-11-24T05:02:00Z"
    assert document["columns"][1]["scores"]["unseen_labels"] == {"Crypto wallet": 140}
    assert document["realised"] == {
        "rows": 200,
        "metrics": [
            {
                "name": "roc_auc",
                "value": 0.8125,
                "bound": None,
                "test": 0.8448,
                "worst_acceptable": 0.83,
                "max_regression": 0.01,
            }
        ],
        "labels": 230,
        "unmatched_labels": 30,
        "unreadable_label_lines": 1,
    }
    assert document["findings"] == [{"status": "drift", "reasons": document["reasons"]}]
    assert document["contract"] == []


def test_a_report_of_an_earlier_version_with_three_statuses_is_refused_not_misread(
    tmp_path: Path, drift_result: DriftResult
) -> None:
    document = json.loads(result_json(drift_result))
    for key in ("findings", "contract"):
        del document[key]
    _write(tmp_path, json.dumps(document))

    with pytest.raises(SourceError, match="run `make drift` again"):
        read_result(tmp_path)


def test_a_nan_score_survives_the_round_trip(tmp_path: Path, drift_result: DriftResult) -> None:
    column = drift_result.columns[0]
    scores = dataclasses.replace(column.scores, p_value=math.nan)
    result = drift_result.model_copy(update={"columns": [column.model_copy(update={"scores": scores})]})
    _write(tmp_path, result_json(result))

    read = read_result(tmp_path)

    assert read.columns[0].scores.p_value is not None
    assert math.isnan(read.columns[0].scores.p_value)


def test_no_report_names_the_command_that_writes_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"drift\.json: no drift report; run `make drift` first") as raised:
        read_result(tmp_path / "drift")

    assert raised.value.exit_code == 4


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"status": "drift"}', '{"status": "perhaps"}', "[]"],
    ids=["corrupt", "partial", "foreign", "list"],
)
def test_a_drift_json_of_another_shape_is_a_source_error_naming_it(tmp_path: Path, text: str) -> None:
    _write(tmp_path, text)

    with pytest.raises(SourceError, match=r"drift\.json: not a drift report") as raised:
        read_result(tmp_path)

    assert str(DriftReportFiles(tmp_path).result) in str(raised.value)
