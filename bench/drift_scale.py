"""The drift check at production scale, for bench/drift.py: summarising, the window check from summaries,
the cold check, and Evidently end to end, each command timed as a whole process.

Logs are written straight to files by bench/log_lines.py into a scratch folder outside the repository
(a day of ten million lines is 7.8 GB), one folder per measurement, and deleted after. Every figure
comes with the load average before and after it: the machine may be shared, and CPU seconds are
what a busy neighbour changes least. Memory: the largest process (GNU time's maximum resident set),
and the whole process tree (the command and its worker processes) sampled every 50 ms, resident and
proportional (PSS counts a page shared by the workers once).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from log_lines import day_pools, write_day
from mlloop.config import Params
from mlloop.core.schema import FeatureSchema
from mlloop.monitoring.label_files import LABELS_FOLDER
from mlloop.monitoring.simulator import LoggedModel

SAMPLE_SECONDS = 0.05
POOL_ROWS = 20_000
"""Distinct simulated rows per day that the generator resamples."""
SCENARIO = "price_increase"
"""A drifted week: the check writes its plots too."""


def _tree_memory(process: psutil.Process) -> tuple[int, int]:
    """The resident and proportional memory of a process and all its descendants, in bytes."""
    rss = pss = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            info = member.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += info.pss
    return rss, pss


def measure(arguments: list[str], cwd: Path) -> dict[str, Any]:
    """One command, timed whole: wall and CPU seconds, the largest process, the tree's peak, the load average."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = psutil.Popen(
        ["/usr/bin/time", "-f", "%e %M %U %S", *arguments],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_rss = peak_pss = 0
    while process.poll() is None:
        rss, pss = _tree_memory(process)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(SAMPLE_SECONDS)
    output, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed: {errors[-2000:]}")
    seconds, kilobytes, user, system = re.findall(r"^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$", errors, re.MULTILINE)[-1]
    return {
        "seconds": float(seconds),
        "cpu_seconds": round(float(user) + float(system), 2),
        "largest_process_mib": round(int(kilobytes) / 1024),
        "tree_rss_mib": round(peak_rss / 2**20),
        "tree_pss_mib": round(peak_pss / 2**20),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "wall_seconds_here": round(time.perf_counter() - started, 2),
        "output": output.strip().splitlines()[-1][:300] if output.strip() else "",
    }


def _sparse(directory: Path) -> None:
    """Empty every log file's blocks but keep its size: its summary stays valid and the disk is freed."""
    for path in directory.rglob("predictions-*.jsonl"):
        size = path.stat().st_size
        os.truncate(path, 0)
        os.truncate(path, size)


def _hide_labels(directory: Path) -> Path:
    """Move the labels aside (beside the folder), so summarising measures the log files alone; returns where."""
    aside = directory.parent / f"{directory.name}-labels"
    aside.mkdir(exist_ok=True)
    if (directory / LABELS_FOLDER).exists():
        for path in (directory / LABELS_FOLDER).iterdir():
            path.rename(aside / path.name)
        (directory / LABELS_FOLDER).rmdir()
    return aside


def _show_labels(directory: Path, aside: Path) -> None:
    (directory / LABELS_FOLDER).mkdir(exist_ok=True)
    for path in aside.iterdir():
        path.rename(directory / LABELS_FOLDER / path.name)
    aside.rmdir()


def scale(
    params: Params,
    schema: FeatureSchema,
    test: pd.DataFrame,
    model: LoggedModel,
    project: Path,
    scratch: Path,
    sizes: list[int],
    week_lines: int,
    week_days: int,
    pods: int,
    cold_lines: int,
    evidently_python: str | None,
) -> dict[str, Any]:
    """Every scale figure of the issue, in one run."""
    tools = Path(sys.executable).parent
    mlloop = str(tools / "mlloop")
    today = datetime.now(UTC).date()
    start = today - timedelta(days=week_days - 1)
    pools = day_pools(params, schema, test, model, SCENARIO, 0, week_days, POOL_ROWS, start)
    results: dict[str, Any] = {"summarise": {}, "pods_per_day": pods, "scenario": SCENARIO}

    # Summarising one day of each size: the log files alone (the map step), then their labels and the join.
    for lines in sizes:
        directory = scratch / f"day-{lines}"
        write_day(directory, today, pools[-1], lines, pods, seed=lines)
        aside = _hide_labels(directory)
        entry = {"log_files": measure([mlloop, "summarize", "--current", str(directory)], project)}
        _show_labels(directory, aside)
        entry["labels_and_join"] = measure([mlloop, "summarize", "--current", str(directory)], project)
        results["summarise"][str(lines)] = entry
        print("summarise", lines, entry, file=sys.stderr, flush=True)
        if lines != week_lines:
            shutil.rmtree(directory)

    # The week of days of `week_lines` lines, the last one the day of that size above: the other days written,
    # summarised and emptied one at a time, then the labels and the window's join, then the check from summaries.
    week = scratch / f"day-{week_lines}"
    aside = _hide_labels(week)
    _sparse(week)
    days = []
    for day_index in range(week_days - 1):
        day = start + timedelta(days=day_index)
        write_day(week, day, pools[day_index], week_lines, pods, seed=day_index)
        _hide_labels(week)
        days.append(measure([mlloop, "summarize", "--current", str(week)], project))
        _sparse(week)
        print("week day", day, days[-1], file=sys.stderr, flush=True)
    results["week_days_summarised"] = days
    _show_labels(week, aside)
    results["week_labels_and_join"] = measure([mlloop, "summarize", "--current", str(week)], project)
    print("week join", results["week_labels_and_join"], file=sys.stderr, flush=True)
    results["week_check"] = [
        measure([mlloop, "drift", "--current", str(week), "--out", str(scratch / "report")], project) for _ in range(3)
    ]
    print("week check", results["week_check"], file=sys.stderr, flush=True)
    shutil.rmtree(week)

    # A week of `cold_lines` lines, one file a day as `mlloop simulate` writes it: the check with no summaries
    # yet, the same window read line by line, Evidently on the same log, and the check once summarised.
    cold = scratch / "cold"
    for day_index in range(week_days):
        write_day(cold, start + timedelta(days=day_index), pools[day_index], cold_lines // week_days, 1, seed=day_index)
    out = str(scratch / "report")
    results["cold_check"] = measure([mlloop, "drift", "--current", str(cold), "--out", out], project)
    results["exact_check"] = measure([mlloop, "drift", "--exact", "--current", str(cold), "--out", out], project)
    if evidently_python:
        peer = str(project / "bench" / "evidently_peer.py")
        reference = str(project / params.paths.train)
        results["evidently_end_to_end"] = measure([evidently_python, peer, "--log", str(cold), reference], project)
    results["summarize_week"] = measure([mlloop, "summarize", "--current", str(cold)], project)
    results["warm_check"] = measure([mlloop, "drift", "--current", str(cold), "--out", out], project)
    results["cold_log_lines"] = sum(1 for path in cold.rglob("predictions-*.jsonl") for _ in path.open("rb"))
    shutil.rmtree(cold)
    return results


def scratch_folder(base: str | None) -> Path:
    """A fresh folder for the logs, outside the repository."""
    folder = Path(base or "/tmp") / f"mlloop-drift-scale-{date.today():%Y%m%d}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder
