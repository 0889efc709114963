"""Endpoint contracts of ``lite-world serve``: shapes, auth, validation, limits, metrics."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.timeout(120)

QUERY = "Journal of Psychotherapy Integration publisher"


def test_health_needs_no_token_and_reports_limits_with_it(http, tiny_world):
    status, headers, body = http("GET", "/health", token=None)
    assert (
        status == 200 and headers["Content-Type"] == "application/json" and body == {"status": "ok"}
    )
    status, headers, body = http("GET", "/health")
    assert body["status"] == "ok" and body["pages"] == 96 and body["auth"] is True
    assert (body["search_mode"], body["batching"], body["caches"]) == ("hybrid", True, True)
    assert body["limits"]["max_queries"] == 32 and body["limits"]["max_k"] == 100


@pytest.mark.parametrize(
    "method,path",
    [("POST", "/search"), ("POST", "/browse"), ("GET", "/manifest"), ("GET", "/metrics")],
)
@pytest.mark.parametrize("token", [None, "wrong-token-123456"])
def test_token_required(http, method, path, token):
    status, headers, body = http(
        method, path, {"queries": ["x"]} if method == "POST" else None, token=token
    )
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert body["error"]["code"] == "unauthorized" and body["error"]["field"] == "authorization"
    assert ("missing" if token is None else "a wrong token") in body["error"]["message"]


def test_search_contract(http, world):
    status, _, body = http("POST", "/search", {"queries": [QUERY, "Victoria Falls"], "k": 3})
    assert status == 200
    assert [len(r) for r in body["results"]] == [3, 3]
    hit = body["results"][0][0]
    assert list(hit) == ["rank", "url", "title", "snippet", "date", "score"]
    assert hit["title"] == "Journal of Psychotherapy Integration" and hit["rank"] == 1
    assert body["results"] == [
        [h.to_dict() for h in row] for row in world.search([QUERY, "Victoria Falls"], 3)
    ]


def test_search_exclude_and_empty(http):
    top = http("POST", "/search", {"queries": [QUERY], "k": 2})[2]["results"][0][0]["url"]
    _, _, body = http(
        "POST", "/search", {"queries": [QUERY, "   "], "k": 2, "exclude": [top], "snippets": False}
    )
    assert top not in [h["url"] for h in body["results"][0]] and len(body["results"][0]) == 2
    assert body["results"][1] == [] and body["results"][0][0]["snippet"] == ""
    assert http("POST", "/search", {"queries": []})[2] == {"results": []}


def test_browse_contract(http, world):
    url = world.search([QUERY], 1)[0][0].url
    status, _, body = http("POST", "/browse", {"urls": [url, "https://nowhere.example/x"]})
    assert status == 200 and "text" not in body
    assert body["pages"][0] == world.get_page(url).to_dict() and body["pages"][1] is None
    masked = http("POST", "/browse", {"urls": [url], "exclude": [url]})[2]
    assert masked["pages"] == [None]
    with_goal = http("POST", "/browse", {"urls": [url], "goal": "who publishes it"})[2]
    assert with_goal["text"].startswith(
        f"The useful information in {url} for user goal who publishes it as follows:"
    )


def test_manifest(http, world):
    status, _, body = http("GET", "/manifest")
    assert status == 200 and body == world.manifest.to_dict()


@pytest.mark.parametrize(
    "path,body,field,fragment",
    [
        (
            "/search",
            {"queries": ["x"], "k": 0},
            "k",
            "Expects k to be an int in [1, 100], actual: 0",
        ),
        ("/search", {"queries": ["x"], "k": 101}, "k", "actual: 101"),
        ("/search", {"queries": ["x"], "k": True}, "k", "actual: True"),
        (
            "/search",
            {"queries": "x"},
            "queries",
            "Expects queries to be a list of strings, actual: str",
        ),
        ("/search", {"k": 3}, "queries", "actual: missing"),
        (
            "/search",
            {"queries": ["a", 3]},
            "queries[1]",
            "Expects queries[1] to be a string, actual: int",
        ),
        (
            "/search",
            {"queries": ["q"] * 33},
            "queries",
            "Expects queries to hold 0 to 32 items, actual: 33",
        ),
        (
            "/search",
            {"queries": ["q" * 2001]},
            "queries[0]",
            "at most 2000 characters, actual: 2001",
        ),
        ("/search", {"queries": ["x"], "snippets": "yes"}, "snippets", "true or false"),
        ("/search", {"queries": ["x"], "exclude": "https://a.org"}, "exclude", "list of strings"),
        ("/search", {"queries": ["x"], "query": "x"}, "query", "unknown field 'query'"),
        ("/browse", {"urls": []}, "urls", "Expects urls to hold 1 to 16 items, actual: 0"),
        ("/browse", {"url": "https://a.org"}, "url", "unknown field 'url'"),
        (
            "/browse",
            {"urls": ["https://a.org"], "goal": 3},
            "goal",
            "Expects goal to be a string or null, actual: int",
        ),
        (
            "/browse",
            {"urls": ["https://a.org/" + "x" * 4096]},
            "urls[0]",
            "at most 4096 characters",
        ),
    ],
)
def test_invalid_fields_are_422_naming_the_field(http, path, body, field, fragment):
    status, _, out = http("POST", path, body)
    assert status == 422
    assert out["error"]["code"] == "invalid_field" and out["error"]["field"] == field
    assert fragment in out["error"]["message"]


@pytest.mark.parametrize(
    "raw,code",
    [
        (b'{"queries": [', "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b'["x"]', "invalid_body"),
    ],
)
def test_malformed_body_is_400(http, raw, code):
    status, _, out = http("POST", "/search", raw=raw)
    assert status == 400 and out["error"]["code"] == code and out["error"]["field"] == "body"


def test_body_limit_is_413(http):
    big = b'{"queries": ["' + b"x" * (1 << 20) + b'"]}'
    status, headers, out = http("POST", "/search", raw=big)
    assert status == 413 and out["error"]["code"] == "body_too_large"
    assert "at most 1048576 bytes" in out["error"]["message"]
    assert http("POST", "/search", {"queries": ["x"], "k": 1})[0] == 200  # the server is still fine


def test_unknown_route_and_method(http):
    status, _, out = http("GET", "/nope")
    assert (
        status == 404
        and out["error"]["code"] == "not_found"
        and "POST /search" in out["error"]["message"]
    )
    status, _, out = http("GET", "/search")
    assert status == 405 and out["error"]["code"] == "method_not_allowed"


def test_metrics_prometheus_text(http):
    http("POST", "/search", {"queries": [QUERY], "k": 2})
    status, headers, text = http("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for name in (
        "lite_world_requests_total",
        "lite_world_request_errors_total",
        "lite_world_request_seconds_bucket",
        "lite_world_search_batch_queries_bucket",
        "lite_world_search_cache_hit_rate",
        "lite_world_queue_depth",
        "lite_world_cache_entries",
        "lite_world_rejected_total",
        "lite_world_pages 96",
    ):
        assert name in text, name
    assert 'lite_world_requests_total{endpoint="/search",code="200"}' in text


def _slow_server(tiny_world, delay_s: float, **cfg):
    from lite_world.serve import ServeConfig, ServerThread, WorldService

    service = WorldService(str(tiny_world), ServeConfig(port=0, torch_threads=None, **cfg))
    fast = service.backend.search_batch

    def slow(reqs, stats=None):
        time.sleep(delay_s)
        return fast(reqs, stats)

    service.backend.search_batch = slow
    return ServerThread(service, service.config)


def test_admission_control_503_with_retry_after(tiny_world, http_to):
    with _slow_server(tiny_world, 0.5, max_queue=2, batching=False, retry_after_s=3) as srv:
        http = http_to(srv.url)
        results: list[int] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(
                    http("POST", "/search", {"queries": ["a"]}, token=None)[0]
                )
            )
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        time.sleep(0.2)  # both are queued or running now
        status, headers, out = http("POST", "/search", {"queries": ["b"]}, token=None)
        assert (
            status == 503 and headers["Retry-After"] == "3" and out["error"]["code"] == "overloaded"
        )
        for t in threads:
            t.join()
        assert results == [200, 200]
        assert "lite_world_rejected_total 1" in http("GET", "/metrics", token=None)[2]


def test_timeout_is_504(tiny_world, http_to):
    with _slow_server(tiny_world, 1.0, request_timeout_s=0.2) as srv:
        status, _, out = http_to(srv.url)("POST", "/search", {"queries": ["a"]}, token=None)
        assert status == 504 and out["error"]["code"] == "timeout"


def test_metrics_report_cache_bytes_and_client_disconnects(http, world):
    if not hasattr(world, "cache_info"):
        pytest.skip("World.cache_info() (byte-bounded caches) is not in this tree")
    http("POST", "/search", {"queries": [QUERY], "k": 2})
    text = http("GET", "/metrics")[2]
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(samples['lite_world_cache_bytes{cache="query"}']) > 0
    assert float(samples['lite_world_cache_max_bytes{cache="query"}']) > 0
    assert "# TYPE lite_world_client_disconnects_total counter" in text
