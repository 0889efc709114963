"""SerperClient against a local server that speaks Serper's protocol."""

from __future__ import annotations

import pytest

from lite_world.errors import ConfigError, ServiceError
from lite_world.web import SearchProvider, SerperClient

from .conftest import API_KEY


def test_request_and_response_shape(serper_server, wiki_pages):
    client = SerperClient(api_key=API_KEY, base_url=serper_server.base_url)
    title = wiki_pages[0]["title"]
    results = client.search(title, num=3)
    req = serper_server.requests[-1]
    assert req["path"] == "/search" and req["key"] == API_KEY
    assert req["body"] == {"q": title, "num": 3, "gl": "us", "hl": "en"}
    assert 1 <= len(results) <= 3
    assert all(set(r) == {"title", "url", "snippet", "date"} for r in results)
    assert results[0]["title"] == title
    assert results[0]["url"].startswith(serper_server.page_base + "/wiki/")
    assert results[0]["date"] == "Jan 5, 2021"
    if len(results) > 1:
        assert results[1]["date"] is None  # absent in the response
    assert isinstance(client, SearchProvider)


def test_cjk_query_uses_chinese_locale(serper_server):
    client = SerperClient(api_key=API_KEY, base_url=serper_server.base_url)
    client.search("北京 大学", num=5)
    body = serper_server.requests[-1]["body"]
    assert (body["gl"], body["hl"]) == ("cn", "zh-cn")


def test_key_from_environment_and_missing_key(monkeypatch, serper_server, wiki_pages):
    monkeypatch.setenv("SERPER_API_KEY", API_KEY)
    assert SerperClient(base_url=serper_server.base_url).search(wiki_pages[1]["title"])
    monkeypatch.delenv("SERPER_API_KEY")
    with pytest.raises(ConfigError, match="SERPER_API_KEY"):
        SerperClient()


def test_retries_5xx_then_succeeds(serper_server, wiki_pages):
    serper_server.fail_next = 2
    client = SerperClient(
        api_key=API_KEY, base_url=serper_server.base_url, retries=2, backoff_s=0.01
    )
    assert client.search(wiki_pages[2]["title"])
    assert client.calls == 3 and client.failures == 0


def test_gives_up_after_retries(serper_server):
    serper_server.fail_next = 5
    client = SerperClient(
        api_key=API_KEY, base_url=serper_server.base_url, retries=1, backoff_s=0.01
    )
    with pytest.raises(ServiceError, match="HTTP 503: .* after 2 attempt"):
        client.search("anything")
    assert client.calls == 2 and client.failures == 1


def test_bad_key_fails_at_once(serper_server):
    client = SerperClient(
        api_key="wrong", base_url=serper_server.base_url, retries=3, backoff_s=0.01
    )
    with pytest.raises(ServiceError, match="HTTP 403.*SERPER_API_KEY"):
        client.search("anything")
    assert client.calls == 1


def test_unreachable_server_raises_service_error():
    client = SerperClient(
        api_key=API_KEY, base_url="http://127.0.0.1:9", timeout_s=0.5, retries=1, backoff_s=0.01
    )
    with pytest.raises(ServiceError, match="after 2 attempt"):
        client.search("anything")


def test_empty_query_is_a_config_error():
    with pytest.raises(ConfigError, match="non-empty query"):
        SerperClient(api_key="k").search("  ")


def test_expansion_through_serper_and_fetcher(
    serper_server, page_server, wiki_pages, world_copy, tmp_path
):
    """Serper search + HTTP fetch (both local servers) extend a world, once, with provenance."""
    from lite_world.store.manifest import read_manifest
    from lite_world.synth.expand import expand_world
    from lite_world.web import PageFetcher
    from lite_world.world import World

    client = SerperClient(api_key=API_KEY, base_url=serper_server.base_url)
    tasks = [
        {"id": f"t{i}", "question": f"Who was {p['title']}?", "answers": ["x"]}
        for i, p in enumerate(wiki_pages[:4])
    ]
    before = read_manifest(world_copy).page_count
    out = tmp_path / "serper_pages.jsonl"
    rows, rep = expand_world(
        tasks,
        world_copy,
        client,
        out,
        page_source=PageFetcher(timeout_s=5),
        num=2,
        max_entities=0,
        min_chars=100,
        show_progress=False,
    )
    assert len(serper_server.requests) == 4  # one search per question
    assert len(rows) == len({r["url"] for r in rows}) >= 4
    assert all(r["provenance"]["provider"] == "SerperClient" for r in rows)
    assert all(r["url"].startswith(page_server.base_url) for r in rows)
    m = read_manifest(world_copy)
    assert m.page_count == before + len(rows) and "serper_pages.jsonl" in m.sources
    w = World(world_copy)
    hit = w.search([wiki_pages[0]["title"]], k=1)[0][0]
    assert (
        hit.title == wiki_pages[0]["title"] and w.get_page(hit.url).source == "serper_pages.jsonl"
    )
    w.close()
    rows2, rep2 = expand_world(
        tasks,
        world_copy,
        client,
        tmp_path / "again.jsonl",
        num=2,
        max_entities=0,
        min_chars=100,
        show_progress=False,
    )
    assert rows2 == [] and rep2.dropped["in_world"] >= len(rows)
