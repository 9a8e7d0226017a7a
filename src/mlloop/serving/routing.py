"""Which model answers each row, and which rows each model scores, in one batched model call.

- one model (ab.mode "off", or a bento holding no challenger): the champion scores and answers every row;
- shadow: both score every row; the champion answers, the challenger's probability is only logged. While the
  model process is busier than ab.shadow_max_busy, a call leaves the challenger out: on two cores a challenger
  scoring every row of a saturated batch endpoint costs it 40 % of its rows/s (bench/README.md), and a shadow
  must not slow production down;
- split: a row is the challenger's when the hash of its key (the client id, else its prediction_id)
  falls below ab.challenger_share, so a customer always meets the same model; each model scores
  only its own rows.

The hash is BLAKE2b, not Python's hash(), which is salted per process: a customer must keep its
model across workers, restarts and releases.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlloop.config import AbMode, AbSettings
from mlloop.serving.inference_log import Variant

_HASH_BYTES = 8
_HASH_RANGE = 1 << (8 * _HASH_BYTES)

ALL_ROWS = None
"""In a plan, a model that scores every row of the call."""

RowsToScore = Sequence[int] | None
"""The positions of the rows a model scores in a call, in order; ALL_ROWS for every one."""


def hash_share(key: str) -> float:
    """The key's place in [0, 1): uniform over keys, the same in every process and release."""
    digest = hashlib.blake2b(key.encode(), digest_size=_HASH_BYTES).digest()
    return int.from_bytes(digest, "big") / _HASH_RANGE


def assigned_variant(key: str, challenger_share: float) -> Variant:
    """The model that answers the customer with this key in split mode."""
    return "challenger" if hash_share(key) < challenger_share else "champion"


@dataclass(frozen=True)
class Answers:
    """The answers to a call's rows, as parallel lists in row order: a list each, not an object per row,
    since a 1,000-row batch would build a thousand.
    """

    variants: list[Variant]
    """The model that answered each row."""
    probabilities: list[float]
    """The answering model's probability for each row."""
    shadow_probabilities: list[float | None]
    """In shadow mode, the challenger's probability for each row (logged, never returned); else None each."""


@dataclass(frozen=True)
class Plan:
    """One model call's work: the rows each model scores, and the model that answers each row."""

    scored: dict[Variant, RowsToScore]
    answering: list[Variant] | None
    """Each row's answering model, in order; None when the champion answers every row."""
    shadowed: bool
    """Whether the challenger is in shadow: the log names it beside each row, with its probability when it scored."""

    def answers(self, probabilities: Mapping[Variant, Sequence[float]]) -> Answers:
        """Each row's answer, from the probabilities each model gave for the rows it scored."""
        if self.answering is None:
            champion = list(probabilities["champion"])
            shadow = probabilities.get("challenger")
            return Answers(
                ["champion"] * len(champion), champion, [None] * len(champion) if shadow is None else list(shadow)
            )
        remaining = {variant: iter(probabilities[variant]) for variant in self.scored}
        return Answers(
            self.answering,
            [next(remaining[variant]) for variant in self.answering],
            [None] * len(self.answering),
        )


class Router:
    """Plans each model call by the mode a bento serves (AbSettings, and whether it holds a challenger)."""

    def __init__(self, settings: AbSettings, has_challenger: bool) -> None:
        self.mode: AbMode = settings.mode if has_challenger else "off"
        self.challenger_share = settings.challenger_share
        self.shadow_max_busy = settings.shadow_max_busy

    def plan(self, keys: Sequence[str], busy_share: float) -> Plan:
        """The plan for rows with these keys, in order (a client id, else the row's prediction_id), in a call
        made while the model process was busy this share of the last second (ModelProcess.busy_share).
        """
        if self.mode == "off":
            return Plan({"champion": ALL_ROWS}, None, shadowed=False)
        if self.mode == "shadow":
            if busy_share > self.shadow_max_busy:
                return Plan({"champion": ALL_ROWS}, None, shadowed=True)
            return Plan({"champion": ALL_ROWS, "challenger": ALL_ROWS}, None, shadowed=True)
        answering = [assigned_variant(key, self.challenger_share) for key in keys]
        scored: dict[Variant, RowsToScore] = {
            variant: [position for position, chosen in enumerate(answering) if chosen == variant]
            for variant in ("champion", "challenger")
        }
        return Plan({variant: rows for variant, rows in scored.items() if rows}, answering, shadowed=False)

    @property
    def needs_keys(self) -> bool:
        """Whether a plan reads the rows' keys: only a split does."""
        return self.mode == "split"
