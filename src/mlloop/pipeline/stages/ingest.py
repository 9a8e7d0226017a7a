"""Stage `ingest`: the source named in params → the raw table, with the schema's column names."""

from mlloop.config import Params
from mlloop.pipeline import data
from mlloop.storage.artifacts import write_table
from mlloop.storage.files import atomic_outputs


def run(params: Params) -> None:
    """Read the source and write the raw table."""
    table = data.ingest(params.data.source, params.data.rename)
    with atomic_outputs(params.paths.raw) as (raw,):
        write_table(table, raw)
