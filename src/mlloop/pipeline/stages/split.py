"""Stage `split`: the validated raw table → the train, traffic and evaluation (test) tables (pipeline.pools)."""

from mlloop.config import Params
from mlloop.core.schema import load_schema
from mlloop.errors import DataValidationError
from mlloop.pipeline import pools
from mlloop.storage.artifacts import read_table, write_table
from mlloop.storage.files import atomic_outputs, read_json, require


def run(params: Params) -> None:
    """Refuse data that did not pass validation, then write the three pools together."""
    report = read_json(require(params.paths.validation_report, "validate"))
    if report.get("status") != "passed":
        raise DataValidationError(f"{params.paths.validation_report}: the raw table did not pass validation")
    schema = load_schema(params.data.schema_file)
    split = pools.split_table(read_table(params.paths.raw, "ingest"), schema, params.split)
    paths = params.paths
    with atomic_outputs(paths.train, paths.traffic, paths.test) as (train_path, traffic_path, test_path):
        write_table(split.train, train_path)
        write_table(split.traffic, traffic_path)
        write_table(split.evaluation, test_path)
