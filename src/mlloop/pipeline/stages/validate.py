"""Stage `validate`: the raw table against the feature schema → reports/validation.json."""

from mlloop.config import Params
from mlloop.core.schema import load_schema
from mlloop.errors import DataValidationError
from mlloop.pipeline import data
from mlloop.storage.artifacts import read_table
from mlloop.storage.files import write_json


def run(params: Params) -> None:
    """Write the report either way; raise DataValidationError (exit 3) on any broken rule."""
    schema = load_schema(params.data.schema_file)
    table = read_table(params.paths.raw, "ingest")
    report = data.validate_table(table, schema)
    write_json(params.paths.validation_report, report.to_json())
    if not report.passed:
        messages = "\n".join(failure.message() for failure in report.failures)
        raise DataValidationError(f"{params.paths.raw} broke the schema in {params.data.schema_file}:\n{messages}")
