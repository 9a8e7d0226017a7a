"""A drift check's statuses, how they rank, and what the drift workflow does for each.

A check can find several things at once (a silent log whose last week also drifted); drift.json's
`status` is the most urgent of them, and it alone decides what the workflow does. The ranking is
what an on-call engineer must act on first:

1. stale: the log went silent, so every other verdict would be about old traffic. Fix the service
   or its log shipper first.
2. contract_breach: lines break the schema, so their scores and realised metrics mean little, and
   retraining on them would make the model worse (validation would refuse the data anyway).
3. degraded: the outcomes themselves got worse; measured harm outranks a leading indicator.
4. drift: the inputs moved as the distribution-shift rule sees it.
5. insufficient_data: too few rows to judge drift; it hides no alert, since every alert above
   either holds or has its own condition on enough data.
6. no_drift: none of the above.
"""

from dataclasses import dataclass
from typing import get_args

from mlloop.config import Status

RANKING: tuple[Status, ...] = get_args(Status)
"""Every status, most urgent first: the order config.Status declares them in."""


@dataclass(frozen=True)
class Alert:
    """A status that pages someone: the GitHub issue kept open while it lasts, under its own label."""

    label: str
    color: str
    description: str
    title: str
    """The issue's title, before the check's reasons."""
    ongoing: str
    """The comment's opening when a later check finds it again."""


ALERTS: dict[Status, Alert] = {
    "stale": Alert("stale-log", "5319E7", "the inference log went silent", "Inference log silent", "Still silent"),
    "contract_breach": Alert(
        "contract-breach", "B60205", "log lines break the schema", "Data contract broken in production", "Still broken"
    ),
    "degraded": Alert(
        "degraded", "E99695", "realised outcomes worse than the gate allows", "Outcomes degraded", "Still degraded"
    ),
    "drift": Alert("drift", "D93F0B", "the drift check found drift", "Drift in production data", "Still drifting"),
}
"""The statuses that open an issue, in ranking order; the label `drift` is the one earlier versions used."""

RETRAINING: frozenset[Status] = frozenset({"degraded", "drift"})
"""The statuses that start a retraining; never stale or contract_breach: retraining on broken data makes it worse."""


def rank(status: Status) -> int:
    """The status's place in RANKING: 0 is the most urgent."""
    return RANKING.index(status)


def resolved_by(status: Status) -> list[Status]:
    """The alerts a check with this status shows no longer hold, so their issues close.

    An alert checked before this status (ranked above it) does not hold. insufficient_data only
    shows the log is live: the rest needed more rows than it had. no_drift clears every alert.
    """
    if status == "no_drift":
        return list(ALERTS)
    if status == "insufficient_data":
        return ["stale"]
    return [alert for alert in ALERTS if rank(alert) < rank(status)]
