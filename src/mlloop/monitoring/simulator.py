"""Production traffic from held-out customers, one UTC day at a time, under a named scenario whose
ground truth is known, so the drift check can be tried on shifts it must flag and on traffic it must not.

Each day samples `rows_per_day` customers of the test split with replacement, applies the
scenario, and either predicts with the trained model and appends the lines to the inference log
itself (in the service's format, through the same renderer), or sends them to a running service,
which logs them. One seeded generator drives everything, so a seed and a start day give the same
traffic every time. Files are appended to, as the service does: use an empty --out for a clean run.

Scenarios and their ground truth (every number stays within the schema's range):
    none                unchanged customers: nothing drifted.
    price_increase      monthly_charges and total_charges x 1.15 on every day.
    contract_shift      35% of the customers on "One year" or "Two year" contracts are on
                        "Month-to-month" instead.
    new_payment_method  25% of the customers pay by "Digital wallet", a label the schema does not
                        have. The service's request contract refuses such a customer (HTTP 400), so
                        against a service (--url) those rows are refused and counted; the direct
                        mode logs them, as a service without that check would.
    gradual             monthly_charges and total_charges x (1 + 0.25 (d + 1) / days) on day d
                        (0-based): prices creep up to +25% on the last day.
"""

import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from mlloop.config import Params, Scenario, SimulateParams
from mlloop.core.schema import FeatureSchema, NumericFeature, load_schema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring.outcomes import label_line, labels_file
from mlloop.pipeline.evaluation import churn_probability
from mlloop.serving import client
from mlloop.serving.inference_log import append_lines, log_file, log_line, prediction_id
from mlloop.storage.artifacts import load_model, read_table, require
from mlloop.storage.files import read_json, sha256_of

PRICE_INCREASE = 0.15
GRADUAL_FINAL_INCREASE = 0.25
CHARGES = ("monthly_charges", "total_charges")
CENT_DECIMALS = 2
CONTRACT = "contract"
LONG_CONTRACTS = ("One year", "Two year")
MONTH_TO_MONTH = "Month-to-month"
CONTRACT_SHIFT_SHARE = 0.35
PAYMENT_METHOD = "payment_method"
NEW_PAYMENT_METHOD = "Digital wallet"
NEW_PAYMENT_SHARE = 0.25
MICROSECONDS_PER_DAY = 86_400_000_000
MODEL_VERSION_PREFIX = "simulated:"
MODEL_HASH_CHARS = 12

Shift = Callable[[pd.DataFrame, int, int, np.random.Generator], pd.DataFrame]
"""A scenario: (one day's customers, the day's 0-based index, the number of days, rng) -> shifted customers."""


def no_shift(frame: pd.DataFrame, _day: int, _days: int, _rng: np.random.Generator) -> pd.DataFrame:
    """Ground truth: nothing changed, so no feature drifted."""
    return frame


def _scale_charges(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    return frame.assign(**{name: (frame[name] * factor).round(CENT_DECIMALS) for name in CHARGES})


def price_increase(frame: pd.DataFrame, _day: int, _days: int, _rng: np.random.Generator) -> pd.DataFrame:
    """Ground truth: every bill is 15% higher (monthly_charges and total_charges), from the first day on."""
    return _scale_charges(frame, 1 + PRICE_INCREASE)


def contract_shift(frame: pd.DataFrame, _day: int, _days: int, rng: np.random.Generator) -> pd.DataFrame:
    """Ground truth: 35% of the customers on one- or two-year contracts are month-to-month instead."""
    long_contracts = np.flatnonzero(frame[CONTRACT].isin(LONG_CONTRACTS).to_numpy())
    moved = rng.choice(long_contracts, size=round(CONTRACT_SHIFT_SHARE * len(long_contracts)), replace=False)
    contract = frame[CONTRACT].to_numpy(copy=True)
    contract[moved] = MONTH_TO_MONTH
    return frame.assign(**{CONTRACT: contract})


def new_payment_method(frame: pd.DataFrame, _day: int, _days: int, rng: np.random.Generator) -> pd.DataFrame:
    """Ground truth: 25% of the customers pay by "Digital wallet", a label neither schema nor model knows."""
    paying = rng.choice(len(frame), size=round(NEW_PAYMENT_SHARE * len(frame)), replace=False)
    payment_method = frame[PAYMENT_METHOD].to_numpy(copy=True)
    payment_method[paying] = NEW_PAYMENT_METHOD
    return frame.assign(**{PAYMENT_METHOD: payment_method})


def gradual_price_drift(frame: pd.DataFrame, day: int, days: int, _rng: np.random.Generator) -> pd.DataFrame:
    """Ground truth: bills grow a little every day, to +25% on the last one: a drift no single day shows."""
    return _scale_charges(frame, 1 + GRADUAL_FINAL_INCREASE * (day + 1) / days)


@dataclass(frozen=True)
class ScenarioDefinition:
    """A scenario's shift, and the features it rewrites: the schema must have them, and numbers are
    clipped to its range, so only a scenario about a new label breaks the service's contract.
    """

    shift: Shift
    changes: tuple[str, ...]


SCENARIOS: dict[Scenario, ScenarioDefinition] = {
    "none": ScenarioDefinition(no_shift, ()),
    "price_increase": ScenarioDefinition(price_increase, CHARGES),
    "contract_shift": ScenarioDefinition(contract_shift, (CONTRACT,)),
    "new_payment_method": ScenarioDefinition(new_payment_method, (PAYMENT_METHOD,)),
    "gradual": ScenarioDefinition(gradual_price_drift, CHARGES),
}


@dataclass(frozen=True)
class DayTraffic:
    """One simulated day: the customers as the model sees them, and what they really did."""

    day: date
    features: pd.DataFrame
    churned: list[bool]
    timestamps: list[str]
    request_ids: list[str]


def _clip_to_schema(frame: pd.DataFrame, names: tuple[str, ...], schema: FeatureSchema) -> pd.DataFrame:
    numeric = schema.numeric_features
    return frame.assign(
        **{name: frame[name].clip(numeric[name].min, numeric[name].max) for name in names if name in numeric}
    )


def day_traffic(
    test: pd.DataFrame,
    schema: FeatureSchema,
    settings: SimulateParams,
    day_index: int,
    start: date,
    rng: np.random.Generator,
) -> DayTraffic:
    """Sample, shift and timestamp one day of customers; every random draw comes from `rng`, in a fixed order."""
    day = start + timedelta(days=day_index)
    sample = test.iloc[rng.integers(0, len(test), size=settings.rows_per_day)].reset_index(drop=True)
    scenario = SCENARIOS[settings.scenario]
    shifted = scenario.shift(sample[schema.feature_names], day_index, settings.days, rng)
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    # Whole microseconds, so no timestamp can round up into the next day.
    offsets = np.sort(rng.integers(0, MICROSECONDS_PER_DAY, size=settings.rows_per_day))
    return DayTraffic(
        day=day,
        features=_clip_to_schema(shifted, scenario.changes, schema),
        churned=(sample[schema.target.name] == schema.target.positive).tolist(),
        timestamps=[(midnight + timedelta(microseconds=int(offset))).isoformat() for offset in offsets],
        request_ids=[uuid.UUID(bytes=rng.bytes(16), version=4).hex for _ in range(settings.rows_per_day)],
    )


def customer_records(frame: pd.DataFrame, schema: FeatureSchema) -> list[dict[str, Any]]:
    """Rows as the service receives and logs them: JSON null for a missing value, integer features as ints."""
    columns: dict[str, list[Any]] = {}
    for name, feature in schema.features.items():
        whole = isinstance(feature, NumericFeature) and feature.type == "integer"
        columns[name] = [None if pd.isna(value) else int(value) if whole else value for value in frame[name].tolist()]
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


@dataclass(frozen=True)
class DayResult:
    """How one day's rows ended: logged (or answered by the service), or refused by it."""

    day: date
    delivered: int
    refused: int


Delivery = Callable[[DayTraffic], DayResult]


def _log_writer(params: Params, schema: FeatureSchema, out: Path) -> Delivery:
    """Predict in process and append the service's log lines, plus the day's labels, under `out`."""
    model = load_model(params.paths.model)
    threshold = float(read_json(require(params.paths.model_metadata, "train"))["threshold"])
    model_version = MODEL_VERSION_PREFIX + sha256_of(params.paths.model)[:MODEL_HASH_CHARS]

    def write_day(traffic: DayTraffic) -> DayResult:
        probabilities = churn_probability(model, traffic.features).tolist()
        rows = zip(
            traffic.timestamps,
            traffic.request_ids,
            customer_records(traffic.features, schema),
            probabilities,
            strict=True,
        )
        # Each simulated customer is a request of its own: its row is the request's first.
        lines = [
            log_line(
                timestamp,
                request_id,
                prediction_id(request_id, 0),
                None,
                model_version,
                customer,
                probability,
                probability >= threshold,
            )
            for timestamp, request_id, customer, probability in rows
        ]
        labels = [
            label_line(churned, row_id=prediction_id(request_id, 0))
            for request_id, churned in zip(traffic.request_ids, traffic.churned, strict=True)
        ]
        append_lines(log_file(out, traffic.day), lines)
        append_lines(labels_file(out, traffic.day), labels)
        return DayResult(traffic.day, delivered=len(lines), refused=0)

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
        customers = customer_records(traffic.features, schema)
        answered = refused = 0
        for first in range(0, len(customers), max_batch_size):
            batch = customers[first : first + max_batch_size]
            batch_answered, batch_refused = _send_batch(endpoint, batch, timeout_seconds)
            answered += batch_answered
            refused += batch_refused
        return DayResult(traffic.day, delivered=answered, refused=refused)

    return send_day


@dataclass(frozen=True)
class SimulationSummary:
    """What a run did, day by day, and the files it wrote (none when a service did the logging)."""

    scenario: Scenario
    destination: str
    through_service: bool
    days: list[DayResult]
    files: list[Path]

    def lines(self) -> list[str]:
        """The summary as the command line prints it."""
        verb = "answered" if self.through_service else "logged"
        preposition = "through" if self.through_service else "into"
        lines = [f"scenario {self.scenario}: {len(self.days)} days {preposition} {self.destination}"]
        for result in self.days:
            refusals = f", {result.refused} refused" if self.through_service else ""
            lines.append(f"{result.day:%Y-%m-%d}  {result.delivered} rows {verb}{refusals}")
        delivered = sum(result.delivered for result in self.days)
        refused = sum(result.refused for result in self.days)
        lines.append(f"total: {delivered} rows {verb}, {refused} refused")
        lines.extend(f"wrote {path}" for path in self.files)
        return lines


def simulate(
    params: Params, settings: SimulateParams, start: date, out: Path, url: str | None = None
) -> SimulationSummary:
    """Run the days from `start` into the inference log under `out`, or, with `url`, through that running service."""
    schema = load_schema(params.data.schema_file)
    missing = [name for name in SCENARIOS[settings.scenario].changes if name not in schema.features]
    if missing:
        raise ConfigError(
            f"simulate.scenario: {settings.scenario} changes {missing}, which {params.data.schema_file} does not "
            f"declare; choose another scenario"
        )
    test = read_table(params.paths.test, "split")
    deliver = (
        _log_writer(params, schema, out)
        if url is None
        else _service_sender(url, params.serve.max_batch_size, settings.request_timeout_seconds, schema)
    )
    rng = np.random.default_rng(settings.seed)
    results = [
        deliver(day_traffic(test, schema, settings, day_index, start, rng))
        for day_index in tqdm(range(settings.days), desc="simulated days", unit="day", file=sys.stderr, disable=None)
    ]
    if url is not None:
        return SimulationSummary(settings.scenario, url, True, results, [])
    files = [path for result in results for path in (log_file(out, result.day), labels_file(out, result.day))]
    return SimulationSummary(settings.scenario, str(out), False, results, files)
