"""The command line: one subcommand per DVC stage; user errors become one line and a documented exit code."""

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from mlloop.cli import main
from mlloop.config import Params
from mlloop.errors import MlloopError, exit_codes
from mlloop.monitoring.drift_result import DriftReportFiles, DriftResult, result_json

DVC_FILE = Path(__file__).parents[2] / "dvc.yaml"
PARAMS_FILE = DVC_FILE.with_name("params.yaml")


def _write_params_file(params: Params, directory: Path, **sections: dict[str, Any]) -> Path:
    """Write `params` as YAML, with whole sections replaced or added by `sections`."""
    document = params.model_dump(mode="json") | sections
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _dvc_stages() -> dict[str, Any]:
    document = yaml.safe_load(DVC_FILE.read_text())
    assert isinstance(document, dict)
    stages = document["stages"]
    assert isinstance(stages, dict)
    return stages


def test_help_exits_0_and_lists_every_stage_of_dvc_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    for name, stage in _dvc_stages().items():
        assert stage["cmd"] == f"mlloop {name}", "dvc.yaml must call the CLI subcommand of the same name"
        assert name in help_text, f"subcommand {name!r} missing from --help"


def test_help_lists_every_exit_code_the_error_hierarchy_declares(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])

    help_text = " ".join(capsys.readouterr().out.split())
    for code, meaning in exit_codes().items():
        assert f"{code} {meaning}" in help_text, f"exit code {code} missing from --help"


def test_every_error_class_declares_its_own_exit_code() -> None:
    codes = [error.exit_code for error in MlloopError.__subclasses__()]

    assert len(set(codes)) == len(codes), f"two error classes share an exit code: {codes}"
    assert set(exit_codes()) == {0, 1, *codes}


def test_successful_stage_exits_0(
    params: Params, valid_table: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params.paths.raw.parent.mkdir(parents=True)
    valid_table.to_parquet(params.paths.raw, index=False)

    code = main(["--params", str(_write_params_file(params, tmp_path)), "validate"])

    assert code == 0
    assert capsys.readouterr().err == ""
    assert params.paths.validation_report.exists()


def test_bad_params_file_exits_2_with_one_line_and_no_traceback(
    params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a typo in params.yaml
    train = params.train.model_dump(mode="json") | {"treshold": 0.4}
    params_file = _write_params_file(params, tmp_path, train=train)

    # when
    code = main(["--params", str(params_file), "train"])

    # then
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, f"expected exactly one line, got: {err!r}"
    assert err.startswith("mlloop train: error: "), err
    assert "train.treshold" in err, err
    assert "Traceback" not in err


def test_bad_rename_exits_2(
    params: Params, valid_table: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a CSV source that has no 'rownames' column to rename
    source = tmp_path / "export.csv"
    valid_table.to_csv(source, index=False)
    data = params.data.model_dump(mode="json") | {"source": str(source)}

    code = main(["--params", str(_write_params_file(params, tmp_path, data=data)), "ingest"])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("mlloop ingest: error: data.rename: "), err
    assert err.count("\n") == 1, err


def test_validation_failure_exits_3(
    params: Params, valid_table: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = valid_table.copy()
    broken.loc[0, "contract"] = "Three year"
    params.paths.raw.parent.mkdir(parents=True)
    broken.to_parquet(params.paths.raw, index=False)

    code = main(["--params", str(_write_params_file(params, tmp_path)), "validate"])

    assert code == 3
    err = capsys.readouterr().err
    assert err.startswith("mlloop validate: error: "), err
    assert "'contract'" in err, err
    assert "Traceback" not in err, err


def test_missing_input_exits_4_naming_the_stage_to_run(
    params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--params", str(_write_params_file(params, tmp_path)), "train"])

    assert code == 4
    err = capsys.readouterr().err
    assert err.startswith("mlloop train: error: "), err
    assert str(params.paths.train) in err, err
    assert "'split' stage" in err, err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err, err


def test_missing_params_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--params", str(tmp_path / "absent.yaml"), "ingest"])

    assert code == 2
    assert "absent.yaml: file not found" in capsys.readouterr().err


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["deploy"])

    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_publishing_the_drift_report_to_an_empty_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # An unset DRIFT_REPORT_URL must not publish to `/<day>/` on the local disk
    with pytest.raises(SystemExit) as exited:
        main(["publish-drift", "--to", ""])

    assert exited.value.code == 2
    assert "--to: must be a URL" in capsys.readouterr().err


@pytest.mark.parametrize("days", ["0", "-1"])
def test_a_drift_window_of_no_days_is_a_usage_error(days: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The override bypasses params validation, and a window of 0 days would read the whole log
    with pytest.raises(SystemExit) as exited:
        main(["drift", "--window-days", days])

    assert exited.value.code == 2
    assert f"--window-days: must be at least 1, got {days}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report", "reports/pr/report.md"),
        ("drift-report", "reports/drift/drift.md"),
        ("drift-result", "reports/drift/drift.json"),
        ("drift-history", "reports/drift/history.md"),
        ("ab-report", "reports/ab/ab.md"),
        ("ab-result", "reports/ab/ab.json"),
        ("inference-log", "data/production"),
        ("sources", "data/sources"),
        ("model-card", "models/MODEL_CARD.md"),
    ],
)
def test_path_prints_where_params_yaml_places_each_output(
    name: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--params", str(PARAMS_FILE), "path", name])

    assert code == 0
    assert capsys.readouterr().out == f"{expected}\n"


def test_path_follows_a_moved_directory(params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drift = params.drift.model_dump(mode="json") | {"directory": "elsewhere/drift"}

    main(["--params", str(_write_params_file(params, tmp_path, drift=drift)), "path", "drift-result"])

    assert capsys.readouterr().out == "elsewhere/drift/drift.json\n"


def _written_check(params: Params, drift_result: DriftResult) -> DriftReportFiles:
    """The last check's drift.json, where params.yaml puts the drift report."""
    report = DriftReportFiles(params.drift.directory)
    report.directory.mkdir(parents=True)
    report.result.write_text(result_json(drift_result))
    return report


def test_drift_status_prints_the_last_checks_verdict(
    params: Params, drift_result: DriftResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _written_check(params, drift_result)

    code = main(["--params", str(_write_params_file(params, tmp_path)), "drift-status"])

    assert code == 0
    assert capsys.readouterr().out == f"{drift_result.status}\n"


def test_drift_history_without_a_url_is_this_checks_status_alone(
    params: Params, drift_result: DriftResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _written_check(params, drift_result)

    code = main(["--params", str(_write_params_file(params, tmp_path)), "drift-history"])

    assert code == 0
    assert capsys.readouterr().out == f"2026-11-24: drift added to {report.history} (1 days in all)\n"
    assert report.history.read_text().count("\n") == 1
    assert "| 2026-11-24 | drift |" in report.history_markdown.read_text()


def test_drift_history_from_an_empty_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["drift-history", "--from", ""])

    assert exited.value.code == 2
    assert "--from: must be a URL" in capsys.readouterr().err


def test_drift_status_without_a_check_exits_4_saying_what_to_run(
    params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--params", str(_write_params_file(params, tmp_path)), "drift-status"])

    assert code == 4
    assert "run `make drift` first" in capsys.readouterr().err
