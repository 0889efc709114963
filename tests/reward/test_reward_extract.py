"""Final-answer extraction."""

from __future__ import annotations

import pytest

from lite_world.reward.extract import extract_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>Paris</answer>", "Paris"),
        ("<think>x</think>\n<answer>\n  Paris \n</answer>", "Paris"),
        ("<answer>Rome</answer> wait <answer>Paris</answer>", "Paris"),
        ("<ANSWER>Paris</Answer>", "Paris"),
        ("<answer>two\nlines</answer>", "two\nlines"),
        ("<answer>Rome</answer> then <answer>unclosed", "Rome"),
        ("<answer></answer>", ""),
        ("no answer block", None),
        ("<answer>unclosed", None),
        ("", None),
        (None, None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected
