"""Per-file summaries of the inference log: they merge into what one summary of all the lines would be,
wherever the blocks are cut; they are kept beside the log (a folder or an object store), keyed by each
file's size, so an append reads that file again and nothing else, and by the reference's fingerprint,
so a new reference reads every file again; the check itself writes nothing into the log's store, and starts
without the libraries only reading lines or the pipeline needs.
(Every behaviour of the check, from summaries and exactly, is in test_drift.py.)"""

import io
import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from tests.unit.monitoring.test_drift import (
    CURRENT_ROWS,
    HELD_OUT_METRICS,
    LAST_DAY,
    NOW,
    _customers,
    _labels,
    _price_risen,
    _probabilities,
    _reference,
    _write_labels,
    _write_log,
)

from mlloop.config import Params
from mlloop.core.schema import FeatureSchema
from mlloop.monitoring import summaries
from mlloop.monitoring.label_files import label_line, labels_file
from mlloop.monitoring.log_summary import summarise_stream
from mlloop.monitoring.summaries import Reference, read_reference, read_window_summaries
from mlloop.monitoring.summary_counts import FileSummary, WindowTally
from mlloop.serving.inference_log import log_file
from mlloop.storage.files import sha256_of, write_json

ROWS = 900


def _write_pipeline_outputs(params: Params, schema: FeatureSchema, reference_path: Path) -> None:
    """What the pipeline leaves for the check: the reference split at `reference_path`, evaluate's probabilities
    and the held-out metrics."""
    reference_path.parent.mkdir(parents=True, exist_ok=True)
    _reference(schema).to_parquet(reference_path, index=False)
    params.paths.predictions.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"churn_probability": _probabilities(1500, seed=100)}).to_parquet(params.paths.predictions)
    params.paths.metrics.parent.mkdir(parents=True, exist_ok=True)
    write_json(params.paths.metrics, HELD_OUT_METRICS)


@pytest.fixture
def reference(params: Params, schema: FeatureSchema, tmp_path: Path) -> Reference:
    """The reference split and evaluate's probabilities on disk, read as the check reads them."""
    path = tmp_path / "reference.parquet"
    _write_pipeline_outputs(params, schema, path)
    return read_reference(path, sha256_of(path), params.paths.predictions, schema, params.drift)


def _log(directory: Path, schema: FeatureSchema, seed: int = 2, days: int = 3) -> None:
    """ROWS customers logged over `days` days ending LAST_DAY, a few of them breaking the contract."""
    current = _customers(schema, ROWS, seed=seed)
    current.loc[:30, "payment_method"] = "Digital wallet"
    current.loc[31:40, "total_charges"] = None
    _write_log(directory, current, _probabilities(ROWS, seed=seed + 1), days=days)
    with log_file(directory, LAST_DAY).open("a") as stream:
        stream.write('{"torn": \n')


def _summarise(
    data: bytes, name: str, reference: Reference, schema: FeatureSchema, params: Params, block: int
) -> tuple[FileSummary, pa.Table]:
    return summarise_stream(
        io.BytesIO(data),
        name,
        len(data),
        None,
        LAST_DAY,
        reference.fingerprint,
        reference.edges,
        schema,
        params.drift.contract,
        block,
    )


def _merged(parts: list[FileSummary], reference: Reference, schema: FeatureSchema, params: Params) -> FileSummary:
    tally = WindowTally(reference.edges, list(schema.categorical_features), params.drift.contract.examples)
    for part in parts:
        tally.add_summary(part)
    return tally.summary(reference.fingerprint, "all", 0, None, LAST_DAY)


def _comparable(summary: FileSummary) -> dict[str, object]:
    """A summary's counts, sums rounded (added in another order they differ in the last bits), examples apart."""
    document = summary.model_dump(exclude={"file", "size", "etag", "contract"})
    for histograms in (document["numeric"], document["variant_probability"]):
        for histogram in histograms.values():
            histogram["sums"] = np.round(histogram["sums"], 6).tolist()
    for key in ("probability", "challenger_probability"):
        document[key]["sums"] = np.round(document[key]["sums"], 6).tolist()
    document["contract"] = sorted((rule.feature, rule.rule, rule.count, rule.extreme) for rule in summary.contract)
    return document


def test_summaries_of_two_files_merge_into_the_summary_of_both(
    params: Params, schema: FeatureSchema, reference: Reference, tmp_path: Path
) -> None:
    # Given a day's lines, and the same lines split between two pods' files
    _log(tmp_path, schema, days=1)
    lines = log_file(tmp_path, LAST_DAY).read_bytes().splitlines(keepends=True)
    first, second = b"".join(lines[:400]), b"".join(lines[400:])

    # When each is summarised and the two are merged
    whole, _ = _summarise(first + second, "whole", reference, schema, params, 1 << 20)
    parts = [
        _summarise(data, name, reference, schema, params, 1 << 20)[0] for name, data in (("a", first), ("b", second))
    ]
    merged = _merged(parts, reference, schema, params)

    # Then every count is the whole's, and the example lines are the first ones, file by file
    assert _comparable(merged) == _comparable(whole)
    assert merged.rows == ROWS
    assert merged.lines == ROWS + 1, "and the torn line"
    unknown = next(rule for rule in merged.contract if rule.rule == "categories")
    assert [(example.file, example.line) for example in unknown.examples] == [("a", 1), ("a", 2), ("a", 3)]


def test_a_file_read_in_small_blocks_is_summarised_as_read_whole(
    params: Params, schema: FeatureSchema, reference: Reference, tmp_path: Path
) -> None:
    _log(tmp_path, schema, days=1)
    data = log_file(tmp_path, LAST_DAY).read_bytes()

    whole, whole_index = _summarise(data, "day", reference, schema, params, len(data) + 1)
    blocks, blocks_index = _summarise(data, "day", reference, schema, params, 5_000)

    assert _comparable(blocks) == _comparable(whole)
    examples = {(rule.feature, rule.rule): rule.examples for rule in whole.contract}
    assert {(rule.feature, rule.rule): rule.examples for rule in blocks.contract} == examples, "line numbers"
    assert blocks_index.equals(whole_index)


def test_an_append_reads_that_file_again_and_no_other(
    params: Params, schema: FeatureSchema, reference: Reference, tmp_path: Path
) -> None:
    # Given a log of three days, summarised and stored beside it
    log = tmp_path / "log"
    _log(log, schema)
    stored = read_window_summaries(log.as_posix(), reference, schema, params.drift, LAST_DAY, keep=True)
    assert stored.read_files == 3
    assert (log / params.drift.summaries.folder / reference.fingerprint).is_dir()

    # When the next check finds them all, then after an append to the last day's file
    again = read_window_summaries(log.as_posix(), reference, schema, params.drift, LAST_DAY)
    _write_log(log / "more", _customers(schema, 10, seed=9), _probabilities(10, seed=9), days=1)
    appended = (log / "more" / log_file(Path(), LAST_DAY)).read_bytes()
    (log / "more").joinpath(log_file(Path(), LAST_DAY)).unlink()
    (log / "more").rmdir()
    with log_file(log, LAST_DAY).open("ab") as stream:
        stream.write(appended)
    after = read_window_summaries(log.as_posix(), reference, schema, params.drift, LAST_DAY)

    # Then nothing was read the second time, and only the appended file the third, its new lines counted
    assert again.read_files == 0
    assert again.tally.contract.rows == stored.tally.contract.rows == ROWS
    assert after.read_files == 1
    assert after.tally.contract.rows == ROWS + 10


def test_a_new_reference_reads_every_file_again_into_a_folder_of_its_own(
    params: Params, schema: FeatureSchema, reference: Reference, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    _log(log, schema)
    read_window_summaries(log.as_posix(), reference, schema, params.drift, LAST_DAY, keep=True)

    # When the training split changes (a retraining), so does the fingerprint
    retrained = tmp_path / "retrained.parquet"
    _reference(schema, seed=5).to_parquet(retrained, index=False)
    new = read_reference(retrained, sha256_of(retrained), params.paths.predictions, schema, params.drift)
    after = read_window_summaries(log.as_posix(), new, schema, params.drift, LAST_DAY, keep=True)

    assert new.fingerprint != reference.fingerprint
    assert after.read_files == 3, "summaries binned on the old reference are never merged"
    folders = sorted(path.name for path in (log / params.drift.summaries.folder).iterdir())
    assert folders == sorted([reference.fingerprint, new.fingerprint])


def test_the_check_reads_the_log_and_writes_nothing_beside_it(
    params: Params, schema: FeatureSchema, reference: Reference, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    _log(log, schema)

    first = read_window_summaries(log.as_posix(), reference, schema, params.drift, LAST_DAY)
    second = read_window_summaries(log.as_posix(), reference, schema, params.drift, LAST_DAY)

    assert first.read_files == second.read_files == 3
    assert not (log / params.drift.summaries.folder).exists()
    assert first.tally.contract.rows == ROWS


def test_summaries_are_kept_beside_a_log_in_an_object_store(
    params: Params, schema: FeatureSchema, reference: Reference, tmp_path: Path, store: str
) -> None:
    # Given a log in an object store
    _log(tmp_path, schema)
    memory = fsspec.filesystem("memory")
    root = store.removeprefix("memory://")
    for path in sorted(tmp_path.glob("*.jsonl")):
        memory.pipe(f"{root}/{path.name}", path.read_bytes())

    # When it is summarised, then checked
    stored = read_window_summaries(store, reference, schema, params.drift, LAST_DAY, keep=True)
    checked = read_window_summaries(store, reference, schema, params.drift, LAST_DAY)

    # Then the summaries sit under <root>/<folder>/<fingerprint>/ and the check reads no line again
    kept = memory.find(f"{root}/{params.drift.summaries.folder}/{reference.fingerprint}")
    assert sum(name.endswith(".summary.json") for name in kept) == 3
    assert (stored.read_files, checked.read_files) == (3, 0)
    assert checked.files == [f"{root}/{log_file(Path(), LAST_DAY - timedelta(days=day)).name}" for day in (2, 1, 0)]


def test_summarize_stores_what_the_check_ending_today_needs(
    params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    _write_pipeline_outputs(params, schema, params.paths.train)
    log = tmp_path / "log"
    _log(log, schema)

    message = summaries.summarize(params, log.as_posix(), LAST_DAY)

    assert message.startswith(f"{log}: 3 log files in the window ending {LAST_DAY}, 3 summarised now")
    assert len(list((log / params.drift.summaries.folder).rglob("*.summary.json"))) == 3
    again = summaries.summarize(params, log.as_posix(), LAST_DAY)
    assert again.startswith(f"{log}: 3 log files in the window ending {LAST_DAY}, 0 summarised now")


def test_each_pods_folder_is_a_map_task_and_the_check_then_reads_no_line(
    params: Params, schema: FeatureSchema, reference: Reference, tmp_path: Path
) -> None:
    # Given two pods' folders of day files
    log = tmp_path / "log"
    for pod, seed in (("pod-a", 2), ("pod-b", 4)):
        _log(log / pod, schema, seed=seed)

    # When each folder is summarised on its own (a Job per prefix), then the window is read
    read = [
        summaries.summarise_prefix(log.as_posix(), pod, reference, schema, params.drift, LAST_DAY)
        for pod in ("pod-a", "pod-b")
    ]
    window = read_window_summaries(log.as_posix(), reference, schema, params.drift, LAST_DAY)

    # Then each task read its own three files, and the check none
    assert read == [3, 3]
    assert window.read_files == 0
    assert window.tally.contract.rows == 2 * ROWS


CHECK_IN_A_PROCESS = """
import json, sys
from datetime import datetime
from pathlib import Path
from mlloop.config import Params
from mlloop.monitoring.summary_check import run_drift
params = Params.model_validate_json(Path(sys.argv[1]).read_text())
result = run_drift(params, None, sys.argv[2], Path(sys.argv[3]), datetime.fromisoformat(sys.argv[4]))
print(json.dumps({
    "findings": [finding.status for finding in result.findings],
    "realised": [metric.name for metric in result.realised.metrics] if result.realised else [],
    "plots": sorted(path.name for path in (Path(sys.argv[3]) / "plots").iterdir()),
    "loaded": sorted(name for name in ("sklearn", "pandas", "matplotlib.pyplot") if name in sys.modules),
}))
"""
"""The check from summaries in a fresh process, as `mlloop drift` runs it: what it found and the libraries it loaded."""


def test_the_check_from_summaries_starts_without_scikit_learn_pandas_or_pyplot(
    params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    # Given a summarised window whose prices rose (a plot to draw) and whose rows all have labels drawn from its
    # probabilities, which rank worse than held out: a ROC AUC to score, and its interval to bootstrap
    _write_pipeline_outputs(params, schema, params.paths.train)
    log = tmp_path / "log"
    probabilities = _probabilities(CURRENT_ROWS, seed=3)
    row_ids = _write_log(log, _price_risen(schema), probabilities)
    _write_labels(log, _labels(row_ids, np.random.default_rng(4).random(CURRENT_ROWS) < probabilities))
    summaries.summarize(params, log.as_posix(), LAST_DAY)
    settings = tmp_path / "params.json"
    settings.write_text(params.model_dump_json())

    # When the check runs in a process of its own
    arguments = [settings, log, tmp_path / "drift", NOW.isoformat()]
    run = subprocess.run(
        [sys.executable, "-c", CHECK_IN_A_PROCESS, *map(str, arguments)], capture_output=True, text=True
    )

    # Then it scored the outcomes and drew the plot, with none of them loaded: seconds of a start that must take few
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert (found["findings"], found["realised"]) == (["degraded", "drift"], ["roc_auc"])
    assert found["plots"] == ["monthly_charges.png"]
    assert found["loaded"] == [], "scikit-learn (ROC AUC), pandas (pyarrow's to_numpy, bar charts) or pyplot"


@pytest.mark.parametrize("in_store", [False, True], ids=["folder", "object store"])
def test_a_join_redone_from_the_stored_indexes_gives_the_join_computed_in_memory(
    params: Params, schema: FeatureSchema, reference: Reference, tmp_path: Path, store: str, in_store: bool
) -> None:
    # Given a log of 300 clients over three days, and two days of labels: the first two days' rows by their
    # prediction_id, a third of the clients by client id (on their last day's rows), corrected the next day
    log = tmp_path / "log"
    probabilities = _probabilities(ROWS, seed=3)
    clients = [f"C-{row % 300:03d}" for row in range(ROWS)]
    row_ids = _write_log(log, _customers(schema, ROWS, seed=2), probabilities, days=3, client_ids=clients)
    churned = probabilities > 0.5
    first = [label_line(bool(churn), row_id=row_id) for row_id, churn in zip(row_ids[:600], churned, strict=False)]
    first += [label_line(True, client_id=client) for client in clients[:100]] + [b"not json"]
    second = [label_line(False, row_id=row_id) for row_id in row_ids[:50]]
    second += [label_line(False, client_id=client) for client in clients[:20]]
    for day, lines in ((LAST_DAY - timedelta(days=1), first), (LAST_DAY, second)):
        labels_file(log, day).parent.mkdir(parents=True, exist_ok=True)
        labels_file(log, day).write_bytes(b"".join(line + b"\n" for line in lines))
    unsummarised = tmp_path / "unsummarised"
    shutil.copytree(log, unsummarised)
    source = store if in_store else log.as_posix()
    filesystem, root = fsspec.core.url_to_fs(source)
    if in_store:
        for path in (path for path in log.rglob("*") if path.is_file()):
            filesystem.pipe(f"{root}/{path.relative_to(log).as_posix()}", path.read_bytes())

    # When summarize stores the indexes, and the window's join is then redone from them
    read_window_summaries(source, reference, schema, params.drift, LAST_DAY, keep=True)
    folder = f"{root}/{params.drift.summaries.folder}/{reference.fingerprint}"
    assert len(filesystem.glob(f"{folder}/labels/*.outcomes.parquet")) == 2, "each labels file's index is stored"
    filesystem.rm(filesystem.glob(f"{folder}/window-*.outcomes.parquet"))
    joined = read_window_summaries(source, reference, schema, params.drift, LAST_DAY).outcomes

    # Then it is the join of the check that computes everything in memory
    in_memory = read_window_summaries(unsummarised.as_posix(), reference, schema, params.drift, LAST_DAY).outcomes
    assert joined is not None
    assert in_memory is not None
    assert (joined.labels, joined.unmatched_labels, joined.unreadable_label_lines) == (600 + 100, 0, 1)
    assert joined.cells.rows == 600 + 100, "a row by its prediction_id, a client on its latest row"
    assert (joined.labels, joined.unmatched_labels, joined.unreadable_label_lines) == (
        in_memory.labels,
        in_memory.unmatched_labels,
        in_memory.unreadable_label_lines,
    )
    for name in ("outcomes", "probabilities", "counts"):
        assert np.array_equal(getattr(joined.cells, name), getattr(in_memory.cells, name)), name
