"""Rule pre-filters on crafted pairs, the rubric against a junk LLM, `synth filter --rules-only`."""

from __future__ import annotations

import json

import pytest

from lite_world.synth.rubric import boxed_verdict, filter_tasks
from lite_world.synth.rules import rule_reasons

GOOD = [
    ("In which year was the Eiffel Tower in Paris completed?", "1889"),
    ("Who designed the Golden Gate Bridge in San Francisco?", "Joseph Strauss"),
    ("How many moons did Galileo discover around Jupiter in 1610?", "four"),
    ("What is the capital city of the Australian state of Victoria?", "Melbourne"),
]
BAD = [
    ("Why did the Roman Empire decline in the west?", "many causes", "open_ended"),
    ("Describe the architecture of the Sydney Opera House.", "expressionist", "open_ended"),
    ("Who is the current chairman of the Federal Reserve?", "Jerome Powell", "vague_time"),
    ("What is the latest album released by Radiohead?", "A Moon Shaped Pool", "vague_time"),
    ("Is Canberra the capital of Australia today or not?", "yes", "vague_time"),
    ("Did Marie Curie win two Nobel Prizes in science?", "yes", "yes_no_question"),
    ("Which city hosted the 1900 Summer Olympics, Paris or London?", "no", "yes_no_answer"),
    ("Which of the following is a prime number: 4, 6, 7?", "7", "multiple_choice"),
    (
        "What did the 1998 treaty between the parties establish in Ireland?",
        "a devolved power-sharing assembly and cross-border bodies for the island",
        "long_answer",
    ),
    ("In which year did the Berlin Wall fall in 1989 Germany?", "1989", "answer_in_question"),
    ("Capital?", "Paris", "too_short"),
]


@pytest.mark.parametrize("question, answer", GOOD)
def test_good_pairs_pass_every_rule(question, answer):
    assert rule_reasons({"question": question, "answers": [answer]}) == []


@pytest.mark.parametrize("question, answer, reason", BAD)
def test_bad_pairs_break_the_expected_rule(question, answer, reason):
    assert rule_reasons({"question": question, "answers": [answer]})[0] == reason


def _tasks():
    rows = [{"id": f"g{i}", "question": q, "answers": [a]} for i, (q, a) in enumerate(GOOD)]
    rows += [{"id": f"b{i}", "question": q, "answers": [a]} for i, (q, a, _) in enumerate(BAD)]
    return rows


def test_rules_only_cli_writes_kept_and_report(tmp_path):
    from lite_world.cli import main

    inp, out = tmp_path / "cands.jsonl", tmp_path / "kept.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in _tasks()))
    assert main(["synth", "filter", str(inp), "--out", str(out), "--rules-only"]) == 0
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in kept] == ["g0", "g1", "g2", "g3"]
    rep = json.loads((tmp_path / "kept.report.json").read_text())
    assert rep["in"] == 15 and rep["kept"] == 4 and rep["dropped_total"] == 11
    assert rep["dropped"]["rule:open_ended"] == 2 and rep["dropped"]["rule:vague_time"] == 3
    assert (tmp_path / "kept.report.png").stat().st_size > 1000


def test_rubric_survives_junk_verdicts(junk_llm, junk_client):
    verdicts = {
        "1889": "1. independence: pass\n...\n\\boxed{true}",
        "Joseph Strauss": "All fine. \\boxed{false} Actually, on reflection: \\boxed{true}",
        "four": "independence: fail (needs context)\n\\boxed{false}",
        "Melbourne": 'I think this question is great!!! {"verdict": tru',
    }

    def rule(prompt):
        for ans, text in verdicts.items():
            if f"Answer: {ans}\n" in prompt:
                return text
        return "\\boxed{true}"

    junk_llm.set(rule)
    tasks = [
        {
            "id": "x",
            "question": "Which river flows through the German city of Cologne?",
            "answers": ["Rhine"],
        }
    ] + _tasks()
    junk_llm.set(rule, fail=["Answer: Rhine\n"])
    kept, rep = filter_tasks(tasks, junk_client)
    assert [t["id"] for t in kept] == ["g0", "g1"]
    assert rep.kept == 2
    assert rep.dropped["rubric_false"] == 1 and rep.dropped["rubric_unparsed"] == 1
    assert rep.dropped["llm_error"] == 1
    assert sum(rep.dropped.values()) + rep.kept == rep.n_in == 16
    assert len(junk_llm.prompts) == 5  # only rule survivors reach the LLM
    assert kept[0]["meta"]["rubric"]["model"] == "junk"


def test_boxed_verdict_forms():
    assert boxed_verdict("\\boxed{ TRUE }") is True
    assert boxed_verdict("boxed{false}") is False
    assert boxed_verdict("true") is None
