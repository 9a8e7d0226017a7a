"""Inference-log days at production scale, written straight to files for bench/drift.py.

The simulator renders a pool of each day's lines (`mlloop simulate`'s own writer, the model's real
probabilities, the scenario's shifts, its torn lines and its delayed labels); the day is then that
pool resampled to any number of lines, each with a request id of its own, spread over `pods` files
(`<out>/pod-<n>/predictions-<day>.jsonl`, one per pod as the service's shippers write them) and a
label per row in `<out>/labels/labels-<day>.jsonl`. Ten million lines take seconds of Python
instead of the hours the simulator would, and every line is still one the service writes.
"""

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from pydantic_core import from_json

from mlloop.config import Params
from mlloop.core.schema import FeatureSchema
from mlloop.monitoring.label_files import labels_file
from mlloop.monitoring.simulator import LoggedModel, day_traffic, log_writer
from mlloop.serving.inference_log import log_file

ID_CHARS = 32
"""A simulated request id: 32 hexadecimal characters."""
WRITE_LINES = 200_000
"""Lines rendered and written at a time: the generator's own memory stays small."""


@dataclass(frozen=True)
class PoolLine:
    """One line of the pool: cut around its request id (twice: request_id and prediction_id), or kept whole
    (a torn line), with the outcome its label gives."""

    parts: tuple[bytes, bytes, bytes]
    outcome: bool | None
    """None for a torn line, which has no label."""


def _cut(line: bytes) -> tuple[bytes, bytes, bytes]:
    request_id = from_json(line)["request_id"].encode()
    first = line.index(request_id)
    second = line.index(request_id, first + ID_CHARS)
    return line[:first], line[first + ID_CHARS : second], line[second + ID_CHARS :]


def day_pools(
    params: Params,
    schema: FeatureSchema,
    test: object,
    model: LoggedModel,
    scenario: str,
    seed: int,
    days: int,
    pool_rows: int,
    start: date,
) -> list[list[PoolLine]]:
    """Each day's pool: `pool_rows` rows simulated under the scenario (no lines on a silent day)."""
    settings = params.simulate.model_copy(
        update={"scenario": scenario, "days": days, "rows_per_day": pool_rows, "seed": seed}
    )
    rng = np.random.default_rng(seed)
    pools: list[list[PoolLine]] = []
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory)
        write_day = log_writer(model, schema, out)
        for day_index in range(days):
            traffic = day_traffic(test, schema, settings, day_index, start, rng)  # type: ignore[arg-type]
            write_day(traffic)
            path = log_file(out, traffic.day)
            if not path.exists():
                pools.append([])
                continue
            outcomes = iter(
                from_json(line)["churn"] for line in labels_file(out, traffic.day).read_bytes().splitlines()
            )
            pool = []
            for line in path.read_bytes().splitlines():
                try:
                    pool.append(PoolLine(_cut(line), next(outcomes)))
                except ValueError:
                    pool.append(PoolLine((line, b"", b""), None))
            pools.append(pool)
    return pools


def _day_ids(day: date, first: int, count: int) -> Iterator[bytes]:
    """Unique request ids: the day, then a counter, as 32 hexadecimal characters."""
    prefix = f"{day:%Y%m%d}"
    for number in range(first, first + count):
        yield f"{prefix}{number:0{ID_CHARS - len(prefix)}x}".encode()


def write_day(out: Path, day: date, pool: list[PoolLine], lines: int, pods: int, seed: int) -> list[Path]:
    """`lines` lines resampled from the day's pool into `pods` files, and their labels; returns the log files."""
    if not pool:
        return []
    rng = np.random.default_rng(seed)
    labels_path = labels_file(out, day)
    labels_path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    per_pod = np.array_split(np.arange(lines), pods)
    with labels_path.open("ab") as labels:
        for pod, rows in enumerate(per_pod):
            path = log_file(out / f"pod-{pod}", day)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as log:
                for first in range(0, len(rows), WRITE_LINES):
                    count = min(WRITE_LINES, len(rows) - first)
                    chosen = rng.integers(0, len(pool), size=count)
                    log_text: list[bytes] = []
                    label_text: list[bytes] = []
                    for request_id, index in zip(
                        _day_ids(day, int(rows[0]) + first, count), chosen.tolist(), strict=True
                    ):
                        entry = pool[index]
                        head, middle, tail = entry.parts
                        if entry.outcome is None:
                            log_text += (head, b"\n")
                            continue
                        log_text += (head, request_id, middle, request_id, tail, b"\n")
                        label_text += (
                            b'{"prediction_id":"',
                            request_id,
                            b'-0","churn":',
                            b"true}\n" if entry.outcome else b"false}\n",
                        )
                    log.write(b"".join(log_text))
                    labels.write(b"".join(label_text))
            written.append(path)
    return written
