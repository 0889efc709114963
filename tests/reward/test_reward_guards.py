"""Reward-hacking guards."""

from __future__ import annotations

import pytest

from lite_world.errors import ConfigError
from lite_world.reward.guards import GUARD_REASONS, check_answer, is_hedge, is_multiple_candidates


def test_reason_codes():
    assert GUARD_REASONS == ("no_answer", "too_long", "hedge", "multiple_candidates")


@pytest.mark.parametrize("prediction", [None, "", "   ", "...", "the"])
def test_no_answer(prediction):
    assert check_answer(prediction) == "no_answer"


def test_too_long_respects_cap_after_strip():
    assert check_answer("x" * 200) is None
    assert check_answer("  " + "x" * 200 + "  ") is None
    assert check_answer("x" * 201) == "too_long"
    assert check_answer("x" * 11, max_chars=10) == "too_long"
    assert check_answer("x" * 10, max_chars=10) is None


@pytest.mark.parametrize(
    "prediction",
    [
        "Unknown",
        "unknown.",
        "Not sure",
        "No answer",
        "I don't know",
        "I do not know the answer",
        "The answer cannot be determined.",
        "Insufficient information to answer",
        "Unable to determine from the sources",
        "It is impossible to determine",
        "Not enough information",
        "I'm not sure, maybe Paris",
    ],
)
def test_hedge(prediction):
    assert check_answer(prediction) == "hedge"


@pytest.mark.parametrize(
    "prediction",
    ["Unknown Pleasures", "The Unknown Soldier of Verdun", "Sure Thing", "Nobody Knows"],
)
def test_real_answers_are_not_hedges(prediction):
    assert is_hedge(prediction) is False
    assert check_answer(prediction) is None


@pytest.mark.parametrize(
    "prediction",
    [
        "Paris or London",
        "Either Paris or London",
        "Paris, London, Rome",
        "Paris; London; Rome",
        "Paris/London/Rome",
        "1912, 1913 or 1914",
    ],
)
def test_multiple_candidates(prediction):
    assert check_answer(prediction) == "multiple_candidates"


@pytest.mark.parametrize(
    "prediction",
    ["Paris", "AC/DC", "Washington, D.C.", "1,000,000", "12/05/2020", "Paris and London", "or"],
)
def test_single_answers_pass(prediction):
    assert is_multiple_candidates(prediction) is False
    assert check_answer(prediction) is None


def test_genuine_list_answer_matching_reference_is_not_rejected():
    refs = ["red, green, blue", "RGB"]
    assert check_answer("Red, Green, Blue", references=refs) is None
    # a different order is not an exact match, but the reference is a list, so lists pass
    assert check_answer("blue, green, red", references=refs) is None
    assert check_answer("blue, green, red") == "multiple_candidates"


def test_or_in_reference_allows_or_in_answer():
    assert check_answer("War or Peace", references="War or Peace") is None
    assert check_answer("Kiss or Kill", references=["To be or not to be"]) is None
    assert check_answer("Kiss or Kill", references=["Kiss"]) == "multiple_candidates"


def test_hedge_that_is_the_reference_is_accepted():
    assert check_answer("Unknown", references=["unknown"]) is None
    assert check_answer("Unknown", references=["Paris"]) == "hedge"


def test_no_answer_and_too_long_apply_even_with_references():
    assert check_answer("", references=[""]) == "no_answer"
    assert check_answer("x" * 300, references=["x" * 300]) == "too_long"


@pytest.mark.parametrize("cap", [0, -1, 2.5, True, "200"])
def test_bad_cap(cap):
    with pytest.raises(ConfigError, match="Expects max_chars to be an int >= 1"):
        check_answer("Paris", max_chars=cap)
