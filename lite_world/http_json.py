"""POSTing JSON to a remote service with retries: the one loop every HTTP client here uses.

The OpenAI-compatible agent, the data engine's LLM client and the Serper client all send one
JSON body and read one JSON reply. :func:`post_json` retries what may pass (HTTP 429, 5xx,
refused or dropped connections) with exponential backoff, fails at once on the rest, and raises
only :class:`~lite_world.errors.ServiceError`, with what was expected and what came back.

Example:
    >>> post_json("http://127.0.0.1:9/v1/x", {"a": 1}, timeout_s=0.5, retries=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.ServiceError: Expects a response from POST http://127.0.0.1:9/v1/x, actual: ... after 1 attempt(s)
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from lite_world.errors import ServiceError

__all__ = ["post_json"]

logger = logging.getLogger(__name__)


def post_json(
    url: str,
    payload: Any,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    retries: int = 2,
    backoff_s: float = 0.5,
    retry_bad_json: bool = False,
    status_hints: Mapping[int, str] | None = None,
    hint: str = "",
    on_attempt: Callable[[], None] | None = None,
) -> Any:
    """POST ``payload`` as JSON to ``url``; return the parsed JSON reply.

    Args:
        headers: extra request headers (``Content-Type: application/json`` is always sent).
        retries: extra attempts after the first for HTTP 429, 5xx and connection failures.
        backoff_s: the first retry's delay; each further retry doubles it.
        retry_bad_json: also retry a 2xx reply that is not JSON (otherwise raise at once).
        status_hints: text appended to the error for a given non-retried status (e.g. 401).
        hint: text appended to the error when every attempt failed.
        on_attempt: called before each attempt (e.g. to count calls).

    Raises:
        ServiceError: no usable reply; the message names the URL and the last failure.
    """
    body = json.dumps(payload).encode("ascii")  # ASCII: a lone surrogate travels as an escape
    all_headers = {"Content-Type": "application/json", **dict(headers or {})}
    failure = ""
    attempts = retries + 1
    for attempt in range(attempts):
        if attempt:
            delay = backoff_s * 2 ** (attempt - 1)
            logger.warning("POST %s failed (%s); retry %d in %.2fs", url, failure, attempt, delay)
            time.sleep(delay)
        if on_attempt is not None:
            on_attempt()
        request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            failure = f"HTTP {exc.code}: {_excerpt(_read(exc))}".rstrip(": ")
            if exc.code == 429 or exc.code >= 500:
                continue
            extra = (status_hints or {}).get(exc.code, "")
            raise ServiceError(
                f"Expects a 2xx response from POST {url}, actual: {failure}{extra}"
            ) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            failure = f"{type(reason).__name__}: {reason}"
            continue
        try:
            return json.loads(raw)
        except ValueError as exc:
            failure = f"not JSON: {_excerpt(raw.decode('utf-8', 'replace'))}"
            if retry_bad_json:
                continue
            raise ServiceError(f"Expects JSON from POST {url}, actual: {failure}") from exc
    raise ServiceError(
        f"Expects a response from POST {url}, actual: {failure} after {attempts} attempt(s){hint}"
    )


def _read(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the body of an error is a courtesy
        return ""


def _excerpt(text: str, n: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"
