"""Judging against a real local OpenAI-style HTTP judge: generic and Xbench verdicts, EM
fallback, judge/EM agreement."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lite_world.eval.judging import judge_episodes, make_judge, parse_xbench_verdict
from lite_world.eval.metrics import summarize_eval


class _Judge(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        prompt = body["messages"][-1]["content"]
        reply = self.server.reply(prompt)
        data = json.dumps(
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def judge_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    srv.daemon_threads = True
    srv.requests = []
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _ep(tid: str, answer: str, gold: str, em: float, meta: dict | None = None) -> dict:
    return {
        "task_id": tid,
        "question": f"Q {tid}?",
        "answers": [gold],
        "answer": answer,
        "meta": meta or {},
        "reward_info": {"em": em, "f1": em},
        "turns": 2,
        "totals": {"tool_calls": 1},
        "steps": [],
        "answered": True,
        "truncated": False,
    }


def test_generic_judge_accepts_paraphrase_and_reports_agreement(judge_server):
    # Correct for "Granville Stanley Hall" (a paraphrase EM misses), Incorrect for Lyon
    judge_server.reply = lambda p: json.dumps(
        {"reasoning": "r", "judgment": "Incorrect" if "Lyon" in p else "Correct"}
    )
    eps = [
        _ep("a", "Granville Stanley Hall", "G. Stanley Hall", 0.0),
        _ep("b", "Paris", "Paris", 1.0),
        _ep("c", "Lyon", "Paris", 0.0),
    ]
    judge_episodes(eps, make_judge(judge_server.url, "judge"))
    assert [e["judge"]["correct"] for e in eps] == [True, True, False]
    assert {e["judge"]["source"] for e in eps} == {"judge"}
    s = summarize_eval(eps)
    assert s["accuracy"] == pytest.approx(2 / 3) and s["em"] == pytest.approx(1 / 3)
    assert s["judge_em_agreement"] == pytest.approx(2 / 3) and s["judged_episodes"] == 3


def test_xbench_three_field_judge(judge_server):
    judge_server.reply = lambda p: (
        "最终答案: 爱迪生\n解释: 不一致。\n结论: 错误"
        if "爱迪生" in p
        else "最终答案: 贝尔\n解释: 与正确答案一致。\n结论: 正确"
    )
    eps = [
        _ep("x1", "亚历山大·贝尔", "亚历山大·格拉汉姆·贝尔", 0.0, {"judge": "xbench"}),
        _ep("x2", "爱迪生", "亚历山大·格拉汉姆·贝尔", 0.0, {"judge": "xbench"}),
    ]
    judges = {"xbench": make_judge(judge_server.url, "judge", style="xbench")}
    judge_episodes(eps, make_judge(judge_server.url, "judge"), judges=judges)
    assert [e["judge"]["correct"] for e in eps] == [True, False]
    prompt = judge_server.requests[0]["messages"][0]["content"]
    assert "[原问题]" in prompt and "[正确答案]" in prompt and "结论" in prompt
    assert parse_xbench_verdict("结论: 错误 ... 结论：正确") is True


def test_unreachable_or_garbage_judge_falls_back_to_em(judge_server):
    judge_server.reply = lambda p: "I cannot decide."
    eps = [_ep("a", "Paris", "Paris", 1.0), _ep("b", "Lyon", "Paris", 0.0)]
    judge_episodes(eps, make_judge(judge_server.url, "judge", timeout_s=2))
    assert [(e["judge"]["correct"], e["judge"]["source"]) for e in eps] == [
        (True, "em_fallback"),
        (False, "em_fallback"),
    ]
    dead = [_ep("c", "Paris", "Paris", 1.0)]
    judge_episodes(dead, make_judge("http://127.0.0.1:9/v1", "judge", timeout_s=0.5))
    assert dead[0]["judge"] == {"correct": True, "source": "em_fallback", "reason": "unreachable"}
    assert summarize_eval(eps + dead)["judge_em_agreement"] is None  # no real verdicts to compare


def test_no_judge_means_exact_match():
    eps = [_ep("a", "paris", "Paris", 1.0), _ep("b", "", "Paris", 0.0)]
    judge_episodes(eps, None)
    assert [e["judge"] for e in eps] == [
        {"correct": True, "source": "em", "reason": None},
        {"correct": False, "source": "em", "reason": None},
    ]
