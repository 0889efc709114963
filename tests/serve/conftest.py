"""Fixtures for the world-service tests: a real uvicorn server on 127.0.0.1 (port 0) in a thread.

The server serves the session's tiny world (``tests/conftest.py``) with a bearer token, so
every test talks real HTTP through the real stack (uvicorn, httptools/uvloop when installed,
Starlette). ``torch_threads=None`` keeps the encoder the session already loaded.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

TOKEN = "test-token-0123456789"


@pytest.fixture(scope="session")
def served(tiny_world):
    """The session's server (token-protected); yields its :class:`ServerThread`."""
    from lite_world.serve import ServeConfig, ServerThread

    cfg = ServeConfig(port=0, token=TOKEN, torch_threads=None, max_wait_ms=5.0)
    with ServerThread(str(tiny_world), cfg) as srv:
        yield srv


@pytest.fixture(scope="session")
def remote(served):
    """A :class:`RemoteWorld` on the session's server."""
    from lite_world.serve import RemoteWorld

    w = RemoteWorld(served.url, token=TOKEN, retry_deadline_s=10.0)
    yield w
    w.close()


class Http:
    """Raw HTTP calls (no retries) for contract tests."""

    def __init__(self, url: str):
        import urllib3

        self.url = url
        self.pool = urllib3.PoolManager(retries=False, timeout=30.0)

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, Any]:
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        r = self.pool.request(method, self.url + path, body=data, headers=h)
        ctype = r.headers.get("Content-Type", "")
        payload = json.loads(r.data) if ctype.startswith("application/json") else r.data.decode()
        return r.status, r.headers, payload


@pytest.fixture(scope="session")
def http(served) -> Http:
    """Raw HTTP calls to the session's server."""
    return Http(served.url)


@pytest.fixture(scope="session")
def http_to():
    """``http_to(url)``: raw HTTP calls to another server."""
    return Http
