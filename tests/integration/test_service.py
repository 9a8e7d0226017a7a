"""The prediction service for real: `make bento` in a temporary copy of the repository, the
bento served on a free loopback port, and requests sent over HTTP.

Champion and challenger have a copy of their own, with a model version at the registry's stage prod:
its bento of two models is built and served once per mode (shadow, split) for the module.

The requests are the test split's rows and the bad ones are built from schema.yaml, so the tests hold for
whatever table the project reads, and the simulated drift is the first params.yaml declares (a skip naming
params.yaml when it declares none).
A drift check judges one test's lines alone, copied by their prediction ids from the log the
module's one served bento writes: what another test sent cannot change its verdict.
"""

import contextlib
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import joblib
import numpy as np
import pandas as pd
import psutil
import pytest
import yaml
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from mlloop.config import AbMode, AbSettings, ColumnShift, ServiceSettings, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.monitoring.fold_in import params_round_trip
from mlloop.serving.bento_model import LOG_DIRECTORY_VARIABLE, MODEL_NAME, ab_settings, champion_tag, service_settings
from mlloop.serving.inference_log import CLOSED_FILE, LOG_FILE_GLOB, log_file
from mlloop.serving.registry import PRODUCTION_STAGE
from mlloop.serving.routing import assigned_variant
from tests.declared_scenarios import declared_scenario, shifts_of
from tests.integration.repository import PROJECT, copy_repository, run
from tests.model_processes import model_processes

pytestmark = pytest.mark.integration

STARTUP_SECONDS = 90
TOLERANCE = 1e-9
CUSTOMERS = 50
"""Test-split rows most tests send."""
BREACH_FACTOR = 5
"""A broken export's null share, as a multiple of what the contract allows: 10 % for a feature allowed 1 % plus 1 %."""

PARAMS = load_params(PROJECT / "params.yaml")
SCHEMA = load_schema(PROJECT / PARAMS.data.schema_file)
"""The project's own, which the copy the module serves shares: the bad requests are built from them."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(url: str, body: bytes | str, content_type: str = "application/json") -> tuple[int, Any]:
    """POST and return (status, parsed JSON body or text)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A reproduced copy of the repository with its bento built into a temporary BENTOML_HOME."""
    root = tmp_path_factory.mktemp("service")
    copy_repository(root)
    run(["dvc", "repro"], root)
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("BENTOML_HOME", str(root / "bentoml-home"))
        run(["make", "bento", "-o", ".venv/.synced"], root)
        yield root


def _wait_until_ready(url: str, server: subprocess.Popen[bytes], output: Path) -> None:
    """Wait for /readyz; a server that never gets ready is stopped and its output shown."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    raise AssertionError(f"service did not become ready:\n{output.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[tuple[str, int]]:
    """`make deploy-local` (build the bento again, then serve it) on a free port; yields the base URL
    and the process id of `make`, and stops the server afterwards."""
    port = _free_port()
    log = (project / "serve.log").open("w")
    server = subprocess.Popen(
        ["make", "deploy-local", f"PORT={port}", "-o", ".venv/.synced"],
        cwd=project,
        env=os.environ
        | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "BENTOML_DO_NOT_TRACK": "true"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_until_ready(url, server, project / "serve.log")
    yield url, server.pid
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def service(server: tuple[str, int]) -> str:
    """The served bento's base URL."""
    return server[0]


def _test_split(project: Path) -> pd.DataFrame:
    """The test split's features, as the pipeline wrote them."""
    return pd.read_parquet(project / PARAMS.paths.test)[SCHEMA.feature_names]


@pytest.fixture(scope="module")
def customers(project: Path) -> pd.DataFrame:
    """Real test-split customers, as the service receives them (JSON nulls for missing values), those with
    a missing value first, and a null in each nullable feature (set in one row where the split has none)."""
    test = _test_split(project)
    with_nulls = test[test.isna().any(axis=1)]
    chosen = pd.concat([with_nulls, test.drop(with_nulls.index)]).head(CUSTOMERS).reset_index(drop=True)
    nullable = [name for name, feature in SCHEMA.features.items() if feature.max_null_fraction > 0]
    for row, name in enumerate(name for name in nullable if chosen[name].notna().all()):
        chosen[name] = chosen[name].mask(chosen.index == row)
    return chosen


INTEGERS = {name for name, feature in SCHEMA.numeric_features.items() if feature.type == "integer"}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as JSON objects: nulls for missing values, and whole numbers in integer features (a column
    holding nulls keeps them as floats, which the service refuses for an integer)."""
    return [
        {key: int(value) if key in INTEGERS and value is not None else value for key, value in row.items()}
        for row in json.loads(frame.to_json(orient="records"))
    ]


def _in_process(project: Path, frame: pd.DataFrame) -> np.ndarray:
    model = joblib.load(project / "models" / "model.joblib")
    return np.asarray(model.predict_proba(frame)[:, 1])


def _logged_as(project: Path) -> str:
    """A pattern of the name the module's bento answers and logs by. The copy's `dvc repro` rewrites dvc.lock
    (model_perf.json holds measured latencies): a local build, whose model has no version, so its BentoML tag;
    with dvc.lock as committed, the version its release would register, the first, the copy having no tags.
    """
    if run(["git", "status", "--porcelain", "dvc.lock"], project).stdout.strip():
        return rf"{MODEL_NAME}:\w+"
    return rf"{MODEL_NAME}@v0\.1\.0"


def test_single_predictions_equal_the_in_process_model(project: Path, service: str, customers: pd.DataFrame) -> None:
    expected = _in_process(project, customers)
    for record, probability in zip(_records(customers)[:20], expected, strict=False):
        status, body = post(f"{service}/predict", json.dumps(record))
        assert status == 200, body
        assert abs(body["churn_probability"] - probability) <= TOLERANCE, (body, probability)
        assert body["churn"] == (probability >= body["threshold"])
        assert body["threshold"] == PARAMS.train.threshold
        assert re.fullmatch(_logged_as(project), body["model_version"]), body
        assert body["variant"] == "champion", "a bento of one model answers as the champion"


def test_batch_predictions_equal_the_in_process_model(project: Path, service: str, customers: pd.DataFrame) -> None:
    status, body = post(f"{service}/predict_batch", json.dumps({"customers": _records(customers)}))
    assert status == 200, body
    served = np.array([answer["churn_probability"] for answer in body["predictions"]])
    assert np.max(np.abs(served - _in_process(project, customers))) <= TOLERANCE


def _metric(service: str, name: str) -> float:
    """A counter's or gauge's value on the service's /metrics."""
    with urllib.request.urlopen(f"{service}/metrics", timeout=10) as response:
        exposition = response.read().decode()
    (value,) = re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", exposition, re.MULTILINE)
    return float(value)


def _model_calls_with_more_than_one_row(service: str) -> float:
    with urllib.request.urlopen(f"{service}/metrics", timeout=10) as response:
        exposition = response.read().decode()
    buckets = dict(re.findall(r'^mlloop_model_call_rows_bucket\{le="([^"]+)"[^}]*\} (\S+)$', exposition, re.MULTILINE))
    return float(buckets["+Inf"]) - float(buckets["1.0"])


def test_concurrent_requests_share_model_calls_and_each_gets_its_own_answer(
    project: Path, service: str, customers: pd.DataFrame
) -> None:
    # Given a burst of single-customer requests, sent 16 at a time
    shared_before = _model_calls_with_more_than_one_row(service)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda record: post(f"{service}/predict", json.dumps(record)), _records(customers)))

    # Then each answer is its own customer's probability
    assert {status for status, _ in answers} == {200}, answers
    served = np.array([body["churn_probability"] for _, body in answers])
    assert np.max(np.abs(served - _in_process(project, customers))) <= TOLERANCE
    # And some of them were answered by one model call together
    assert _model_calls_with_more_than_one_row(service) > shared_before


def _type_error(schema: FeatureSchema, name: str | None) -> str:
    """The rule pydantic names for a value of the wrong type (or a null) in this feature."""
    if name in schema.categorical_features:
        return "literal_error"
    return (
        "int_type"
        if name in schema.numeric_features and schema.numeric_features[name].type == "integer"
        else "float_type"
    )


def _one_below(minimum: float, integer: bool) -> float:
    """One under a minimum, whole for an integer feature (a fractional value would break its type first)."""
    return math.floor(minimum) - 1 if integer else minimum - 1


class _Removed:
    """The value of a field left out of the request."""


REMOVED = _Removed()


def _bad_inputs(schema: FeatureSchema) -> list[Any]:
    """Each way a customer breaks the contract, on the first feature of the schema that can break it that way:
    the field, its bad value, and the rule the 400 must name. A way no feature allows is skipped, saying so."""
    numeric, categorical = schema.numeric_features, schema.categorical_features
    number = next(iter(numeric), None)
    integer = next((name for name, feature in numeric.items() if feature.type == "integer"), None)
    minimums = {name: feature.min for name, feature in numeric.items() if feature.min is not None}
    bounded = next(iter(minimums), None)
    category = next(iter(categorical), None)
    required = next((name for name, feature in schema.features.items() if feature.max_null_fraction == 0), None)
    cases: list[tuple[str, str | None, object, str]] = [
        ("missing field", schema.feature_names[0], REMOVED, "missing"),
        ("wrong type", number, "12", _type_error(schema, number)),
        ("null", required, None, _type_error(schema, required)),
        (
            "out of range",
            bounded,
            bounded and _one_below(minimums[bounded], numeric[bounded].type == "integer"),
            "greater_than_equal",
        ),
        ("unknown category", category, category and f"not {categorical[category].categories[0]}", "literal_error"),
        ("extra field", "not_in_the_schema", 3, "extra_forbidden"),
        ("fractional integer", integer, 2.5, "int_type"),
        ("client id not a string", schema.id_column, 7590, "string_type"),
        ("empty client id", schema.id_column, "", "string_too_short"),
        ("client id too long", schema.id_column, "C" * (PARAMS.serve.max_client_id_chars + 1), "string_too_long"),
    ]
    return [
        pytest.param(field, value, rule, id=case)
        if field is not None
        else pytest.param(
            field, value, rule, id=case, marks=pytest.mark.skip(reason=f"no feature of the schema can be {case}")
        )
        for case, field, value, rule in cases
    ]


def _spoiled(record: dict[str, Any], field: str, value: object) -> dict[str, Any]:
    """The record with the field set to the bad value, or left out."""
    if isinstance(value, _Removed):
        return {name: kept for name, kept in record.items() if name != field}
    return record | {field: value}


BAD_INPUTS = _bad_inputs(SCHEMA)


@pytest.mark.parametrize(("field", "value", "rule"), BAD_INPUTS)
def test_bad_input_gets_400_naming_the_field_and_the_rule(
    service: str, customers: pd.DataFrame, field: str, value: object, rule: str
) -> None:
    status, body = post(f"{service}/predict", json.dumps(_spoiled(_records(customers)[0], field, value)))
    assert status == 400, body
    problems = {(tuple(detail["loc"]), detail["type"]) for detail in body["detail"]}
    assert ((field,), rule) in problems, body


@pytest.mark.parametrize(("field", "value", "rule"), BAD_INPUTS)
def test_a_bad_customer_in_a_batch_gets_400_naming_its_position_field_and_rule(
    service: str, customers: pd.DataFrame, field: str, value: object, rule: str
) -> None:
    records = _records(customers)[:3]
    records[1] = _spoiled(records[1], field, value)
    status, body = post(f"{service}/predict_batch", json.dumps({"customers": records}))
    assert status == 400, body
    problems = {(tuple(detail["loc"]), detail["type"]) for detail in body["detail"]}
    assert (("customers", 1, field), rule) in problems, body


@pytest.mark.parametrize(
    ("body", "content_type", "expected_status"),
    [
        pytest.param("{not json", "application/json", 400, id="malformed JSON"),
        pytest.param(f'{{"{SCHEMA.feature_names[0]}": NaN}}', "application/json", 400, id="NaN literal"),
        pytest.param(f"{SCHEMA.feature_names[0]}=3", "text/plain", 415, id="wrong content type"),
        pytest.param("{}", "multipart/form-data", 415, id="multipart without boundary"),
    ],
)
def test_unreadable_request_gets_the_documented_4xx(
    service: str, body: str, content_type: str, expected_status: int
) -> None:
    status, answer = post(f"{service}/predict", body, content_type)
    assert status == expected_status, (status, answer)


def test_a_huge_body_is_refused_with_413_from_its_declared_length(project: Path, service: str) -> None:
    # Given a request that declares one byte over the limit and has sent only its first bytes
    limit = load_params(project / "params.yaml").serve.max_request_bytes
    address = urlsplit(service)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(limit + 1))
    connection.endheaders(f'{{"{SCHEMA.feature_names[0]}": '.encode())

    # Then the answer comes without the rest: a client still sending a body the server will not read
    # can see its connection reset before it reads the answer (HTTP's usual race), so this one stops
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 413, answer
    assert answer["detail"][0]["type"] == "body_too_large"
    assert answer["detail"][0]["input"] == str(limit + 1)


def test_empty_and_oversized_batches_are_refused_with_400(service: str, customers: pd.DataFrame) -> None:
    status, body = post(f"{service}/predict_batch", json.dumps({"customers": []}))
    assert status == 400, body
    assert body["detail"][0]["type"] == "too_short", body
    record = _records(customers)[0]
    too_many = [record] * (PARAMS.serve.max_batch_size + 1)
    status, body = post(f"{service}/predict_batch", json.dumps({"customers": too_many}))
    assert status == 400, body
    assert body["detail"][0]["type"] == "too_long", body


def _declared(node: object, key: str) -> list[Any]:
    """Every value of `key` anywhere in a JSON document's node (a nullable field nests its type under anyOf)."""
    if isinstance(node, dict):
        own = [node[key]] if key in node else []
        return own + [value for child in node.values() for value in _declared(child, key)]
    if isinstance(node, list):
        return [value for child in node for value in _declared(child, key)]
    return []


def test_openapi_document_shows_the_schema_fields_ranges_and_categories(service: str) -> None:
    with urllib.request.urlopen(f"{service}/docs.json", timeout=10) as response:
        document = json.loads(response.read())
    assert f"# Model card: {MODEL_NAME}" in document["info"]["description"], "the bento carries the model card"
    customer = next(
        properties
        for properties in _declared(document, "properties")
        if isinstance(properties, dict) and set(SCHEMA.feature_names) <= set(properties)
    )
    for name, numeric in SCHEMA.numeric_features.items():
        bounds = {"minimum": numeric.min, "maximum": numeric.max}
        for key, bound in bounds.items():
            assert _declared(customer[name], key) == ([] if bound is None else [bound]), (name, key, customer[name])
    for name, categorical in SCHEMA.categorical_features.items():
        assert _declared(customer[name], "enum") == [categorical.categories], (name, customer[name])


def _logged_lines_in(directory: Path, without: Path | None = None) -> list[dict[str, Any]]:
    """The log's complete lines, split on newlines only, as JSON Lines are: a client id may hold U+2028 or
    U+0085, which JSON leaves unescaped and str.splitlines splits on (the fuzzing sends such ids). A line
    is complete with its newline: the writer thread may be part-way through appending a block."""
    return [
        json.loads(line)
        for path in sorted(directory.glob(LOG_FILE_GLOB))
        if path != without
        for line in path.read_bytes().split(b"\n")[:-1]
    ]


def _logged_lines(project: Path) -> list[dict[str, Any]]:
    return _logged_lines_in(project / PARAMS.serve.inference_log_dir)


def _wait_for_lines(project: Path, count: int) -> list[dict[str, Any]]:
    """The logged lines, once there are `count` of them (the writer thread is a moment behind the answer)."""
    deadline = time.monotonic() + 10
    while len(_logged_lines(project)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return _logged_lines(project)


def test_the_inference_log_receives_exactly_the_rows_served(
    project: Path, service: str, customers: pd.DataFrame
) -> None:
    # Given what is logged so far, and a batch of 7 in which some customers carry the caller's id
    before = len(_logged_lines(project))
    records = _records(customers)[:7]
    client_ids = ["C-0", None, "C-2", None, None, "C-5", None]
    sent = [
        record | ({SCHEMA.id_column: client} if client else {})
        for record, client in zip(records, client_ids, strict=True)
    ]

    # When the batch is served and a bad request is refused
    status, body = post(f"{service}/predict_batch", json.dumps({"customers": sent}))
    assert status == 200
    answers = body["predictions"]
    assert post(f"{service}/predict", json.dumps({}))[0] == 400

    # Then exactly those 7 rows arrive, with their features (never the id), probabilities and one request id
    new = _wait_for_lines(project, before + 7)[before:]
    assert len(new) == 7, new
    assert [line["features"] for line in new] == records
    assert [line["churn_probability"] for line in new] == [answer["churn_probability"] for answer in answers]
    (request_id,) = {line["request_id"] for line in new}
    assert {line["model_version"] for line in new} == {answers[0]["model_version"]}
    # And each row has its own prediction_id, the one its answer returned, and the id its caller gave it
    assert [line["prediction_id"] for line in new] == [f"{request_id}-{position}" for position in range(7)]
    assert [answer["prediction_id"] for answer in answers] == [line["prediction_id"] for line in new]
    assert [line["client_id"] for line in new] == client_ids
    # And, with ab.mode off, each line is the champion's, with no challenger beside it
    assert {(line["variant"], line["challenger_version"], line["challenger_probability"]) for line in new} == {
        ("champion", None, None)
    }


def test_outcomes_sent_back_by_prediction_id_or_client_id_join_their_own_rows_of_a_batch(
    project: Path, service: str, customers: pd.DataFrame, tmp_path: Path
) -> None:
    # Given a batch of 40 served customers, the first 20 identified by the caller, and the service's log copied
    before = len(_logged_lines(project))
    records = _records(customers)[:40]
    sent = [
        record | {SCHEMA.id_column: f"join-{index}"} if index < 20 else record for index, record in enumerate(records)
    ]
    status, body = post(f"{service}/predict_batch", json.dumps({"customers": sent}))
    assert status == 200, body
    assert len(_wait_for_lines(project, before + 40)) >= before + 40
    log = tmp_path / "log"
    shutil.copytree(project / PARAMS.serve.inference_log_dir, log, ignore=shutil.ignore_patterns("labels"))

    # When outcomes arrive for every row: the riskier half churned, by client id or by the answer's prediction_id
    probabilities = [answer["churn_probability"] for answer in body["predictions"]]
    median = float(np.median(probabilities))
    labels = [
        {"client_id": f"join-{index}"} if index < 20 else {"prediction_id": answer["prediction_id"]}
        for index, answer in enumerate(body["predictions"])
    ]
    labels.append({"prediction_id": "never-served-0"})
    outcomes = [probability > median for probability in probabilities] + [True]
    (log / "labels").mkdir()
    (log / "labels" / f"labels-{time.strftime('%Y-%m-%d', time.gmtime())}.jsonl").write_text(
        "".join(json.dumps(label | {"churn": churn}) + "\n" for label, churn in zip(labels, outcomes, strict=True))
    )
    run(["mlloop", "drift", "--current", str(log), "--out", str(tmp_path / "drift")], project)

    # Then each label joined its own row, so the ranking is perfect, and the stray label is counted
    realised = json.loads((tmp_path / "drift" / "drift.json").read_text())["realised"]
    roc_auc = {metric["name"]: metric["value"] for metric in realised["metrics"]}["roc_auc"]
    assert (realised["rows"], roc_auc, realised["labels"], realised["unmatched_labels"]) == (40, 1.0, 41, 1), realised


def _deployment(project: Path) -> dict[str, Any]:
    documents = yaml.safe_load_all((project / "bento" / "k8s" / "base" / "deployment.yaml").read_text())
    return next(document for document in documents if document["kind"] == "Deployment")


def test_the_kubernetes_probes_answer_200_on_the_served_bento(project: Path, service: str) -> None:
    container = _deployment(project)["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        with urllib.request.urlopen(f"{service}{container[probe]['httpGet']['path']}", timeout=10) as response:
            assert response.status == 200, probe


def test_the_generated_dockerfile_agrees_with_the_kubernetes_manifests(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The image is built on GitHub's runners; here its Dockerfile, generated by `bentoml build`, is read.
    monkeypatch.setenv("COLUMNS", "1000")  # BentoML's console wraps the printed path at the terminal width
    bento = run(["bentoml", "get", "churn_service:latest", "-o", "path"], project).stdout.strip()
    dockerfile = (Path(bento) / "env" / "docker" / "Dockerfile").read_text()
    pod = _deployment(project)["spec"]["template"]["spec"]
    service = pod["containers"][0]
    assert f"EXPOSE {service['ports'][0]['containerPort']}" in dockerfile
    assert f"ARG BENTO_USER_UID={pod['securityContext']['runAsUser']}" in dockerfile
    assert "USER bentoml" in dockerfile
    # BentoML keeps its Prometheus files under BENTOML_HOME, which the read-only pod mounts as a volume
    home = re.search(r"^ENV BENTOML_HOME=(\S+)$", dockerfile, re.MULTILINE)
    assert home is not None, dockerfile
    mounts = {mount["mountPath"] for mount in service["volumeMounts"]}
    assert f"{home.group(1).rstrip('/')}/prometheus_multiproc_dir" in mounts


def _read_slowly(fifo: Path, server: subprocess.Popen[bytes]) -> bytes:
    """What the service writes into `fifo` until it exits, read 4 kB every 10 ms: a disk far slower
    than the writer, so that lines are still queued when the service is told to stop."""
    received = bytearray()
    # Held open throughout: the writer opens the file again for each append, and its open waits for a reader.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            exited = server.poll() is not None
            try:
                chunk = os.read(reader, 4096)
            except BlockingIOError:  # the writer has the file open, and nothing new in it yet
                chunk = None
            if chunk == b"" and exited:  # no writer has it open, and none is left to open it
                return bytes(received)
            received += chunk or b""
            time.sleep(0.01)
    finally:
        os.close(reader)


def _whole_lines(written: bytes) -> list[dict[str, Any]]:
    """The JSON lines written; a line cut off by a writer that was killed is not one."""
    lines = []
    for line in written.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            lines.append(json.loads(line))
    return lines


def test_on_sigterm_every_answered_prediction_reaches_the_log_behind_a_slow_disk(
    project: Path, customers: pd.DataFrame, tmp_path: Path
) -> None:
    # given: the module's bento served once more, whose log directory holds today's day file as a FIFO,
    # so the log's writer waits on it, as on a stalled disk, until the test reads it
    log_directory = tmp_path / "log"
    log_directory.mkdir()
    fifo = log_file(log_directory, datetime.now(UTC))
    os.mkfifo(fifo)
    port = _free_port()
    output = tmp_path / "serve.log"
    with output.open("w") as output_stream:
        server = subprocess.Popen(
            ["bentoml", "serve", "churn_service:latest", "--host", "127.0.0.1", "--port", str(port)],
            cwd=project,
            env=os.environ
            | {
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "BENTOML_DO_NOT_TRACK": "true",
                LOG_DIRECTORY_VARIABLE: str(log_directory),
            },
            stdout=output_stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_ready(url, server, output)
        records = _records(customers)
        answered = []
        for _ in range(20):
            status, body = post(f"{url}/predict_batch", json.dumps({"customers": records}))
            assert status == 200, body
            answered += [
                (json.dumps(record, sort_keys=True), answer["churn_probability"])
                for record, answer in zip(records, body["predictions"], strict=True)
            ]

        # when: the service is told to stop, as Kubernetes tells a pod's main process, with its 1,000
        # answered predictions still queued, and the disk starts to take them, slowly
        server.send_signal(signal.SIGTERM)
        written = _read_slowly(fifo, server)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)

    # then: every answered prediction is in the log, and the log says it is closed
    logged = _whole_lines(written)
    logged += _logged_lines_in(log_directory, without=fifo)  # a UTC midnight during the test starts a new file
    missing = Counter(answered) - Counter(
        (json.dumps(line["features"], sort_keys=True), line["churn_probability"]) for line in logged
    )
    assert not missing, f"{missing.total()} of {len(answered)} answered predictions are not in the log"
    assert len(logged) == len(answered), "each prediction is logged once"
    assert (log_directory / CLOSED_FILE).is_file(), output.read_text()[-3000:]
    assert "still queued" not in output.read_text()


def test_the_model_carries_the_service_settings_of_params(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The bento carries no params.yaml: the service reads its settings from its model's metadata.
    monkeypatch.setenv("COLUMNS", "1000")  # BentoML's console wraps the printed path at the terminal width
    model = Path(run(["bentoml", "models", "get", "churn:latest", "-o", "path"], project).stdout.strip())
    metadata = yaml.safe_load((model / "model.yaml").read_text())["metadata"]

    settings = service_settings(metadata)

    serve = load_params(project / "params.yaml").serve
    assert settings.model_dump() == serve.model_dump(include=set(ServiceSettings.model_fields))


def test_log_failures_are_exposed_as_a_metric(service: str) -> None:
    with urllib.request.urlopen(f"{service}/metrics", timeout=10) as response:
        exposition = response.read().decode()
    assert "mlloop_inference_log_failures_total" in exposition


def test_smoke_passes_against_the_served_bento(project: Path, service: str) -> None:
    result = run(["make", "smoke", f"URL={service}", "-o", ".venv/.synced"], project)
    assert "ok  bad request refused with 400" in result.stdout, result.stdout


def test_smoke_fails_against_a_target_that_is_not_serving(project: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    result = run(["mlloop", "smoke", "--url", url], project, check=False)
    assert result.returncode == 6, result.stderr
    assert f"{url}/readyz: cannot connect" in result.stderr


def test_fuzzing_the_api_from_its_own_openapi_document_finds_no_server_error(service: str, tmp_path: Path) -> None:
    # schemathesis generates valid and invalid requests from /docs.json; any 5xx is a failure
    result = subprocess.run(
        [
            Path(sys.executable).parent / "st",
            "run",
            f"{service}/docs.json",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "50",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # schemathesis keeps its example cache in the working directory
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "No issues found" in result.stdout


def _prediction_id(line: bytes) -> object:
    """The prediction id of a log line; None for a line no service wrote whole."""
    with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
        parsed = json.loads(line)
        return parsed.get("prediction_id") if isinstance(parsed, dict) else None
    return None


def _log_of(project: Path, prediction_ids: Collection[str], destination: Path) -> Path:
    """A log folder holding only these predictions' lines, byte for byte as the service wrote them, in day files
    named as its own (the writer thread is a moment behind the answers): a drift check of one test's traffic."""
    wanted, directory = set(prediction_ids), project / PARAMS.serve.inference_log_dir
    deadline = time.monotonic() + 10
    while True:
        days = {
            path.name: [line for line in path.read_bytes().split(b"\n")[:-1] if _prediction_id(line) in wanted]
            for path in sorted(directory.glob(LOG_FILE_GLOB))
        }
        if sum(map(len, days.values())) >= len(wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sum(map(len, days.values())) == len(wanted), "each prediction is logged once"
    destination.mkdir()
    for name, lines in days.items():
        if lines:
            (destination / name).write_bytes(b"".join(line + b"\n" for line in lines))
    return destination


def test_simulated_traffic_through_the_service_is_caught_by_the_drift_check(
    project: Path, service: str, tmp_path: Path
) -> None:
    # Given a day of traffic of the first scenario params.yaml declares as drift, sent to the running service
    scenario, declared = declared_scenario(PARAMS, "drift", ColumnShift)
    shifted = shifts_of(declared, ColumnShift)[0].column
    before = len(_logged_lines(project))
    run(
        [
            "mlloop",
            "simulate",
            "--scenario",
            scenario,
            "--days",
            "1",
            "--rows-per-day",
            "600",
            "--url",
            service,
        ],
        project,
    )
    simulated = [line["prediction_id"] for line in _wait_for_lines(project, before + 600)[before:]]
    log_directory = _log_of(project, simulated, tmp_path / "log")
    # and a few lines that no service wrote
    with sorted(log_directory.glob(LOG_FILE_GLOB))[-1].open("a") as stream:
        stream.write('{"truncated": \n<html>502 Bad Gateway</html>\n')

    # When the drift check reads the service's lines
    result = run(["mlloop", "drift", "--current", str(log_directory), "--out", str(tmp_path / "drift")], project)

    # Then it reports the shifted feature, and counts the foreign lines instead of failing
    report = json.loads((tmp_path / "drift" / "drift.json").read_text())
    assert report["status"] == "drift", result.stdout
    assert any(shifted in reason for reason in report["reasons"]), report["reasons"]
    assert report["rows"]["skipped_lines"] == 2
    assert (tmp_path / "drift" / "plots" / f"{shifted}.png").is_file()
    assert report["model_versions"]
    assert all(re.fullmatch(_logged_as(project), version) for version in report["model_versions"])


def test_nulls_the_service_accepts_beyond_the_schemas_share_are_caught_as_a_contract_breach(
    project: Path, service: str, tmp_path: Path
) -> None:
    # Given a nullable feature of the schema, and drift.min_rows test-split rows of which a broken export
    # nulled that feature in five times the share the contract allows (its max_null_fraction plus the tolerance)
    contract = PARAMS.drift.contract
    limits = {
        name: feature.max_null_fraction + contract.null_tolerance
        for name, feature in SCHEMA.features.items()
        if feature.max_null_fraction > 0 and feature.max_null_fraction + contract.null_tolerance < 1
    }
    if not limits:
        pytest.skip(
            f"{PARAMS.data.schema_file} declares no nullable feature: the service refuses every other breach of"
            " the contract with 400, so none reaches its log"
        )
    feature, limit = next(iter(limits.items()))
    rows = PARAMS.drift.min_rows
    test = _test_split(project)
    frame = test.iloc[np.arange(rows) % len(test)].reset_index(drop=True)
    frame[feature] = frame[feature].mask(frame.index < math.ceil(min(1.0, BREACH_FACTOR * limit) * rows))
    records = _records(frame)
    nulls = sum(record[feature] is None for record in records)

    # When the service answers them all, and the drift check reads the lines it logged for them
    answered = []
    for start in range(0, rows, PARAMS.serve.max_batch_size):
        batch = records[start : start + PARAMS.serve.max_batch_size]
        status, body = post(f"{service}/predict_batch", json.dumps({"customers": batch}))
        assert status == 200, body
        answered += [answer["prediction_id"] for answer in body["predictions"]]
    log = _log_of(project, answered, tmp_path / "log")
    run(["mlloop", "drift", "--current", str(log), "--out", str(tmp_path / "drift")], project)

    # Then the status is contract_breach, and the report names the feature, the rule and the share seen
    report = json.loads((tmp_path / "drift" / "drift.json").read_text())
    assert report["status"] == "contract_breach", report["reasons"]
    breaches = [(breach["feature"], breach["rule"], breach["count"]) for breach in report["contract"]]
    assert breaches == [(feature, "max_null_fraction", nulls)], report["contract"]
    (breach,) = report["contract"]
    assert breach["share"] == pytest.approx(nulls / rows), breach
    assert breach["limit"] == pytest.approx(limit), breach
    reason = f"{feature} breaks max_null_fraction on {nulls / rows:.2%} of lines ({nulls}), more than {limit:.2%}"
    assert any(line.startswith(reason) for line in report["reasons"]), report["reasons"]
    row = f"| {feature} | max_null_fraction | {nulls} | {nulls / rows:.2%} | {limit:.2%} |"
    assert row in (tmp_path / "drift" / "drift.md").read_text()


@pytest.mark.usefixtures("service")
def test_too_little_traffic_is_insufficient_data_not_no_drift(project: Path, tmp_path: Path) -> None:
    run(["mlloop", "simulate", "--days", "1", "--rows-per-day", "50", "--out", str(tmp_path / "log")], project)

    run(["mlloop", "drift", "--current", str(tmp_path / "log"), "--out", str(tmp_path / "drift")], project)

    assert json.loads((tmp_path / "drift" / "drift.json").read_text())["status"] == "insufficient_data"


def test_a_crashed_model_process_costs_one_503_and_is_restarted(
    server: tuple[str, int], customers: pd.DataFrame
) -> None:
    # given: the service's one model process, started with the service
    url, pid = server
    (model_process,) = model_processes(psutil.Process(pid))
    record = json.dumps(_records(customers)[0])

    # when it dies
    model_process.kill()
    model_process.wait(timeout=10)

    # then the request in flight gets a 503 (retry later), and the next one is answered
    status, body = post(f"{url}/predict", record)
    assert status == 503, body
    assert post(f"{url}/predict", record)[0] == 200
    assert [process.pid for process in model_processes(psutil.Process(pid))] != [model_process.pid]


# Champion and challenger: a second copy of the repository, whose first commit's model is registered and at the
# registry's stage prod (the champion), and whose second commit trains another (the challenger, not yet released,
# as deploy.yml builds it); one bento of both per mode, each served once for the module. Both models are logistic
# regressions, so the copy costs little.

SIGMAS = 4
"""Binomial tolerance of the challenger's share: 4 standard deviations, 54 customers of 2,000 at a 10 % share."""
SPLIT_CUSTOMERS = 2000
CHAMPION_VERSION = "v0.1.0"
CHALLENGER_VERSION = "v0.2.0"
"""The version the challenger's release will register: its bento, built first, already logs it."""
CHAMPION_PARAMS: dict[tuple[str, ...], Any] = {
    ("evaluate", "importance", "repeats"): 1,
    ("evaluate", "latency", "single_row_calls"): 20,
    ("evaluate", "latency", "batch_calls"): 2,
    ("train", "estimator"): "logistic_regression",
    ("train", "hyperparameters"): {"C": 0.05},
}
"""The champion's params: a lighter evaluation, and a quick model."""
CHALLENGER_PARAMS: dict[tuple[str, ...], Any] = {("train", "hyperparameters"): {"C": 1.0}}
"""The challenger's: another model of the same features."""


def _set_params(root: Path, settings: dict[tuple[str, ...], Any]) -> None:
    """Set knobs of the copy's params.yaml, keeping its layout and quotes (a bare off would be false)."""
    yaml_file = params_round_trip()
    document = yaml_file.load(root / "params.yaml")
    for (*sections, knob), value in settings.items():
        table = document
        for section in sections:
            table = table[section]
        table[knob] = DoubleQuotedScalarString(value) if isinstance(value, str) else value
    yaml_file.dump(document, root / "params.yaml")


@dataclass(frozen=True)
class AbProject:
    """The copy, the champion's model file as trained, and what `mlloop import-model` said at its first release."""

    root: Path
    champion_model: Path
    first_release_output: str
    first_release_store: Path


@pytest.fixture(scope="module")
def ab_project(tmp_path_factory: pytest.TempPathFactory) -> AbProject:
    root = tmp_path_factory.mktemp("champion-and-challenger")
    scratch = tmp_path_factory.mktemp("champion-and-challenger-scratch")
    copy_repository(root)
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    _set_params(root, CHAMPION_PARAMS | {("ab", "mode"): "shadow"})
    run(["dvc", "repro"], root)
    run(["git", "add", "--all"], root)
    run(["git", "commit", "--quiet", "--message", "the champion"], root)
    first_release_store = scratch / "first-release"
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("BENTOML_HOME", str(first_release_store))
        first_release_output = run(["mlloop", "import-model"], root).stdout
    run(["gto", "register", MODEL_NAME, "HEAD", "--version", CHAMPION_VERSION], root)
    run(["gto", "assign", MODEL_NAME, "--version", CHAMPION_VERSION, "--stage", PRODUCTION_STAGE], root)
    champion_model = scratch / "champion.joblib"
    shutil.copy(root / PARAMS.paths.model, champion_model)
    _set_params(root, CHALLENGER_PARAMS)
    run(["dvc", "repro"], root)
    run(["git", "add", "--all"], root)
    run(["git", "commit", "--quiet", "--message", "the challenger"], root)
    return AbProject(root, champion_model, first_release_output, first_release_store)


@dataclass(frozen=True)
class ServedAb:
    """A bento of both models served in one mode: its URL, its BentoML store and its log directory."""

    url: str
    mode: AbMode
    store: Path
    log: Path


@contextlib.contextmanager
def _served_in_mode(ab_project: AbProject, mode: AbMode, scratch: Path) -> Iterator[ServedAb]:
    """`make bento` with params ab.mode set to `mode`, into a store of its own, served on a free port."""
    store, log = scratch / "bentoml-home", scratch / "log"
    _set_params(ab_project.root, {("ab", "mode"): mode})
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("BENTOML_HOME", str(store))
        run(["make", "bento", "-o", ".venv/.synced"], ab_project.root)
    port = _free_port()
    output = scratch / "serve.log"
    with output.open("w") as output_stream:
        server = subprocess.Popen(
            ["bentoml", "serve", "churn_service:latest", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ab_project.root,
            env=os.environ
            | {
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "BENTOML_DO_NOT_TRACK": "true",
                "BENTOML_HOME": str(store),
                LOG_DIRECTORY_VARIABLE: str(log),
            },
            stdout=output_stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    _wait_until_ready(url, server, output)
    try:
        yield ServedAb(url, mode, store, log)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def shadow_service(ab_project: AbProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedAb]:
    with _served_in_mode(ab_project, "shadow", tmp_path_factory.mktemp("shadow")) as served:
        yield served


@pytest.fixture(scope="module")
def split_service(ab_project: AbProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedAb]:
    with _served_in_mode(ab_project, "split", tmp_path_factory.mktemp("split")) as served:
        yield served


def _stored_metadata(store: Path, tag: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A model's model.yaml in a BentoML store: its labels and metadata."""
    monkeypatch.setenv("BENTOML_HOME", str(store))
    monkeypatch.setenv("COLUMNS", "1000")  # BentoML's console wraps the printed path at the terminal width
    path = Path(run(["bentoml", "models", "get", tag, "-o", "path"], store.parent).stdout.strip())
    stored: dict[str, Any] = yaml.safe_load((path / "model.yaml").read_text())
    return stored


def _probabilities(model_file: Path, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(joblib.load(model_file).predict_proba(frame)[:, 1])


def _models(ab_project: AbProject) -> dict[str, Path]:
    return {"champion": ab_project.champion_model, "challenger": ab_project.root / PARAMS.paths.model}


def _lines_of(served: ServedAb, prediction_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The logged lines of these predictions, by prediction id, once all are written."""
    wanted = set(prediction_ids)
    deadline = time.monotonic() + 10
    while True:
        lines = {
            line["prediction_id"]: line for line in _logged_lines_in(served.log) if line["prediction_id"] in wanted
        }
        if len(lines) >= len(wanted) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def _customers_with_ids(ab_project: AbProject, count: int, prefix: str) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """`count` test-split rows (cycled), and their records, each with the client id `<prefix>-<index>`."""
    test = _test_split(ab_project.root)
    frame = test.iloc[np.arange(count) % len(test)].reset_index(drop=True)
    records = [record | {SCHEMA.id_column: f"{prefix}-{index}"} for index, record in enumerate(_records(frame))]
    return frame, records


def _post_batches(url: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answers = []
    for start in range(0, len(records), PARAMS.serve.max_batch_size):
        status, body = post(
            f"{url}/predict_batch", json.dumps({"customers": records[start : start + PARAMS.serve.max_batch_size]})
        )
        assert status == 200, body
        answers += body["predictions"]
    return answers


def test_a_first_release_is_served_alone_as_the_champion_whatever_ab_mode_says(ab_project: AbProject) -> None:
    # `mlloop import-model` with ab.mode shadow, before any version was at stage prod
    assert "no version of churn is at stage prod (a first release)" in ab_project.first_release_output
    assert re.search(
        rf"^churn:\S+: the champion, logged as churn@{CHAMPION_VERSION}$", ab_project.first_release_output, re.MULTILINE
    )
    assert f"churn@{CHAMPION_VERSION} is the version the release registers" in ab_project.first_release_output
    assert sorted(path.name for path in (ab_project.first_release_store / "models").iterdir()) == [MODEL_NAME]


def test_the_bento_holds_the_champion_at_stage_prod_and_the_workspaces_model_with_the_ab_settings(
    ab_project: AbProject, shadow_service: ServedAb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the bento built in shadow mode, and the models it packs
    monkeypatch.setenv("BENTOML_HOME", str(shadow_service.store))
    monkeypatch.setenv("COLUMNS", "1000")
    bento = yaml.safe_load(run(["bentoml", "get", "churn_service:latest", "-o", "yaml"], ab_project.root).stdout)
    (service,) = bento["services"]
    packed = sorted(model["tag"] for model in service["models"])

    # then: the challenger, whose metadata carries params ab and names the champion, and the champion
    challenger = _stored_metadata(shadow_service.store, f"{MODEL_NAME}:latest", monkeypatch)
    settings = load_params(ab_project.root / "params.yaml").ab
    assert ab_settings(challenger["metadata"]).model_dump() == settings.model_dump(include=set(AbSettings.model_fields))
    champion_tag_stored = champion_tag(challenger["metadata"])
    assert champion_tag_stored is not None
    assert packed == sorted([champion_tag_stored, f"{MODEL_NAME}:{challenger['version']}"])
    assert challenger["labels"]["version"] == CHALLENGER_VERSION
    champion = _stored_metadata(shadow_service.store, champion_tag_stored, monkeypatch)
    assert (champion["labels"]["version"], champion["labels"]["stage"]) == (CHAMPION_VERSION, PRODUCTION_STAGE)


def test_shadow_the_champion_answers_every_row_and_the_challengers_answer_is_logged_never_returned(
    ab_project: AbProject, shadow_service: ServedAb
) -> None:
    # given: 200 customers in one batch, and 40 more sent one by one, 16 at a time, so that they share model calls
    frame, records = _customers_with_ids(ab_project, 240, "shadow")
    answers = _post_batches(shadow_service.url, records[:200])
    with ThreadPoolExecutor(max_workers=16) as pool:
        singles = list(
            pool.map(lambda record: post(f"{shadow_service.url}/predict", json.dumps(record)), records[200:])
        )
    assert {status for status, _ in singles} == {200}, singles
    answers += [body for _, body in singles]

    # then: every answer is the champion's, with its registry version
    expected = {variant: _probabilities(path, frame) for variant, path in _models(ab_project).items()}
    assert {answer["variant"] for answer in answers} == {"champion"}
    champion_version = f"{MODEL_NAME}@{CHAMPION_VERSION}"
    assert {answer["model_version"] for answer in answers} == {champion_version}
    served = np.array([answer["churn_probability"] for answer in answers])
    assert np.max(np.abs(served - expected["champion"])) <= TOLERANCE
    # and each row's line names the challenger beside it, with its answer, which differs from the champion's;
    # params' ab.shadow_max_busy leaves it out of calls made while the model process was busier than that, which
    # /metrics counts
    lines = _lines_of(shadow_service, [answer["prediction_id"] for answer in answers])
    logged = [lines[answer["prediction_id"]] for answer in answers]
    assert PARAMS.ab.shadow_max_busy < 1
    assert {(line["variant"], line["model_version"]) for line in logged} == {("champion", champion_version)}
    assert {line["challenger_version"] for line in logged} == {f"{MODEL_NAME}@{CHALLENGER_VERSION}"}
    shadowed = np.array([line["challenger_probability"] for line in logged], dtype=float)
    scored = ~np.isnan(shadowed)
    assert scored[:200].all(), "a batch sent to an idle service finds the model process idle"
    assert np.max(np.abs(shadowed - expected["challenger"])[scored]) <= TOLERANCE
    assert np.max(np.abs(shadowed - served)[scored]) > 0.01, "the two models must differ for the test to mean anything"
    assert _metric(shadow_service.url, "mlloop_shadow_rows_skipped_total") == (~scored).sum()
    assert [line["churn_probability"] for line in logged] == list(served)


def _share_tolerance(customers: int, share: float) -> float:
    return SIGMAS * math.sqrt(customers * share * (1 - share))


def test_split_answers_a_share_of_customers_by_the_challenger_chosen_by_a_hash_of_their_id(
    ab_project: AbProject, split_service: ServedAb
) -> None:
    # given: 2,000 customers, each with its own client id, in batches
    share = load_params(ab_project.root / "params.yaml").ab.challenger_share
    frame, records = _customers_with_ids(ab_project, SPLIT_CUSTOMERS, "split")

    answers = _post_batches(split_service.url, records)

    # then: the challenger answered its share of them, within binomial noise, each chosen by the hash of its id
    variants = [answer["variant"] for answer in answers]
    challengers = variants.count("challenger")
    assert abs(challengers - SPLIT_CUSTOMERS * share) <= _share_tolerance(SPLIT_CUSTOMERS, share), challengers
    assert variants == [assigned_variant(record[SCHEMA.id_column], share) for record in records]
    # and each answer is its model's, naming its registry version, as is each logged line
    expected = {variant: _probabilities(path, frame) for variant, path in _models(ab_project).items()}
    versions = {(answer["variant"], answer["model_version"]) for answer in answers}
    assert versions == {
        ("champion", f"{MODEL_NAME}@{CHAMPION_VERSION}"),
        ("challenger", f"{MODEL_NAME}@{CHALLENGER_VERSION}"),
    }
    for index, answer in enumerate(answers):
        assert abs(answer["churn_probability"] - expected[answer["variant"]][index]) <= TOLERANCE, (index, answer)
    lines = _lines_of(split_service, [answer["prediction_id"] for answer in answers])
    assert [
        (lines[answer["prediction_id"]]["variant"], lines[answer["prediction_id"]]["model_version"])
        for answer in answers
    ] == [(answer["variant"], answer["model_version"]) for answer in answers]
    assert {(line["challenger_version"], line["challenger_probability"]) for line in lines.values()} == {(None, None)}


def test_split_is_sticky_a_customer_meets_the_same_model_in_every_request(
    ab_project: AbProject, split_service: ServedAb
) -> None:
    # given: 300 customers answered in one batch
    _, records = _customers_with_ids(ab_project, 300, "sticky")
    first_variants = [answer["variant"] for answer in _post_batches(split_service.url, records)]

    # when: each comes back alone, in reverse order, 16 at a time (so that its row shares model calls with others')
    with ThreadPoolExecutor(max_workers=16) as pool:
        again = list(pool.map(lambda record: post(f"{split_service.url}/predict", json.dumps(record)), records[::-1]))

    # then: each meets the model it met the first time
    assert {status for status, _ in again} == {200}, again
    assert [body["variant"] for _, body in again][::-1] == first_variants
    assert "challenger" in first_variants, "300 customers at a 10 % share meet the challenger"


def test_split_without_a_client_id_assigns_each_row_by_its_prediction_id(
    ab_project: AbProject, split_service: ServedAb
) -> None:
    share = load_params(ab_project.root / "params.yaml").ab.challenger_share
    test = _test_split(ab_project.root)
    frame = test.iloc[np.arange(SPLIT_CUSTOMERS) % len(test)].reset_index(drop=True)

    answers = _post_batches(split_service.url, _records(frame))

    variants = [answer["variant"] for answer in answers]
    assert variants == [assigned_variant(answer["prediction_id"], share) for answer in answers]
    challengers = variants.count("challenger")
    assert abs(challengers - SPLIT_CUSTOMERS * share) <= _share_tolerance(SPLIT_CUSTOMERS, share), challengers


@pytest.mark.parametrize("mode", ["shadow", "split"])
@pytest.mark.parametrize(("field", "value", "rule"), BAD_INPUTS)
def test_bad_input_still_gets_400_naming_the_field_and_the_rule_from_a_bento_of_two_models(
    ab_project: AbProject, request: pytest.FixtureRequest, mode: str, field: str, value: object, rule: str
) -> None:
    served: ServedAb = request.getfixturevalue(f"{mode}_service")
    records = _records(_test_split(ab_project.root).head(3))

    status, body = post(f"{served.url}/predict", json.dumps(_spoiled(records[0], field, value)))
    assert status == 400, body
    assert ((field,), rule) in {(tuple(detail["loc"]), detail["type"]) for detail in body["detail"]}, body
    records[1] = _spoiled(records[1], field, value)
    status, body = post(f"{served.url}/predict_batch", json.dumps({"customers": records}))
    assert status == 400, body
    assert (("customers", 1, field), rule) in {(tuple(detail["loc"]), detail["type"]) for detail in body["detail"]}


def test_the_docs_page_of_a_bento_of_two_models_describes_both(shadow_service: ServedAb) -> None:
    with urllib.request.urlopen(f"{shadow_service.url}/docs.json", timeout=10) as response:
        description = json.loads(response.read())["info"]["description"]
    assert (
        f'ab.mode is "shadow": the bento serves {MODEL_NAME}@{CHAMPION_VERSION} (stage prod) as the champion'
        in description
    )
    assert f"## The champion: {MODEL_NAME}@{CHAMPION_VERSION} (stage prod)" in description
    assert (
        f"name the champion `{MODEL_NAME}@{CHAMPION_VERSION}` and this model, the challenger, "
        f"`{MODEL_NAME}@{CHALLENGER_VERSION}`" in description
    )
