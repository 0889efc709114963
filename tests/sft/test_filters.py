"""Each of the paper's filters F1-F7 on real-format trajectories: the good one passes all, and
for each rule one trajectory that fails that rule and no other."""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lite_world.errors import TaskError
from lite_world.sft.filters import RULES, check_all, text_artifact
from lite_world.sft.trajectory import Trajectory, read_trajectories

from .conftest import ANSWER, GOOD, URL, answer, call


def reasons(episode, **kwargs):
    return check_all(Trajectory.from_episode(episode), **kwargs)


def test_good_trajectory_passes_every_rule(good_episode):
    traj = Trajectory.from_episode(good_episode)
    assert [t.kind for t in traj.turns] == ["tool", "tool", "answer"]
    assert [c.name for c in traj.tool_calls] == ["search", "visit"]
    assert traj.final_answer == ANSWER and traj.answers == (ANSWER,)
    assert reasons(good_episode) == []


def test_f1_wrong_or_missing_answer(replay, good_episode):
    wrong = replay(GOOD[:2] + [answer("Springer")])
    assert reasons(wrong) == ["F1_incorrect"]
    unanswered = copy.deepcopy(good_episode)
    unanswered["messages"] = unanswered["messages"][:-1]  # the run was cut before answering
    assert reasons(unanswered) == ["F1_no_answer"]
    # a verdict the env recorded from its judge wins over exact match
    judged = copy.deepcopy(wrong)
    judged["reward_info"]["judged"] = True
    assert reasons(judged) == []


def test_f2_same_call_more_than_three_times(replay):
    search = call("search", {"query": ["Journal of Psychotherapy Integration publisher"]})
    ep = replay([search] * 4 + GOOD[1:])
    assert reasons(ep) == ["F2_repeated_call"]
    assert reasons(replay([search] * 3 + GOOD[1:])) == []  # three times is allowed


def test_f3_fewer_than_two_calls(replay):
    ep = replay([GOOD[0], answer()])
    assert reasons(ep) == ["F3_too_few_calls"]
    assert reasons(ep, min_calls=1) == []


def test_f4_tool_outside_allowed_set(replay):
    ep = replay([GOOD[0], call("python", {"code": "print(1)"}), GOOD[1], answer()])
    assert ep["steps"][1]["error"] == "unknown_tool"
    assert reasons(ep) == ["F4_unknown_tool"]
    assert reasons(ep, allowed_tools=("search", "visit", "python")) == []


@pytest.mark.parametrize(
    "final, code",
    [
        (
            "<think>The page says \ufffd so.</think>\n<answer>American Psychological Association</answer>",
            "F5_encoding_artifact",
        ),
        (
            "<think>The pageâ€™s publisher.</think>\n<answer>American Psychological Association</answer>",
            "F5_encoding_artifact",
        ),
        (
            "<think>So: $\\boxed{American Psychological Association}$</think>\n<answer>American Psychological Association</answer>",
            "F5_boxed",
        ),
    ],
)
def test_f5_encoding_artifacts_and_boxed(replay, final, code):
    assert reasons(replay(GOOD[:2] + [final])) == [code]


def test_text_artifact_kinds():
    assert text_artifact("Ã©cole") == "mojibake"
    assert text_artifact("tab\tand\nnewline are fine") is None
    assert text_artifact("bell \x07") == "control_char"
    assert text_artifact("Zürich – “quoted” 東京") is None


def test_f6_more_than_two_tool_errors(replay):
    bad_json = '<think>try</think>\n<tool_call>\n{"name": "search", "arguments": \n</tool_call>'
    no_url = call("visit", {"goal": "who publishes it"})
    three = replay([bad_json, no_url, bad_json, *GOOD])
    assert [s["error"] for s in three["steps"][:3]] == [
        "parse_error",
        "invalid_arguments",
        "parse_error",
    ]
    assert reasons(three) == ["F6_tool_errors"]
    assert reasons(replay([bad_json, no_url, *GOOD])) == []  # two errors are tolerated
    # without the env's steps (another framework's log), errors are read from the messages
    no_steps = {k: v for k, v in three.items() if k != "steps"}
    assert reasons(no_steps) == ["F6_tool_errors"]


def test_f7_tool_call_without_think(replay):
    ep = replay(
        [
            GOOD[0],
            call("visit", {"url": URL, "goal": "who publishes the journal"}, think=None),
            answer(),
        ]
    )
    assert reasons(ep) == ["F7_call_without_think"]
    empty = replay([GOOD[0], call("visit", {"url": URL, "goal": "g"}, think=" "), answer()])
    assert reasons(empty) == ["F7_call_without_think"]  # an empty think block is no reasoning


def test_rules_can_be_selected_and_all_reasons_are_listed(replay):
    ep = replay([call("search", {"query": ["x"]}, think=None), answer("Springer")])
    assert reasons(ep) == ["F1_incorrect", "F3_too_few_calls", "F7_call_without_think"]
    assert reasons(ep, rules=("F3",)) == ["F3_too_few_calls"]
    assert RULES == ("F1", "F2", "F3", "F4", "F5", "F6", "F7")


def test_bad_trajectory_records_raise_task_error(tmp_path):
    with pytest.raises(TaskError, match="Expects 'messages'"):
        Trajectory.from_episode({"question": "q"})
    with pytest.raises(TaskError, match="Expects message 0 to be"):
        Trajectory.from_episode({"messages": [{"role": "robot", "content": "x"}]})
    with pytest.raises(TaskError, match="at least one assistant message"):
        Trajectory.from_episode({"messages": [{"role": "user", "content": "x"}]})
    (tmp_path / "t.jsonl").write_text('{"messages": []}\n[1, 2]\n')
    with pytest.raises(TaskError, match="line 2 is list"):
        list(read_trajectories(tmp_path / "t.jsonl"))
    with pytest.raises(TaskError, match="does not exist"):
        list(read_trajectories(tmp_path / "missing"))


class _Judge(ThreadingHTTPServer):
    """A local OpenAI-compatible chat server that answers every judge request with one verdict."""

    def __init__(self, verdict: str):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.server.requests.append(body)
                content = json.dumps({"reasoning": "same organisation", "judgment": verdict})
                data = json.dumps(
                    {
                        "id": "c",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def test_f1_with_an_llm_judge_and_its_exact_match_fallback(replay):
    from lite_world.reward.judge import JudgeConfig, LLMJudge

    ep = replay(GOOD[:2] + [answer("the APA")])  # right, but not an exact match
    assert reasons(ep) == ["F1_incorrect"]
    server = _Judge("Correct")
    try:
        judge = LLMJudge(JudgeConfig(base_url=server.url, model="judge", max_retries=0))
        assert reasons(ep, judge=judge) == []
        assert "the APA" in json.dumps(server.requests[0])  # the judge saw the answer
    finally:
        server.shutdown()
    down = LLMJudge(JudgeConfig(base_url=server.url, model="judge", max_retries=0, timeout_s=0.5))
    assert reasons(ep, judge=down) == ["F1_incorrect"]  # judge unreachable: exact match decides
    assert reasons(replay(GOOD), judge=down) == []
