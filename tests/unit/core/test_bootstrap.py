"""
bootstrap: the difference between two models' metric with its interval, paired on the same rows or unpaired on
rows of their own, which tells a real difference from resampling noise.
"""

import math

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from mlloop.core.bootstrap import paired_bootstrap, paired_deltas, unpaired_deltas
from mlloop.core.metrics import THRESHOLD_FREE

# --- paired_bootstrap ------------------------------------------------------------------
#
# Simulated customers: label y ~ Bernoulli(share); each model scores a customer
#     score = mu * y + noise,  noise ~ Normal(0, 1),
# so a model's positives score Normal(mu, 1) and its negatives Normal(0, 1). The chance a
# random positive outscores a random negative is P(N(mu, 2) > 0), so the population
#     ROC AUC = Phi(mu / sqrt(2)).
# Both models score the SAME customers and their noises share a common part (correlation
# rho), as two versions of one model would: the pairs are what the paired bootstrap uses.
# A score becomes a probability through the exact posterior P(y=1 | score), which is
# calibrated (so log_loss and brier also favour the larger mu) and increasing in the score
# (so the AUC is unchanged).


def _auc(mu: float) -> float:
    """Population ROC AUC of a model whose positives score N(mu, 1) and negatives N(0, 1)."""
    return float(norm.cdf(mu / math.sqrt(2)))


def _probability(score: np.ndarray, mu: float, share: float) -> np.ndarray:
    """P(y=1 | score): log-odds = log N(score; mu, 1) - log N(score; 0, 1) + logit(share)."""
    log_odds = mu * score - mu**2 / 2 + math.log(share / (1 - share))
    probability: np.ndarray = expit(log_odds)
    return probability


def _paired_customers(
    size: int, mu_baseline: float, mu_pull_request: float, seed: int, share: float = 0.3, rho: float = 0.6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and both models' probabilities for `size` simulated customers."""
    rng = np.random.default_rng(seed)
    label = (rng.random(size) < share).astype(np.int64)
    shared = rng.standard_normal(size)
    own_baseline, own_pull_request = rng.standard_normal((2, size))
    noise_baseline = math.sqrt(rho) * shared + math.sqrt(1 - rho) * own_baseline  # still N(0, 1)
    noise_pull_request = math.sqrt(rho) * shared + math.sqrt(1 - rho) * own_pull_request
    return (
        label,
        _probability(mu_baseline * label + noise_baseline, mu_baseline, share),
        _probability(mu_pull_request * label + noise_pull_request, mu_pull_request, share),
    )


def test_bootstrap_is_reproducible_for_a_seed_and_differs_across_seeds() -> None:
    label, baseline, pull_request = _paired_customers(200, mu_baseline=1.0, mu_pull_request=1.2, seed=1)

    first = paired_bootstrap(label, baseline, pull_request, "brier", resamples=100, confidence=0.95, seed=7)
    again = paired_bootstrap(label, baseline, pull_request, "brier", resamples=100, confidence=0.95, seed=7)
    other = paired_bootstrap(label, baseline, pull_request, "brier", resamples=100, confidence=0.95, seed=8)

    assert again == first
    assert (other.low, other.high) != (first.low, first.high)
    assert other.observed_delta == first.observed_delta, "the observed delta uses every row, not a resample"


def test_bootstrap_interval_contains_the_true_population_difference() -> None:
    # given: a population of 100,000 customers, 30% churners, and two models with
    #   mu = 1.0: AUC = Phi(1.0 / sqrt 2) = Phi(0.7071) = 0.7602
    #   mu = 1.3: AUC = Phi(1.3 / sqrt 2) = Phi(0.9192) = 0.8210
    # so the PR's true improvement is 0.0608.
    mu_baseline, mu_pull_request = 1.0, 1.3
    true_delta = _auc(mu_pull_request) - _auc(mu_baseline)
    assert true_delta == pytest.approx(0.0608, abs=1e-4)
    label, baseline, pull_request = _paired_customers(100_000, mu_baseline, mu_pull_request, seed=2024)
    # the simulation is what the comment says: the population's AUCs are the analytic ones
    assert roc_auc_score(label, baseline) == pytest.approx(_auc(mu_baseline), abs=0.005)
    assert roc_auc_score(label, pull_request) == pytest.approx(_auc(mu_pull_request), abs=0.005)

    # when: one test set of 1,500 customers is drawn and bootstrapped
    rows = np.random.default_rng(11).choice(len(label), size=1500, replace=False)
    result = paired_bootstrap(
        label[rows], baseline[rows], pull_request[rows], "roc_auc", resamples=300, confidence=0.95, seed=42
    )

    # then: the 95% interval covers the truth, and is narrow enough to say something
    assert result.low <= true_delta <= result.high, result
    assert result.high - result.low < 0.08, f"an interval this wide says nothing: {result}"
    assert result.significant, "a 0.06 AUC gain is detectable on 1,500 paired rows"
    assert (result.metric, result.confidence, result.resamples) == ("roc_auc", 0.95, 300)


def test_a_clearly_better_model_is_significant() -> None:
    # AUC Phi(0.5 / sqrt 2) = 0.64 against Phi(2 / sqrt 2) = 0.92
    label, baseline, pull_request = _paired_customers(400, mu_baseline=0.5, mu_pull_request=2.0, seed=3)

    result = paired_bootstrap(label, baseline, pull_request, "roc_auc", resamples=100, confidence=0.95, seed=0)

    assert result.significant
    assert result.low > 0.15, result


def test_identical_models_give_an_interval_of_exactly_zero_and_are_not_significant() -> None:
    label, baseline, _ = _paired_customers(300, mu_baseline=1.0, mu_pull_request=1.0, seed=4)

    result = paired_bootstrap(label, baseline, baseline.copy(), "roc_auc", resamples=50, confidence=0.95, seed=0)

    assert (result.observed_delta, result.low, result.high) == (0.0, 0.0, 0.0)
    assert not result.significant


@pytest.mark.parametrize("metric", sorted(THRESHOLD_FREE))
def test_bootstrap_works_for_every_threshold_free_metric_in_its_own_direction(metric: str) -> None:
    # given: a much better PR model, calibrated, so every metric favours it
    label, baseline, pull_request = _paired_customers(400, mu_baseline=0.5, mu_pull_request=2.0, seed=5)
    score = THRESHOLD_FREE[metric].score

    result = paired_bootstrap(label, baseline, pull_request, metric, resamples=60, confidence=0.9, seed=0)

    assert (result.metric, result.resamples, result.confidence) == (metric, 60, 0.9)
    assert result.observed_delta == pytest.approx(score(label, pull_request) - score(label, baseline))
    assert result.low <= result.observed_delta <= result.high, result
    assert result.significant, result
    # positive improvement at both ends: up for roc_auc and average_precision, down for losses
    improvement = THRESHOLD_FREE[metric].improvement
    assert improvement(result.low) > 0, result
    assert improvement(result.high) > 0, result


def test_bootstrap_skips_resamples_that_hold_one_class_only() -> None:
    # given: 1 churner in 20 customers; about (19/20)^20 = 36% of resamples miss it
    label = np.array([1] + [0] * 19)
    baseline = np.linspace(0.05, 0.6, 20)
    pull_request = baseline[::-1].copy()

    result = paired_bootstrap(label, baseline, pull_request, "roc_auc", resamples=100, confidence=0.95, seed=0)

    assert 0 < result.resamples < 100, "one-class resamples are skipped, not scored"
    assert math.isfinite(result.low)
    assert math.isfinite(result.high)


def test_bootstrap_of_a_single_class_test_set_is_a_clear_error_not_an_index_error() -> None:
    label = np.ones(10, dtype=np.int64)
    probability = np.linspace(0.1, 0.9, 10)

    with pytest.raises(ValueError, match="single class"):
        paired_bootstrap(label, probability, probability, "roc_auc", resamples=100, confidence=0.95, seed=0)


# --- paired and unpaired deltas --------------------------------------------------------


def test_the_worse_end_is_the_lower_end_of_a_score_and_the_upper_end_of_a_loss() -> None:
    label, first, second = _paired_customers(2000, mu_baseline=1.0, mu_pull_request=1.4, seed=6)

    auc = paired_deltas(label, first, second, "roc_auc", resamples=200, seed=0)
    loss = paired_deltas(label, first, second, "log_loss", resamples=200, seed=0)

    assert auc.worse_end(0.95) == pytest.approx(np.quantile(auc.resampled, 0.05))
    assert loss.worse_end(0.95) == pytest.approx(np.quantile(loss.resampled, 0.95))
    assert 0 < auc.worse_end(0.95) < auc.observed, "a better second model: its AUC gain is positive even there"
    assert loss.observed < loss.worse_end(0.95) < 0, "and its loss is lower even there"
    assert auc.worse_end(0.99) < auc.worse_end(0.95), "more confidence, a more cautious end"


def test_an_unpaired_interval_is_wider_than_a_paired_one_on_correlated_models() -> None:
    # given: two correlated models scoring 4,000 customers; unpaired, each keeps its own half only
    label, first, second = _paired_customers(4000, mu_baseline=1.0, mu_pull_request=1.2, seed=7, rho=0.9)
    half = len(label) // 2

    paired = paired_deltas(label, first, second, "roc_auc", resamples=300, seed=0)
    unpaired = unpaired_deltas(label[:half], first[:half], label[half:], second[half:], "roc_auc", 300, seed=0)

    paired_width = np.subtract(*paired.interval(0.9)[::-1])
    unpaired_width = np.subtract(*unpaired.interval(0.9)[::-1])
    assert unpaired_width > 2 * paired_width, (paired_width, unpaired_width)
    assert unpaired.observed == pytest.approx(
        roc_auc_score(label[half:], second[half:]) - roc_auc_score(label[:half], first[:half])
    ), "the observed difference is each model's metric on its own rows"


def test_an_unpaired_interval_covers_the_true_difference_of_two_independent_samples() -> None:
    # given: two models' populations with AUC 0.7602 (mu 1.0) and 0.8210 (mu 1.3), 3,000 customers each
    label_first, first, _ = _paired_customers(3000, mu_baseline=1.0, mu_pull_request=1.0, seed=8)
    label_second, _, second = _paired_customers(3000, mu_baseline=1.3, mu_pull_request=1.3, seed=9)

    deltas = unpaired_deltas(label_first, first, label_second, second, "roc_auc", resamples=400, seed=0)

    low, high = deltas.interval(0.95)
    assert low <= _auc(1.3) - _auc(1.0) <= high, (low, high)
    assert len(deltas.resampled) == 400


def test_unpaired_resamples_holding_one_class_on_either_side_are_dropped() -> None:
    label = np.array([1] + [0] * 19)
    probability = np.linspace(0.05, 0.6, 20)
    both = np.array([1, 0] * 10)

    deltas = unpaired_deltas(label, probability, both, probability, "roc_auc", resamples=100, seed=0)

    assert 0 < len(deltas.resampled) < 100
    assert np.isfinite(deltas.resampled).all()
