"""Which streaming JSON reader summarises the inference log: pyarrow, DuckDB or Polars, measured.

Each reader parses the same day files (the service's lines) into typed columns (the 19 features,
the probability, the timestamp and the model version) in bounded batches, and each batch is
consumed by the same numpy reduction (a histogram of one number, counts of one label), as a
summary would. One process per reader and thread count, timed whole with its peak memory.
Standalone, for an environment holding all three (DuckDB and Polars are not the project's
dependencies):

    python -m venv /some/dir && /some/dir/bin/pip install duckdb polars pyarrow numpy psutil
    /some/dir/bin/python bench/json_readers.py [--readers duckdb,polars] FILE.jsonl [FILE.jsonl ...]

Prints one JSON line per reader and thread count: wall and CPU seconds, peak resident MiB, and the
load average (the machine may be shared: CPU seconds are what a busy neighbour changes least).
"""

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

NUMBERS = ["female", "senior_citizen", "partner", "dependents", "tenure", "phone_service", "paperless_billing",
           "monthly_charges", "total_charges"]  # fmt: skip
LABELS = ["multiple_lines", "internet_service", "online_security", "online_backup", "device_protection",
          "tech_support", "streaming_tv", "streaming_movies", "contract", "payment_method"]  # fmt: skip
BLOCK_BYTES = 16 << 20


def _pyarrow_blocks(paths: list[str], threads: bool) -> Iterator[dict[str, np.ndarray]]:
    """pyarrow.json.read_json on blocks of whole lines cut from each file (a bad line costs only its block)."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    features = [pa.field(name, pa.float64()) for name in NUMBERS] + [pa.field(name, pa.string()) for name in LABELS]
    schema = pa.schema([pa.field("features", pa.struct(features)), pa.field("churn_probability", pa.float64()),
                        pa.field("timestamp", pa.string()), pa.field("model_version", pa.string())])  # fmt: skip
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    read = pa_json.ReadOptions(use_threads=threads, block_size=BLOCK_BYTES)
    for path in paths:
        with Path(path).open("rb") as stream:
            rest = b""
            while block := stream.read(BLOCK_BYTES):
                block = rest + block
                cut = block.rfind(b"\n") + 1
                block, rest = block[:cut], block[cut:]
                table = pa_json.read_json(pa.BufferReader(block), read_options=read, parse_options=options).flatten()
                yield {name.removeprefix("features."): table[name] for name in table.column_names}
            if rest:
                table = pa_json.read_json(pa.BufferReader(rest), read_options=read, parse_options=options).flatten()
                yield {name.removeprefix("features."): table[name] for name in table.column_names}


def _pyarrow_stream(paths: list[str], threads: bool) -> Iterator[dict[str, np.ndarray]]:
    """pyarrow.json.open_json: the streaming reader (a bad line ends the file's stream)."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    features = [pa.field(name, pa.float64()) for name in NUMBERS] + [pa.field(name, pa.string()) for name in LABELS]
    schema = pa.schema([pa.field("features", pa.struct(features)), pa.field("churn_probability", pa.float64()),
                        pa.field("timestamp", pa.string()), pa.field("model_version", pa.string())])  # fmt: skip
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    read = pa_json.ReadOptions(use_threads=threads, block_size=BLOCK_BYTES)
    for path in paths:
        for batch in pa_json.open_json(path, read_options=read, parse_options=options):
            table = pa.Table.from_batches([batch]).flatten()
            yield {name.removeprefix("features."): table[name] for name in table.column_names}


def _duckdb(paths: list[str], threads: bool) -> Iterator[dict[str, np.ndarray]]:
    import duckdb

    connection = duckdb.connect(config={"threads": 2 if threads else 1, "memory_limit": "500MB"})
    struct = ", ".join([f"{name} DOUBLE" for name in NUMBERS] + [f"{name} VARCHAR" for name in LABELS])
    columns = (
        f"{{features: 'STRUCT({struct})', churn_probability: 'DOUBLE', timestamp: 'VARCHAR', model_version: 'VARCHAR'}}"
    )
    select = ", ".join([f"features.{name} AS {name}" for name in NUMBERS + LABELS])
    query = (
        f"SELECT {select}, churn_probability, timestamp, model_version FROM read_json({paths!r}, "
        f"format='newline_delimited', columns={columns})"
    )
    reader = connection.sql(query).to_arrow_reader(100_000)
    for batch in reader:
        yield {name: batch.column(name) for name in batch.schema.names}


def _polars(paths: list[str], _threads: bool) -> Iterator[dict[str, np.ndarray]]:
    import polars as pl

    features = pl.Struct(
        [pl.Field(name, pl.Float64) for name in NUMBERS] + [pl.Field(name, pl.String) for name in LABELS]
    )
    schema = {"features": features, "churn_probability": pl.Float64, "timestamp": pl.String, "model_version": pl.String}
    for path in paths:
        frame = pl.scan_ndjson(path, schema=schema).unnest("features")
        for batch in frame.collect_batches(chunk_size=100_000):
            yield {name: batch[name].to_arrow() for name in batch.columns}


READERS = {
    "pyarrow-blocks": _pyarrow_blocks,
    "pyarrow-open_json": _pyarrow_stream,
    "duckdb": _duckdb,
    "polars": _polars,
}


def _consume(batches: Iterator[dict[str, Any]]) -> int:
    """The same reduction for every reader: a histogram of one number and counts of one label."""
    import pyarrow.compute as pc

    edges = np.linspace(0, 200, 1001)
    histogram = np.zeros(len(edges) + 1, dtype=np.int64)
    rows = 0
    for batch in batches:
        charges = np.asarray(pc.fill_null(batch["monthly_charges"], np.nan))
        histogram += np.bincount(np.searchsorted(edges, charges, side="right"), minlength=len(edges) + 1)
        pc.value_counts(batch["contract"])
        rows += len(charges)
    return rows


def _run_one(reader: str, threads: bool, paths: list[str]) -> None:
    if not threads:
        os.environ["OMP_NUM_THREADS"] = "1"
        import pyarrow as pa

        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)
        os.environ["POLARS_MAX_THREADS"] = "1"
    started = time.perf_counter()
    rows = _consume(READERS[reader](paths, threads))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started, "cpu_seconds": round(cpu, 2)}))


def main() -> None:
    if sys.argv[1] == "--one":
        _run_one(sys.argv[2], sys.argv[3] == "2", sys.argv[4:])
        return
    import psutil

    chosen = list(READERS)
    if sys.argv[1] == "--readers":
        chosen, paths = sys.argv[2].split(","), sys.argv[3:]
    else:
        paths = sys.argv[1:]
    for reader in chosen:
        for threads in ("1", "2"):
            environment = dict(os.environ, POLARS_MAX_THREADS=threads, OMP_NUM_THREADS=threads)
            started = time.perf_counter()
            process = psutil.Popen([sys.executable, __file__, "--one", reader, threads, *paths], env=environment,
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
            peak = 0
            while process.poll() is None:
                try:
                    peak = max(peak, process.memory_info().rss)
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.05)
            output = process.stdout.read() if process.stdout else ""
            wall = time.perf_counter() - started
            result = json.loads(output.strip().splitlines()[-1]) if process.returncode == 0 else {"failed": True}
            print(json.dumps({"reader": reader, "threads": int(threads), "wall_seconds": round(wall, 2),
                              "peak_mib": round(peak / 2**20), "load_average": os.getloadavg()[0], **result}),
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
