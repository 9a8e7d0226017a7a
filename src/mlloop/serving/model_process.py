"""The model in a process of its own, beside the service's.

In the service's process, the model's trees each took the GIL back between them, while the event
loop held it to validate and answer requests: each waited for the other, and the batch endpoint
ran at a third of in-process speed (bench/README.md). In a child process the model and the event
loop run on separate cores. Rows cross as tuples of feature values, which pickle several times
faster than dicts.
"""

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from operator import itemgetter
from pathlib import Path
from typing import Any

import joblib
from threadpoolctl import threadpool_limits

from mlloop.core.schema import FeatureSchema
from mlloop.serving.row_predictor import RowPredictor

_predictor: RowPredictor | None = None
"""The child process's model, loaded once when the process starts."""


def _load(model_path: str, schema_json: str, threads: int) -> None:
    global _predictor
    threadpool_limits(threads)
    _predictor = RowPredictor(joblib.load(model_path), FeatureSchema.model_validate_json(schema_json))


def _probabilities(rows: list[tuple[Any, ...]]) -> list[float]:
    assert _predictor is not None, "the model process was started without its initializer"
    probabilities: list[float] = _predictor.probabilities(rows).tolist()
    return probabilities


def _loaded() -> bool:
    return _predictor is not None


def _values_in_order(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values as a tuple in `names` order (itemgetter gives a bare value for one name)."""
    getter = itemgetter(*names)
    return getter if len(names) > 1 else lambda row: (getter(row),)


class ModelProcess:
    """predict_proba of a fitted Pipeline (see RowPredictor), computed in a child process with
    `threads` OpenMP threads.

    A child that dies (killed, out of memory) fails the call in flight with BrokenProcessPool and is
    replaced, so the next call succeeds.
    """

    def __init__(self, model_path: Path, schema: FeatureSchema, threads: int) -> None:
        self._arguments = (str(model_path), schema.model_dump_json(), threads)
        self._values = _values_in_order(schema.feature_names)
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        """A child with the model loaded: waits for it, so that the service is ready only when the model is."""
        # forkserver: the child starts from a fresh single-threaded process, not a fork of the
        # service's threads and event loop.
        pool = ProcessPoolExecutor(
            max_workers=1, mp_context=get_context("forkserver"), initializer=_load, initargs=self._arguments
        )
        pool.submit(_loaded).result()
        return pool

    def probabilities(self, rows: Sequence[Mapping[str, Any]]) -> list[float]:
        """The positive class's probability for each row (a mapping of feature name to value), in order."""
        try:
            return self._pool.submit(_probabilities, list(map(self._values, rows))).result()
        except BrokenProcessPool:
            self._pool = self._start()
            raise

    def close(self) -> None:
        """Stop the child process; calls waiting for it fail."""
        self._pool.shutdown(wait=True, cancel_futures=True)
