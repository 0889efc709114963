"""The cleaning steps C1-C4, each on a real-format trajectory that needs it."""

from __future__ import annotations

from lite_world.sft.cleaning import (
    clean_messages,
    merge_reminders,
    shorten_answer,
    standard_system_prompt,
    truncate_after_answer,
)
from lite_world.tools.prompts import DEFAULT_DATE, system_prompt

from .conftest import ANSWER, GOOD, answer


def test_c1_replaces_the_teachers_system_prompt(good_episode):
    msgs = [dict(m) for m in good_episode["messages"]]
    msgs[0]["content"] = "You are TeacherBot. Use the tools wisely."
    out = standard_system_prompt(msgs)
    assert out[0] == {"role": "system", "content": system_prompt("tool_call", DEFAULT_DATE)}
    assert out[1:] == good_episode["messages"][1:]
    assert msgs[0]["content"].startswith("You are TeacherBot")  # the input is untouched
    # a teacher log without a system message gets one
    assert [m["role"] for m in standard_system_prompt(msgs[1:])][:2] == ["system", "user"]


def test_c2_long_answer_becomes_the_reference(replay):
    rambling = (
        "The journal is published by the American Psychological Association, on behalf of a society "
        * 2
    )
    ep = replay(GOOD[:2] + [answer(rambling)], answers=[ANSWER, "APA"])
    out = shorten_answer(ep["messages"], ep["answers"])
    assert out[-1]["content"] == f"<think>The page says so.</think>\n<answer>{ANSWER}</answer>"
    assert out[:-1] == ep["messages"][:-1]
    short = shorten_answer(ep["messages"], ep["answers"], max_chars=len(rambling))
    assert short[-1]["content"] == ep["messages"][-1]["content"]  # at or under the limit: kept


def test_c3_reminders_merge_into_the_adjacent_tool_response(good_episode):
    msgs = [dict(m) for m in good_episode["messages"]]
    reminder = {
        "role": "user",
        "content": "Reminder: you have 10 turns left. Answer in <answer></answer>.",
    }
    with_reminder = msgs[:4] + [reminder] + msgs[4:]  # after the first tool response
    out = merge_reminders(with_reminder)
    assert len(out) == len(msgs)
    assert out[3]["content"] == msgs[3]["content"] + "\n\n" + reminder["content"]
    assert [m["role"] for m in out] == [m["role"] for m in msgs]
    # a reminder right after the question is not merged into the question: it joins the next user turn
    early = (
        msgs[:2]
        + [reminder, {"role": "user", "content": "<tool_response>\nr\n</tool_response>"}]
        + msgs[2:]
    )
    out = merge_reminders(early)
    assert (
        out[1] == msgs[1]
        and out[2]["content"].startswith("Reminder:")
        and out[2]["content"].endswith("</tool_response>")
    )
    assert merge_reminders(msgs) == msgs  # nothing to merge


def test_c4_truncates_right_after_answer(good_episode):
    msgs = [dict(m) for m in good_episode["messages"]]
    msgs[-1]["content"] += "\n\nI hope this helps! Let me know if you need anything else."
    tail = msgs + [
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You're welcome."},
    ]
    out = truncate_after_answer(tail)
    assert out == good_episode["messages"]


def test_clean_messages_runs_all_steps_in_order(good_episode):
    msgs = [dict(m) for m in good_episode["messages"]]
    msgs[0]["content"] = "teacher prompt"
    msgs[-1]["content"] = "<think>t</think>\n<answer>" + "x" * 150 + "</answer> trailing"
    out = clean_messages(msgs, answers=[ANSWER])
    assert out[0]["content"] == system_prompt("tool_call", DEFAULT_DATE)
    assert out[-1]["content"] == f"<think>t</think>\n<answer>{ANSWER}</answer>"
    assert clean_messages(msgs, answers=[ANSWER], steps=()) == msgs
