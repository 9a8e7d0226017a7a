"""Atomic outputs: targets change only when the whole block succeeds, and never half-written."""

import hashlib
import json
from pathlib import Path

import pytest

from mlloop.storage.files import atomic_outputs, json_text, read_json, sha256_of, write_json


class StageFailedError(Exception):
    """Stands for anything going wrong in the middle of a stage."""


def _names(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()}


def test_outputs_appear_only_when_the_block_succeeds(tmp_path: Path) -> None:
    first, second = tmp_path / "out" / "a.txt", tmp_path / "out" / "b.txt"

    with atomic_outputs(first, second) as (first_temporary, second_temporary):
        first_temporary.write_text("A")
        second_temporary.write_text("B")
        # then, while the stage is still running: nothing at the targets yet
        assert not first.exists(), "a target must not appear before the block ends"
        assert not second.exists(), "a target must not appear before the block ends"

    assert first.read_text() == "A"
    assert second.read_text() == "B"
    assert _names(tmp_path / "out") == {"a.txt", "b.txt"}, "no temporary file may remain"


def test_successful_block_replaces_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old")

    with atomic_outputs(target) as (temporary,):
        temporary.write_text("new")

    assert target.read_text() == "new"
    assert _names(tmp_path) == {"metrics.json"}


def test_failed_block_leaves_no_target_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.joblib"

    with pytest.raises(StageFailedError), atomic_outputs(target) as (temporary,):
        temporary.write_text("half a model")
        raise StageFailedError

    assert not target.exists()
    assert _names(tmp_path) == set(), "the temporary file must be cleaned up"


def test_failed_block_keeps_the_old_target_content(tmp_path: Path) -> None:
    # given: the output of an earlier successful run
    target = tmp_path / "model.joblib"
    target.write_text("previous model")

    # when: the new run fails halfway through writing
    with pytest.raises(StageFailedError), atomic_outputs(target) as (temporary,):
        temporary.write_text("half a model")
        raise StageFailedError

    # then
    assert target.read_text() == "previous model"
    assert _names(tmp_path) == {"model.joblib"}


def test_failure_after_some_outputs_were_written_moves_none_of_them(tmp_path: Path) -> None:
    model, metadata = tmp_path / "model.joblib", tmp_path / "model.json"

    with pytest.raises(StageFailedError), atomic_outputs(model, metadata) as (model_temporary, _):
        model_temporary.write_text("model")
        raise StageFailedError

    assert _names(tmp_path) == set(), "one output without the other is a broken state"


def test_directory_output_replaces_the_existing_directory(tmp_path: Path) -> None:
    # given: an old directory holding a file the new run does not write
    target = tmp_path / "plots"
    target.mkdir()
    (target / "stale.png").write_text("old")

    # when
    with atomic_outputs(target) as (temporary,):
        temporary.mkdir()
        (temporary / "roc.png").write_text("new")

    # then
    assert _names(target) == {"roc.png"}, "stale files from an earlier run must not survive"
    assert _names(tmp_path) == {"plots"}


def test_failed_block_keeps_the_old_directory(tmp_path: Path) -> None:
    target = tmp_path / "plots"
    target.mkdir()
    (target / "roc.png").write_text("old")

    with pytest.raises(StageFailedError), atomic_outputs(target) as (temporary,):
        temporary.mkdir()
        (temporary / "roc.png").write_text("new")
        raise StageFailedError

    assert (target / "roc.png").read_text() == "old"
    assert _names(tmp_path) == {"plots"}, "the temporary directory must be cleaned up"


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "deep" / "validation.json"

    with atomic_outputs(target) as (temporary,):
        temporary.write_text("{}")

    assert target.read_text() == "{}"


def test_json_text_is_stable_sorted_and_ends_with_a_newline() -> None:
    # given: the same document built in two key orders
    one = {"b": 1, "a": {"d": [1, 2], "c": None}}
    other = {"a": {"c": None, "d": [1, 2]}, "b": 1}

    # when
    text = json_text(one)

    # then
    assert text == json_text(other), "equal content must give equal bytes"
    assert text.endswith("}\n")
    assert not text.endswith("\n\n")
    assert text.index('"a"') < text.index('"b"'), "keys sorted"
    assert text.index('"c"') < text.index('"d"'), "keys sorted"
    assert json.loads(text) == one


def test_write_json_then_read_json_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "report.json"

    write_json(path, {"status": "passed", "rows": 3})

    assert read_json(path) == {"status": "passed", "rows": 3}
    assert path.read_text() == json_text({"status": "passed", "rows": 3})


def test_sha256_of_is_the_content_hash(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    content = b"rows" * 1000
    path.write_bytes(content)

    assert sha256_of(path) == hashlib.sha256(content).hexdigest()
