"""The labelled rows the realised metrics are scored on, as each distinct (outcome, probability) with its count.

A week of labelled rows repeats few probabilities (a customer scored every night is scored alike), so
the cells are far fewer than the rows, yet every metric of the registry takes them as weights and
gives what it gives on the rows. Both checks, from summaries and `--exact`, hand the metrics these
cells in the same order, so they score and bootstrap them alike (monitoring.degradation).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OutcomeCells:
    """Distinct (outcome, probability) pairs, ordered by outcome then probability, with their row counts."""

    outcomes: np.ndarray
    probabilities: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, outcomes: np.ndarray, probabilities: np.ndarray, counts: np.ndarray | None = None) -> "OutcomeCells":
        """The cells of these labelled rows, each row counted once or `counts` times (a cell of an earlier count)."""
        order = np.lexsort((probabilities, outcomes))
        outcome, probability = outcomes[order].astype(bool), probabilities[order].astype(float)
        first = np.ones(len(order), dtype=bool)
        first[1:] = (outcome[1:] != outcome[:-1]) | (probability[1:] != probability[:-1])
        starts = np.flatnonzero(first)
        weights = np.ones(len(order), dtype=np.int64) if counts is None else counts[order].astype(np.int64)
        summed = np.add.reduceat(weights, starts) if len(starts) else np.zeros(0, dtype=np.int64)
        return cls(outcome[starts], probability[starts], summed)

    @classmethod
    def merged(cls, parts: list["OutcomeCells"]) -> "OutcomeCells":
        """The cells of all these parts' rows together: what `of` gives on every row at once."""
        return cls.of(
            np.concatenate([np.zeros(0, dtype=bool), *(part.outcomes for part in parts)]),
            np.concatenate([np.zeros(0), *(part.probabilities for part in parts)]),
            np.concatenate([np.zeros(0, dtype=np.int64), *(part.counts for part in parts)]),
        )

    @property
    def rows(self) -> int:
        """The labelled rows."""
        return int(self.counts.sum())


NO_CELLS = OutcomeCells.of(np.zeros(0, dtype=bool), np.zeros(0))
