"""Normalisation, exact match, token F1 and cover EM."""

from __future__ import annotations

import pytest

from lite_world.reward.normalize import (
    answer_aliases,
    cover_exact_match,
    exact_match,
    f1_score,
    normalize_answer,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  a  Tale of Two Cities!  ", "tale of two cities"),
        ("U.S.A.", "usa"),
        ("Theatre and anthem", "theatre and anthem"),  # articles only as whole words
        ("An", ""),
        ("rock-n-roll", "rocknroll"),
        ("", ""),
        (None, ""),
        ("Tab\tand\nnewline", "tab and newline"),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_answer_aliases():
    assert answer_aliases("x") == ["x"]
    assert answer_aliases(("a", "b")) == ["a", "b"]
    assert answer_aliases([1984, "1984"]) == ["1984", "1984"]
    assert answer_aliases([]) == []


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("Paris", "paris", 1.0),
        ("the Paris.", ["London", "Paris"], 1.0),
        ("Paris, France", ["Paris"], 0.0),
        ("1984", [1984], 1.0),
        ("", [""], 0.0),
        (None, "Paris", 0.0),
        ("Paris", [], 0.0),
        ("...", "!!!", 0.0),
    ],
)
def test_exact_match(prediction, answers, expected):
    assert exact_match(prediction, answers) == expected


def test_f1_partial_overlap():
    # pred tokens: barack obama (2), gold: obama (1): P=1/2, R=1, F1=2/3
    assert f1_score("Barack Obama", "Obama") == 2 / 3
    # pred: president barack obama; gold: barack hussein obama -> same 2, P=2/3, R=2/3
    assert f1_score("The President Barack Obama", "Barack Hussein Obama") == 2 / 3


def test_f1_max_over_aliases_and_repeated_tokens():
    assert f1_score("new york new york", ["New York", "NYC"]) == 2 * 0.5 * 1 / 1.5
    assert f1_score("Paris", ["London", "paris"]) == 1.0
    assert f1_score("Berlin", ["London", "Paris"]) == 0.0


def test_f1_yes_no_noanswer_special_case():
    assert f1_score("no", "no way") == 0.0
    assert f1_score("yes sir", "yes") == 0.0
    assert f1_score("Yes!", "yes") == 1.0
    assert f1_score("noanswer", "noanswer") == 1.0
    assert f1_score("no", ["no way", "No."]) == 1.0


def test_f1_empty():
    assert f1_score("", "x") == 0.0
    assert f1_score(None, "x") == 0.0
    assert f1_score("x", []) == 0.0
    assert f1_score("the", "the") == 0.0  # normalises to nothing


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("It was Barack Obama in 2009", "Barack Obama", 1.0),
        ("It was Barack Obama in 2009", "Obama Barack", 0.0),
        ("Obamacare", "Obama", 0.0),
        ("the city of new york", ["NYC", "New York"], 1.0),
        ("york", "New York", 0.0),
        ("anything", ["", "the"], 0.0),
        (None, "x", 0.0),
    ],
)
def test_cover_exact_match(prediction, answers, expected):
    assert cover_exact_match(prediction, answers) == expected
