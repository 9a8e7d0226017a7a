"""Routing between champion and challenger: a customer's model is a pure function of its key, the
same in every process, the challenger's share is the configured one within sampling noise, and each
mode's plan has each model score the rows it must and answer the rows it should."""

import math
import os
import subprocess
import sys

import pytest

from mlloop.config import AbMode, AbSettings
from mlloop.serving.inference_log import Variant
from mlloop.serving.routing import Router, assigned_variant, hash_share

SHARE = 0.1
KEYS = [f"customer-{index}" for index in range(20_000)]
SIGMAS = 4
"""Binomial tolerance: a share outside this many standard deviations is no sampling noise."""
IDLE, BUSY = 0.0, 1.0
"""The share of the last second the model process was busy, as a call finds it."""
MAX_BUSY = 0.9


def _router(mode: AbMode, share: float = SHARE, max_busy: float = MAX_BUSY, challenger: bool = True) -> Router:
    return Router(AbSettings(mode=mode, challenger_share=share, shadow_max_busy=max_busy), has_challenger=challenger)


def test_a_key_is_assigned_the_same_variant_in_a_process_whose_string_hashes_are_salted_differently() -> None:
    # given: the assignment of a thousand keys here
    keys = KEYS[:1000]
    here = [assigned_variant(key, SHARE) for key in keys]

    # when: another interpreter, with another PYTHONHASHSEED, assigns them
    script = (
        "import sys; from mlloop.serving.routing import assigned_variant; "
        f"print(','.join(assigned_variant(key, {SHARE}) for key in sys.stdin.read().split()))"
    )
    there = subprocess.run(
        [sys.executable, "-c", script],
        input="\n".join(keys),
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"PYTHONHASHSEED": "12345"},
    ).stdout.strip()

    # then: every key has the same model there
    assert there.split(",") == here


def test_the_challengers_share_of_keys_is_the_configured_share_within_binomial_noise() -> None:
    for share in (0.05, SHARE, 0.5):
        challengers = sum(assigned_variant(key, share) == "challenger" for key in KEYS)

        tolerance = SIGMAS * math.sqrt(len(KEYS) * share * (1 - share))
        assert abs(challengers - len(KEYS) * share) <= tolerance, (share, challengers)


def test_a_larger_share_keeps_every_key_the_smaller_one_gave_the_challenger() -> None:
    # raising challenger_share moves customers to the challenger, never back to the champion
    small = {key for key in KEYS if assigned_variant(key, 0.1) == "challenger"}
    large = {key for key in KEYS if assigned_variant(key, 0.3) == "challenger"}

    assert small < large


def test_the_hash_places_keys_uniformly_in_the_unit_interval() -> None:
    places = [hash_share(key) for key in KEYS]

    assert all(0 <= place < 1 for place in places)
    for low in (0.0, 0.25, 0.5, 0.75):
        inside = sum(low <= place < low + 0.25 for place in places)
        assert abs(inside - len(KEYS) / 4) <= SIGMAS * math.sqrt(len(KEYS) * 0.25 * 0.75), (low, inside)


def _answering(router: Router, keys: list[str]) -> list[Variant]:
    answering = router.plan(keys, IDLE).answering
    assert answering is not None, "a split plan names each row's model"
    return answering


def test_split_is_sticky_a_key_meets_the_same_model_in_any_batch_at_any_position() -> None:
    router = _router("split")
    keys = KEYS[:200]

    together = _answering(router, keys)

    assert [_answering(router, [key])[0] for key in keys] == together
    assert list(reversed(_answering(router, list(reversed(keys))))) == together
    assert {"challenger", "champion"} <= set(together), "200 keys at a 10 % share meet both models"


def test_off_has_the_champion_score_and_answer_every_row() -> None:
    plan = _router("off").plan([], IDLE)

    answers = plan.answers({"champion": [0.2, 0.7]})

    assert plan.scored == {"champion": None}
    assert (answers.variants, answers.probabilities, answers.shadow_probabilities) == (
        ["champion", "champion"],
        [0.2, 0.7],
        [None, None],
    )


@pytest.mark.parametrize("mode", ["shadow", "split"])
def test_a_bento_without_a_challenger_serves_as_off_whatever_the_mode(mode: AbMode) -> None:
    router = _router(mode, challenger=False)

    assert router.mode == "off"
    assert router.plan(KEYS[:10], IDLE).scored == {"champion": None}
    assert not router.needs_keys


def test_shadow_has_both_score_every_row_the_champion_answer_and_the_challenger_shadow_it() -> None:
    router = _router("shadow")
    plan = router.plan([], IDLE)

    answers = plan.answers({"champion": [0.2, 0.7], "challenger": [0.3, 0.6]})

    assert not router.needs_keys, "shadow mode reads no keys: every row is the champion's"
    assert plan.scored == {"champion": None, "challenger": None}
    assert plan.shadowed
    assert (answers.variants, answers.probabilities, answers.shadow_probabilities) == (
        ["champion", "champion"],
        [0.2, 0.7],
        [0.3, 0.6],
    )


@pytest.mark.parametrize("busy_share", [0.95, BUSY])
def test_shadow_skips_the_challenger_while_the_model_process_is_busier_than_the_limit_and_still_names_it(
    busy_share: float,
) -> None:
    plan = _router("shadow", max_busy=MAX_BUSY).plan([], busy_share)

    answers = plan.answers({"champion": [0.2, 0.7]})

    assert plan.scored == {"champion": None}, "a busy model's process scores the champion alone"
    assert plan.shadowed, "the log still names the challenger, beside no probability"
    assert (answers.probabilities, answers.shadow_probabilities) == ([0.2, 0.7], [None, None])


def test_shadow_scores_every_row_up_to_the_limit_and_under_any_load_with_a_limit_of_one() -> None:
    assert _router("shadow", max_busy=MAX_BUSY).plan([], MAX_BUSY).scored == {"champion": None, "challenger": None}
    assert _router("shadow", max_busy=1.0).plan([], BUSY).scored == {"champion": None, "challenger": None}


def test_a_busy_model_never_changes_who_answers_in_split_mode() -> None:
    router = _router("split", share=0.5)
    keys = KEYS[:50]

    assert router.plan(keys, BUSY) == router.plan(keys, IDLE)


def test_split_has_each_model_score_only_its_rows_and_puts_the_answers_back_in_row_order() -> None:
    # given: keys of which the hash gives the challenger some, in a known order
    router = _router("split", share=0.5)
    keys = KEYS[:8]
    expected = [assigned_variant(key, 0.5) for key in keys]
    champion_rows = [index for index, variant in enumerate(expected) if variant == "champion"]
    challenger_rows = [index for index, variant in enumerate(expected) if variant == "challenger"]
    assert champion_rows, "these keys must meet both models"
    assert challenger_rows, "these keys must meet both models"

    # when: each model answers its rows with probabilities that name the row
    plan = router.plan(keys, IDLE)
    answers = plan.answers(
        {
            "champion": [index / 10 for index in champion_rows],
            "challenger": [index / 10 + 0.01 for index in challenger_rows],
        }
    )

    # then
    assert router.needs_keys
    assert not plan.shadowed
    assert plan.scored == {"champion": champion_rows, "challenger": challenger_rows}
    assert answers.variants == expected
    assert answers.probabilities == [
        index / 10 + (variant == "challenger") * 0.01 for index, variant in enumerate(expected)
    ]
    assert answers.shadow_probabilities == [None] * len(keys)


def test_split_leaves_out_a_model_with_no_rows_in_the_call() -> None:
    key = next(key for key in KEYS if assigned_variant(key, SHARE) == "champion")

    plan = _router("split").plan([key], IDLE)

    assert plan.scored == {"champion": [0]}
