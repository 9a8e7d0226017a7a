"""Load params.yaml into typed, frozen objects that reject unknown keys.

A typo in params.yaml must fail at load time with the field's name, not halfway
through a stage; every stage reads its paths and knobs only through here.
"""

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlloop.errors import ConfigError

DEFAULT_PARAMS_FILE = Path("params.yaml")

FilePath = Annotated[Path, Field(strict=False)]
"""A path given as a YAML string; strict mode would otherwise refuse the str."""

EstimatorName = Literal["logistic_regression", "hist_gradient_boosting", "random_forest"]


class Frozen(BaseModel):
    """Base for every params section: immutable, strictly typed, no unknown keys."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class Paths(Frozen):
    """Every file the pipeline reads or writes; dvc.yaml interpolates the same keys."""

    raw: FilePath
    validation_report: FilePath
    train: FilePath
    traffic: FilePath
    test: FilePath
    model: FilePath
    model_metadata: FilePath
    metrics: FilePath
    model_perf: FilePath
    predictions: FilePath
    plot_data: FilePath
    plots: FilePath


class DataParams(Frozen):
    """Where the table comes from and which schema describes it."""

    source: str = Field(min_length=1)
    rename: dict[str, str] = Field(default_factory=dict)
    schema_file: FilePath
    sources_dir: FilePath
    """Where `mlloop fold-in` writes each new version of the training source, for DVC to track."""


class SplitParams(Frozen):
    """The shares of the three pools (pipeline.pools): evaluation (the test split), traffic, and train, the rest."""

    test_size: float = Field(gt=0, lt=1)
    """Share of the table that judges a model: metrics.json, the gate, A/B traffic."""
    traffic_size: float = Field(gt=0, lt=1)
    """Share of the table that drives simulated production traffic, which fold-in may add to training."""
    seed: int

    @model_validator(mode="after")
    def _leaves_rows_to_train_on(self) -> "SplitParams":
        """Both held-out pools together must leave some of the table to train on."""
        if self.test_size + self.traffic_size >= 1:
            raise ValueError(
                f"test_size ({self.test_size}) + traffic_size ({self.traffic_size}) must be below 1, "
                "or no row is left to train on"
            )
        return self


class TrainParams(Frozen):
    """Which estimator to fit, with what hyperparameters, and where to cut."""

    estimator: EstimatorName
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    seed: int
    threshold: float = Field(gt=0, lt=1)


class ImportanceParams(Frozen):
    """Permutation importance, on a seeded sample so cost stays flat as data grows."""

    repeats: int = Field(ge=1)
    max_rows: int = Field(ge=1)
    seed: int


class LatencyParams(Frozen):
    """How much timing evidence to collect for the model_perf report."""

    single_row_calls: int = Field(ge=1)
    batch_rows: int = Field(ge=1)
    batch_calls: int = Field(ge=1)


class EvaluateParams(Frozen):
    """Knobs of the evaluate stage."""

    calibration_bins: int = Field(ge=2)
    importance: ImportanceParams
    latency: LatencyParams


class BootstrapParams(Frozen):
    """Paired bootstrap of PR-minus-baseline metric differences on the shared test set."""

    metrics: list[str] = Field(min_length=1)
    resamples: int = Field(ge=100)
    confidence: float = Field(gt=0, lt=1)
    seed: int


class ServingCostParams(Frozen):
    """Both models timed in one process, call by call in turn, and the bootstrap of their ratio."""

    single_row_calls: int = Field(ge=2)
    batch_rows: int = Field(ge=1)
    batch_calls: int = Field(ge=2)
    warmup_calls: int = Field(ge=0)
    resamples: int = Field(ge=100)
    confidence: float = Field(gt=0, lt=1)
    seed: int


class ReportParams(Frozen):
    """The pull-request report: where it goes, what to compare against and how to draw it."""

    directory: FilePath
    baseline: str = Field(min_length=1)
    charts: Literal["mermaid", "png"]
    chart_points: int = Field(ge=2)
    bootstrap: BootstrapParams
    serving_cost: ServingCostParams
    loop_inputs: list[FilePath] = Field(min_length=1)
    """Files and folders the PR loop runs besides what dvc.yaml declares; a change to none skips it."""

    @property
    def report_file(self) -> Path:
        """The Markdown report in `directory`: what `cml comment` posts and the job summary shows."""
        return self.directory / "report.md"

    @property
    def serving_cost_file(self) -> Path:
        """The timing `report` measured, in `directory`: `gate` reuses it rather than timing the models again."""
        return self.directory / "serving_cost.json"


class GateParams(Frozen):
    """The quality gate: every rule a model must pass to merge."""

    worst_acceptable: dict[str, float]
    max_regression: dict[str, float]
    max_single_row_latency_ms: float = Field(gt=0)
    max_latency_ratio: float = Field(gt=1)
    max_model_size_bytes: int = Field(gt=0)


class GcThresholds(Frozen):
    """The arguments of gc.set_threshold, in its order, for the service's process."""

    allocations: int = Field(ge=1)
    young_collections: int = Field(ge=1)
    middle_collections: int = Field(ge=1)


class ServiceSettings(Frozen):
    """What the running service reads: a bento carries no params.yaml, so these travel in its model's metadata."""

    max_batch_size: int = Field(ge=1)
    max_request_bytes: int = Field(ge=1024)
    max_client_id_chars: int = Field(ge=1)
    inference_log_dir: FilePath
    inference_log_queue_lines: int = Field(ge=1)
    log_drain_seconds: float = Field(gt=0)
    request_timeout_seconds: float = Field(gt=0)
    model_calls_in_flight: int = Field(ge=1)
    model_threads: int = Field(ge=1)
    gc_thresholds: GcThresholds


class ServeParams(ServiceSettings):
    """The prediction service's settings, and the model card it carries."""

    model_card: FilePath
    intended_use: str = Field(min_length=1)
    limitations: list[str]
    termination_grace_seconds: int = Field(ge=1)
    """The pod's terminationGracePeriodSeconds, declared here; tests/deploy checks the manifests agree."""

    @model_validator(mode="after")
    def _shutdown_fits_the_grace_period(self) -> "ServeParams":
        """Answering the requests in flight, then draining the log, must end before the pod is killed."""
        shutdown = self.request_timeout_seconds + self.log_drain_seconds
        if shutdown >= self.termination_grace_seconds:
            raise ValueError(
                f"request_timeout_seconds + log_drain_seconds ({shutdown:g}) must be less than "
                f"termination_grace_seconds ({self.termination_grace_seconds}), which leaves the log shipper "
                "the rest for its last upload"
            )
        return self


AbMode = Literal["off", "shadow", "split"]


class AbSettings(Frozen):
    """How a bento holding a champion and a challenger serves them (params.yaml explains each mode):
    what the running service reads, so these travel in its model's metadata, as ServiceSettings do.
    """

    mode: AbMode
    challenger_share: float = Field(gt=0, lt=1)
    """The share of customers the challenger answers in split mode."""
    shadow_max_busy: float = Field(gt=0, le=1)
    """In shadow mode, the challenger scores a call only while the model process was busy less than this share of
    the last second; 1 scores every row, whatever the load."""

    @field_validator("mode", mode="before")
    @classmethod
    def _off_is_quoted(cls, value: object) -> object:
        """YAML 1.1 reads a bare `off` as false: say so, rather than only that false is not a mode."""
        if value is False:
            raise ValueError('a bare off is false in YAML: write mode: "off"')
        return value


class AbDecisionParams(Frozen):
    """When `mlloop ab-report` promotes the challenger: its evidence, its test and its thresholds (params.yaml
    explains the rule); the gate's floors are gate.worst_acceptable, declared once.
    """

    directory: FilePath
    evidence_days: int = Field(ge=1)
    """The evidence window: the report reads these last days of the log, and decides once the challenger has been
    logged since their first day."""
    min_labelled_rows: int = Field(ge=1)
    """Per variant."""
    metric: str = Field(min_length=1)
    min_improvement: float = Field(ge=0)
    """In the metric's own units, positive meaning better; a negative one would promote a worse challenger."""
    confidence: float = Field(ge=0.5, lt=1)
    """Of the one-sided interval of the difference: below a half, its end would be past the observed difference."""
    resamples: int = Field(ge=100)
    seed: int


class AbParams(AbSettings):
    """params.yaml `ab`: the service's settings (AbSettings), and how the report on the two models' answers
    decides between them.
    """

    decision: AbDecisionParams


class DriftThresholds(Frozen):
    """When one score says a feature drifted (params.yaml explains each)."""

    wasserstein: float = Field(gt=0)
    jensen_shannon: float = Field(gt=0, le=1)
    psi: float = Field(gt=0)
    unseen_share: float = Field(gt=0, le=1)
    null_share: float = Field(gt=0, le=1)


class ContractParams(Frozen):
    """When log lines that break the schema are a contract breach, and how many of them the report quotes."""

    null_tolerance: float = Field(ge=0, le=1)
    """Null share allowed above a feature's max_null_fraction, for sampling noise."""
    max_invalid_share: float = Field(ge=0, le=1)
    """Share of a feature's values out of its range, of the wrong type, or fractional for an integer."""
    max_unknown_label_share: float = Field(ge=0, le=1)
    max_unreadable_share: float = Field(ge=0, le=1)
    """Share of the window's lines that are not JSON objects with a features object and a probability."""
    examples: int = Field(ge=1)
    example_chars: int = Field(ge=20)


class OutcomeParams(Frozen):
    """The realised metrics that can make a check `degraded`, and the bootstrap that tells decay from noise."""

    metrics: list[str] = Field(min_length=1)
    confidence: float = Field(gt=0, lt=1)
    resamples: int = Field(ge=100)
    max_bootstrap_rows: int = Field(ge=100)
    seed: int


class SummaryTolerance(Frozen):
    """How far a score from summaries may be from the same score on the rows (`--exact`), in its own units."""

    wasserstein: float = Field(gt=0)
    psi: float = Field(gt=0)


class SummaryParams(Frozen):
    """Per-file summaries of the inference log, which the check merges instead of reading every line again."""

    folder: str = Field(min_length=1, pattern=r"^[^/]+$")
    """Under the log's root: `<root>/<folder>/<reference's fingerprint>/...`; never read as log files."""
    bins: int = Field(ge=10)
    """Fine bins per numeric feature (and the probability), drawn from the reference."""
    tolerance: SummaryTolerance
    workers: int = Field(ge=1)
    """Processes summarising files at once."""
    block_mib: int = Field(ge=1)
    """Mebibytes of whole lines read and parsed at a time: the memory a file costs, whatever its size."""
    join_mib: int = Field(ge=1)
    """Mebibytes the window's join of delayed labels holds at once, whatever their count: beyond them, it is split
    by ranges of the hashed keys, written to a temporary folder and joined one range at a time."""


class DriftParams(Frozen):
    """The drift check: its window, its statuses' rules and every threshold, declared once."""

    window_days: int = Field(ge=1)
    min_rows: int = Field(ge=1)
    drifted_share: float = Field(gt=0, le=1)
    key_features: list[str]
    thresholds: DriftThresholds
    psi_bins: int = Field(ge=2)
    psi_epsilon: float = Field(gt=0)
    max_silence_hours: float = Field(gt=0)
    contract: ContractParams
    min_labelled_rows: int = Field(ge=1)
    outcomes: OutcomeParams
    history_days: int = Field(ge=1)
    directory: FilePath
    summaries: SummaryParams


Status = Literal["stale", "contract_breach", "degraded", "drift", "insufficient_data", "no_drift"]
"""Every status of the drift check, most urgent first (monitoring.status ranks them in this order and says why);
declared here, the lowest layer, because a simulated scenario declares the one it must reach."""

Share = Annotated[float, Field(gt=0, le=1)]
"""A share of rows: more than none, at most all."""


class ColumnShift(Frozen):
    """A shift of one feature; the simulator checks it against the schema before any traffic."""

    column: str = Field(min_length=1)


class Scale(ColumnShift):
    """A numeric feature times `factor`; with `ramp`, the change grows day by day and is whole on the last day."""

    kind: Literal["scale"]
    factor: float = Field(gt=0)
    ramp: bool


class Offset(ColumnShift):
    """A numeric feature plus `by`; with `ramp`, the change grows day by day and is whole on the last day."""

    kind: Literal["offset"]
    by: float
    ramp: bool


class MoveLabels(ColumnShift):
    """A share of the rows holding one of `from_labels` hold `to_label` instead."""

    kind: Literal["move_labels"]
    from_labels: list[str] = Field(min_length=1)
    to_label: str
    share: Share

    @model_validator(mode="after")
    def _moves_somewhere_else(self) -> "MoveLabels":
        """A row moved to a label it already holds is not moved."""
        if self.to_label in self.from_labels:
            raise ValueError(f"to_label {self.to_label!r} is one of from_labels {self.from_labels}")
        return self


class UnknownLabel(ColumnShift):
    """A share of the rows hold `label`, which the schema does not have."""

    kind: Literal["unknown_label"]
    label: str
    share: Share


class Nulls(ColumnShift):
    """A share of the rows have no value for the feature."""

    kind: Literal["nulls"]
    share: Share


class CorruptLines(Frozen):
    """A torn copy of a share of the lines (its first half, not JSON) is written to the log as well."""

    kind: Literal["corrupt_lines"]
    share: Share


class StopLogging(Frozen):
    """Nothing is logged after the first `after_day` days: the log goes silent."""

    kind: Literal["stop_logging"]
    after_day: int = Field(ge=1)


class FlipOutcomes(Frozen):
    """For a share of the rows, the delayed outcome is the opposite of the model's prediction; features unchanged."""

    kind: Literal["flip_outcomes"]
    share: Share


Shift = Annotated[
    Scale | Offset | MoveLabels | UnknownLabel | Nulls | CorruptLines | StopLogging | FlipOutcomes,
    Field(discriminator="kind"),
]


class ScenarioParams(Frozen):
    """Traffic with a known ground truth: the shifts applied, in order, and the status the drift check must reach."""

    expected: Status
    shifts: list[Shift]


HeldOutPool = Literal["traffic", "evaluation"]
"""The held-out pools of the split (pipeline.pools) a simulation draws its customers from: traffic, whose rows
fold-in may train on, or evaluation, the customers that judge a model (A/B traffic), which fold-in refuses."""


class SimulateParams(Frozen):
    """The default run of `make simulate`, the scenarios it can run, and how long it waits for a service's answer."""

    scenario: str
    scenarios: dict[str, ScenarioParams] = Field(min_length=1)
    pool: HeldOutPool
    days: int = Field(ge=1)
    rows_per_day: int = Field(ge=1)
    seed: int
    request_timeout_seconds: float = Field(gt=0)

    @model_validator(mode="after")
    def _scenario_is_declared(self) -> "SimulateParams":
        """The default run must be one of the declared scenarios."""
        if self.scenario not in self.scenarios:
            raise ValueError(f"scenario {self.scenario!r} is not one of scenarios ({', '.join(self.scenarios)})")
        return self

    def chosen_scenario(self) -> ScenarioParams:
        """The scenario to run; a name given on the command line that params does not declare is a ConfigError."""
        if self.scenario not in self.scenarios:
            raise ConfigError(
                f"simulate.scenario: {self.scenario!r} is not declared in simulate.scenarios "
                f"({', '.join(self.scenarios)}); declare it in params.yaml or choose one of those"
            )
        return self.scenarios[self.scenario]


class Params(Frozen):
    """The whole of params.yaml."""

    paths: Paths
    data: DataParams
    split: SplitParams
    train: TrainParams
    evaluate: EvaluateParams
    report: ReportParams
    gate: GateParams
    serve: ServeParams
    ab: AbParams
    drift: DriftParams
    simulate: SimulateParams

    @model_validator(mode="after")
    def _outcome_metrics_have_a_gate_rule(self) -> "Params":
        """A realised metric the gate sets no limit for could never make a check `degraded`."""
        gate = self.gate
        ungated = [
            name
            for name in self.drift.outcomes.metrics
            if name not in gate.worst_acceptable and name not in gate.max_regression
        ]
        if ungated:
            raise ValueError(
                f"drift.outcomes.metrics: {ungated} have no limit in gate.worst_acceptable or gate.max_regression, "
                "so they could never make a check degraded; give each one a gate limit or remove it"
            )
        return self

    @model_validator(mode="after")
    def _simulator_outwaits_the_service(self) -> "Params":
        """A client that gives up first reports a timeout where the service would have answered."""
        if self.simulate.request_timeout_seconds < self.serve.request_timeout_seconds:
            raise ValueError(
                f"simulate.request_timeout_seconds ({self.simulate.request_timeout_seconds}) must be at least "
                f"serve.request_timeout_seconds ({self.serve.request_timeout_seconds}), the service's own timeout"
            )
        return self


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping, or raise ConfigError naming the file."""
    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: file not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read: {error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded


def describe_validation_error(source: Path, error: ValidationError) -> str:
    """Render pydantic errors as 'file: dotted.field: rule (got value)' lines."""
    lines = []
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"]) or "(top level)"
        lines.append(f"{source}: {field}: {detail['msg']} (got {detail.get('input')!r})")
    return "\n".join(lines)


def load_params(path: Path = DEFAULT_PARAMS_FILE) -> Params:
    """Load and validate params.yaml."""
    try:
        return Params.model_validate(read_yaml_mapping(path))
    except ValidationError as error:
        raise ConfigError(describe_validation_error(path, error)) from error
