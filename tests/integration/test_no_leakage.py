"""No customer that judges a model reaches its training data. The pipeline, a simulated week of traffic
from the traffic pool and a week from the evaluation pool (A/B judging traffic) into the same log,
a fold-in of that log, and the pipeline again, all run for real, in process, on the project's own
params, schema and source: the evaluation pool is the same before and after, and no row of it is in
the training data, neither by id nor by identical feature values."""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlloop.cli import main
from mlloop.config import Params, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.monitoring.fold_in import FoldIn, fold_in
from mlloop.pipeline.pools import PRODUCTION_ID_PREFIX, row_keys
from tests.integration.repository import PROJECT
from tests.integration.simulated_check import reproduce, write_params

pytestmark = pytest.mark.integration

DAYS = 7
ROWS_PER_DAY = 400
JUDGING_SEED = 8
"""The evaluation pool's week is drawn with another seed than the traffic's, so no request id repeats."""


@dataclass(frozen=True)
class Retrained:
    """The pools before the week, and after the fold-in and the pipeline's re-run, and what fold-in did."""

    schema: FeatureSchema
    before: dict[str, pd.DataFrame]
    after: dict[str, pd.DataFrame]
    folded: FoldIn


def _pools(params: Params, directory: Path) -> dict[str, pd.DataFrame]:
    """The split's three outputs, by pool."""
    paths = {"train": params.paths.train, "traffic": params.paths.traffic, "evaluation": params.paths.test}
    return {name: pd.read_parquet(directory / path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def retrained(tmp_path_factory: pytest.TempPathFactory) -> Retrained:
    """The project reproduced, a week of traffic and a week of judging traffic folded in, and reproduced again."""
    directory = tmp_path_factory.mktemp("no-leakage")
    document = yaml.safe_load((PROJECT / "params.yaml").read_text())
    document["data"]["schema_file"] = str(PROJECT / document["data"]["schema_file"])
    source = PROJECT / document["data"]["source"]
    if source.is_file():
        document["data"]["source"] = str(source)
    # A quicker model: what the data holds is the point here, not what the model learns from it.
    document["train"] |= {"estimator": "logistic_regression", "hyperparameters": {}}
    params_file = write_params(document, directory / "params.yaml")
    reproduce(params_file)
    params = load_params(params_file)
    before = _pools(params, directory)
    log = str(directory / "log")
    week = ["--days", str(DAYS), "--rows-per-day", str(ROWS_PER_DAY), "--out", log]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        assert main(["--params", str(params_file), "simulate", *week]) == 0
        judging = ["simulate", "--pool", "evaluation", "--seed", str(JUDGING_SEED), *week]
        assert main(["--params", str(params_file), *judging]) == 0
        folded = fold_in(params, params_file, log, datetime.now(UTC).date())
    reproduce(params_file)
    return Retrained(load_schema(params.data.schema_file), before, _pools(load_params(params_file), directory), folded)


def test_fold_in_adds_the_traffic_weeks_rows_and_refuses_every_row_of_the_judging_week(retrained: Retrained) -> None:
    folded = retrained.folded
    assert folded.added_rows == DAYS * ROWS_PER_DAY, "every labelled row of the traffic week is folded in"
    assert folded.refused_by_id == DAYS * ROWS_PER_DAY, "every row of the judging week is refused by its client id"
    assert folded.refused_by_features == 0, "no traffic customer has an evaluation customer's features"
    train = retrained.after["train"][retrained.schema.id_column].astype(str)
    assert train.str.startswith(PRODUCTION_ID_PREFIX).sum() == DAYS * ROWS_PER_DAY, "the folded rows train"


def test_the_evaluation_pool_is_the_same_customers_with_the_same_rows_after_the_fold_in(retrained: Retrained) -> None:
    id_column = retrained.schema.id_column
    before, after = (
        pool["evaluation"].assign(**{id_column: pool["evaluation"][id_column].astype(str)}).set_index(id_column)
        for pool in (retrained.before, retrained.after)
    )

    pd.testing.assert_frame_equal(after.sort_index(), before.sort_index(), check_dtype=False)


def test_the_original_traffic_and_training_customers_stay_where_they_were(retrained: Retrained) -> None:
    id_column = retrained.schema.id_column
    for pool in ("train", "traffic"):
        before = set(retrained.before[pool][id_column].astype(str))
        after = set(retrained.after[pool][id_column].astype(str))
        assert before <= after, f"{len(before - after)} customers left the {pool} pool"
        assert not {name for name in after - before if not name.startswith(PRODUCTION_ID_PREFIX)}, pool


def test_no_evaluation_customer_reaches_the_training_data_by_id_or_by_feature_values(retrained: Retrained) -> None:
    schema, after = retrained.schema, retrained.after
    evaluation, train = after["evaluation"], after["train"]

    shared_ids = set(evaluation[schema.id_column].astype(str)) & set(train[schema.id_column].astype(str))
    assert not shared_ids, f"{len(shared_ids)} evaluation customers train, e.g. {sorted(shared_ids)[:3]}"
    shared_rows = set(row_keys(evaluation, schema)) & set(row_keys(train, schema))
    assert not shared_rows, f"{len(shared_rows)} evaluation feature rows train, e.g. {sorted(shared_rows)[:1]}"
