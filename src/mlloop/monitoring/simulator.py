"""Production traffic from held-out rows, one UTC day at a time, under a scenario whose ground
truth is known, so the drift check can be tried on what it must flag and on what it must not.

The scenarios are data: params.yaml `simulate.scenarios` declares each one as the status the drift
check must reach and a list of shifts over the schema's columns (`shifts` checks and applies them),
so this module names no column of any table. Each day samples `rows_per_day` rows of one of the
split's held-out pools (pipeline.pools) with replacement, applies the scenario, and either predicts
with the trained model and appends the lines to the inference log itself (in the service's format,
through the same renderer), with each row's delayed outcome beside it (in monitoring.outcomes'
format), or sends them to a running service, which logs them. Either way a row's client id is its
id in its pool. One seeded generator drives everything, so a seed and a start day give the same
traffic every time. Files are appended to, as the service does: use an empty --out for a clean run.

The pool is params `simulate.pool`: `traffic` by default, customers kept apart from those that judge
a model, since `mlloop fold-in` may add the labelled rows of this traffic to the training source; or
`evaluation` (the test split), for traffic that judges a model, which fold-in refuses to train on.

Given a challenger model too, the log is written as a bento serving both in params `ab.mode` writes it:
in shadow mode the champion answers and the challenger's answer is logged beside it, in split mode a
`challenger_share` of the rows is answered by the challenger. So `mlloop ab-report` can be tried on
traffic whose ground truth is known: which model is better on it.

Each model is logged under the version the model registry knows it by: the version tag (`churn@vX.Y.Z`)
whose commit's dvc.lock records the model file, so the challenger an A/B report names is one `mlloop
promote` can move stage prod to. A model no version holds (a clone without the registry's tags, a model
never committed) is logged as `simulated:` and the start of its SHA-256.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from tqdm import tqdm

from mlloop.config import AbParams, HeldOutPool, Params, SimulateParams
from mlloop.core.schema import FeatureSchema, NumericFeature, load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring.label_files import label_line, labels_file
from mlloop.monitoring.shifts import check_scenarios, logged_days, shift_day
from mlloop.pipeline.evaluation import churn_probability
from mlloop.serving import client
from mlloop.serving.inference_log import ShadowAnswer, Variant, append_lines, log_file, log_line, prediction_id
from mlloop.serving.model_version import registered_version
from mlloop.serving.routing import hash_share
from mlloop.storage.artifacts import load_model, read_table
from mlloop.storage.files import read_json, require, sha256_of

MICROSECONDS_PER_DAY = 86_400_000_000
UUID_BYTES = 16
MODEL_VERSION_PREFIX = "simulated:"
MODEL_HASH_CHARS = 12


@dataclass(frozen=True)
class DayTraffic:
    """One simulated day: the rows as the model sees them, their real outcomes, and what the scenario does
    to the log besides (no rows at all on a day after the log went silent).
    """

    day: date
    features: pd.DataFrame
    outcomes: NDArray[np.bool_]
    """Whether each row is of the target's positive class, as its pool says."""
    flipped: NDArray[np.bool_]
    """Rows whose reported outcome is the opposite of the model's prediction instead."""
    torn: NDArray[np.bool_]
    """Rows whose line is preceded by a torn copy of itself."""
    timestamps: list[str]
    request_ids: list[str]
    client_ids: list[str]
    """Each row's id in its pool (the schema's id_column): the client id its request gives."""


def _utc_timestamps(day: date, offsets: NDArray[np.int64]) -> list[str]:
    """The day's midnight plus each offset (microseconds), as datetime.isoformat writes a UTC time (no fraction on a
    whole second), built for every row at once: a day of a hundred thousand rows is a hundred thousand datetimes.
    """
    moments = np.datetime64(day, "us") + offsets.astype("timedelta64[us]")
    return [moment.removesuffix(".000000") + "+00:00" for moment in np.datetime_as_string(moments, unit="us").tolist()]


def _version_4_ids(drawn: bytes) -> list[str]:
    """What uuid.UUID(bytes=..., version=4).hex makes of each UUID_BYTES of `drawn`, built for every row at once."""
    ids = np.frombuffer(drawn, dtype=np.uint8).reshape(-1, UUID_BYTES).copy()
    ids[:, 6] = (ids[:, 6] & 0x0F) | 0x40  # version 4
    ids[:, 8] = (ids[:, 8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = ids.tobytes().hex()
    return [text[first : first + 2 * UUID_BYTES] for first in range(0, len(text), 2 * UUID_BYTES)]


def day_traffic(
    customers: pd.DataFrame,
    schema: FeatureSchema,
    settings: SimulateParams,
    day_index: int,
    start: date,
    rng: np.random.Generator,
) -> DayTraffic:
    """Sample, shift and timestamp one day of rows; every random draw comes from `rng`, in a fixed order."""
    day = start + timedelta(days=day_index)
    scenario = settings.chosen_scenario()
    rows = settings.rows_per_day if day_index < logged_days(scenario, settings.days) else 0
    sample = customers.iloc[rng.integers(0, len(customers), size=rows)].reset_index(drop=True)
    shifted = shift_day(sample[schema.feature_names], scenario, schema, day_index, settings.days, rng)
    # Whole microseconds, so no timestamp can round up into the next day.
    offsets = np.sort(rng.integers(0, MICROSECONDS_PER_DAY, size=rows))
    drawn = rng.bytes(UUID_BYTES * rows)
    return DayTraffic(
        day=day,
        features=shifted.features,
        outcomes=(sample[schema.target.name] == schema.target.positive).to_numpy(dtype=bool),
        flipped=shifted.flipped,
        torn=shifted.torn,
        timestamps=_utc_timestamps(day, offsets),
        request_ids=_version_4_ids(drawn),
        client_ids=sample[schema.id_column].astype(str).tolist(),
    )


def _json_values(column: pd.Series, whole: bool) -> list[Any]:
    """A column's values as JSON takes them: None for a missing one, ints for a whole-number feature."""
    missing = column.isna().to_numpy()
    values: list[Any] = (column.fillna(0).astype("int64") if whole else column).tolist()
    for position in np.flatnonzero(missing):
        values[position] = None
    return values


def customer_records(frame: pd.DataFrame, schema: FeatureSchema) -> list[dict[str, Any]]:
    """Rows as the service receives and logs them: JSON null for a missing value, integer features as ints."""
    columns = {
        name: _json_values(frame[name], isinstance(feature, NumericFeature) and feature.type == "integer")
        for name, feature in schema.features.items()
    }
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


@dataclass(frozen=True)
class DayResult:
    """How one day's rows ended: logged (or answered by the service), or refused by it; and the torn lines written."""

    day: date
    delivered: int
    refused: int
    corrupt_lines: int = 0


Delivery = Callable[[DayTraffic], DayResult]


@dataclass(frozen=True)
class LoggedModel:
    """What the simulator needs of the trained model: its probabilities, its threshold and the version it logs."""

    predict: Callable[[pd.DataFrame], NDArray[np.float64]]
    threshold: float
    version: str


def _logged_model(model_file: Path, metadata_file: Path, params: Params) -> LoggedModel:
    """A trained model and its threshold, logged as the registry names it (`churn@v0.2.0`), else `simulated:<hash>`."""
    model = load_model(model_file)
    version = registered_version(model_file, params)
    return LoggedModel(
        predict=lambda features: churn_probability(model, features),
        threshold=float(read_json(require(metadata_file, "train"))["threshold"]),
        version=version or MODEL_VERSION_PREFIX + sha256_of(model_file)[:MODEL_HASH_CHARS],
    )


def load_logged_model(params: Params) -> LoggedModel:
    """The trained model (params paths.model) and its threshold."""
    return _logged_model(params.paths.model, params.paths.model_metadata, params)


def load_challenger(model_file: Path, params: Params) -> LoggedModel:
    """Another trained model, its metadata beside it as the train stage writes it (named as paths.model_metadata)."""
    return _logged_model(model_file, model_file.with_name(params.paths.model_metadata.name), params)


@dataclass(frozen=True)
class ServedChallenger:
    """A challenger served beside the champion, as params `ab` serves it (its mode is shadow or split)."""

    model: LoggedModel
    ab: AbParams


@dataclass(frozen=True)
class Answers:
    """How the log records a day's rows: each row's probability and decision as returned, the version and variant
    of the model that answered, and in shadow mode the challenger's answer beside it.
    """

    probabilities: NDArray[np.float64]
    positive: NDArray[np.bool_]
    versions: list[str]
    variants: list[Variant]
    shadows: list[ShadowAnswer | None]


def challenger_rows(row_ids: list[str], share: float) -> NDArray[np.bool_]:
    """The rows the challenger answers in split mode, by a hash of each row's prediction_id: a simulated row stands
    for a customer of its own (the days resample a pool of held-out customers), so it is assigned as the service
    assigns a request without a client id, and each variant's rows are drawn from the same customers.
    """
    return np.array([hash_share(row_id) < share for row_id in row_ids], dtype=bool)


def answer_day(
    features: pd.DataFrame, row_ids: list[str], champion: LoggedModel, challenger: ServedChallenger | None
) -> Answers:
    """Score a day's rows as a bento serving these models would, and say what its log records."""
    rows = len(features)
    if challenger is not None and challenger.ab.mode == "split":
        return _split(features, challenger_rows(row_ids, challenger.ab.challenger_share), champion, challenger.model)
    probabilities = champion.predict(features)
    shadows: list[ShadowAnswer | None] = [None] * rows
    if challenger is not None and challenger.ab.mode == "shadow":
        shadow = challenger.model
        shadows = [ShadowAnswer(shadow.version, value) for value in shadow.predict(features).tolist()]
    return Answers(
        probabilities, probabilities >= champion.threshold, [champion.version] * rows, ["champion"] * rows, shadows
    )


def _split(
    features: pd.DataFrame, to_challenger: NDArray[np.bool_], champion: LoggedModel, challenger: LoggedModel
) -> Answers:
    """Each model answers its own rows, at its own threshold."""
    probabilities = np.empty(len(features))
    positive = np.empty(len(features), dtype=bool)
    for model, answered in ((champion, ~to_challenger), (challenger, to_challenger)):
        if answered.any():
            probabilities[answered] = model.predict(features[answered])
            positive[answered] = probabilities[answered] >= model.threshold
    return Answers(
        probabilities,
        positive,
        np.where(to_challenger, challenger.version, champion.version).tolist(),
        ["challenger" if chosen else "champion" for chosen in to_challenger],
        [None] * len(features),
    )


def _with_torn_copies(lines: list[bytes], torn: NDArray[np.bool_]) -> list[bytes]:
    """Each torn row's line preceded by its first half: a write cut short, which is not JSON."""
    return [
        piece
        for line, cut in zip(lines, torn, strict=True)
        for piece in ([line[: len(line) // 2]] if cut else []) + [line]
    ]


def log_writer(
    model: LoggedModel, schema: FeatureSchema, out: Path, challenger: ServedChallenger | None = None
) -> Delivery:
    """Predict in process and append the service's log lines, plus the day's labels, under `out`; with a
    challenger, as a bento serving both would log them.
    """

    def write_day(traffic: DayTraffic) -> DayResult:
        if traffic.features.empty:
            return DayResult(traffic.day, delivered=0, refused=0)
        # Each simulated row is a request of its own: its row is the request's first.
        row_ids = [prediction_id(request_id, 0) for request_id in traffic.request_ids]
        answers = answer_day(traffic.features, row_ids, model, challenger)
        # A flipped outcome contradicts the decision that was returned, whichever model made it.
        outcomes = np.where(traffic.flipped, ~answers.positive, traffic.outcomes).tolist()
        customers = customer_records(traffic.features, schema)
        probabilities, positive = answers.probabilities.tolist(), answers.positive.tolist()
        lines = [
            log_line(
                traffic.timestamps[row],
                traffic.request_ids[row],
                row_ids[row],
                traffic.client_ids[row],
                answers.versions[row],
                customers[row],
                probabilities[row],
                positive[row],
                variant=answers.variants[row],
                shadow=answers.shadows[row],
            )
            for row in range(len(row_ids))
        ]
        labels = [label_line(outcome, row_id=row_id) for row_id, outcome in zip(row_ids, outcomes, strict=True)]
        append_lines(log_file(out, traffic.day), _with_torn_copies(lines, traffic.torn))
        append_lines(labels_file(out, traffic.day), labels)
        return DayResult(traffic.day, delivered=len(lines), refused=0, corrupt_lines=int(traffic.torn.sum()))

    return write_day


def _post(endpoint: str, customers: list[dict[str, Any]], timeout_seconds: float) -> tuple[int, Any]:
    try:
        return client.call(endpoint, {"customers": customers}, timeout_seconds)
    except OSError as error:
        raise SourceError(f"{endpoint}: cannot connect ({error}); start the service first (make serve)") from error


def _refused_positions(answer: Any, size: int) -> set[int]:
    """Batch positions the service's 400 names (detail[].loc = ["customers", position, field])."""
    details = answer.get("detail") if isinstance(answer, dict) else None
    positions = set()
    for detail in details if isinstance(details, list) else []:
        location = detail.get("loc") if isinstance(detail, dict) else None
        if isinstance(location, list) and len(location) > 1 and location[0] == "customers":
            position = location[1]
            if isinstance(position, int) and 0 <= position < size:
                positions.add(position)
    return positions


def _send_batch(
    endpoint: str, customers: list[dict[str, Any]], timeout_seconds: float, retry: bool = True
) -> tuple[int, int]:
    """(answered, refused). One bad customer refuses its whole batch, so the customers the answer
    names are dropped and the rest sent once more, as a careful client would; what is refused
    then is counted whole.
    """
    status, answer = _post(endpoint, customers, timeout_seconds)
    if status == HTTPStatus.OK:
        return len(customers), 0
    if not HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR:
        raise SourceError(f"{endpoint}: answered {status}: {str(answer)[:500]}")
    refused = _refused_positions(answer, len(customers))
    if retry and 0 < len(refused) < len(customers):
        kept = [customer for position, customer in enumerate(customers) if position not in refused]
        answered, refused_again = _send_batch(endpoint, kept, timeout_seconds, retry=False)
        return answered, len(refused) + refused_again
    return 0, len(customers)


def _service_sender(url: str, max_batch_size: int, timeout_seconds: float, schema: FeatureSchema) -> Delivery:
    """Send each day's customers to a running service's /predict_batch; the service logs what it answers."""
    endpoint = url.rstrip("/") + "/predict_batch"

    def send_day(traffic: DayTraffic) -> DayResult:
        customers = [
            {schema.id_column: client_id} | customer
            for client_id, customer in zip(traffic.client_ids, customer_records(traffic.features, schema), strict=True)
        ]
        answered = refused = 0
        for first in range(0, len(customers), max_batch_size):
            batch = customers[first : first + max_batch_size]
            batch_answered, batch_refused = _send_batch(endpoint, batch, timeout_seconds)
            answered += batch_answered
            refused += batch_refused
        return DayResult(traffic.day, delivered=answered, refused=refused)

    return send_day


def pool_path(params: Params, pool: HeldOutPool) -> Path:
    """The split's output holding the pool's customers: paths.traffic, or paths.test for the evaluation pool."""
    return params.paths.traffic if pool == "traffic" else params.paths.test


@dataclass(frozen=True)
class SimulationSummary:
    """What a run did, day by day, and the files it wrote (none when a service did the logging)."""

    scenario: str
    pool: HeldOutPool
    destination: str
    through_service: bool
    days: list[DayResult]
    files: list[Path]

    def lines(self) -> list[str]:
        """The summary as the command line prints it."""
        verb = "answered" if self.through_service else "logged"
        preposition = "through" if self.through_service else "into"
        lines = [
            f"scenario {self.scenario}: {len(self.days)} days {preposition} {self.destination}, "
            f"customers of the {self.pool} pool"
        ]
        for result in self.days:
            refusals = f", {result.refused} refused" if self.through_service else ""
            corrupt = f", {result.corrupt_lines} corrupt lines" if result.corrupt_lines else ""
            lines.append(f"{result.day:%Y-%m-%d}  {result.delivered} rows {verb}{refusals}{corrupt}")
        delivered = sum(result.delivered for result in self.days)
        refused = sum(result.refused for result in self.days)
        lines.append(f"total: {delivered} rows {verb}, {refused} refused")
        lines.extend(f"wrote {path}" for path in self.files)
        return lines


def _check_challenger(params: Params, url: str | None) -> None:
    """A challenger is simulated in process, in one of the modes that serve one."""
    if url is not None:
        raise ConfigError("--challenger: a running service serves its own challenger; give --challenger or --url")
    if params.ab.mode == "off":
        raise ConfigError(
            'ab.mode: "off" serves the champion alone; set it to "shadow" or "split" to simulate a challenger'
        )


def simulate(
    params: Params,
    settings: SimulateParams,
    start: date,
    out: Path,
    url: str | None = None,
    challenger: Path | None = None,
) -> SimulationSummary:
    """Run the days from `start` into the inference log under `out`, or, with `url`, through that running service;
    with a `challenger` model file, both models as params `ab` serves them.
    """
    schema = load_schema(params.data.schema_file)
    check_scenarios(settings.scenarios, schema, params.data.schema_file)
    settings.chosen_scenario()  # a --scenario that params does not declare fails here, before anything is read
    if challenger is not None:
        _check_challenger(params, url)
    customers = read_table(pool_path(params, settings.pool), "split")
    deliver = (
        log_writer(
            load_logged_model(params),
            schema,
            out,
            None if challenger is None else ServedChallenger(load_challenger(challenger, params), params.ab),
        )
        if url is None
        else _service_sender(url, params.serve.max_batch_size, settings.request_timeout_seconds, schema)
    )
    rng = np.random.default_rng(settings.seed)
    results = [
        deliver(day_traffic(customers, schema, settings, day_index, start, rng))
        for day_index in tqdm(range(settings.days), desc="simulated days", unit="day", file=sys.stderr, disable=None)
    ]
    if url is not None:
        return SimulationSummary(settings.scenario, settings.pool, url, True, results, [])
    files = [
        path
        for result in results
        if result.delivered
        for path in (log_file(out, result.day), labels_file(out, result.day))
    ]
    return SimulationSummary(settings.scenario, settings.pool, str(out), False, results, files)
