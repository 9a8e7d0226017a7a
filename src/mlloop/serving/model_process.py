"""The model in a process of its own, beside the service's.

In the service's process, the model's trees each took the GIL back between them, while the event
loop held it to validate and answer requests: each waited for the other, and the batch endpoint
ran at a third of in-process speed (bench/README.md). In a child process the model and the event
loop run on separate cores. Rows cross as tuples of feature values, which pickle several times
faster than dicts.

A bento serving a champion and a challenger holds both in the one child: a call scores each
model's rows in turn, so a challenger costs one more predict_proba per call, not per request.
"""

import math
import threading
import time
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
from mlloop.serving.inference_log import Variant
from mlloop.serving.row_predictor import RowPredictor

_predictors: dict[Variant, RowPredictor] = {}
"""The child process's models, loaded once when the process starts."""

BUSY_WINDOW_SECONDS = 1.0
"""The time constant of ModelProcess.busy_share: long enough to span many calls, short enough to follow a burst."""

CHAMPION_ONLY: Mapping[Variant, Sequence[int] | None] = {"champion": None}
"""The champion scores every row: a bento holding one model."""


def _load(model_paths: dict[Variant, str], schema_json: str, threads: int) -> None:
    threadpool_limits(threads)
    schema = FeatureSchema.model_validate_json(schema_json)
    _predictors.update({variant: RowPredictor(joblib.load(path), schema) for variant, path in model_paths.items()})


def _probabilities(rows_of: dict[Variant, list[tuple[Any, ...]]]) -> dict[Variant, list[float]]:
    assert _predictors, "the model process was started without its initializer"
    return {
        variant: _predictors[variant].probabilities(rows).tolist() if rows else [] for variant, rows in rows_of.items()
    }


def _loaded() -> bool:
    return bool(_predictors)


def _values_in_order(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values as a tuple in `names` order (itemgetter gives a bare value for one name)."""
    getter = itemgetter(*names)
    return getter if len(names) > 1 else lambda row: (getter(row),)


class ModelProcess:
    """predict_proba of fitted Pipelines (see RowPredictor), one per variant, computed in a child
    process with `threads` OpenMP threads.

    A child that dies (killed, out of memory) fails the call in flight with BrokenProcessPool and is
    replaced, so the next call succeeds.
    """

    def __init__(self, model_paths: Mapping[Variant, Path], schema: FeatureSchema, threads: int) -> None:
        paths = {variant: str(path) for variant, path in model_paths.items()}
        self._arguments = (paths, schema.model_dump_json(), threads)
        self._values = _values_in_order(schema.feature_names)
        self._pool = self._start()
        self._calls = 0
        self._calls_lock = threading.Lock()
        self._busy_share = 0.0
        self._accounted = time.monotonic()

    def _account(self) -> None:
        """Bring the busy share up to now: an average of whether a call was in the child, weighted by how recent."""
        now = time.monotonic()
        kept = math.exp(-(now - self._accounted) / BUSY_WINDOW_SECONDS)
        self._busy_share = self._busy_share * kept + (1 - kept) * (self._calls > 0)
        self._accounted = now

    def busy_share(self) -> float:
        """The share of about the last second the child had a call to run: near 1 when it is the bottleneck."""
        with self._calls_lock:
            self._account()
            return self._busy_share

    def _start(self) -> ProcessPoolExecutor:
        """A child with the model loaded: waits for it, so that the service is ready only when the model is."""
        # forkserver: the child starts from a fresh single-threaded process, not a fork of the
        # service's threads and event loop.
        pool = ProcessPoolExecutor(
            max_workers=1, mp_context=get_context("forkserver"), initializer=_load, initargs=self._arguments
        )
        pool.submit(_loaded).result()
        return pool

    def probabilities(
        self, rows: Sequence[Mapping[str, Any]], scored: Mapping[Variant, Sequence[int] | None] = CHAMPION_ONLY
    ) -> dict[Variant, list[float]]:
        """Each variant's probability of the positive class for the rows it scores, in order.

        `rows` map feature names to values; `scored` gives each variant the positions of its rows,
        or None for every row (a list the variants share is sent to the child once).
        """
        values = list(map(self._values, rows))
        rows_of = {
            variant: values if positions is None else [values[position] for position in positions]
            for variant, positions in scored.items()
        }
        with self._calls_lock:
            self._account()
            self._calls += 1
        try:
            return self._pool.submit(_probabilities, rows_of).result()
        except BrokenProcessPool:
            self._pool = self._start()
            raise
        finally:
            with self._calls_lock:
                self._account()
                self._calls -= 1

    def close(self) -> None:
        """Stop the child process; calls waiting for it fail."""
        self._pool.shutdown(wait=True, cancel_futures=True)
