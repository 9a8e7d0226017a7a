"""The A/B report: both variants on the log's evidence window and its delayed labels, and one decision,
promote, keep_champion or insufficient_data, whose reasons name the numbers that decided. The logs are
written by the simulator, serving a champion and a challenger whose ground truth is known: a model fitted
to the held-out customers' real outcomes, or to their opposites."""

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from mlloop.cli import main
from mlloop.config import AbMode, Params
from mlloop.core.model import build_pipeline
from mlloop.core.schema import FeatureSchema, features_and_label
from mlloop.errors import ConfigError
from mlloop.monitoring import simulator
from mlloop.monitoring.ab_report import find_arms, run_ab_report
from mlloop.monitoring.ab_result import AbReportFiles, AbResult, read_result
from mlloop.monitoring.outcomes import LABEL
from mlloop.storage.files import sha256_of, write_json

START = date(2026, 3, 1)
DAYS = 2
ROWS_PER_DAY = 300
THRESHOLD = 0.5
SHARE = 0.5


def _fitted(table: pd.DataFrame, schema: FeatureSchema, *, right: bool, strength: float = 1.0) -> Pipeline:
    """A model of the held-out customers: fitted to their outcomes (right), or to the opposite ones."""
    features, label = features_and_label(table, schema)
    pipeline = build_pipeline(schema, "logistic_regression", {"C": strength}, seed=0)
    return pipeline.fit(features, label if right else 1 - label)


def _save(pipeline: Pipeline, model_file: Path, metadata_file: Path) -> Path:
    model_file.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, model_file)
    write_json(metadata_file, {"threshold": THRESHOLD})
    return model_file


@pytest.fixture
def ab_params(params: Params, valid_table: pd.DataFrame, tmp_path: Path) -> Params:
    """params whose test split (the evaluation pool, which judges models) exists, with a short evidence window,
    few rows and resamples, and no floors."""
    params.paths.test.parent.mkdir(parents=True)
    valid_table.to_parquet(params.paths.test, index=False)
    decision = params.ab.decision.model_copy(
        update={
            "directory": tmp_path / "reports" / "ab",
            "evidence_days": DAYS,
            "min_labelled_rows": 150,
            "resamples": 200,
        }
    )
    return params.model_copy(
        update={
            "ab": params.ab.model_copy(update={"challenger_share": SHARE, "decision": decision}),
            "gate": params.gate.model_copy(update={"worst_acceptable": {}}),
        }
    )


class Models:
    """Model files of known quality on the held-out customers the simulator sends."""

    def __init__(self, params: Params, table: pd.DataFrame, schema: FeatureSchema, directory: Path) -> None:
        self.params, self.table, self.schema, self.directory = params, table, schema, directory

    def champion(self, *, right: bool) -> None:
        """The pipeline's own model (params paths.model)."""
        paths = self.params.paths
        _save(_fitted(self.table, self.schema, right=right), paths.model, paths.model_metadata)

    def challenger(self, name: str, *, right: bool, strength: float = 1.0) -> Path:
        """Another model file, its metadata beside it."""
        folder = self.directory / name
        pipeline = _fitted(self.table, self.schema, right=right, strength=strength)
        return _save(pipeline, folder / self.params.paths.model.name, folder / self.params.paths.model_metadata.name)


@pytest.fixture
def models(ab_params: Params, valid_table: pd.DataFrame, schema: FeatureSchema, tmp_path: Path) -> Models:
    return Models(ab_params, valid_table, schema, tmp_path / "challengers")


def _lines_since_the_challengers_first(log: Path) -> int:
    """The log's lines from the first one the challenger answered on: the rows the comparison reads."""
    lines = [json.loads(line) for path in sorted(log.rglob("predictions-*.jsonl")) for line in path.open()]
    moments = [datetime.fromisoformat(line["timestamp"]) for line in lines]
    first = min(moment for moment, line in zip(moments, lines, strict=True) if line["variant"] == "challenger")
    return sum(moment >= first for moment in moments)


def _with(params: Params, mode: AbMode, **decision: object) -> Params:
    settings = params.ab.decision.model_copy(update=decision)
    return params.model_copy(update={"ab": params.ab.model_copy(update={"mode": mode, "decision": settings})})


def _simulate(params: Params, out: Path, challenger: Path | None, days: int = DAYS, seed: int = 3) -> None:
    settings = params.simulate.model_copy(
        update={"scenario": "none", "pool": "evaluation", "days": days, "rows_per_day": ROWS_PER_DAY, "seed": seed}
    )
    simulator.simulate(params, settings, START, out, None, challenger)


def _report(params: Params, out: Path, days: int = DAYS) -> AbResult:
    """The report on the evidence window ending on the last simulated day."""
    last_day = START + timedelta(days=days - 1)
    return run_ab_report(params, str(out), None, datetime.combine(last_day, time(12), UTC))


def test_a_better_challenger_in_shadow_is_promoted_on_a_paired_interval_whose_numbers_the_reason_names(
    ab_params: Params, models: Models, tmp_path: Path
) -> None:
    # given: a champion fitted to the opposite outcomes, a challenger fitted to the real ones, both on every row
    models.champion(right=False)
    challenger = models.challenger("good", right=True)
    params = _with(ab_params, "shadow")
    _simulate(params, tmp_path / "log", challenger)

    # when
    result = _report(params, tmp_path / "log")

    # then
    assert result.decision == "promote", result.reasons
    assert (result.mode, result.evidence.closed, result.evidence.first_day) == ("shadow", True, START)
    champion, shadow = result.variants
    assert champion.rows == shadow.rows == DAYS * ROWS_PER_DAY, "the same rows: the challenger scored each"
    assert champion.labelled_rows == shadow.labelled_rows == DAYS * ROWS_PER_DAY
    difference = result.difference
    assert difference is not None
    assert difference.paired
    assert difference.delta == pytest.approx(shadow.metrics["roc_auc"] - champion.metrics["roc_auc"])
    assert 0.002 < difference.bound < difference.delta
    assert difference.improvement_bound == difference.bound, "roc_auc is better higher: the bound is the gain"
    (reason,) = result.reasons
    for number in (f"{difference.delta:+.4f}", f"{difference.bound:+.4f}", "min_improvement 0.002", "95%"):
        assert number in reason, reason
    assert result.challenger_version == shadow.model_versions[0] == "simulated:" + sha256_of(challenger)[:12]


def test_the_report_is_written_as_json_that_reads_back_and_markdown_that_leads_with_the_decision(
    ab_params: Params, models: Models, tmp_path: Path
) -> None:
    models.champion(right=False)
    params = _with(ab_params, "shadow")
    _simulate(params, tmp_path / "log", models.challenger("good", right=True))

    result = _report(params, tmp_path / "log")

    files = AbReportFiles(params.ab.decision.directory)
    assert read_result(params.ab.decision.directory) == result
    assert json.loads(files.result.read_text())["decision"] == "promote"
    markdown = files.markdown.read_text()
    assert markdown.startswith("# Champion and challenger: 🟢 promote the challenger")
    assert result.reasons[0] in markdown
    assert f"| champion | {result.variants[0].model_versions[0]} | 600 | 600 |" in markdown
    assert result.rule in markdown


def test_a_worse_challenger_in_split_mode_keeps_the_champion_on_an_unpaired_interval(
    ab_params: Params, models: Models, tmp_path: Path
) -> None:
    # given: the challenger answers about half of the rows, and is fitted to the opposite outcomes
    models.champion(right=True)
    params = _with(ab_params, "split")
    _simulate(params, tmp_path / "log", models.challenger("bad", right=False))

    # when
    result = _report(params, tmp_path / "log")

    # then
    assert result.decision == "keep_champion", result.reasons
    assert result.mode == "split"
    champion, challenger = result.variants
    assert champion.rows + challenger.rows == _lines_since_the_challengers_first(tmp_path / "log"), (
        "each row from the challenger's first on answered by one variant"
    )
    assert 0.4 < challenger.rows / (DAYS * ROWS_PER_DAY) < 0.6, "challenger_share 0.5 of the rows"
    assert champion.model_versions != challenger.model_versions
    difference = result.difference
    assert difference is not None
    assert not difference.paired
    assert difference.bound < difference.delta < 0, "worse, and at least as much worse at the interval's end"
    assert f"{difference.delta:+.4f}" in result.reasons[0]
    assert "not above ab.decision.min_improvement 0.002" in result.reasons[0]


def test_a_better_challenger_in_split_mode_is_promoted(ab_params: Params, models: Models, tmp_path: Path) -> None:
    models.champion(right=False)
    params = _with(ab_params, "split")
    _simulate(params, tmp_path / "log", models.challenger("good", right=True))

    result = _report(params, tmp_path / "log")

    assert result.decision == "promote", result.reasons
    assert result.difference is not None
    assert not result.difference.paired


def test_a_challenger_equal_to_the_champion_is_not_promoted(ab_params: Params, models: Models, tmp_path: Path) -> None:
    # given: the challenger is the champion's own model, in shadow mode: every difference is exactly zero
    models.champion(right=True)
    params = _with(ab_params, "shadow")
    _simulate(params, tmp_path / "log", ab_params.paths.model)

    result = _report(params, tmp_path / "log")

    assert result.decision == "keep_champion"
    assert result.difference is not None
    assert (result.difference.delta, result.difference.bound) == (0.0, 0.0)
    assert "a gain of +0.0000, not above ab.decision.min_improvement 0.002" in result.reasons[0]


def test_a_challenger_below_a_floor_of_the_gate_is_never_promoted_however_much_better(
    ab_params: Params, models: Models, tmp_path: Path
) -> None:
    models.champion(right=False)
    params = _with(ab_params, "shadow").model_copy(
        update={"gate": ab_params.gate.model_copy(update={"worst_acceptable": {"roc_auc": 0.99, "f1": 0.1}})}
    )
    _simulate(params, tmp_path / "log", models.challenger("good", right=True))

    result = _report(params, tmp_path / "log")

    assert result.decision == "keep_champion"
    (floor,) = result.floors  # f1 scores decisions, which a shadow answer does not log: not a floor here
    assert (floor.metric, floor.limit, floor.met) == ("roc_auc", 0.99, False)
    assert result.reasons[0] == (
        f"the challenger's roc_auc {floor.challenger:.4f} is worse than gate.worst_acceptable 0.99"
    )
    assert result.difference is not None
    assert result.difference.improvement_bound > 0.002, "better than the champion, and still not promoted"


def test_a_paired_interval_is_narrower_than_an_unpaired_one_for_two_similar_models(
    ab_params: Params, models: Models, tmp_path: Path
) -> None:
    # given: two models fitted to the same outcomes, one more regularised: their answers move together
    models.champion(right=True)
    similar = models.challenger("similar", right=True, strength=0.3)
    shadow, split = _with(ab_params, "shadow"), _with(ab_params, "split")
    _simulate(shadow, tmp_path / "shadow", similar)
    _simulate(split, tmp_path / "split", similar)

    # when
    paired = _report(shadow, tmp_path / "shadow").difference
    unpaired = _report(split, tmp_path / "split").difference

    # then
    assert paired is not None
    assert unpaired is not None
    assert paired.paired
    assert not unpaired.paired
    assert 3 * (paired.delta - paired.bound) < unpaired.delta - unpaired.bound, (paired, unpaired)


def test_a_log_of_mode_off_is_insufficient_data_saying_no_line_names_a_challenger(
    ab_params: Params, models: Models, tmp_path: Path
) -> None:
    models.champion(right=True)
    _simulate(ab_params, tmp_path / "log", challenger=None)

    result = _report(ab_params, tmp_path / "log")

    assert result.decision == "insufficient_data"
    assert result.reasons == [
        f"no line of the {DAYS}-day window from {START} to {START + timedelta(days=DAYS - 1)} names a challenger: "
        f'its {DAYS * ROWS_PER_DAY:,} rows were the champion\'s alone (ab.mode "off", or no challenger deployed)'
    ]
    assert (result.mode, result.challenger_version, result.variants, result.difference) == (None, None, [], None)
    assert not result.evidence.closed


def test_too_few_labelled_rows_are_insufficient_data_naming_each_variants_count_and_the_minimum(
    ab_params: Params, models: Models, tmp_path: Path
) -> None:
    models.champion(right=False)
    params = _with(ab_params, "split", min_labelled_rows=400)
    _simulate(params, tmp_path / "log", models.challenger("good", right=True))

    result = _report(params, tmp_path / "log")

    assert result.decision == "insufficient_data"
    champion, challenger = result.variants
    assert result.reasons == [
        f"the champion has {champion.labelled_rows:,} labelled rows, fewer than ab.decision.min_labelled_rows 400",
        f"the challenger has {challenger.labelled_rows:,} labelled rows, fewer than ab.decision.min_labelled_rows 400",
    ]
    assert result.difference is not None, "the numbers so far are reported all the same"


def test_while_the_evidence_window_is_open_the_decision_waits_for_it_to_close(
    ab_params: Params, models: Models, tmp_path: Path
) -> None:
    # given: two days of a clearly better challenger, and an evidence window of three
    models.champion(right=False)
    params = _with(ab_params, "shadow", evidence_days=3)
    _simulate(params, tmp_path / "log", models.challenger("good", right=True))

    # when
    result = _report(params, tmp_path / "log")

    # then
    assert result.decision == "insufficient_data"
    assert (result.evidence.days, result.evidence.first_day, result.evidence.closed) == (3, START, False)
    assert result.reasons == [
        f"the evidence window is open: the challenger {result.challenger_version} was first logged on {START}, "
        f"day 2 of ab.decision.evidence_days 3; the decision is taken once, when it closes on "
        f"{START + timedelta(days=2)}"
    ]
    assert result.difference is not None
    assert result.difference.improvement_bound > 0.002, "it would be promoted: it is not, yet"


def _rows(lines: list[tuple[str, str, str, str | None]]) -> pd.DataFrame:
    """Window rows of one day from (hour, variant, model_version, challenger_version of a shadow line)."""
    return pd.DataFrame(
        [
            {
                "timestamp": f"2026-03-01T{hour}:00:00+00:00",
                "variant": variant,
                "model_version": version,
                "challenger_version": shadow,
                "churn_probability": 0.4,
                "challenger_probability": None if shadow is None else 0.6,
            }
            for hour, variant, version, shadow in lines
        ]
    )


def test_the_challenger_compared_is_the_one_the_newest_line_names_from_its_first_line_on() -> None:
    # given: a split with challenger v2, then a shadow of challenger v3 (the hours of one day)
    rows = _rows(
        [
            ("01", "champion", "v1", None),
            ("02", "challenger", "v2", None),
            ("03", "champion", "v1", "v3"),
            ("04", "champion", "v1", "v3"),
            ("05", "challenger", "v2", None),
            ("06", "champion", "v1", "v3"),
        ]
    )
    outcomes = pd.Series([True, False], index=[3, 5], name=LABEL)  # labels of the lines at 04 and 06

    # when
    arms = find_arms(rows, outcomes, date(2026, 3, 1))

    # then
    assert arms is not None
    assert (arms.mode, arms.challenger_version, arms.first_day) == ("shadow", "v3", date(2026, 3, 1))
    assert arms.champion.probability.tolist() == [0.4] * 3, "the three lines v3 scored beside the champion"
    assert arms.challenger.probability.tolist() == [0.6] * 3
    assert (arms.champion.versions, arms.challenger.versions) == (["v1"], ["v3"])
    assert arms.champion.labelled.tolist() == [False, True, True]
    assert arms.champion.label[arms.champion.labelled].tolist() == [True, False]


def test_shadow_lines_the_challenger_skipped_under_load_are_counted_and_in_neither_variant() -> None:
    # given: a shadow of v3 whose second and fourth lines came while the model process was busy: no v3 probability
    rows = _rows([(hour, "champion", "v1", "v3") for hour in ("01", "02", "03", "04")])
    rows.loc[[1, 3], "challenger_probability"] = None

    arms = find_arms(rows, pd.Series([True], index=[1], name=LABEL), date(2026, 3, 1))

    assert arms is not None
    assert (arms.mode, arms.challenger_version) == ("shadow", "v3")
    assert arms.skipped_rows == 2
    assert len(arms.champion.probability) == len(arms.challenger.probability) == 2, "paired on the rows both scored"
    assert not arms.champion.labelled.any(), "the labelled row is one the challenger skipped"


@pytest.mark.parametrize(
    ("newest", "settled"),
    [
        (("05", "champion", "v1", "v3"), None),  # still in shadow
        (("05", "champion", "v3", None), "promoted"),  # v3 answers as the champion, alone
        (("05", "champion", "v1", None), "retired"),  # the champion alone, v3 no longer named
    ],
)
def test_the_newest_line_shows_whether_a_shadow_challenger_was_since_promoted_or_retired(
    newest: tuple[str, str, str, str | None], settled: str | None
) -> None:
    rows = _rows([*[(hour, "champion", "v1", "v3") for hour in ("01", "02", "03", "04")], newest])

    arms = find_arms(rows, pd.Series([], dtype=bool, name=LABEL), date(2026, 3, 1))

    assert arms is not None
    assert (arms.challenger_version, arms.settled) == ("v3", settled)


def test_a_line_whose_time_cannot_be_read_is_never_the_newest() -> None:
    # given: a shadow of v3 still running, and a line of the champion alone whose timestamp is unreadable
    rows = _rows([(hour, "champion", "v1", "v3") for hour in ("01", "02")] + [("03", "champion", "v1", None)])
    rows.loc[2, "timestamp"] = "not a time"

    arms = find_arms(rows, pd.Series([], dtype=bool, name=LABEL), date(2026, 3, 1))

    assert arms is not None
    assert arms.settled is None, "ordered first, as the challenger's own lines are, it shows no retirement"


def test_in_split_mode_a_champions_newest_line_is_no_sign_of_a_retirement_but_the_challenger_as_champion_is() -> None:
    split = [("01", "champion", "v1", None), ("02", "challenger", "v2", None)]
    still = find_arms(
        _rows([*split, ("03", "champion", "v1", None)]), pd.Series([], dtype=bool, name=LABEL), date(2026, 3, 1)
    )
    promoted = find_arms(
        _rows([*split, ("03", "champion", "v2", None)]), pd.Series([], dtype=bool, name=LABEL), date(2026, 3, 1)
    )

    assert still is not None
    assert promoted is not None
    assert (still.settled, promoted.settled) == (None, "promoted")


def test_in_split_mode_the_champions_rows_are_those_it_answered_since_the_challengers_first_line() -> None:
    rows = _rows(
        [
            ("01", "champion", "v1", None),
            ("02", "challenger", "v2", None),
            ("03", "champion", "v1", None),
            ("04", "challenger", "v2", None),
        ]
    )

    arms = find_arms(rows, pd.Series([], dtype=bool, name=LABEL), date(2026, 3, 1))

    assert arms is not None
    assert arms.mode == "split"
    assert len(arms.champion.probability) == 1, "the line at 01 came before the challenger: another period"
    assert arms.skipped_rows == 0
    assert len(arms.challenger.probability) == 2
    assert not arms.champion.labelled.any()


def test_a_window_whose_lines_name_no_challenger_has_no_arms() -> None:
    rows = _rows([("01", "champion", "v1", None), ("02", "champion", "v1", None)])

    assert find_arms(rows, pd.Series([], dtype=bool, name=LABEL), date(2026, 3, 1)) is None


def test_a_decision_metric_of_decisions_is_a_config_error_naming_the_field(ab_params: Params, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ab\.decision\.metric: 'f1' is not a metric of the probabilities alone"):
        _report(_with(ab_params, "shadow", metric="f1"), tmp_path / "log")


def test_the_command_prints_the_decision_and_its_reasons_and_exits_0(
    ab_params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params_file = tmp_path / "params.yaml"
    params_file.write_text(json.dumps(ab_params.model_dump(mode="json")))  # JSON is YAML
    (tmp_path / "empty-log").mkdir()

    code = main(["--params", str(params_file), "ab-report", "--current", str(tmp_path / "empty-log"),
                 "--out", str(tmp_path / "ab"), "--window-days", "5"])  # fmt: skip

    assert code == 0
    assert capsys.readouterr().out.startswith("insufficient_data: no line of the 5-day window")
    assert read_result(tmp_path / "ab").evidence.days == 5
