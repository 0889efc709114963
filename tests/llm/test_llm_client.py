"""The LLM client against local OpenAI-compatible servers (and SmolLM2 in-process)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lite_world.agents.base import ChatAgent, Completion, GenerationConfig
from lite_world.llm import LLMConfig, extract_json, make_client

HELLO = [{"role": "user", "content": "Say hello"}]


class _Count(ChatAgent):
    def __init__(self) -> None:
        super().__init__(GenerationConfig())
        self.calls = 0

    def complete_batch(self, conversations, config=None):
        self.calls += len(conversations)
        return [
            Completion(
                'Sure: ```json\n{"n": ' + str(len(c[-1]["content"])) + ",}\n```",
                "stop",
                None,
                11,
                5,
            )
            for c in conversations
        ]


@pytest.fixture()
def server():
    pytest.importorskip("starlette")
    from lite_world.agents.openai_server import create_openai_app, serve_in_thread

    model = _Count()
    with serve_in_thread(create_openai_app(model, "count")) as s:
        yield s.base_url, model


def test_endpoint_cache_and_accounting(server, tmp_path):
    url, model = server
    cfg = LLMConfig(
        base_url=url,
        model="count",
        cache_path=str(tmp_path / "c.sqlite"),
        concurrency=3,
        price_prompt_per_m=1.0,
        price_completion_per_m=2.0,
        show_progress=False,
    )
    client = make_client(cfg)
    convs = [[{"role": "user", "content": "x" * n}] for n in range(1, 7)]
    replies = client.chat(convs)
    assert [r.json() for r in replies] == [{"n": n} for n in range(1, 7)]  # junk around the JSON
    assert model.calls == 6 and not any(r.cached for r in replies)
    assert client.usage.prompt_tokens == 66 and client.usage.completion_tokens == 30
    assert client.usage.cost_usd == pytest.approx((66 * 1.0 + 30 * 2.0) / 1e6)
    # a re-run (new client, same cache file) is free
    again = make_client(cfg)
    replies2 = again.chat(convs)
    assert model.calls == 6 and all(r.cached for r in replies2)
    assert [r.text for r in replies2] == [r.text for r in replies]
    assert again.usage.cache_hits == 6 and again.usage.prompt_tokens == 0
    # other params are another cache key
    again.chat(convs[:1], max_tokens=17)
    assert model.calls == 7


class _Flaky(BaseHTTPRequestHandler):
    failures = 2
    hits = 0

    def log_message(self, *a):
        pass

    def do_POST(self):
        type(self).hits += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(503)
            self.end_headers()
            return
        body = json.dumps(
            {
                "choices": [{"message": {"content": "ok"}}],
                "usage": {"prompt_tokens": 2, "completion_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_retries_with_backoff_then_errors_are_replies():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        client = make_client(
            LLMConfig(
                base_url=url, model="m", retries=2, backoff_s=0.01, cache=False, show_progress=False
            )
        )
        r = client.chat_one(HELLO)
        assert r.text == "ok" and r.error is None and _Flaky.hits == 3
        _Flaky.failures = 10
        r = client.chat_one([{"role": "user", "content": "again"}])
        assert r.text == "" and "HTTP 503 after 3 attempt" in r.error  # no exception
        assert client.usage.errors == 1
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_unreachable_endpoint_gives_error_replies():
    client = make_client(
        LLMConfig(
            base_url="http://127.0.0.1:9/v1",
            model="m",
            retries=0,
            timeout_s=0.5,
            cache=False,
            show_progress=False,
        )
    )
    replies = client.chat([HELLO, HELLO])
    assert all(r.error and "Connection refused" in r.error for r in replies)
    assert client.usage.errors == 2


@pytest.mark.parametrize(
    "text, want",
    [
        (
            '[{"question": "q", "answer": "a"}, {"quest',
            {"question": "q", "answer": "a"},
        ),  # truncated: the complete object
        ("```\n[1, 2,]\n```", [1, 2]),
        ("answer: {'a': 'b'} and {\"c\": 1}", {"a": "b"}),
        ("{{{{ ]]] nonsense", None),
        ("", None),
    ],
)
def test_extract_json_tolerance(text, want):
    assert extract_json(text) == want


def test_transformers_backend_runs_smollm2_in_process(tmp_path):
    pytest.importorskip("torch")
    client = make_client(
        LLMConfig(max_tokens=8, cache_path=str(tmp_path / "c.sqlite"), show_progress=False)
    )
    r = client.chat_one([{"role": "user", "content": "What is the capital of France?"}])
    assert r.error is None and "Paris" in r.text
    assert r.completion_tokens == 8 and r.prompt_tokens > 10
    assert client.chat_one([{"role": "user", "content": "What is the capital of France?"}]).cached
