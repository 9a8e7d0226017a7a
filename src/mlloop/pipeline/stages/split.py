"""Stage `split`: the validated raw table → stratified, seeded train and test tables."""

from mlloop.config import Params
from mlloop.core.schema import load_schema
from mlloop.errors import DataValidationError
from mlloop.pipeline import data
from mlloop.storage.artifacts import read_table, write_table
from mlloop.storage.files import atomic_outputs, read_json, require


def run(params: Params) -> None:
    """Refuse data that did not pass validation, then write both splits together."""
    report = read_json(require(params.paths.validation_report, "validate"))
    if report.get("status") != "passed":
        raise DataValidationError(f"{params.paths.validation_report}: the raw table did not pass validation")
    schema = load_schema(params.data.schema_file)
    table = read_table(params.paths.raw, "ingest")
    train, test = data.split_table(table, schema, params.split.test_size, params.split.seed)
    with atomic_outputs(params.paths.train, params.paths.test) as (train_path, test_path):
        write_table(train, train_path)
        write_table(test, test_path)
