"""The inference log: one JSON line per prediction, in one file per UTC day, which the drift
check reads. A background thread does the writing, so a slow or failing disk never delays or
fails a prediction; lines that cannot be queued or written are counted instead.

Line format (one JSON object per line, UTF-8):
    timestamp         ISO 8601, UTC, when the prediction was made
    request_id        one id per HTTP request (a batch shares it)
    prediction_id     one id per row, `<request_id>-<position>` (the row's 0-based position in
                      its request); the service's answer returns it for that row
    client_id         the id the request gave the customer (the schema's id_column), or null
    model_version     the model that answered, by its registry version tag (`churn@vX.Y.Z`), or by its tag
                      in the BentoML store when it has no version (serving.bento_model.logged_name;
                      `mlloop simulate` names a model no version holds `simulated:<sha256 prefix>`)
    variant           "champion" or "challenger": which of a bento's models answered (params `ab`);
                      lines written before the log carried it were the champion's
    features          the request's features, by schema name (null where allowed)
    churn_probability the model's probability of the positive class
    churn             churn_probability >= the model's threshold
    challenger_version, challenger_probability
                      in shadow mode, the challenger's name (as model_version names a model) and
                      probability for the row, logged and never returned; null otherwise
Files: one per UTC day in `<directory>`, named by log_file; and CLOSED_FILE once the service has
stopped writing.
"""

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic_core import to_json

from mlloop.storage.day_files import DayFileName

LOG_FILE_NAME = "predictions-{day}.jsonl"
"""A day file's name, declared once: log_file builds it, day_of_log_file parses it, LOG_FILE_GLOB matches it."""

_LOG_FILES = DayFileName(LOG_FILE_NAME)
LOG_FILE_GLOB = _LOG_FILES.glob
CLOSED_FILE = "closed"
"""Created in the log's directory by InferenceLog.close, removed when a log opens: the cue for the pod's log
shipper that no more lines will come, so its last upload holds everything (bento/k8s/base/deployment.yaml)."""


Variant = Literal["champion", "challenger"]
"""Which of a bento's two models answered a row: the one in production, or the one being tried."""


LoggedRow = tuple[str, str | None, dict[str, Any], float, bool, Variant, float | None]
"""One row for InferenceLog.record: prediction_id, client_id, features, churn_probability, churn, the variant that
answered, and the challenger's probability in shadow mode (None when it skipped the row, and outside shadow mode).
A tuple: a 1,000-row batch builds 1,000."""


@dataclass(frozen=True)
class ShadowAnswer:
    """The challenger's answer to a row in shadow mode: logged beside the champion's, to judge both on the same rows."""

    model_version: str
    probability: float | None
    """None: the challenger skipped the row, the model process being busier than ab.shadow_max_busy."""


def log_file(directory: Path, day: date) -> Path:
    """The day's file: rotation is by name, so nothing is ever renamed under a reader."""
    return _LOG_FILES.path(directory, day)


def day_of_log_file(path: str) -> date | None:
    """The UTC day a log file holds, from its name; None for any other file, or a day the calendar lacks."""
    return _LOG_FILES.day_of(path)


def prediction_id(request_id: str, position: int) -> str:
    """A row's id: its request's id and its 0-based position in the request, so each row of a batch has its own."""
    return f"{request_id}-{position}"


def append_lines(path: Path, lines: list[bytes]) -> None:
    """Append lines, each ending in a newline, creating the folder.

    The service and the simulator both write through here, so their files cannot differ.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as stream:
        stream.write(b"\n".join([*lines, b""]))  # one join: no copy of each line to add its newline


def log_line(
    timestamp: str,
    request_id: str,
    row_id: str,
    client_id: str | None,
    model_version: str,
    features: dict[str, Any],
    churn_probability: float,
    churn: bool,
    variant: Variant = "champion",
    shadow: ShadowAnswer | None = None,
) -> bytes:
    """One line of the log, without its newline: the service and the simulator both render through
    here, so their lines cannot differ. `timestamp` is an aware UTC datetime's isoformat().
    """
    # pydantic's serializer: a quarter of json.dumps's cost.
    return to_json(
        {
            "timestamp": timestamp,
            "request_id": request_id,
            "prediction_id": row_id,
            "client_id": client_id,
            "model_version": model_version,
            "features": features,
            "churn_probability": churn_probability,
            "churn": churn,
            "variant": variant,
            "challenger_version": shadow.model_version if shadow else None,
            "challenger_probability": shadow.probability if shadow else None,
        }
    )


class InferenceLog:
    """Queue each request's lines as one block and append them to the day's file on a writer thread.

    One queue operation per request, not per line: per-line locking cost a 1,000-row batch
    more than serialising it. At most `queue_lines` lines wait for the writer; beyond that a
    request's lines are dropped and counted, never blocking.
    """

    def __init__(self, directory: Path, queue_lines: int, on_failure: Callable[[int], None]) -> None:
        self.directory = directory
        # A restarted service in the same pod: its shipper must wait for this run's close, not the last one's.
        with contextlib.suppress(OSError):
            (directory / CLOSED_FILE).unlink(missing_ok=True)
        self._queue_lines = queue_lines
        self._on_failure = on_failure
        self._blocks: queue.SimpleQueue[tuple[date, list[bytes]] | None] = queue.SimpleQueue()
        self._queued_lines = 0
        self._lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_forever, name="inference-log", daemon=True)
        self._writer.start()

    def record(
        self, request_id: str, versions: Mapping[Variant, str], rows: Iterable[LoggedRow], shadowed: bool
    ) -> None:
        """Queue one line per row (see LoggedRow), naming the version of the variant that answered; never
        raises or waits. When the challenger is `shadowed`, each line names `versions["challenger"]` beside
        its probability for the row, or beside none where it skipped the row.
        """
        moment = datetime.now(UTC)
        timestamp = moment.isoformat()
        lines = [
            log_line(
                timestamp,
                request_id,
                row_id,
                client_id,
                versions[variant],
                features,
                probability,
                churn,
                variant,
                ShadowAnswer(versions["challenger"], shadow) if shadowed else None,
            )
            for row_id, client_id, features, probability, churn, variant, shadow in rows
        ]
        with self._lock:
            accepted = self._queued_lines + len(lines) <= self._queue_lines
            if accepted:
                self._queued_lines += len(lines)
        if accepted:
            self._blocks.put((moment.date(), lines))
        else:
            self._on_failure(len(lines))

    def close(self, timeout: float | None = None) -> int:
        """Write what is queued, for at most `timeout` seconds, stop the writer and create CLOSED_FILE.

        Returns the lines not yet written at the deadline, 0 when all were: the writer is a daemon
        thread, so they end with the process, and the caller counts them.
        """
        self._blocks.put(None)
        self._writer.join(timeout)
        with self._lock:
            unwritten = self._queued_lines if self._writer.is_alive() else 0
        with contextlib.suppress(OSError):  # an unwritable directory: its lines were counted as they failed
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / CLOSED_FILE).touch()
        return unwritten

    def _write_forever(self) -> None:
        """Drain the queue, one open/append per file per drain, until close()."""
        stopping = False
        while not stopping:
            blocks: list[tuple[date, list[bytes]]] = []
            block = self._blocks.get()
            while True:
                if block is None:
                    stopping = True
                    break
                blocks.append(block)
                try:
                    block = self._blocks.get_nowait()
                except queue.Empty:
                    break
            if blocks:
                self._append(blocks)

    def _append(self, blocks: list[tuple[date, list[bytes]]]) -> None:
        by_day: dict[date, list[bytes]] = {}
        for day, lines in blocks:
            by_day.setdefault(day, []).extend(lines)
        for day, lines in by_day.items():
            try:
                append_lines(log_file(self.directory, day), lines)
            except OSError:
                self._on_failure(len(lines))
        with self._lock:
            self._queued_lines -= sum(len(lines) for _, lines in blocks)
