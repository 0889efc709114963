"""RemoteWorld: the same answers as the in-process world, the same tool text, clear errors."""

from __future__ import annotations

import json
import socket

import gymnasium as gym
import pytest

import lite_world  # noqa: F401  (registers LiteSearch-v0)
from lite_world.errors import ConfigError, ServiceError
from lite_world.serve import RemoteWorld
from lite_world.tools.base import CallContext
from lite_world.tools.search import SearchTool
from lite_world.tools.summarize import ExtractiveSummarizer
from lite_world.tools.visit import VisitTool

pytestmark = pytest.mark.timeout(120)

QUERIES = [
    "Journal of Psychotherapy Integration publisher",
    "first president of the American Psychological Association",
    "Victoria Falls",
    "Anglican Communion",
    "Avery County North Carolina",
    "  Victoria   Falls ",
    "",
    "zzzz qqqq nothing matches this",
]


def test_search_equals_in_process(remote, world):
    for k in (1, 3, 10):
        assert remote.search(QUERIES, k) == world.search(QUERIES, k)
    assert remote.search(QUERIES[:3], 5, snippets=False) == world.search(
        QUERIES[:3], 5, snippets=False
    )
    assert remote.search([], 3) == world.search([], 3) == []


def test_search_with_exclude_equals_in_process(remote, world):
    top = [row[0].url for row in world.search(QUERIES[:4], 2)]
    excl = top + ["https://nowhere.example/never"]
    assert remote.search(QUERIES[:4], 4, exclude=excl) == world.search(QUERIES[:4], 4, exclude=excl)
    assert all(h.url not in top for row in remote.search(QUERIES[:4], 4, exclude=excl) for h in row)


def test_get_page_equals_in_process(remote, world):
    urls = [h.url for h in world.search(QUERIES[:2], 5)[0]]
    for u in urls:
        assert remote.get_page(u) == world.get_page(u) is not None
    assert (
        remote.get_page(urls[0], exclude=[urls[0]])
        is None
        is world.get_page(urls[0], exclude=[urls[0]])
    )
    assert (
        remote.get_page("https://nowhere.example/x")
        is None
        is world.get_page("https://nowhere.example/x")
    )
    assert remote.get_page(42) is None is world.get_page(42)  # type: ignore[arg-type]
    assert remote.get_pages(urls[:2] + [None]) == [
        world.get_page(urls[0]),
        world.get_page(urls[1]),
        None,
    ]  # type: ignore[list-item]


def test_manifest_and_len(remote, world):
    assert remote.manifest == world.manifest and len(remote) == len(world) == 96


def test_tools_render_the_same_text(remote, world):
    top = world.search(QUERIES[:1], 1)[0][0].url
    masked = CallContext(exclude=frozenset([top]))
    for style in ("web", "train"):
        local, far = SearchTool(world, k=4, style=style), SearchTool(remote, k=4, style=style)
        assert far({"query": QUERIES[:3]}).text == local({"query": QUERIES[:3]}).text
        assert far({"query": QUERIES[0]}, masked).data == local({"query": QUERIES[0]}, masked).data
    v_local = VisitTool(world, ExtractiveSummarizer(max_chars=500))
    v_far = VisitTool(remote, ExtractiveSummarizer(max_chars=500))
    for args in (
        {"url": top, "goal": "who publishes it"},
        {"url": [top, "https://nowhere.example/x"], "goal": "publisher"},
        {"url": "not a url", "goal": "g"},
        {"url": top + chr(0xD800), "goal": "g" + chr(0xDC00)},
    ):
        assert v_far(args).text == v_local(args).text
    assert (
        remote.browse([top], "who publishes it")
        == VisitTool(world)({"url": [top], "goal": "who publishes it"}).text
    )


def test_gym_env_accepts_the_url(served, tiny_world, musique, monkeypatch):
    from lite_world.tasks import demo_tasks

    tasks = [t.to_dict() for t in demo_tasks()[: len(musique)]]
    monkeypatch.setenv("LITE_WORLD_TOKEN", "test-token-0123456789")
    call = {"name": "search", "arguments": {"query": ["Journal of Psychotherapy Integration"]}}
    action = f"<tool_call>{json.dumps(call)}</tool_call>"
    obs = []
    for w in (served.url, str(tiny_world)):
        env = gym.make("LiteSearch-v0", world=w, tasks=tasks)
        env.reset(seed=0, options={"task_id": tasks[0]["id"]})
        o, _, _, _, info = env.step(action)
        assert info["error"] is None
        obs.append(o)
        env.close()
    assert obs[0] == obs[1] and "Journal of Psychotherapy Integration" in obs[0]


def test_refused_request_raises_config_error(remote):
    with pytest.raises(
        ConfigError,
        match=r"refused the request \(422, field 'k'\).*Expects k to be an int in \[1, 100\]",
    ):
        remote.search(["x"], k=1000)
    with pytest.raises(ConfigError, match="Expects a list of queries, actual: a single str"):
        remote.search("x")  # type: ignore[arg-type]


def test_wrong_token_is_a_service_error(served):
    with pytest.raises(ServiceError, match=r"401.*a wrong token"):
        RemoteWorld(served.url, token="wrong-token-123456").search(["x"])


def test_service_down_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nothing listens once closed
    w = RemoteWorld(f"http://127.0.0.1:{port}", retry_deadline_s=0.5)
    with pytest.raises(
        ServiceError,
        match=rf"Expects a lite-world world service at http://127.0.0.1:{port}.*Is it running",
    ):
        w.search(["x"])
    assert w.retries >= 2


def test_bad_url_is_a_config_error():
    with pytest.raises(
        ConfigError, match="Expects an http:// or https:// world URL, actual: 'localhost:8000'"
    ):
        RemoteWorld("localhost:8000")
