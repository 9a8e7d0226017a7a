"""Unit-tier fixtures: a drift check's result built by hand, for the modules and commands that read or render one."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mlloop.config import Status
from mlloop.core.column_scores import ColumnScores
from mlloop.monitoring.drift_result import (
    ColumnReport,
    DriftReportFiles,
    DriftResult,
    Finding,
    Realised,
    RealisedMetric,
    ReferenceFile,
    RowCounts,
    WindowSummary,
    result_json,
)


@pytest.fixture
def drift_result() -> DriftResult:
    """A drift verdict: monthly_charges moved, a new payment method appeared, the prediction held."""
    return DriftResult(
        status="drift",
        reasons=["key features drifted: monthly_charges, payment_method"],
        findings=[Finding(status="drift", reasons=["key features drifted: monthly_charges, payment_method"])],
        rule="drift when at least 30% of the features drifted ...",
        window=WindowSummary(
            source="s3://logs/production",
            days=7,
            start=date(2026, 11, 18),
            end=date(2026, 11, 24),
            first_day=date(2026, 11, 18),
            last_day=date(2026, 11, 24),
            last_seen=datetime(2026, 11, 24, 5, 2, tzinfo=UTC),
            files=["s3://logs/production/pod-a/predictions-2026-11-24.jsonl"],
        ),
        rows=RowCounts(current=7000, reference=5634, skipped_lines=3),
        reference=ReferenceFile(path="data/prepared/train.parquet", sha256="ab" * 32),
        model_versions=["churn:v1", "churn:v2"],
        commit="0123456789abcdef0123456789abcdef01234567",
        realised=Realised(
            rows=200,
            metrics=[
                RealisedMetric(
                    name="roc_auc", value=0.8125, bound=None, test=0.8448, worst_acceptable=0.83, max_regression=0.01
                )
            ],
            labels=230,
            unmatched_labels=30,
            unreadable_label_lines=1,
        ),
        contract=[],
        columns=[
            ColumnReport(
                name="monthly_charges",
                kind="numeric",
                drifted_by=["wasserstein", "psi"],
                scores=ColumnScores(0.41, None, 0.62, None, 0.0, 1.2e-40),
            ),
            ColumnReport(
                name="payment_method",
                kind="categorical",
                drifted_by=["unseen_share"],
                scores=ColumnScores(None, 0.05, 0.03, 0.02, 0.0, 0.5, {"Crypto wallet": 140}),
            ),
            ColumnReport(
                name="churn_probability",
                kind="prediction",
                drifted_by=[],
                scores=ColumnScores(0.01, None, 0.002, None, 0.0, 0.9),
            ),
        ],
    )


@pytest.fixture
def drift_report(tmp_path: Path, drift_result: DriftResult) -> Callable[[Status], Path]:
    """Writes a drift report with the given status, as the check writes it; returns its directory."""

    def write(status: Status) -> Path:
        files = DriftReportFiles(tmp_path / "drift")
        files.directory.mkdir(exist_ok=True)
        findings = [Finding(status=status, reasons=drift_result.reasons)]
        files.result.write_text(result_json(drift_result.model_copy(update={"status": status, "findings": findings})))
        files.markdown.write_text(f"# Drift check: **{status}**\n")
        return files.directory

    return write
