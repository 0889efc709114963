"""``compute_score`` on a decoded transcript equals LiteSearch-v0's reward for the same episode."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("verl")

TASK = {
    "id": "2hop__150763_14904",
    "answers": ["G. Stanley Hall", "Stanley Hall"],
    "question": "Who was the first president of the association which published "
    "Journal of Psychotherapy Integration?",
}
SEARCH = '<tool_call>{"name": "search", "arguments": {"query": ["Journal of Psychotherapy Integration"]}}</tool_call>'
NO_JUDGE = "http://127.0.0.1:9/v1"  # nothing listens: the judge falls back to exact match


def _episode(tiny_world, turns, **env_kwargs):
    """Step the env through ``turns``; return (reward, the response as verl decodes it for a ChatML model)."""
    import gymnasium as gym

    import lite_world  # noqa: F401

    env = gym.make(
        "LiteSearch-v0",
        world=str(tiny_world),
        tasks=[TASK],
        max_episode_steps=len(turns),
        **env_kwargs,
    )
    env.reset(options={"task": TASK})
    parts, reward = [], 0.0
    for text in turns:
        obs, reward, terminated, truncated, _ = env.step(text)
        parts.append(text)
        if terminated or truncated:
            break
        # "<|im_end|>\n<|im_start|>user\n{obs}<|im_end|>\n<|im_start|>assistant\n" without special tokens
        parts.append(f"\nuser\n{obs}\nassistant\n")
    env.close()
    return reward, "".join(parts)


CASES = {
    "answer": ["<think>I know it.</think>\n<answer>G. Stanley Hall</answer>"],
    "search_then_alias": [SEARCH, "<think>APA.</think>\n<answer>stanley hall</answer>"],
    "search_then_wrong": [SEARCH, "<answer>Sigmund Freud</answer>"],
    "hedge": ["<answer>I don't know</answer>"],
    "two_candidates": ["<answer>G. Stanley Hall or William James</answer>"],
    "too_long": ["<answer>" + "G. Stanley Hall " * 20 + "</answer>"],
    "ends_with_a_call": [SEARCH],
    "call_and_answer": [
        SEARCH[: -len("</tool_call>")] + "</tool_call><answer>G. Stanley Hall</answer>"
    ],
    "unclosed_answer": ["<answer>G. Stanley Hall"],
    "uppercase_tags": ["<ANSWER>G. Stanley Hall</ANSWER>"],
    "answer_in_think": [
        "<think><answer>G. Stanley Hall</answer></think>\n<answer>William James</answer>"
    ],
}
EXPECTED = {"answer": 1.0, "search_then_alias": 1.0}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compute_score_equals_the_env_reward(tiny_world, case):
    from trainers.verl.reward import compute_score

    reward, transcript = _episode(tiny_world, CASES[case])
    assert reward == EXPECTED.get(case, 0.0)
    score = compute_score(
        "lite_world", transcript, {"target": TASK["answers"]}, {"question": TASK["question"]}
    )
    assert score["score"] == score["acc"] == reward
    assert set(score) == {"score", "acc", "em", "f1", "answered"}


@pytest.mark.parametrize(
    ("kind", "turns"),
    [
        ("f1", ["<answer>Stanley Hall, psychologist</answer>"]),
        ("judge", ["<answer>stanley hall</answer>"]),
        ("judge", ["<answer>William James</answer>"]),
    ],
)
def test_f1_and_judge_with_em_fallback_match_the_env(tiny_world, kind, turns):
    from trainers.verl.reward import compute_score

    judge = {"judge_url": NO_JUDGE, "judge_model": "judge"} if kind == "judge" else {}
    reward, transcript = _episode(tiny_world, turns, reward=kind, **judge)
    score = compute_score(
        "lite_world",
        transcript,
        {"target": TASK["answers"]},
        {"question": TASK["question"]},
        kind=kind,
        judge_timeout_s=1.0,
        **judge,
    )
    assert score["score"] == pytest.approx(reward)
    if kind == "f1":
        assert 0.0 < reward < 1.0


def test_ground_truth_shapes():
    import numpy as np

    from lite_world.errors import ConfigError
    from trainers.verl.reward import compute_score

    text = "<answer>Stanley Hall</answer>"
    for gt in (
        {"target": np.array(["G. Stanley Hall", "Stanley Hall"])},
        ["Stanley Hall"],
        "Stanley Hall",
    ):
        assert compute_score("lite_world", text, gt)["score"] == 1.0
    with pytest.raises(ConfigError, match=r"Expects ground_truth as \{'target': \[answers...\]\}"):
        compute_score("lite_world", text, {"target": []})
    with pytest.raises(
        ConfigError, match="Expects reward_kwargs judge_url and judge_model with kind='judge'"
    ):
        compute_score("lite_world", text, ["x"], kind="judge")


def test_rows_score_with_their_own_ground_truth(verl_parquet):
    import pyarrow.parquet as pq

    from trainers.verl.reward import compute_score

    for row in pq.read_table(verl_parquet).to_pylist():
        answer = json.loads(row["extra_info"]["task"])["answers"][0]
        score = compute_score(
            row["data_source"],
            f"<answer>{answer}</answer>",
            row["reward_model"]["ground_truth"],
            row["extra_info"],
        )
        assert score == {"score": 1.0, "acc": 1.0, "em": 1.0, "f1": 1.0, "answered": 1.0}
