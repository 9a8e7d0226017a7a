"""The peer for bench/drift.py: Evidently's DataDriftPreset on the same frames, in Evidently's own
environment (Evidently 0.7.23 needs pandas < 3.1). Standalone: it imports nothing from mlloop.

    python evidently_peer.py REFERENCE.parquet CURRENT.parquet COLUMNS.json

COLUMNS.json: {"numerical": [...], "categorical": [...]}. Prints JSON: seconds for the report on
frames already in memory, drifted columns, and Evidently's dataset-drift verdict (share >= 0.5).
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

DRIFT_SHARE = 0.5  # DataDriftPreset's default


def main() -> None:
    reference_path, current_path, columns_path = sys.argv[1:4]
    columns = json.loads(Path(columns_path).read_text())
    names = columns["numerical"] + columns["categorical"]
    reference = pd.read_parquet(reference_path)[names]
    current = pd.read_parquet(current_path)[names]
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
