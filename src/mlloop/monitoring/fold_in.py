"""Fold labelled production traffic into the training source, as a new version of the data.

The rows of the inference log's latest window whose delayed labels have arrived (joined one label
to one row, as the drift report's realised metrics join them: monitoring.outcomes) join the
current source table in a new file, `training-<day>.parquet` in params `data.sources_dir`, written
in the source's own column names, and `data.source` in params.yaml points at it. The retraining
pull request then carries the new file's DVC pointer and the params change, so the pipeline re-runs from
ingest, and validation still guards it: a label the schema does not know stops the pipeline.

A row about a customer of the evaluation pool (pipeline.pools: the customers that judge a model) is
never folded in: neither one whose client id is an evaluation customer's id in the source, nor one
whose feature values are an evaluation row's. A model trained on a copy of the customers it is
judged on looks better than it is. `mlloop simulate` draws from the traffic pool unless told
otherwise, so these rows come only from traffic sent on purpose to judge a model (A/B), or from a
client that sends evaluation customers; either way they are counted and reported, not folded in.
The rows folded in get ids of their own (pipeline.pools.PRODUCTION_ID_PREFIX), which the split
always puts in train.
"""

import sys
from dataclasses import dataclass
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
from mlloop.pipeline import data, pools
from mlloop.storage.files import atomic_outputs


@dataclass(frozen=True)
class ProductionRows:
    """The labelled rows of the window that may be folded in, and those refused as evaluation customers."""

    table: pd.DataFrame
    """Schema-named table rows, each with an id of its own: its prediction_id, so a window folded in twice adds
    each row once."""
    refused_by_id: int
    """Labelled rows whose client id is the id of an evaluation customer of the source."""
    refused_by_features: int
    """Other labelled rows whose feature values are those of an evaluation row of the source."""


def labelled_production_rows(params: Params, current: str | None, day: date, base: pd.DataFrame) -> ProductionRows:
    """The rows of the window ending on `day` with their labels, as table rows, but for those about an evaluation
    customer of `base`, the current source (schema-named).
    """
    schema = load_schema(params.data.schema_file)
    source = current or params.serve.inference_log_dir.as_posix()
    window = read_window(source, schema, params.drift, day)
    labelled = join_outcomes(window.rows, read_labels(source, since=window.first_day)).rows
    if labelled.empty:
        raise SourceError(f"{source}: no labelled production rows in the window: nothing to fold in")
    evaluation = pools.evaluation_rows(base, schema, params.split)
    by_id = labelled["client_id"].isin(set(evaluation[schema.id_column].astype(str))).to_numpy()
    by_features = pools.row_keys(labelled, schema).isin(set(pools.row_keys(evaluation, schema))).to_numpy() & ~by_id
    kept = labelled[~(by_id | by_features)]
    if kept.empty:
        raise SourceError(
            f"{source}: every labelled production row of the window is about an evaluation customer "
            f"({int(by_id.sum())} by client id, {int(by_features.sum())} by feature values), which judge a model "
            "and are never trained on: nothing to fold in (simulated traffic to train on comes from --pool traffic)"
        )
    table = kept[schema.feature_names].copy()
    table[schema.id_column] = pools.PRODUCTION_ID_PREFIX + kept["prediction_id"].astype(str)
    table[schema.target.name] = np.where(kept[LABEL], schema.target.positive, schema.target.negative)
    return ProductionRows(table, refused_by_id=int(by_id.sum()), refused_by_features=int(by_features.sum()))


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


@dataclass(frozen=True)
class FoldIn:
    """What a fold-in wrote, and what it added and refused."""

    path: Path
    added_rows: int
    """Labelled rows new to the source (a row folded in before is not added again)."""
    refused_by_id: int
    refused_by_features: int

    def lines(self) -> list[str]:
        """The counts, as the command line reports them (on stderr: stdout is the path, for `dvc add`)."""
        return [
            f"folded {self.added_rows} labelled production rows into {self.path}",
            f"refused {self.refused_by_id + self.refused_by_features} rows about evaluation customers "
            f"({self.refused_by_id} by client id, {self.refused_by_features} by feature values)",
        ]


def fold_in(params: Params, params_file: Path, current: str | None, day: date) -> FoldIn:
    """Write the new source version and point params at it."""
    base = data.ingest(params.data.source, params.data.rename)
    production = labelled_production_rows(params, current, day, base)
    schema = load_schema(params.data.schema_file)
    combined = pd.concat([base, production.table.reindex(columns=base.columns)], ignore_index=True)
    combined[schema.id_column] = combined[schema.id_column].astype(str)  # source ids and production ids together
    combined = combined.drop_duplicates(subset=schema.id_column, keep="first")  # a window folded in twice
    original_names = {renamed: original for original, renamed in params.data.rename.items()}
    path = params.data.sources_dir / f"training-{day.isoformat()}.parquet"
    with atomic_outputs(path) as (temporary,):
        combined.rename(columns=original_names).to_parquet(temporary, index=False)
    point_params_at(params_file, path.as_posix())
    return FoldIn(path, len(combined) - len(base), production.refused_by_id, production.refused_by_features)
