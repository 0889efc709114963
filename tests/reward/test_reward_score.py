"""compute_reward and agreement."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lite_world.errors import ConfigError
from lite_world.reward import JudgeConfig, LLMJudge, RewardResult, agreement, compute_reward


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.count += 1  # type: ignore[attr-defined]
        lines = body["messages"][1]["content"].splitlines()
        prediction = json.loads(lines[lines.index("<<<END PREDICTED ANSWER>>>") - 1])
        verdict = "Correct" if prediction in ("NYC", "Paris") else "Incorrect"
        content = json.dumps({"reasoning": "r", "judgment": verdict})
        message = {"role": "assistant", "content": content}
        data = json.dumps({"choices": [{"message": message}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def judge():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.count = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    cfg = JudgeConfig(
        base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1",
        model="m",
        timeout_s=2.0,
        max_retries=0,
    )
    try:
        yield LLMJudge(cfg)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def test_em_reward():
    assert compute_reward("the Beatles", ["Beatles", "Fab Four"]) == RewardResult(
        reward=1.0, em=1.0, f1=1.0, judged=None, source="em", reason=None, prediction="the Beatles"
    )
    r = compute_reward("Beatles band", "Beatles")
    assert (r.reward, r.em, r.f1) == (0.0, 0.0, 2 / 3)


def test_f1_reward():
    r = compute_reward("Barack Obama", "Obama", kind="f1")
    assert r == RewardResult(2 / 3, 0.0, 2 / 3, None, "f1", None, "Barack Obama")


def test_extract():
    r = compute_reward("<think>Rome?</think><answer> Paris </answer>", "Paris", extract=True)
    assert (r.reward, r.prediction, r.source) == (1.0, "Paris", "em")
    r = compute_reward("Paris", "Paris", extract=True)  # no answer block
    assert r == RewardResult(0.0, 0.0, 0.0, None, "guard", "no_answer", None)


def test_guards_zero_the_reward_but_metrics_are_kept():
    r = compute_reward("Paris or London", "Paris", kind="f1")
    assert r == RewardResult(0.0, 0.0, 0.5, None, "guard", "multiple_candidates", "Paris or London")
    assert compute_reward("unknown", "Paris").reason == "hedge"
    assert compute_reward("Paris " * 40, "Paris").reason == "too_long"
    assert compute_reward("Paris", "Paris", max_answer_chars=3).reason == "too_long"
    assert compute_reward(None, "Paris").reason == "no_answer"


def test_list_answer_matching_reference_scores():
    r = compute_reward("red, green, blue", ["Red, Green, Blue"])
    assert (r.reward, r.source) == (1.0, "em")


def test_judge_reward_and_agreement(judge):
    q = "Capital of France?"
    r1 = compute_reward("NYC", ["New York City"], question="Big Apple?", kind="judge", judge=judge)
    assert r1 == RewardResult(1.0, 0.0, 0.0, True, "judge", None, "NYC")
    r2 = compute_reward("Paris", "Paris", question=q, kind="judge", judge=judge)
    assert (r2.reward, r2.judged, r2.em) == (1.0, True, 1.0)
    r3 = compute_reward("Lyon", "Paris", question=q, kind="judge", judge=judge)
    assert (r3.reward, r3.judged, r3.source) == (0.0, False, "judge")
    r4 = compute_reward("Paris", "Paris", question=q, kind="judge", judge=judge)
    assert (r4.reward, r4.judged, r4.source) == (1.0, True, "cache")
    r5 = compute_reward("not sure", "Paris", question=q, kind="judge", judge=judge)
    assert (r5.reward, r5.judged, r5.source, r5.reason) == (0.0, None, "guard", "hedge")
    assert judge.stats()["requests"] == 3
    assert agreement([r1, r2, r3, r4, r5]) == {
        "n": 4,
        "agree": 3,
        "agreement": 0.75,
        "judge_only": 1,
        "em_only": 0,
    }


def test_judge_guard_uses_compute_reward_cap(judge):
    long_answer = "a" * 250
    r = compute_reward(long_answer, "Paris", kind="judge", judge=judge, max_answer_chars=300)
    assert (r.source, r.judged) == ("judge", False)  # the judge's own 200-char cap is not reapplied


def test_judge_fallback_is_not_counted_as_a_verdict():
    cfg = JudgeConfig(base_url="http://127.0.0.1:9/v1", model="m", timeout_s=0.5, max_retries=0)
    r = compute_reward("Paris", "Paris", kind="judge", judge=LLMJudge(cfg))
    assert r == RewardResult(1.0, 1.0, 1.0, None, "em_fallback", "unreachable", "Paris")
    assert agreement([r]) == {"n": 0, "agree": 0, "agreement": None, "judge_only": 0, "em_only": 0}


def test_agreement_em_only():
    rs = [RewardResult(0.0, 1.0, 1.0, False, "judge", None, "x")]
    assert agreement(rs) == {"n": 1, "agree": 0, "agreement": 0.0, "judge_only": 0, "em_only": 1}


def test_config_errors():
    with pytest.raises(ConfigError, match=r"kind in \('em', 'f1', 'judge'\), actual: 'bleu'\."):
        compute_reward("x", "x", kind="bleu")
    with pytest.raises(ConfigError, match="Expects an LLMJudge when kind='judge'"):
        compute_reward("x", "x", kind="judge")
    with pytest.raises(ConfigError, match="max_chars"):
        compute_reward("x", "x", max_answer_chars=0)
