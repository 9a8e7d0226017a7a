"""The peer for bench/drift.py: Evidently's DataDriftPreset on the same frames, in Evidently's own
environment (Evidently 0.7.23 needs pandas < 3.1). Standalone: it imports nothing from mlloop.

    python evidently_peer.py REFERENCE.parquet CURRENT.parquet COLUMNS.json
    python evidently_peer.py --log LOG_DIRECTORY REFERENCE.parquet

COLUMNS.json: {"numerical": [...], "categorical": [...]}. Prints JSON: seconds for the report on
frames already in memory, drifted columns, and Evidently's dataset-drift verdict (share >= 0.5).
With --log, end to end as a user of Evidently would run it on the inference log: every
predictions-*.jsonl under the folder read with pandas, the features flattened, the columns typed by
the reference (text columns categorical), then the same report.
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

DRIFT_SHARE = 0.5  # DataDriftPreset's default


def _log_frame(directory: Path) -> pd.DataFrame:
    """The log's features, one row per line."""
    files = sorted(path for path in directory.rglob("predictions-*.jsonl") if "summaries" not in path.parts)
    lines = pd.concat([pd.read_json(path, lines=True) for path in files], ignore_index=True)
    return pd.DataFrame(lines["features"].tolist())


def main() -> None:
    if sys.argv[1] == "--log":
        log, reference_path = Path(sys.argv[2]), sys.argv[3]
        reference = pd.read_parquet(reference_path)
        current = _log_frame(log)
        text = [name for name in current.columns if not pd.api.types.is_numeric_dtype(current[name])]
        columns = {"numerical": [name for name in current.columns if name not in text], "categorical": text}
        for frame in (reference, current):  # numpy dtypes, as the frames of the in-memory comparison
            frame[columns["numerical"]] = frame[columns["numerical"]].astype("float64")
            frame[text] = frame[text].astype(object)
    else:
        reference_path, current_path, columns_path = sys.argv[1:4]
        columns = json.loads(Path(columns_path).read_text())
        reference = pd.read_parquet(reference_path)
        current = pd.read_parquet(current_path)
    names = columns["numerical"] + columns["categorical"]
    reference, current = reference[names], current[names]
    definition = DataDefinition(numerical_columns=columns["numerical"], categorical_columns=columns["categorical"])
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    seconds = time.perf_counter() - started
    metrics = snapshot.dict()["metrics"]
    drifted = [
        metric["config"]["column"]
        for metric in metrics
        if metric["config"]["type"].endswith("ValueDrift")
        and (
            metric["value"] < metric["config"]["threshold"]  # a p-value: small means drifted
            if "p_value" in metric["config"]["method"]
            else metric["value"] >= metric["config"]["threshold"]  # a distance: large means drifted
        )
    ]
    share = len(drifted) / len(names)
    print(json.dumps({"seconds": seconds, "drifted": drifted, "dataset_drift": share >= DRIFT_SHARE}))


if __name__ == "__main__":
    main()
