"""Delayed outcomes, joined to the inference log's rows one label to one row.

What a customer really did is known days after the prediction. Whatever records it (a CRM export,
the simulator) appends labels beside the log, in `<log source>/labels/labels-YYYY-MM-DD.jsonl`,
named by the UTC day they were written, one JSON object per line:
    prediction_id  the row's id, as the service's answer returned it, or
    client_id      the id the request gave the customer (the schema's id_column)
    churn          the outcome: true when the positive class happened
A line with both ids is joined by its prediction_id. Lines of another shape are counted, never
guessed at; a later line for the same id replaces an earlier one (a correction).

A prediction_id label joins its row. A client_id label joins the latest row logged for that
client in the window: the outcome follows the last prediction made for the customer, and each
customer counts once. A row that both would label takes its prediction_id label. Labels that join
no row of the window are counted, and the drift report shows the count.
"""

import io
from dataclasses import dataclass, field
from datetime import date

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from botocore.exceptions import BotoCoreError
from pydantic_core import from_json

from mlloop.errors import SourceError
from mlloop.monitoring.label_files import LABELS_FILES, LABELS_FOLDER
from mlloop.storage.store_errors import diagnose

LABEL = "label"
"""The column of Outcomes.rows holding each joined row's outcome."""

_LABELS_SCHEMA = pa.schema(
    [pa.field("prediction_id", pa.string()), pa.field("client_id", pa.string()), pa.field("churn", pa.bool_())]
)


@dataclass(frozen=True)
class Labels:
    """Delayed labels by the id they came with, each id once with its latest outcome, and how many
    lines were of no usable shape.
    """

    by_prediction: pd.Series
    """The outcome (bool) by prediction_id."""
    by_client: pd.Series
    """The outcome (bool) by client id."""
    unreadable_lines: int

    @property
    def count(self) -> int:
        """Distinct labels read."""
        return len(self.by_prediction) + len(self.by_client)


@dataclass
class LabelLines:
    """The labels of the files read so far, in reading order, as arrow arrays: a million ids stay
    a few dozen megabytes, whereas as Python strings they would be several times that.
    """

    row_ids: list[pa.Array] = field(default_factory=list)
    row_outcomes: list[pa.Array] = field(default_factory=list)
    client_ids: list[pa.Array] = field(default_factory=list)
    client_outcomes: list[pa.Array] = field(default_factory=list)
    unreadable: int = 0

    def add_lines(self, data: bytes | memoryview) -> None:
        """Line by line, for a file with a line pyarrow cannot parse: each unusable line is counted."""
        row_ids: list[str] = []
        row_outcomes: list[bool] = []
        client_ids: list[str] = []
        client_outcomes: list[bool] = []
        for raw in io.BytesIO(data):
            if not raw.strip():
                continue
            try:
                line = from_json(raw)
            except ValueError:
                line = None
            if not isinstance(line, dict) or not isinstance(churn := line.get("churn"), bool):
                self.unreadable += 1
            elif isinstance(row_id := line.get("prediction_id"), str):
                row_ids.append(row_id)
                row_outcomes.append(churn)
            elif isinstance(client_id := line.get("client_id"), str):
                client_ids.append(client_id)
                client_outcomes.append(churn)
            else:
                self.unreadable += 1
        self.row_ids.append(pa.array(row_ids, pa.string()))
        self.row_outcomes.append(pa.array(row_outcomes, pa.bool_()))
        self.client_ids.append(pa.array(client_ids, pa.string()))
        self.client_outcomes.append(pa.array(client_outcomes, pa.bool_()))

    def add_table(self, table: pa.Table) -> None:
        """A file pyarrow parsed whole: a line with no outcome or no id is counted."""
        churn, row_id, client_id = table["churn"], table["prediction_id"], table["client_id"]
        by_row = pc.and_(churn.is_valid(), row_id.is_valid())
        by_client = pc.and_(pc.and_(churn.is_valid(), row_id.is_null()), client_id.is_valid())
        self.row_ids += row_id.filter(by_row).chunks
        self.row_outcomes += churn.filter(by_row).chunks
        self.client_ids += client_id.filter(by_client).chunks
        self.client_outcomes += churn.filter(by_client).chunks
        self.unreadable += len(table) - pc.sum(by_row).as_py() - pc.sum(by_client).as_py()

    def add(self, data: bytes | memoryview) -> None:
        """Whole label lines (a file, or a block of one): by pyarrow at once, line by line when a line breaks it."""
        options = pa_json.ParseOptions(explicit_schema=_LABELS_SCHEMA, unexpected_field_behavior="ignore")
        try:
            table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
        except pa.ArrowInvalid:
            self.add_lines(data)
            return
        self.add_table(table)

    def labels(self) -> Labels:
        """Each id once, the later of two labels for it kept: a correction."""
        return Labels(
            _keyed(self.row_ids, self.row_outcomes), _keyed(self.client_ids, self.client_outcomes), self.unreadable
        )


def _keyed(ids: list[pa.Array], outcomes: list[pa.Array]) -> pd.Series:
    index = pd.Index(pa.chunked_array(ids, pa.string()).to_pandas())
    labels = pd.Series(pa.chunked_array(outcomes, pa.bool_()).to_numpy(), index=index, dtype=bool)
    return labels[~labels.index.duplicated(keep="last")]


NO_LABELS = LabelLines().labels()
"""The labels when none arrived yet."""


def read_labels(source: str, since: date | None = None) -> Labels:
    """The labels under `<source>/labels/` written on or after `since` (a label written earlier cannot be
    for a row logged since); none when none arrived yet.

    Read like the log: whole files by pyarrow, line by line only for a file with a line it cannot parse.
    """
    try:
        filesystem, root = fsspec.core.url_to_fs(source)
        names = sorted(map(str, filesystem.glob(f"{root.rstrip('/')}/{LABELS_FOLDER}/{LABELS_FILES.glob}")))
    except (OSError, BotoCoreError) as error:
        reason = diagnose(source, str(error)) or f"{source}: {error}"
        raise SourceError(f"cannot list the delayed labels: {reason}") from error
    lines = LabelLines()
    for name in names:
        day = LABELS_FILES.day_of(name)
        if day is None or (since is not None and day < since):
            continue
        with filesystem.open(name, "rb") as stream:
            lines.add(stream.read())
    return lines.labels()


def row_prediction_ids(rows: pd.DataFrame) -> pd.Series:
    """Each logged row's prediction_id. A line written before they were logged gets the one the
    service would have given it (inference_log.prediction_id): its request id and its position among
    that request's lines, which the service wrote together, in request order.
    """
    logged = rows["prediction_id"].astype("str")
    older = logged.isna() & rows["request_id"].notna()
    if not older.any():
        return logged
    request_ids = rows.loc[older, "request_id"].astype("str")
    positions = request_ids.groupby(request_ids, sort=False).cumcount()
    # inference_log.prediction_id's format, built for every row at once: a week of old lines is a million
    return logged.mask(older, request_ids + "-" + positions.astype("str"))


def _latest_row_per_client(rows: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """Each client's latest row: its position in `rows`, and the client id (an unreadable timestamp is the oldest)."""
    clients = rows["client_id"].reset_index(drop=True)
    present = clients.notna()
    moments = pd.to_datetime(
        rows["timestamp"].reset_index(drop=True)[present], utc=True, format="ISO8601", errors="coerce"
    )
    latest = (
        pd.DataFrame({"client": clients[present], "moment": moments})
        .sort_values("moment", kind="stable", na_position="first")
        .drop_duplicates("client", keep="last")
    )
    return latest.index.to_numpy(), pd.Index(latest["client"])


@dataclass(frozen=True)
class Outcomes:
    """The window's rows a label joined, and the labels that joined none."""

    rows: pd.DataFrame
    """The joined rows: the window's columns (prediction_id filled in for old lines) and LABEL (bool)."""
    labels: int
    unmatched_labels: int
    unreadable_label_lines: int


def join_outcomes(rows: pd.DataFrame, labels: Labels) -> Outcomes:
    """Join each label to its row of the window: by prediction_id, or by client id to the client's latest row."""
    row_ids = row_prediction_ids(rows)
    outcome = np.zeros(len(rows), dtype=bool)
    labelled = np.zeros(len(rows), dtype=bool)
    matched = 0
    if len(labels.by_client):
        positions, clients = _latest_row_per_client(rows)
        found = labels.by_client.index.get_indexer(clients)
        joined = found >= 0
        outcome[positions[joined]] = labels.by_client.to_numpy()[found[joined]]
        labelled[positions[joined]] = True
        matched += int(joined.sum())  # one latest row per client
    if len(labels.by_prediction):
        found = labels.by_prediction.index.get_indexer(pd.Index(row_ids))
        joined = found >= 0
        outcome[joined] = labels.by_prediction.to_numpy()[found[joined]]  # a prediction_id label wins
        labelled |= joined
        used = np.zeros(len(labels.by_prediction), dtype=bool)
        used[found[joined]] = True
        matched += int(used.sum())
    return Outcomes(
        rows=rows.loc[labelled].assign(prediction_id=row_ids[labelled], **{LABEL: outcome[labelled]}),
        labels=labels.count,
        unmatched_labels=labels.count - matched,
        unreadable_label_lines=labels.unreadable_lines,
    )
