"""The statuses' ranking, and what the workflow does for each: the ranking puts what an on-call
engineer must act on first, each alert has its own issue, drift and degraded alone retrain, and a
status closes the issues of the alerts it shows no longer hold."""

import pytest

from mlloop.config import Status
from mlloop.monitoring.status import ALERTS, RANKING, RETRAINING, rank, resolved_by


def test_the_ranking_puts_a_silent_log_first_then_broken_data_then_outcomes_then_drift() -> None:
    assert RANKING == ("stale", "contract_breach", "degraded", "drift", "insufficient_data", "no_drift")
    assert [rank(status) for status in RANKING] == list(range(len(RANKING)))


def test_every_status_but_insufficient_data_and_no_drift_is_an_alert_listed_in_ranking_order() -> None:
    assert list(ALERTS) == ["stale", "contract_breach", "degraded", "drift"]


def test_only_drift_and_degraded_retrain_never_on_a_silent_log_or_broken_data() -> None:
    assert {"drift", "degraded"} == RETRAINING
    assert not {"stale", "contract_breach"} & RETRAINING


@pytest.mark.parametrize(
    ("status", "resolved"),
    [
        ("stale", []),
        ("contract_breach", ["stale"]),
        ("degraded", ["stale", "contract_breach"]),
        ("drift", ["stale", "contract_breach", "degraded"]),
        ("insufficient_data", ["stale"]),
        ("no_drift", ["stale", "contract_breach", "degraded", "drift"]),
    ],
)
def test_a_status_resolves_the_alerts_checked_before_it_and_never_its_own(
    status: Status, resolved: list[Status]
) -> None:
    assert resolved_by(status) == resolved
    assert status not in resolved_by(status)
