"""Fold labelled production traffic into the training source, as a new version of the data.

The rows of the inference log's latest window whose delayed labels have arrived (joined one label
to one row, as the drift report's realised metrics join them: monitoring.outcomes) join the
current source table in a new file, `training-<day>.parquet` in params `data.sources_dir`, written
in the source's own column names, and `data.source` in params.yaml points at it. The retraining
pull request then carries the new file's DVC pointer and the params change, so the pipeline re-runs from
ingest, and validation still guards it: a label the schema does not know stops the pipeline.
"""

import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from mlloop.config import Params
from mlloop.core.schema import load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring.log_window import read_window
from mlloop.monitoring.outcomes import LABEL, join_outcomes, read_labels
from mlloop.pipeline import data
from mlloop.storage.files import atomic_outputs


def labelled_production_rows(params: Params, current: str | None, day: date) -> pd.DataFrame:
    """The rows of the window ending on `day` with their labels, as schema-named table rows with an id of
    their own: the row's prediction_id, so a window folded in twice adds each row once.
    """
    schema = load_schema(params.data.schema_file)
    source = current or params.serve.inference_log_dir.as_posix()
    window = read_window(source, schema, params.drift, day)
    labelled = join_outcomes(window.rows, read_labels(source, since=window.first_day)).rows
    if labelled.empty:
        raise SourceError(f"{source}: no labelled production rows in the window: nothing to fold in")
    table = labelled[schema.feature_names].copy()
    table[schema.id_column] = "production-" + labelled["prediction_id"].astype(str)
    table[schema.target.name] = np.where(labelled[LABEL], schema.target.positive, schema.target.negative)
    return table


def params_round_trip() -> YAML:
    """A round-trip YAML that writes params.yaml as it is laid out: comments, quotes, order and long lines kept."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = sys.maxsize  # never re-wrap a long line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def point_params_at(params_file: Path, source: str) -> None:
    """Set data.source in params.yaml, keeping every comment and every other line as it is."""
    yaml = params_round_trip()
    document = yaml.load(params_file.read_text())
    section = document.get("data") if isinstance(document, CommentedMap) else None
    if not isinstance(section, CommentedMap) or "source" not in section:
        raise ConfigError(f"{params_file}: found no `source:` key in the data section to update")
    section["source"] = source
    with atomic_outputs(params_file) as (temporary,):
        yaml.dump(document, temporary)


def fold_in(params: Params, params_file: Path, current: str | None, day: date) -> Path:
    """Write the new source version and point params at it; return its path."""
    production = labelled_production_rows(params, current, day)
    base = data.ingest(params.data.source, params.data.rename)
    schema = load_schema(params.data.schema_file)
    combined = pd.concat([base, production.reindex(columns=base.columns)], ignore_index=True)
    combined[schema.id_column] = combined[schema.id_column].astype(str)  # source ids and production ids together
    combined = combined.drop_duplicates(subset=schema.id_column, keep="first")  # a window folded in twice
    original_names = {renamed: original for original, renamed in params.data.rename.items()}
    path = params.data.sources_dir / f"training-{day.isoformat()}.parquet"
    with atomic_outputs(path) as (temporary,):
        combined.rename(columns=original_names).to_parquet(temporary, index=False)
    point_params_at(params_file, path.as_posix())
    return path
