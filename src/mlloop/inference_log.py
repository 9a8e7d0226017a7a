"""The inference log: one JSON line per prediction, in one file per UTC day, which the drift
check reads. A background thread does the writing, so a slow or failing disk never delays or
fails a prediction; lines that cannot be queued or written are counted instead.

Line format (one JSON object per line, UTF-8):
    timestamp         ISO 8601, UTC, when the prediction was made
    request_id        one id per HTTP request (a batch shares it)
    model_version     the model's tag in the BentoML store
    features          the request's features, by schema name (null where allowed)
    churn_probability the model's probability of the positive class
    churn             churn_probability >= the model's threshold
Files: <directory>/predictions-YYYY-MM-DD.jsonl
"""

import json
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

QUEUE_LINES = 100_000
"""Lines that may wait for the writer; beyond that a line is dropped and counted, never blocking."""


def log_file(directory: Path, moment: datetime) -> Path:
    """The day's file: rotation is by name, so nothing is ever renamed under a reader."""
    return directory / f"predictions-{moment:%Y-%m-%d}.jsonl"


class InferenceLog:
    """Queue prediction records and append them to the day's file on a writer thread."""

    def __init__(self, directory: Path, on_failure: Callable[[int], None]) -> None:
        self.directory = directory
        self._on_failure = on_failure
        self._lines: queue.Queue[tuple[datetime, str] | None] = queue.Queue(maxsize=QUEUE_LINES)
        self._writer = threading.Thread(target=self._write_forever, name="inference-log", daemon=True)
        self._writer.start()

    def record(
        self, request_id: str, model_version: str, rows: Iterable[tuple[Mapping[str, Any], float, bool]]
    ) -> None:
        """Queue one line per (features, churn_probability, churn); never raises, never waits."""
        moment = datetime.now(UTC)
        for features, probability, churn in rows:
            line = json.dumps(
                {
                    "timestamp": moment.isoformat(),
                    "request_id": request_id,
                    "model_version": model_version,
                    "features": dict(features),
                    "churn_probability": probability,
                    "churn": churn,
                }
            )
            try:
                self._lines.put_nowait((moment, line))
            except queue.Full:
                self._on_failure(1)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        self._lines.put(None)
        self._writer.join()

    def _write_forever(self) -> None:
        """Drain the queue in batches, one open/append per file per batch, until close()."""
        stopping = False
        while not stopping:
            batch: list[tuple[datetime, str]] = []
            item = self._lines.get()
            while True:
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                try:
                    item = self._lines.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._append(batch)

    def _append(self, batch: list[tuple[datetime, str]]) -> None:
        by_file: dict[Path, list[str]] = {}
        for moment, line in batch:
            by_file.setdefault(log_file(self.directory, moment), []).append(line)
        for path, lines in by_file.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as stream:
                    stream.write("\n".join(lines) + "\n")
            except OSError:
                self._on_failure(len(lines))
