"""Search-R1's ``POST /retrieve`` on ``lite-world serve``, called by a client written from the
protocol (what Search-R1's generation loop and verl's ``search_r1_like_utils`` send and read)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from lite_world.serve.bodies import RequestError
from lite_world.serve.config import ServeConfig
from lite_world.serve.retrieve import parse_retrieve
from lite_world.store.ingest.searchr1 import split_contents
from tests.store.test_searchr1_corpus import write_corpus


class SearchR1Client:
    """A Search-R1-style retriever client: one POST per step, rows rendered as ``Doc i``."""

    def __init__(self, url: str):
        self.url = url + "/retrieve"

    def post(self, payload) -> tuple[int, dict]:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        req = urllib.request.Request(self.url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def retrieve(self, queries, topk=3, return_scores=True) -> list[list]:
        status, body = self.post({"queries": queries, "topk": topk, "return_scores": return_scores})
        assert status == 200, body
        return body["result"]

    @staticmethod
    def render(hits) -> str:
        out = []
        for i, hit in enumerate(hits, 1):
            title, text = split_contents(hit["document"]["contents"])
            out.append(f"Doc {i}(Title: {title}) {text}")
        return "\n".join(out)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, musique):
    path = tmp_path_factory.mktemp("sr1") / "wiki.jsonl"
    return path, write_corpus(path, musique, n=60)


@pytest.fixture(scope="module")
def client(corpus, embedder, tmp_path_factory):
    from lite_world.build import BuildConfig, build_world
    from lite_world.serve import ServerThread

    world = tmp_path_factory.mktemp("sr1w") / "w"
    build_world([corpus[0]], world, BuildConfig(show_progress=False), embedder=embedder)
    cfg = ServeConfig(port=0, torch_threads=None, max_wait_ms=2.0)  # no token: as Search-R1
    with ServerThread(str(world), cfg) as srv:
        yield SearchR1Client(srv.url)


def test_shapes_with_and_without_scores(client, corpus):
    rows = corpus[1]
    by_id = {r["id"]: r for r in rows}
    queries = [split_contents(rows[7]["contents"])[1], split_contents(rows[31]["contents"])[1]]
    result = client.retrieve(queries, topk=4, return_scores=True)
    assert len(result) == 2 and [len(r) for r in result] == [4, 4]
    for hits in result:
        for h in hits:
            assert set(h) == {"document", "score"} and isinstance(h["score"], float)
            assert set(h["document"]) == {"id", "contents"}
            assert by_id[h["document"]["id"]] == h["document"]  # the corpus row, as stored
        assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert result[0][0]["document"]["id"] == "7" and result[1][0]["document"]["id"] == "31"
    title = split_contents(rows[7]["contents"])[0]
    assert client.render(result[0]).startswith(f"Doc 1(Title: {title}) ")
    plain = client.retrieve(queries, topk=4, return_scores=False)
    assert plain == [[h["document"] for h in hits] for hits in result]


def test_defaults_and_empty(client):
    status, body = client.post({"queries": ["Green Day album"]})  # topk and scores left out
    assert status == 200 and len(body["result"][0]) == 3
    assert set(body["result"][0][0]) == {"id", "contents"}
    status, body = client.post({"queries": ["Green Day album"], "topk": None, "extra": 1})
    assert status == 200 and len(body["result"][0]) == 3
    assert client.post({"queries": []}) == (200, {"result": []})


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"queries": ["a"], "topk": 0}, "topk"),
        ({"queries": ["a"], "topk": 101}, "topk"),
        ({"queries": ["a"], "topk": "3"}, "topk"),
        ({"queries": ["a"], "topk": True}, "topk"),
        ({"queries": "a"}, "queries"),
        ({"topk": 3}, "queries"),
        ({"queries": ["a", 3]}, "queries[1]"),
        ({"queries": ["a"], "return_scores": "yes"}, "return_scores"),
    ],
)
def test_bad_fields_are_json_422(client, payload, field):
    status, body = client.post(payload)
    assert status == 422 and body["error"]["field"] == field
    assert body["error"]["message"].startswith("Expects")


def test_bad_bodies_are_json_400(client):
    assert client.post(b"[1, 2]")[0] == 400
    status, body = client.post(b"{not json")
    assert status == 400 and body["error"]["code"] == "malformed_json"


def test_topk_bound_follows_the_server_limit():
    cfg = ServeConfig(max_k=5)
    assert parse_retrieve({"queries": ["a"], "topk": 5}, cfg).topk == 5
    with pytest.raises(RequestError, match=r"topk to be null or an int in \[1, 5\], actual: 6"):
        parse_retrieve({"queries": ["a"], "topk": 6}, cfg)
    with pytest.raises(RequestError, match="at most 4096 queries"):
        parse_retrieve({"queries": ["a"] * 4097}, cfg)


def test_a_step_of_many_queries_in_one_request(client, corpus):
    """Search-R1 sends all of a step's queries at once: more than /search takes per request."""
    rows = corpus[1]
    queries = [split_contents(r["contents"])[1] for r in rows]  # 60 > max_queries (32)
    result = client.retrieve(queries, topk=1)
    assert [hits[0]["document"]["id"] for hits in result] == [r["id"] for r in rows]


def _post_msgpack(url: str, payload: dict) -> dict:
    import msgpack

    req = urllib.request.Request(url, data=msgpack.packb(payload), method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.headers["Content-Type"] == "application/msgpack"
        return msgpack.unpackb(r.read())


def test_gem_style_msgpack_body_gets_a_msgpack_answer(client, corpus):
    """GEM's SearchTool (gem-llm 0.1.0) posts one query as MessagePack without a content type
    and reads ``result`` as that query's hits, unnested; ``queries`` stay nested."""
    rows = corpus[1]
    query = split_contents(rows[12]["contents"])[1]
    gem = _post_msgpack(client.url, {"query": query, "topk": 2, "return_scores": True})
    assert set(gem) == {"result"} and len(gem["result"]) == 2
    assert gem["result"][0]["document"] == rows[12] and isinstance(gem["result"][0]["score"], float)
    many = _post_msgpack(client.url, {"queries": [query], "topk": 2, "return_scores": True})
    assert many["result"] == [gem["result"]]
    bad = urllib.request.Request(client.url, data=b"\x81\xa1", method="POST")  # truncated map
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=60)
    assert e.value.code == 400
    assert json.loads(e.value.read())["error"]["code"] == "malformed_msgpack"


def test_skyrl_style_single_query(client, corpus):
    """SkyRL's SearchToolGroup (skyrl-gym 0.4.0) posts JSON ``{"query", "topk",
    "return_scores"}`` and reads ``result`` as one list of hits per query."""
    rows = corpus[1]
    query = split_contents(rows[30]["contents"])[1]
    status, body = client.post({"query": query, "topk": 3, "return_scores": True})
    assert status == 200 and set(body) == {"result"} and len(body["result"]) == 1
    assert [len(hits) for hits in body["result"]] == [3]
    assert body["result"][0][0]["document"] == rows[30]
    assert body == {"result": client.retrieve([query], topk=3)}


def test_skyrl_search_tool_group_reads_the_answers(client, corpus):
    """The released SkyRL client, unchanged, pointed at the served world."""
    search = pytest.importorskip("skyrl_gym.tools.search")
    rows = corpus[1]
    tools = search.SearchToolGroup(search_url=client.url, topk=2, log_requests=False)
    out = json.loads(tools.execute_tool("search", split_contents(rows[7]["contents"])[1]))
    title, text = split_contents(rows[7]["contents"])
    assert out["result"].startswith(f'Doc 1: "{title}"\n{text}')
    assert "Doc 2: " in out["result"] and "Doc 3: " not in out["result"]


def test_gem_search_tool_reads_the_answers(client, corpus):
    """The released GEM client, unchanged (skipped where gem-llm is not installed)."""
    search_tool = pytest.importorskip("gem.tools.search_tool")
    rows = corpus[1]
    tool = search_tool.SearchTool(search_url=client.url, topk=2)
    title, text = split_contents(rows[9]["contents"])
    valid, has_error, observation, _ = tool.execute_action(f"<search>{text}</search>")
    assert valid and not has_error, observation
    assert f'Doc 1(Title: "{title}") {text}' in observation and "Doc 2(" in observation


def test_rllm_style_single_query(client, corpus):
    """rLLM's search example posts {"query", "top_k"} and reads {"results": [scored rows]}."""
    rows = corpus[1]
    status, body = client.post({"query": split_contents(rows[44]["contents"])[1], "top_k": 5})
    assert status == 200 and set(body) == {"results"} and len(body["results"]) == 5
    top = body["results"][0]
    assert top["document"] == rows[44] and isinstance(top["score"], float)
