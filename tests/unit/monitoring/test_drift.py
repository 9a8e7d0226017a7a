"""The drift check: its per-column judgement, its statuses' rules and ranking, and the reports it writes.

A feature drifted when any of its scores reaches its threshold (params.yaml `drift.thresholds`).
The distribution-shift verdict is insufficient_data below `drift.min_rows` current rows; otherwise
drift when the share of drifted features reaches `drift.drifted_share` or any of
`drift.key_features` drifted; otherwise no_drift. The predicted probability is scored against the
evaluate stage's predictions but never counts as a feature. Above that verdict rank stale (the
newest log line older than `drift.max_silence_hours` before the check's clock), contract_breach
(lines breaking the schema beyond `drift.contract`) and degraded (realised outcomes worse than the
gate allows, beyond noise); `status` is the most urgent that holds, the others are listed too.
`run_drift` returns the typed result and writes drift.json (that result, read back by
`read_result`), drift.md (most drifted column first) and one PNG per drifted feature. An
unreadable input table is a SourceError naming it (exit 4), not a traceback. Delayed labels are
joined to their own rows, batch calls included, for the realised metrics that decide degraded, and
the labels that joined no row are counted in the report.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlloop.config import DriftParams, Params
from mlloop.core.column_scores import ColumnScores
from mlloop.core.schema import FeatureSchema
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring import summary_check
from mlloop.monitoring.drift import run_drift, score_columns
from mlloop.monitoring.drift_result import DriftReportFiles, DriftResult, ReferenceFile, RowCounts, read_result
from mlloop.monitoring.judgement import ColumnResult, rule_text, staleness, verdict
from mlloop.monitoring.label_files import label_line, labels_file
from mlloop.serving.inference_log import log_file, log_line, prediction_id
from mlloop.storage.files import write_json

REFERENCE_ROWS = 3_000
CURRENT_ROWS = 1_500
LOG_DAYS = 3
LAST_DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
"""The check's clock: the evening of the log's last day."""
PRICE_RISE = 1.15
BATCH_ROWS = 50
"""Customers per logged request: the service logs a batch call's rows under one request id."""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# ---------------------------------------------------------------------------------------------
# Synthetic customers that satisfy the schema
# ---------------------------------------------------------------------------------------------


def _customers(schema: FeatureSchema, rows: int, seed: int) -> pd.DataFrame:
    """Customers shaped like the real table: every number within its range, every label from the schema."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for index, (name, numeric) in enumerate(schema.numeric_features.items()):
        low = numeric.min if numeric.min is not None else 0.0
        high = numeric.max if numeric.max is not None else low + 100.0
        if (low, high) == (0, 1) and numeric.type == "integer":
            columns[name] = (rng.random(rows) < 0.2 + 0.05 * (index % 7)).astype(int)
        elif numeric.type == "integer":
            columns[name] = rng.integers(int(low), min(int(high), 72) + 1, size=rows)
        else:
            columns[name] = np.round(rng.uniform(low, min(high, low + 100.0), size=rows), 2)
    if {"monthly_charges", "total_charges", "tenure"} <= set(columns):
        phone_only = rng.random(rows) < 0.25
        monthly = np.where(phone_only, rng.normal(20.0, 1.5, rows), rng.uniform(45.0, 115.0, rows))
        columns["monthly_charges"] = np.round(monthly, 2)
        columns["total_charges"] = np.round(monthly * columns["tenure"], 2)
    for name, categorical in schema.categorical_features.items():
        weights = np.array([1.0 / (position + 1) for position in range(len(categorical.categories))])
        columns[name] = rng.choice(categorical.categories, size=rows, p=weights / weights.sum())
    return pd.DataFrame(columns)[schema.feature_names]


def _reference(schema: FeatureSchema, rows: int = REFERENCE_ROWS, seed: int = 1) -> pd.DataFrame:
    """A training split: ids, features and a label."""
    customers = _customers(schema, rows, seed)
    labels = np.where(np.random.default_rng(seed).random(rows) < 0.27, schema.target.positive, schema.target.negative)
    return customers.assign(**{schema.id_column: np.arange(1, rows + 1), schema.target.name: labels})[
        [schema.id_column, *schema.feature_names, schema.target.name]
    ]


def _probabilities(rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).beta(2.0, 5.0, size=rows)


def _write_log(
    directory: Path,
    current: pd.DataFrame,
    probabilities: np.ndarray,
    days: int = LOG_DAYS,
    client_ids: list[str] | None = None,
    before_prediction_ids: bool = False,
) -> list[str]:
    """The frame as the service logs it, in batch calls of BATCH_ROWS customers, spread over `days` days
    ending LAST_DAY (the last day is model v2); returns each row's prediction_id.

    `before_prediction_ids` writes the lines as the service did before they carried prediction and client ids.
    """
    records: list[dict[str, Any]] = json.loads(current.to_json(orient="records"))
    row_ids = [prediction_id(f"req-{row // BATCH_ROWS}", row % BATCH_ROWS) for row in range(len(records))]
    directory.mkdir(parents=True, exist_ok=True)
    for day_index, chunk in enumerate(np.array_split(np.arange(len(records)), days)):
        day = LAST_DAY - timedelta(days=days - 1 - day_index)
        version = "churn:v2" if day == LAST_DAY else "churn:v1"
        lines = []
        for row in chunk:
            line = json.loads(
                log_line(
                    f"{day.isoformat()}T12:00:00+00:00",
                    f"req-{row // BATCH_ROWS}",
                    row_ids[row],
                    client_ids[row] if client_ids else None,
                    version,
                    records[row],
                    float(probabilities[row]),
                    bool(probabilities[row] >= 0.5),
                )
            )
            if before_prediction_ids:
                del line["prediction_id"], line["client_id"]
            lines.append(json.dumps(line))
        log_file(directory, day).write_text("".join(f"{line}\n" for line in lines))
    return row_ids


def _write_labels(directory: Path, labels: list[bytes]) -> None:
    path = labels_file(directory, LAST_DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(label + b"\n" for label in labels))


@dataclass(frozen=True)
class Setup:
    """The files a drift check reads: a reference split, the evaluate stage's predictions, a log directory;
    and how the check reads the log: from per-file summaries (the default) or line by line (`--exact`)."""

    params: Params
    reference: Path
    log: Path
    out: Path
    reading: str


@pytest.fixture(params=["summaries", "exact"])
def setup(params: Params, schema: FeatureSchema, tmp_path: Path, request: pytest.FixtureRequest) -> Setup:
    """Every check below runs both ways: each behaviour of the check holds from summaries as it does exactly."""
    reference = tmp_path / "reference.parquet"
    _reference(schema).to_parquet(reference, index=False)
    params.paths.predictions.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"churn_probability": _probabilities(REFERENCE_ROWS // 2, seed=100)}).to_parquet(
        params.paths.predictions, index=False
    )
    params.paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    write_json(params.paths.metrics, HELD_OUT_METRICS)
    return Setup(
        params=params, reference=reference, log=tmp_path / "production", out=tmp_path / "drift", reading=request.param
    )


HELD_OUT_METRICS = {"roc_auc": 0.84, "average_precision": 0.66, "log_loss": 0.42, "brier": 0.14, "f1": 0.59}
"""metrics.json as the evaluate stage writes it: the held-out values realised outcomes are held to."""


def _run(setup: Setup, now: datetime = NOW) -> DriftResult:
    check = run_drift if setup.reading == "exact" else summary_check.run_drift
    return check(setup.params, setup.reference, setup.log.as_posix(), setup.out, now)


def _table_columns(markdown: str) -> list[str]:
    """The column names of drift.md's table, top to bottom."""
    rows = markdown.split("|---|", 1)[1].splitlines()[1:]
    return [row.split("|")[1].strip() for row in rows if row.startswith("| ")]


def _severity(scores: ColumnScores, drift: DriftParams) -> float:
    limits = drift.thresholds
    pairs = [
        (scores.wasserstein, limits.wasserstein),
        (scores.jensen_shannon, limits.jensen_shannon),
        (scores.psi, limits.psi),
        (scores.unseen_share, limits.unseen_share),
        (scores.null_share_change, limits.null_share),
    ]
    return max(value / limit for value, limit in pairs if value is not None)


def _pngs(directory: Path) -> set[str]:
    return {path.name for path in DriftReportFiles(directory).plots.iterdir()}


# ---------------------------------------------------------------------------------------------
# Scoring each column
# ---------------------------------------------------------------------------------------------

UNIT_ROWS = 1_000


def _drifted_copy(reference: pd.DataFrame, schema: FeatureSchema, names: list[str]) -> pd.DataFrame:
    """The reference itself, with each named feature moved far: numbers by one standard deviation, labels to one."""
    current = reference.copy()
    for name in names:
        if name in schema.numeric_features:
            current[name] = current[name] + current[name].std()
        else:
            current[name] = schema.categorical_features[name].categories[-1]
    return current


def _scored(
    schema: FeatureSchema, drift: DriftParams, drifted: list[str], prediction_shift: float = 0.0
) -> list[ColumnResult]:
    reference = _customers(schema, UNIT_ROWS, seed=7)
    predictions = pd.Series(_probabilities(UNIT_ROWS, seed=8))
    current = _drifted_copy(reference, schema, drifted).assign(churn_probability=predictions + prediction_shift)
    return score_columns(reference, current, predictions, schema, drift)


def test_every_feature_is_scored_by_its_schema_type_and_the_prediction_apart(
    params: Params, schema: FeatureSchema
) -> None:
    columns = _scored(schema, params.drift, drifted=[])

    kinds = {column.name: column.kind for column in columns}
    assert kinds == {
        **dict.fromkeys(schema.numeric_features, "numeric"),
        **dict.fromkeys(schema.categorical_features, "categorical"),
        "churn_probability": "prediction",
    }
    assert all(not column.drifted_by for column in columns), "identical samples drift nowhere"


def test_each_ratio_is_a_score_over_its_threshold_and_one_reached_drifts_the_column(
    params: Params, schema: FeatureSchema
) -> None:
    columns = {column.name: column for column in _scored(schema, params.drift, drifted=["tenure", "contract"])}
    limits = params.drift.thresholds

    tenure, contract = columns["tenure"], columns["contract"]
    assert tenure.scores.wasserstein is not None
    assert tenure.ratios["wasserstein"] == pytest.approx(tenure.scores.wasserstein / limits.wasserstein)
    assert tenure.scores.psi is not None
    assert tenure.ratios["psi"] == pytest.approx(tenure.scores.psi / limits.psi)
    assert set(tenure.ratios) == {"wasserstein", "psi", "null_share"}, "numeric columns have no categorical scores"
    assert set(contract.ratios) == {"jensen_shannon", "psi", "unseen_share", "null_share"}
    assert "wasserstein" in tenure.drifted_by
    assert "jensen_shannon" in contract.drifted_by
    assert tenure.severity == max(tenure.ratios.values())


def test_columns_come_most_drifted_first(params: Params, schema: FeatureSchema) -> None:
    columns = _scored(schema, params.drift, drifted=["tenure", "contract", "female"])

    severities = [column.severity for column in columns]
    assert severities == sorted(severities, reverse=True)
    assert {column.name for column in columns[:3]} == {"tenure", "contract", "female"}


def test_a_new_label_on_two_percent_of_rows_drifts_a_column_through_unseen_share_alone(
    params: Params, schema: FeatureSchema
) -> None:
    reference = _customers(schema, UNIT_ROWS, seed=7)
    predictions = pd.Series(_probabilities(UNIT_ROWS, seed=8))
    current = reference.assign(churn_probability=predictions)
    current.loc[current.index[:20], "payment_method"] = "Crypto wallet"

    columns = {column.name: column for column in score_columns(reference, current, predictions, schema, params.drift)}

    assert columns["payment_method"].drifted_by == ["unseen_share"]
    assert columns["payment_method"].scores.unseen_share == pytest.approx(0.02)


def test_nulls_appearing_in_a_tenth_of_rows_drift_a_column_through_the_null_share(
    params: Params, schema: FeatureSchema
) -> None:
    reference = _customers(schema, UNIT_ROWS, seed=7)
    predictions = pd.Series(_probabilities(UNIT_ROWS, seed=8))
    current = reference.assign(churn_probability=predictions)
    current["total_charges"] = current["total_charges"].mask(current.index % 10 == 0)

    columns = {column.name: column for column in score_columns(reference, current, predictions, schema, params.drift)}

    assert "null_share" in columns["total_charges"].drifted_by
    assert columns["total_charges"].ratios["null_share"] == pytest.approx(0.1 / params.drift.thresholds.null_share)


# ---------------------------------------------------------------------------------------------
# The verdict
# ---------------------------------------------------------------------------------------------

KEY_FEATURES = ["monthly_charges", "tenure", "contract", "internet_service", "payment_method"]


def _non_key(schema: FeatureSchema, drift: DriftParams) -> list[str]:
    return [name for name in schema.feature_names if name not in drift.key_features]


def test_the_real_params_name_the_key_features_this_file_assumes(params: Params) -> None:
    assert params.drift.key_features == KEY_FEATURES
    assert params.drift.min_rows == 500
    assert params.drift.drifted_share == 0.3


def test_below_min_rows_the_verdict_is_insufficient_data_even_when_everything_drifted(
    params: Params, schema: FeatureSchema
) -> None:
    drift = params.drift
    columns = _scored(schema, drift, drifted=schema.feature_names, prediction_shift=0.3)

    status, reasons = verdict(columns, drift.min_rows - 1, drift)

    assert status == "insufficient_data"
    assert reasons == [f"{drift.min_rows - 1} current rows, fewer than min_rows {drift.min_rows}"]


def test_at_exactly_min_rows_the_rule_applies(params: Params, schema: FeatureSchema) -> None:
    drift = params.drift
    columns = _scored(schema, drift, drifted=schema.feature_names)

    status, _ = verdict(columns, drift.min_rows, drift)

    assert status == "drift"


def test_one_key_feature_drifted_is_drift_even_when_few_columns_moved(params: Params, schema: FeatureSchema) -> None:
    drift = params.drift
    columns = _scored(schema, drift, drifted=["contract"])

    status, reasons = verdict(columns, drift.min_rows, drift)

    assert status == "drift"
    assert reasons == ["key features drifted: contract"]


def test_non_key_features_drifted_below_the_share_are_no_drift(params: Params, schema: FeatureSchema) -> None:
    drift = params.drift
    features = len(schema.feature_names)
    below = int(drift.drifted_share * features)  # 5 of 19: 26%, under 30%
    assert below / features < drift.drifted_share
    columns = _scored(schema, drift, drifted=_non_key(schema, drift)[:below])

    status, reasons = verdict(columns, drift.min_rows, drift)

    assert status == "no_drift"
    assert reasons == [f"{below} of {features} features drifted, none of them a key feature"]


def test_non_key_features_drifted_at_or_above_the_share_are_drift_and_the_reason_gives_the_share(
    params: Params, schema: FeatureSchema
) -> None:
    drift = params.drift
    features = len(schema.feature_names)
    above = int(drift.drifted_share * features) + 1  # 6 of 19: 32%
    columns = _scored(schema, drift, drifted=_non_key(schema, drift)[:above])

    status, reasons = verdict(columns, drift.min_rows, drift)

    assert status == "drift"
    assert reasons == [f"{above} of {features} features drifted ({above / features:.0%} >= 30%)"]


def test_a_share_of_drifted_features_exactly_at_the_threshold_is_drift(params: Params, schema: FeatureSchema) -> None:
    drift = params.drift
    non_key = _non_key(schema, drift)
    scored = {column.name: column for column in _scored(schema, drift, drifted=non_key[:3])}
    # Ten features, three drifted: exactly 30%.
    columns = [scored[name] for name in non_key[:10]] + [scored["churn_probability"]]

    status, reasons = verdict(columns, drift.min_rows, drift)

    assert status == "drift"
    assert reasons == ["3 of 10 features drifted (30% >= 30%)"]


def test_a_key_feature_and_the_share_both_give_their_reason(params: Params, schema: FeatureSchema) -> None:
    drift = params.drift
    columns = _scored(schema, drift, drifted=["tenure", *_non_key(schema, drift)[:6]])

    status, reasons = verdict(columns, drift.min_rows, drift)

    assert status == "drift"
    assert reasons[0] == "key features drifted: tenure"
    assert reasons[1].startswith("7 of 19 features drifted")


def test_a_drifted_prediction_alone_is_not_drift(params: Params, schema: FeatureSchema) -> None:
    drift = params.drift
    columns = _scored(schema, drift, drifted=[], prediction_shift=0.3)
    prediction = next(column for column in columns if column.kind == "prediction")
    assert prediction.drifted_by, "the shifted probability itself is scored as drifted"

    status, reasons = verdict(columns, drift.min_rows, drift)

    assert status == "no_drift"
    assert reasons == ["0 of 19 features drifted, none of them a key feature"]


def test_the_rule_text_states_every_threshold_from_params(params: Params) -> None:
    drift = params.drift

    text = rule_text(drift)

    limits = drift.thresholds
    for value in (limits.wasserstein, limits.jensen_shannon, limits.psi, limits.unseen_share, limits.null_share):
        assert str(value) in text
    assert f"{drift.drifted_share:.0%}" in text
    assert f"below {drift.min_rows} current rows" in text
    assert all(name in text for name in drift.key_features)
    assert f"more than {drift.max_silence_hours:g} hours old" in text
    assert f"max_null_fraction + {drift.contract.null_tolerance:g}" in text
    assert f"unknown labels above {drift.contract.max_unknown_label_share:g}" in text
    assert f"at least {drift.min_labelled_rows} labelled rows" in text
    positions = [text.index(f"{status} when") for status in ("stale", "contract_breach", "degraded", "drift")]
    assert positions == sorted(positions), "the rules in ranking order, as the status picks them"


def test_the_rule_text_follows_the_params_it_is_given(params: Params) -> None:
    thresholds = params.drift.thresholds.model_copy(
        update={
            "wasserstein": 0.123,
            "jensen_shannon": 0.234,
            "psi": 0.345,
            "unseen_share": 0.0456,
            "null_share": 0.0567,
        }
    )
    drift = params.drift.model_copy(
        update={"thresholds": thresholds, "min_rows": 789, "drifted_share": 0.42, "key_features": ["tenure"]}
    )

    text = rule_text(drift)

    for expected in (
        "Wasserstein/std 0.123",
        "Jensen-Shannon 0.234",
        "PSI 0.345",
        "unseen-label share 0.0456",
        "null-share change 0.0567",
        "below 789 current rows",
        "at least 42% of the features",
        "(tenure)",
    ):
        assert expected in text


# ---------------------------------------------------------------------------------------------
# run_drift, end to end on files
# ---------------------------------------------------------------------------------------------


def test_traffic_like_the_reference_is_no_drift_and_the_report_says_where_it_looked(
    setup: Setup, schema: FeatureSchema
) -> None:
    default_reference = setup.params.paths.train
    default_reference.parent.mkdir(parents=True, exist_ok=True)
    default_reference.write_bytes(setup.reference.read_bytes())
    _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), _probabilities(CURRENT_ROWS, seed=3))

    result = run_drift(setup.params, None, setup.log.as_posix(), setup.out, NOW)

    assert result.status == "no_drift"
    assert all(not column.drifted_by for column in result.columns), "one distribution: no column drifts"
    assert result.rows == RowCounts(current=CURRENT_ROWS, reference=REFERENCE_ROWS, skipped_lines=0)
    window = result.window
    assert (window.start, window.end) == (date(2026, 11, 18), LAST_DAY), "the week ending on the check's day"
    assert (window.first_day, window.last_day) == (date(2026, 11, 22), LAST_DAY)
    assert (window.source, window.days, len(window.files)) == (setup.log.as_posix(), 7, LOG_DAYS)
    assert window.last_seen == datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert [finding.status for finding in result.findings] == ["no_drift"]
    assert result.contract == []
    assert result.reference == ReferenceFile(
        path=default_reference.as_posix(), sha256=hashlib.sha256(default_reference.read_bytes()).hexdigest()
    )
    assert result.model_versions == ["churn:v1", "churn:v2"]
    assert result.realised is None, "no labels arrived"
    assert read_result(setup.out) == result, "drift.json holds the result the check returned"
    assert _pngs(setup.out) == set(), "nothing drifted, nothing to plot"
    markdown = DriftReportFiles(setup.out).markdown.read_text()
    assert markdown.startswith("# Drift check: **no_drift**")
    assert result.rule in markdown


def test_drift_json_keeps_the_keys_the_workflows_and_the_issue_read(setup: Setup, schema: FeatureSchema) -> None:
    _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), _probabilities(CURRENT_ROWS, seed=3))

    _run(setup)

    document = json.loads((setup.out / "drift.json").read_text())
    assert set(document) == {
        "status", "reasons", "findings", "rule", "window", "rows", "reference", "model_versions", "commit",
        "realised", "contract", "columns",
    }  # fmt: skip
    assert set(document["window"]) == {"source", "days", "start", "end", "first_day", "last_day", "last_seen", "files"}
    assert document["window"]["last_day"] == "2026-11-24", "days as ISO strings"
    assert set(document["rows"]) == {"current", "reference", "skipped_lines"}
    assert set(document["reference"]) == {"path", "sha256"}
    assert {frozenset(column) for column in document["columns"]} == {
        frozenset({"name", "kind", "drifted_by", "scores"})
    }
    assert set(document["columns"][0]["scores"]) == {
        "wasserstein", "jensen_shannon", "psi", "unseen_share", "null_share_change", "p_value", "unseen_labels"
    }  # fmt: skip


def _price_risen(schema: FeatureSchema) -> pd.DataFrame:
    """The current week's customers after a price rise of PRICE_RISE on monthly_charges."""
    current = _customers(schema, CURRENT_ROWS, seed=2)
    current["monthly_charges"] = np.round(current["monthly_charges"] * PRICE_RISE, 2)
    return current


def test_a_15_percent_price_rise_is_drift_naming_monthly_charges_with_its_plot(
    setup: Setup, schema: FeatureSchema
) -> None:
    current = _price_risen(schema)
    _write_log(setup.log, current, _probabilities(CURRENT_ROWS, seed=3))

    result = _run(setup)

    assert result.status == "drift"
    assert result.reasons == ["key features drifted: monthly_charges"]
    assert result.columns[0].name == "monthly_charges"
    assert {"wasserstein", "psi"} <= set(result.columns[0].drifted_by)
    assert _pngs(setup.out) == {"monthly_charges.png"}
    assert (DriftReportFiles(setup.out).plots / "monthly_charges.png").read_bytes().startswith(PNG_MAGIC)
    assert read_result(setup.out).status == "drift"


def test_drift_md_lists_every_column_most_drifted_first(setup: Setup, schema: FeatureSchema) -> None:
    current = _price_risen(schema)
    current["contract"] = "Two year"
    _write_log(setup.log, current, _probabilities(CURRENT_ROWS, seed=3))

    result = _run(setup)

    markdown = DriftReportFiles(setup.out).markdown.read_text()
    listed = _table_columns(markdown)
    by_severity = sorted(result.columns, key=lambda column: _severity(column.scores, setup.params.drift), reverse=True)
    assert listed == [column.name for column in by_severity]
    assert listed[0] == "contract", "every contract became 'Two year': the most drifted column"
    assert set(listed) == {*schema.feature_names, "churn_probability"}
    assert "p-value (not used)" in markdown
    assert _pngs(setup.out) == {"monthly_charges.png", "contract.png"}


def test_ten_rows_are_insufficient_data(setup: Setup, schema: FeatureSchema) -> None:
    _write_log(setup.log, _customers(schema, 10, seed=2), _probabilities(10, seed=3), days=1)

    result = _run(setup)

    assert result.status == "insufficient_data"
    assert result.reasons == ["10 current rows, fewer than min_rows 500"]
    assert result.rows.current == 10
    assert read_result(setup.out).status == "insufficient_data"
    assert _pngs(setup.out) == set(), "too few rows to plot"


def test_an_empty_log_is_insufficient_data_not_an_error(setup: Setup) -> None:
    setup.log.mkdir()

    result = _run(setup)

    assert result.status == "insufficient_data"
    assert result.reasons == ["0 current rows, fewer than min_rows 500"]
    assert result.rows.current == 0
    assert result.columns == []
    assert result.model_versions == []
    assert DriftReportFiles(setup.out).markdown.read_text().startswith("# Drift check: **insufficient_data**")


def test_an_empty_window_has_no_first_or_last_day(setup: Setup) -> None:
    setup.log.mkdir()

    result = _run(setup)

    assert (result.window.first_day, result.window.last_day) == (None, None)
    assert read_result(setup.out).window == result.window


def test_a_few_unreadable_log_lines_are_counted_in_drift_json_and_do_not_change_the_verdict(
    setup: Setup, schema: FeatureSchema
) -> None:
    _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), _probabilities(CURRENT_ROWS, seed=3))
    last_day = log_file(setup.log, LAST_DAY)
    with last_day.open("a") as stream:
        stream.write('{"request_id": "cut off mid-wri\n')
        stream.write("<html>502 Bad Gateway</html>\n")
        stream.write(json.dumps({"event": "healthcheck"}) + "\n")

    result = _run(setup)

    assert result.status == "no_drift", "3 of 1,503 lines: under drift.contract.max_unreadable_share"
    assert result.rows.skipped_lines == 3
    assert result.rows.current == CURRENT_ROWS
    assert read_result(setup.out).rows.skipped_lines == 3
    assert "(3 unreadable log lines skipped)" in DriftReportFiles(setup.out).markdown.read_text()


def test_one_line_with_a_value_of_the_wrong_type_is_a_contract_breach_naming_the_feature_rule_and_line(
    setup: Setup, schema: FeatureSchema
) -> None:
    _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), _probabilities(CURRENT_ROWS, seed=3))
    foreign = json.dumps({"request_id": "x", "features": {"tenure": "12"}, "churn_probability": 0.2})
    with log_file(setup.log, LAST_DAY).open("a") as stream:
        stream.write(foreign + "\n")

    result = _run(setup)

    assert result.status == "contract_breach"
    assert result.reasons == [
        "tenure breaks type on 0.07% of lines (1), more than 0.00%: a number expected, got string (1)"
    ]
    (breach,) = result.contract
    assert (breach.feature, breach.rule, breach.count) == ("tenure", "type", 1)
    assert [(example.line, example.text) for example in breach.examples] == [(CURRENT_ROWS // LOG_DAYS + 1, foreign)]
    markdown = DriftReportFiles(setup.out).markdown.read_text()
    assert "| tenure | type | 1 | 0.07% | 0.00% | a number expected, got string (1) |" in markdown
    assert foreign in markdown


# ---------------------------------------------------------------------------------------------
# stale, contract_breach, degraded, and how they rank
# ---------------------------------------------------------------------------------------------


def test_a_line_exactly_max_silence_hours_old_is_not_stale_and_one_a_minute_older_is(params: Params) -> None:
    drift = params.drift
    last_seen = NOW - timedelta(hours=drift.max_silence_hours)

    assert staleness(last_seen, NOW, drift) == []
    assert staleness(last_seen - timedelta(minutes=1), NOW, drift) == [
        f"the newest log line was written at {last_seen - timedelta(minutes=1):%Y-%m-%d %H:%M} UTC, "
        f"{drift.max_silence_hours:.0f} hours before this check, more than max_silence_hours "
        f"{drift.max_silence_hours:g}: the last day seen is {(last_seen - timedelta(minutes=1)).date()}"
    ]


def test_a_log_without_any_line_has_no_silence_to_measure(params: Params) -> None:
    assert staleness(None, NOW, params.drift) == []


def test_a_log_silent_for_two_weeks_is_stale_naming_the_last_day_seen_not_judged_on_its_old_traffic(
    setup: Setup, schema: FeatureSchema
) -> None:
    # Given a clean week of traffic that ended two weeks before the check
    _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), _probabilities(CURRENT_ROWS, seed=3))

    # When the check runs two weeks later
    result = _run(setup, now=NOW + timedelta(days=14))

    # Then it is stale, names the last day seen, and judged no old traffic
    assert result.status == "stale"
    assert result.reasons[0].endswith("the last day seen is 2026-11-24")
    assert [finding.status for finding in result.findings] == ["stale", "insufficient_data"]
    assert result.rows.current == 0, "the window ends on the check's day: the old week is not read again"
    assert result.window.last_seen == datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert DriftReportFiles(setup.out).markdown.read_text().startswith("# Drift check: **stale**")


def test_stale_outranks_drift_in_the_part_of_the_window_the_log_still_covers(
    setup: Setup, schema: FeatureSchema
) -> None:
    current = _price_risen(schema)
    _write_log(setup.log, current, _probabilities(CURRENT_ROWS, seed=3))

    result = _run(setup, now=NOW + timedelta(days=3))

    assert result.status == "stale"
    assert [finding.status for finding in result.findings] == ["stale", "drift"]
    assert result.findings[1].reasons == ["key features drifted: monthly_charges"]
    assert _pngs(setup.out) == {"monthly_charges.png"}, "the drift found is still drawn"
    assert (
        "Also found:\n- drift: key features drifted: monthly_charges"
        in DriftReportFiles(setup.out).markdown.read_text()
    )


def test_a_feature_allowed_one_percent_nulls_arriving_ten_percent_null_is_a_contract_breach_not_no_drift(
    setup: Setup, schema: FeatureSchema
) -> None:
    # Given one non-key feature of 19, total_charges (max_null_fraction 1 %), null on a tenth of the lines
    current = _customers(schema, CURRENT_ROWS, seed=2)
    current["total_charges"] = current["total_charges"].mask(current.index % 10 == 0)
    _write_log(setup.log, current, _probabilities(CURRENT_ROWS, seed=3))

    result = _run(setup)

    # Then the share rule alone would say no drift, but the contract is broken: that is the status
    assert result.status == "contract_breach"
    assert [finding.status for finding in result.findings] == ["contract_breach"]
    (breach,) = result.contract
    assert (breach.feature, breach.rule, breach.count) == ("total_charges", "max_null_fraction", CURRENT_ROWS // 10)
    assert breach.share == pytest.approx(0.1)
    assert breach.limit == pytest.approx(0.01 + setup.params.drift.contract.null_tolerance)
    assert len(breach.examples) == setup.params.drift.contract.examples
    assert result.reasons == [
        "total_charges breaks max_null_fraction on 10.00% of lines (150), more than 2.00%: null or missing; "
        "the schema allows 1.00%"
    ]


def test_a_label_the_schema_lacks_on_a_quarter_of_lines_is_a_contract_breach_that_outranks_drift(
    setup: Setup, schema: FeatureSchema
) -> None:
    current = _customers(schema, CURRENT_ROWS, seed=2)
    current.loc[current.index % 4 == 0, "payment_method"] = "Digital wallet"
    _write_log(setup.log, current, _probabilities(CURRENT_ROWS, seed=3))

    result = _run(setup)

    assert result.status == "contract_breach"
    assert [finding.status for finding in result.findings] == ["contract_breach", "drift"]
    (breach,) = result.contract
    assert (breach.feature, breach.rule) == ("payment_method", "categories")
    assert breach.detail == "labels the schema does not have: Digital wallet (375)"


def test_a_log_of_lines_nobody_can_read_is_a_contract_breach_not_insufficient_data(setup: Setup) -> None:
    setup.log.mkdir()
    log_file(setup.log, LAST_DAY).write_text("<html>502 Bad Gateway</html>\n" * setup.params.drift.min_rows)

    result = _run(setup)

    assert result.status == "contract_breach"
    assert [finding.status for finding in result.findings] == ["contract_breach", "insufficient_data"]
    (breach,) = result.contract
    assert (breach.feature, breach.rule, breach.share) == ("(line)", "unreadable", 1.0)


def test_too_few_lines_to_judge_are_insufficient_data_even_when_they_break_the_contract(
    setup: Setup, schema: FeatureSchema
) -> None:
    current = _customers(schema, 10, seed=2)
    current["total_charges"] = None
    _write_log(setup.log, current, _probabilities(10, seed=3), days=1)

    result = _run(setup)

    assert result.status == "insufficient_data"
    assert result.contract == []


def _labels(row_ids: list[str], churned: np.ndarray) -> list[bytes]:
    """A delayed label per row, sent back by its prediction_id."""
    return [label_line(bool(churn), row_id=row_id) for row_id, churn in zip(row_ids, churned, strict=True)]


def _metric_values(result: DriftResult) -> dict[str, float]:
    """The realised metrics by name."""
    assert result.realised is not None
    return {metric.name: metric.value for metric in result.realised.metrics}


def test_outcomes_turned_against_the_models_ranking_are_degraded_with_the_gate_limits_they_break(
    setup: Setup, schema: FeatureSchema
) -> None:
    # Given a week whose customers look as before, but who churned where the model said they would not
    probabilities = _probabilities(CURRENT_ROWS, seed=3)
    row_ids = _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), probabilities)
    churned = probabilities < np.quantile(probabilities, 0.27)
    _write_labels(setup.log, _labels(row_ids, churned))

    result = _run(setup)

    assert result.status == "degraded"
    assert [finding.status for finding in result.findings] == ["degraded"]
    assert result.realised is not None
    assert (result.realised.rows, result.realised.labels, result.realised.unmatched_labels) == (CURRENT_ROWS,) * 2 + (
        0,
    )
    (roc_auc,) = result.realised.metrics
    assert roc_auc.value == 0.0, "each row of a batch call joined its own label"
    assert roc_auc.bound is not None
    assert roc_auc.bound < 0.83
    assert result.reasons == [
        f"realised roc_auc 0.0000 on {CURRENT_ROWS} labelled rows, {roc_auc.bound:.4f} at the better end of its "
        "95% one-sided interval, is worse than gate.worst_acceptable 0.83 and worse than the held-out 0.8400 by "
        "more than gate.max_regression 0.01"
    ]


def test_bad_outcomes_on_fewer_than_min_labelled_rows_are_not_degraded(setup: Setup, schema: FeatureSchema) -> None:
    probabilities = _probabilities(CURRENT_ROWS, seed=3)
    row_ids = _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), probabilities)
    few = setup.params.drift.min_labelled_rows - 1
    _write_labels(setup.log, _labels(row_ids[:few], probabilities[:few] < np.quantile(probabilities[:few], 0.27)))

    result = _run(setup)

    assert result.status == "no_drift"
    assert result.realised is not None
    assert result.realised.rows == few
    assert result.realised.metrics[0].bound is None, "nothing judged: no interval computed"


def test_every_status_that_holds_is_listed_most_urgent_first(setup: Setup, schema: FeatureSchema) -> None:
    # Given a week that drifted, broke the contract and lost its ranking, and then went silent
    current = _price_risen(schema)
    current["total_charges"] = current["total_charges"].mask(current.index % 10 == 0)
    probabilities = _probabilities(CURRENT_ROWS, seed=3)
    row_ids = _write_log(setup.log, current, probabilities)
    _write_labels(setup.log, _labels(row_ids, probabilities < np.quantile(probabilities, 0.27)))

    result = _run(setup, now=NOW + timedelta(days=3))

    assert [finding.status for finding in result.findings] == ["stale", "contract_breach", "degraded", "drift"]
    assert (result.status, result.reasons) == ("stale", result.findings[0].reasons)


def test_a_metrics_file_that_is_not_the_evaluate_stages_is_a_source_error_naming_it(setup: Setup) -> None:
    setup.params.paths.metrics.write_text('{"roc_auc": "high"}')

    with pytest.raises(SourceError, match=r"metrics\.json: not a metrics file of the evaluate stage") as raised:
        _run(setup)

    assert raised.value.exit_code == 4


def test_an_outcome_metric_missing_from_the_registry_is_a_config_error_naming_it(setup: Setup) -> None:
    outcomes = setup.params.drift.outcomes.model_copy(update={"metrics": ["roc_auc", "happiness"]})
    params = setup.params.model_copy(update={"drift": setup.params.drift.model_copy(update={"outcomes": outcomes})})

    with pytest.raises(ConfigError, match=r"drift\.outcomes\.metrics: \['happiness'\] are not metrics of the registry"):
        run_drift(params, setup.reference, setup.log.as_posix(), setup.out, NOW)


def _ranked_labels(ids: list[str], probabilities: np.ndarray, by: str = "prediction_id") -> list[bytes]:
    """A label per id, the riskier half of them churned: the probabilities rank them perfectly (ROC AUC 1)."""
    churned = probabilities > np.median(probabilities)
    if by == "client_id":
        return [label_line(bool(churn), client_id=client) for client, churn in zip(ids, churned, strict=True)]
    return _labels(ids, churned)


def test_delayed_labels_of_batch_calls_give_each_row_its_own_label_and_the_realised_roc_auc(
    setup: Setup, schema: FeatureSchema
) -> None:
    # given: batch calls of 50 customers each, and labels for 200 rows, sent back by their prediction_id
    probabilities = _probabilities(CURRENT_ROWS, seed=3)
    row_ids = _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), probabilities)
    _write_labels(setup.log, _ranked_labels(row_ids[:200], probabilities[:200]))

    # when
    result = _run(setup)

    # then: each label is its own row's, so the ranking is perfect; joined by request id it would not be
    assert result.realised is not None
    assert result.realised.rows == 200
    assert _metric_values(result) == {"roc_auc": 1.0}
    assert (result.realised.labels, result.realised.unmatched_labels) == (200, 0)
    assert "- roc_auc 1.0000 (held-out 0.8400;" in DriftReportFiles(setup.out).markdown.read_text()


def test_delayed_labels_by_client_id_join_the_rows_that_carried_it(setup: Setup, schema: FeatureSchema) -> None:
    probabilities = _probabilities(CURRENT_ROWS, seed=3)
    client_ids = [f"C-{row:05d}" for row in range(CURRENT_ROWS)]
    _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), probabilities, client_ids=client_ids)
    _write_labels(setup.log, _ranked_labels(client_ids[-300:], probabilities[-300:], by="client_id"))

    result = _run(setup)

    assert result.realised is not None
    assert result.realised.rows == 300
    assert _metric_values(result) == {"roc_auc": 1.0}
    assert result.realised.unmatched_labels == 0


def test_log_lines_from_before_prediction_ids_are_joined_by_their_position_in_their_request(
    setup: Setup, schema: FeatureSchema
) -> None:
    # given: an old log of batch calls, and labels sent by the prediction ids the service gives now
    probabilities = _probabilities(CURRENT_ROWS, seed=3)
    row_ids = _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), probabilities, before_prediction_ids=True)
    _write_labels(setup.log, _ranked_labels(row_ids[:200], probabilities[:200]))

    result = _run(setup)

    assert result.rows.current == CURRENT_ROWS, "old lines are read"
    assert result.realised is not None
    assert result.realised.rows == 200
    assert _metric_values(result) == {"roc_auc": 1.0}


def test_labels_that_join_no_logged_row_are_counted_in_drift_json_and_drift_md(
    setup: Setup, schema: FeatureSchema
) -> None:
    probabilities = _probabilities(CURRENT_ROWS, seed=3)
    row_ids = _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), probabilities)
    strays = [
        label_line(True, row_id="req-from-another-service-0"),
        label_line(False, client_id="C-never-logged"),
        b'{"request_id": "req-0", "churn": true}',  # keyed by something no row carries alone
    ]
    _write_labels(setup.log, [*_ranked_labels(row_ids[:100], probabilities[:100]), *strays])

    result = _run(setup)

    assert result.realised is not None
    assert (result.realised.rows, result.realised.labels) == (100, 102)
    assert (result.realised.unmatched_labels, result.realised.unreadable_label_lines) == (2, 1)
    assert read_result(setup.out).realised == result.realised
    markdown = DriftReportFiles(setup.out).markdown.read_text()
    assert "Delayed labels read: 102; matching no logged row of the window: 2; unreadable label lines: 1." in markdown


def test_labels_of_one_outcome_only_are_counted_without_a_metric(setup: Setup, schema: FeatureSchema) -> None:
    row_ids = _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), _probabilities(CURRENT_ROWS, seed=3))
    _write_labels(setup.log, [label_line(False, row_id=row_id) for row_id in row_ids[:40]])

    result = _run(setup)

    assert result.realised is not None
    assert (result.realised.rows, result.realised.labels, result.realised.metrics) == (40, 40, [])


def test_a_key_feature_missing_from_the_schema_is_a_config_error_naming_drift_key_features(setup: Setup) -> None:
    drift = setup.params.drift.model_copy(update={"key_features": ["monthly_charges", "shoe_size"]})
    params = setup.params.model_copy(update={"drift": drift})

    with pytest.raises(ConfigError, match=r"drift\.key_features.*shoe_size"):
        run_drift(params, setup.reference, setup.log.as_posix(), setup.out, NOW)
    assert not setup.out.exists(), "a configuration error writes no report"


@pytest.mark.parametrize("table", ["reference", "predictions"])
def test_a_corrupt_input_table_is_a_source_error_naming_the_file_and_writes_no_report(
    setup: Setup, schema: FeatureSchema, table: str
) -> None:
    _write_log(setup.log, _customers(schema, CURRENT_ROWS, seed=2), _probabilities(CURRENT_ROWS, seed=3))
    corrupt = setup.reference if table == "reference" else setup.params.paths.predictions
    corrupt.write_bytes(b"not a parquet file")

    with pytest.raises(SourceError, match="cannot be read") as raised:
        _run(setup)

    assert str(corrupt) in str(raised.value)
    assert raised.value.exit_code == 4
    assert not setup.out.exists(), "an unreadable input writes no report"


def test_a_missing_predictions_table_names_the_stage_that_makes_it(setup: Setup) -> None:
    setup.params.paths.predictions.unlink()

    with pytest.raises(SourceError, match=r"not found; run the 'evaluate' stage first"):
        _run(setup)
