"""``reward="judge"`` through the env, against a real local OpenAI-style HTTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PSYCHOTHERAPY = "2hop__150763_14904"  # answers "G. Stanley Hall", "Stanley Hall"
QUESTION = (
    "Who was the first president of the association which published "
    "Journal of Psychotherapy Integration?"
)
PARAPHRASE = "<answer>Granville Stanley Hall</answer>"  # the same person; not an exact match


class _Handler(BaseHTTPRequestHandler):
    server: _Judge

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body))
        if self.server.reply is None:
            payload = b"<html>502 upstream garbage</html>"
        else:
            message = {"role": "assistant", "content": self.server.reply}
            payload = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Judge(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reply: str | None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply, self.requests = reply, []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture
def judge_server():
    servers = []

    def start(reply: str | None) -> _Judge:
        server = _Judge(reply)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def judged_env(make_env, url: str):
    env = make_env(reward="judge", judge_url=url, judge_model="judge-model", judge_timeout_s=5.0)
    env.reset(seed=0, options={"task_id": PSYCHOTHERAPY})
    return env


def test_judge_accepts_a_paraphrase_that_exact_match_rejects(make_env, judge_server):
    server = judge_server('{"reasoning": "Both name G. Stanley Hall.", "judgment": "Correct"}')
    _, reward, terminated, _, info = judged_env(make_env, server.url).step(PARAPHRASE)
    assert (reward, terminated) == (1.0, True)
    assert info["reward_info"] == {
        "em": 0.0,
        "f1": 0.8,
        "judged": True,
        "source": "judge",
        "reason": None,
    }
    assert len(server.requests) == 1
    path, body = server.requests[0]
    assert (
        path == "/v1/chat/completions"
        and body["model"] == "judge-model"
        and body["temperature"] == 0.0
    )
    prompt = json.dumps(body["messages"])
    assert QUESTION in prompt and "Granville Stanley Hall" in prompt and "G. Stanley Hall" in prompt


def test_judge_can_reject(make_env, judge_server):
    server = judge_server('{"reasoning": "Different person.", "judgment": "Incorrect"}')
    _, reward, _, _, info = judged_env(make_env, server.url).step("<answer>William James</answer>")
    assert reward == 0.0
    assert info["reward_info"] == {
        "em": 0.0,
        "f1": 0.0,
        "judged": False,
        "source": "judge",
        "reason": None,
    }


def test_guarded_answers_never_reach_the_judge(make_env, judge_server):
    server = judge_server('{"judgment": "Correct"}')
    _, reward, _, _, info = judged_env(make_env, server.url).step(
        "<answer>G. Stanley Hall or William James</answer>"
    )
    assert (reward, info["reward_info"]["source"], info["reward_info"]["reason"]) == (
        0.0,
        "guard",
        "multiple_candidates",
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("answer", "reward"), [(PARAPHRASE, 0.0), ("<answer>G. Stanley Hall</answer>", 1.0)]
)
def test_garbage_reply_falls_back_to_exact_match(make_env, judge_server, answer, reward):
    server = judge_server(None)
    _, got, terminated, _, info = judged_env(make_env, server.url).step(answer)
    assert (got, terminated) == (reward, True)
    assert info["reward_info"] == {
        "em": reward,
        "f1": 1.0 if reward else 0.8,
        "judged": None,
        "source": "em_fallback",
        "reason": "bad_response",
    }
    assert len(server.requests) == 1  # a malformed reply is not retried


def test_unparseable_verdict_falls_back_to_exact_match(make_env, judge_server):
    server = judge_server("I would rather not say.")
    _, reward, _, _, info = judged_env(make_env, server.url).step(PARAPHRASE)
    assert reward == 0.0
    assert (info["reward_info"]["source"], info["reward_info"]["reason"]) == (
        "em_fallback",
        "unparseable",
    )


def test_closed_port_falls_back_fast(make_env):
    with socket.socket() as sock:  # a port that was just free and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = judged_env(make_env, f"http://127.0.0.1:{port}/v1")
    start = time.perf_counter()
    _, reward, terminated, _, info = env.step("<answer>Stanley Hall</answer>")
    elapsed = time.perf_counter() - start
    assert (reward, terminated) == (1.0, True)
    assert info["reward_info"] == {
        "em": 1.0,
        "f1": 1.0,
        "judged": None,
        "source": "em_fallback",
        "reason": "unreachable",
    }
    assert elapsed < 5.0  # refused at once; one retry after 0.5 s
