"""OpenAIAgent against scripted stdlib HTTP servers and the real server around SmolLM2."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lite_world.agents import GenerationConfig, OpenAIAgent
from lite_world.agents.openai import restore_stop
from lite_world.errors import ServiceError

STOPS = ("</tool_call>", "</answer>", "<tool_response>")  # closing tags a caller may still stop at


def _chat(content, finish_reason="stop", **extra):
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": finish_reason,
    }
    choice.update(extra)
    usage = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    return 200, {"id": "x", "object": "chat.completion", "choices": [choice], "usage": usage}


class ScriptedServer:
    """Answers POSTs with scripted (status, json) pairs, the last one repeated; records requests."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, payload = outer.replies[min(len(outer.requests), len(outer.replies)) - 1]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_retries_5xx_then_succeeds_and_restores_unreported_stop():
    error = (500, {"error": {"message": "overloaded"}})
    with ScriptedServer([error, error, _chat('<tool_call>{"name": "search"}')]) as server:
        agent = OpenAIAgent(
            server.base_url + "/",
            "policy",
            api_key="sk-test",
            backoff_s=0.01,
            config=GenerationConfig(max_new_tokens=64, seed=3, stop=STOPS),
        )
        messages = [{"role": "user", "content": "Q"}]
        action = agent.act("Q", {"messages": messages})
    assert action == '<tool_call>{"name": "search"}</tool_call>'
    assert len(server.requests) == 3
    request = server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"] == {
        "model": "policy",
        "messages": messages,
        "max_tokens": 64,
        "temperature": 0.0,
        "top_p": 1.0,
        "seed": 3,
        "stop": list(STOPS),
    }
    assert (agent.usage.requests, agent.usage.prompt_tokens, agent.usage.completion_tokens) == (
        1,
        11,
        4,
    )


def test_429_is_retried_and_final_failure_names_url_status_and_body():
    busy = (429, {"error": {"message": "rate limited, slow down"}})
    with ScriptedServer([busy]) as server:
        agent = OpenAIAgent(server.base_url, "m", max_retries=2, backoff_s=0.01)
        with pytest.raises(
            ServiceError,
            match=r"/v1/chat/completions, actual: HTTP 429: .*rate limited.* after 3 attempt",
        ):
            agent.act("Q", {})
    assert len(server.requests) == 3


def test_4xx_fails_without_retry():
    with ScriptedServer([(400, {"error": {"message": "context too long"}})]) as server:
        agent = OpenAIAgent(server.base_url, "m", backoff_s=0.01)
        with pytest.raises(
            ServiceError, match=r"Expects a 2xx response .* actual: HTTP 400: .*context too long"
        ):
            agent.act("Q", {})
    assert len(server.requests) == 1


def test_closed_port_fails_fast():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = OpenAIAgent(f"http://127.0.0.1:{port}/v1", "m", max_retries=2, backoff_s=0.01)
    start = time.monotonic()
    with pytest.raises(
        ServiceError,
        match=rf"127.0.0.1:{port}/v1/chat/completions, actual: ConnectionRefused.* after 3 att",
    ):
        agent.act("Q", {})
    assert time.monotonic() - start < 2.0


def test_malformed_reply_is_a_service_error():
    with ScriptedServer([(200, {"choices": []})]) as server:
        with pytest.raises(ServiceError, match=r"choices\[0\].message.content, actual: .*choices"):
            OpenAIAgent(server.base_url, "m").act("Q", {})


def test_generate_batch_keeps_order_and_gives_each_request_its_seed():
    with ScriptedServer([_chat("<answer>A", stop_reason="</answer>")]) as server:
        agent = OpenAIAgent(
            server.base_url, "m", config=GenerationConfig(temperature=0.6, seed=5, stop=STOPS)
        )
        texts = agent.generate_batch([[{"role": "user", "content": f"q{i}"}] for i in range(4)])
    assert texts == ["<answer>A</answer>"] * 4
    seeds = {r["body"]["messages"][0]["content"]: r["body"]["seed"] for r in server.requests}
    assert seeds == {"q0": 5, "q1": 6, "q2": 7, "q3": 8}
    assert agent.usage.requests == 4 and agent.usage.completion_tokens == 16


@pytest.mark.parametrize(
    ("content", "finish", "choice", "expected"),
    [
        ("<answer>x", "stop", {"stop_reason": "</answer>"}, ("<answer>x", "</answer>")),  # vLLM
        ("<answer>x", "stop", {"matched_stop": "</answer>"}, ("<answer>x", "</answer>")),  # SGLang
        ("<answer>x", "stop", {"stop_reason": None}, ("<answer>x", None)),  # EOS
        ("<answer>x", "stop", {"matched_stop": 151645}, ("<answer>x", None)),  # EOS token id
        ("<answer>x", "length", {}, ("<answer>x", None)),
        ("<answer>x", "stop", {}, ("<answer>x", "</answer>")),  # inferred
        (
            "<answer>a</answer> <tool_call>{",
            "stop",
            {},
            ("<answer>a", "</answer>"),
        ),  # stop kept in text
        ("<tool_call>{}</tool_call><answer>b", "stop", {}, ("<tool_call>{}", "</tool_call>")),
        ('<tool_call>{"q": "<answer>"', "stop", {}, ('<tool_call>{"q": "<answer>"', "</answer>")),
        ("plain text", "stop", {}, ("plain text", None)),
    ],
)
def test_restore_stop(content, finish, choice, expected):
    assert restore_stop(content, finish, choice, STOPS) == expected


# --- the real server around SmolLM2 -------------------------------------------------------


@pytest.fixture
def served(make_agent):
    from lite_world.agents.openai_server import create_openai_app, serve_in_thread

    generator = make_agent(max_new_tokens=12)
    servers = []

    def serve(report_stop_reason=True):
        server = serve_in_thread(create_openai_app(generator, "smollm2", report_stop_reason))
        servers.append(server)
        return server.base_url

    yield serve
    for server in servers:
        server.stop()


def test_openai_agent_on_local_server_matches_transformers_agent(served, make_agent, france):
    direct = make_agent(max_new_tokens=12)
    expected = direct.act("", {"messages": france})
    agent = OpenAIAgent(served(), "smollm2", config=GenerationConfig(max_new_tokens=12))
    assert agent.act("", {"messages": france}) == expected == "The capital of France is Paris."
    assert (
        (agent.usage.prompt_tokens, agent.usage.completion_tokens)
        == (
            direct.usage.prompt_tokens,
            direct.usage.completion_tokens,
        )
        != (0, 0)
    )


@pytest.mark.parametrize("report_stop_reason", [True, False])
def test_closing_tag_survives_the_server_round_trip(served, make_agent, html, report_stop_reason):
    config = GenerationConfig(max_new_tokens=12, stop=("</b>", "<tool_response>"))
    agent = OpenAIAgent(served(report_stop_reason), "smollm2", config=config)
    assert agent.act("", {"messages": html}) == "```html\n<b>bold</b>"


def test_server_models_and_request_validation(served):
    base_url = served()
    with urllib.request.urlopen(base_url + "/models", timeout=10) as response:
        assert [m["id"] for m in json.load(response)["data"]] == ["smollm2"]
    bad = urllib.request.Request(
        base_url + "/chat/completions",
        data=json.dumps({"messages": []}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(bad, timeout=10)
    assert info.value.code == 400
    assert "Expects 'messages' to be a non-empty list" in json.load(info.value)["error"]["message"]
    agent = OpenAIAgent(base_url, "smollm2", backoff_s=5.0)  # a retry would take 5 s
    start = time.monotonic()
    with pytest.raises(ServiceError, match=r"HTTP 400: .*message content to be a string"):
        agent.complete([{"role": "user", "content": 5}])
    assert time.monotonic() - start < 4.0


def test_default_stop_lets_the_model_end_its_turn():
    """By default only a hallucinated ``<tool_response>`` stops a turn: the server ends it at the
    model's end-of-turn token and the content comes back whole, closing tags included."""
    reply = _chat('<tool_call>{"name": "search"}</tool_call>', stop_reason=None)
    with ScriptedServer([reply]) as server:
        agent = OpenAIAgent(server.base_url, "m")
        action = agent.act("Q", {"messages": [{"role": "user", "content": "Q"}]})
    assert action == '<tool_call>{"name": "search"}</tool_call>'
    assert server.requests[0]["body"]["stop"] == ["\n<tool_response>", "<tool_response>"]
