"""Hostile requests from hypothesis: never a 500, every 4xx a JSON error, 200s well formed.

Bodies come from three sources: any JSON value (deep, huge numbers, lone surrogates, NaN), bodies
shaped by the service's own OpenAPI description (``GET /openapi.json``) with hostile values in
its fields, and raw bytes; request heads are raw bytes on a socket. The examples are derandomized
(the same every run) and bounded, so the module takes well under a minute.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lite_world.serve import ServeConfig, ServerThread
from lite_world.serve.probe import exchange, is_json_error, request_bytes

pytestmark = pytest.mark.timeout(300)

TOKEN = "fuzz-token-0123456789"
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HIT_KEYS = ["rank", "url", "title", "snippet", "date", "score"]


@pytest.fixture(scope="module")
def fuzzed(tiny_world):
    """A server with 1 s deadlines (so a request that stalls costs a second, not ten)."""
    cfg = ServeConfig(
        port=0,
        token=TOKEN,
        torch_threads=None,
        header_timeout_s=1.0,
        body_timeout_s=1.0,
        keep_alive_s=2,
    )
    with ServerThread(str(tiny_world), cfg) as srv:
        yield srv


@pytest.fixture(scope="module")
def spec(fuzzed):
    a = exchange(
        "127.0.0.1",
        fuzzed.port,
        request_bytes("GET", "/openapi.json", token=TOKEN, headers={"Connection": "close"}),
    )
    assert a.status == 200
    return a.json()


def post(srv, path: str, raw: bytes):
    a = exchange(
        "127.0.0.1",
        srv.port,
        request_bytes("POST", path, raw, token=TOKEN, headers={"Connection": "close"}),
        deadline_s=30,
    )
    assert a.status is not None, (path, raw[:200], a)
    return a


def check(a, path: str, raw: bytes) -> None:
    """The contract every answer keeps, whatever was sent."""
    assert a.status in (200, 400, 413, 422), (a.status, path, raw[:200], a.body[:300])
    if a.status != 200:
        assert is_json_error(a), (path, raw[:200], a.raw[:300])
        return
    body = a.json()
    if path == "/search":
        assert isinstance(body["results"], list)
        for row in body["results"]:
            assert all(
                list(h) == HIT_KEYS and h["rank"] >= 1 and math.isfinite(h["score"]) for h in row
            )
    else:
        assert isinstance(body["pages"], list) and all(
            p is None or isinstance(p, dict) for p in body["pages"]
        )


def lone_surrogates():
    return st.integers(0xD800, 0xDFFF).map(chr)


texts = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec=None), max_size=8) | lone_surrogates(),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "Victoria Falls",
            "https://en.wikipedia.org/wiki/Victoria_Falls",
            "a" * 5000,
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(texts, inner, max_size=5),
    max_leaves=25,
)


def dump(value) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def from_schema(schema: dict) -> st.SearchStrategy:
    """Bodies shaped like ``schema`` (fields missing or extra), each field valid or hostile."""
    props = schema["properties"]

    def field(spec: dict) -> st.SearchStrategy:
        t = spec.get("type")
        valid: st.SearchStrategy
        if t == "array":
            valid = st.lists(
                texts, min_size=spec.get("minItems", 0), max_size=min(spec.get("maxItems", 5), 5)
            )
        elif t == "integer":
            valid = st.integers(spec.get("minimum", -5), spec.get("maximum", 5) + 2)
        elif t == "boolean":
            valid = st.booleans()
        else:
            valid = st.none() | texts
        return st.one_of(valid, valid, json_values)

    base = st.fixed_dictionaries({}, optional={k: field(v) for k, v in props.items()})
    extra = st.dictionaries(texts, json_values, max_size=2)
    return st.tuples(base, extra, st.booleans()).map(lambda t: {**t[0], **t[1]} if t[2] else t[0])


@pytest.mark.parametrize("path", ["/search", "/browse"])
def test_any_json_value(fuzzed, path):
    @FUZZ
    @given(json_values)
    def run(value):
        raw = dump(value)
        check(post(fuzzed, path, raw), path, raw)

    run()


@pytest.mark.parametrize("path,name", [("/search", "SearchRequest"), ("/browse", "BrowseRequest")])
def test_bodies_from_the_openapi_schema(fuzzed, spec, path, name):
    statuses = []

    @FUZZ
    @given(from_schema(spec["components"]["schemas"][name]))
    def run(body):
        raw = dump(body)
        a = post(fuzzed, path, raw)
        check(a, path, raw)
        statuses.append(a.status)

    run()
    assert 200 in statuses and 422 in statuses  # the generator reaches both sides of validation


@pytest.mark.parametrize("path", ["/search", "/browse"])
def test_raw_bytes(fuzzed, path):
    @FUZZ
    @given(
        st.binary(max_size=300)
        | st.builds(
            lambda a, b: a + b,
            st.sampled_from([b"{", b"[", b'{"queries": ["']),
            st.binary(max_size=50),
        )
    )
    def run(raw):
        check(post(fuzzed, path, raw), path, raw)

    run()


def test_raw_request_heads(fuzzed):
    """Garbage for request line and headers: a JSON error or a normal answer, then a close."""

    @FUZZ
    @given(
        st.binary(max_size=200),
        st.sampled_from([b"GET /health HTTP/1.1\r\nHost: x\r\n", b"", b"POST /search "]),
    )
    def run(junk, prefix):
        a = exchange(
            "127.0.0.1",
            fuzzed.port,
            prefix + junk + b"\r\nConnection: close\r\n\r\n",
            deadline_s=10,
        )
        assert a.closed_after_s is not None and a.closed_after_s < 5, (prefix + junk, a)
        if a.status is not None and a.status >= 400:
            assert is_json_error(a), (prefix + junk, a.raw[:300])
        elif a.raw:
            assert a.status in (200, 201, 204), (prefix + junk, a.raw[:300])

    run()


def test_no_request_ever_got_a_500(fuzzed, spec):
    a = exchange(
        "127.0.0.1",
        fuzzed.port,
        request_bytes("GET", "/metrics", token=TOKEN, headers={"Connection": "close"}),
    )
    lines = [
        line
        for line in a.body.decode().splitlines()
        if line.startswith("lite_world_requests_total{")
    ]
    assert lines and not [line for line in lines if 'code="5' in line], lines
