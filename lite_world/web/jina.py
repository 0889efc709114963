"""A client for the Jina Reader API (``GET {base_url}/{url}``): any URL as Markdown, stdlib only.

Request: ``GET https://r.jina.ai/<the page URL>`` with ``Authorization: Bearer <key>`` (when a
key is set; Jina also serves keyless requests at a lower rate) and ``Accept: application/json``.
Response: ``{"code": 200, "data": {"title", "url", "content", "publishedTime"?}}``; a server
that answers ``text/plain`` (the Reader's default) is read too, from its ``Markdown Content:``
section. Connection errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff;
other HTTP errors fail at once with :class:`~lite_world.errors.ServiceError`.

Example:
    >>> JinaReader(api_key="k", base_url="http://127.0.0.1:9/").endpoint("https://a.org/x?y=1")
    'http://127.0.0.1:9/https://a.org/x?y=1'
    >>> parse_text_reply("Title: T\\n\\nURL Source: https://a.org\\n\\n"
    ...                  "Markdown Content:\\n# T\\nBody")
    {'title': 'T', 'url': 'https://a.org', 'content': '# T\\nBody'}
    >>> JinaReader().read("https://en.wikipedia.org/wiki/Paris")[:20]     # doctest: +SKIP
    'Paris - Wikipedia...'
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from lite_world.errors import ConfigError, ServiceError
from lite_world.store.page import Page

__all__ = ["JinaReader", "JINA_KEY_ENV", "parse_text_reply"]

logger = logging.getLogger(__name__)

JINA_KEY_ENV = "JINA_API_KEY"
"""The environment variable read when no ``api_key`` is given."""

_FIELD = re.compile(r"^(Title|URL Source|Published Time):[ \t]*(.*)$", re.M)


def parse_text_reply(text: str) -> dict[str, Any]:
    """``{title, url, content}`` from the Reader's plain-text reply (``Title: ...`` headers)."""
    head, sep, body = text.partition("Markdown Content:")
    fields = {k: v.strip() for k, v in _FIELD.findall(head if sep else "")}
    out: dict[str, Any] = {
        "title": fields.get("Title", ""),
        "url": fields.get("URL Source", ""),
        "content": body.strip() if sep else text.strip(),
    }
    if fields.get("Published Time"):
        out["date"] = fields["Published Time"]
    return out


class JinaReader:
    """Read web pages as Markdown through Jina Reader.

    Args:
        api_key: The Jina key (default: the ``JINA_API_KEY`` environment variable; none sends no
            ``Authorization`` header).
        base_url: The API root (a local test server in tests).
        timeout_s: Seconds to wait for one response.
        retries: Retries after a connection error, a timeout, HTTP 429 or 5xx.
        backoff_s: Sleep before the first retry, doubled before each next one.

    Attributes:
        calls: Requests sent (retries included); ``failures``: reads that failed;
        ``chars``: Markdown characters received (Jina bills by tokens; see ``cost``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str = "https://r.jina.ai",
        timeout_s: float = 30.0,
        retries: int = 2,
        *,
        backoff_s: float = 0.5,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"Expects base_url to be an http(s) URL, actual: {base_url!r}. Use "
                "https://r.jina.ai."
            )
        if timeout_s <= 0 or retries < 0 or backoff_s < 0:
            raise ConfigError(
                f"Expects timeout_s > 0, retries >= 0 and backoff_s >= 0, actual: {timeout_s}, "
                f"{retries}, {backoff_s}"
            )
        self.api_key = api_key if api_key is not None else (os.environ.get(JINA_KEY_ENV) or None)
        self.base_url = base_url.rstrip("/")
        self.timeout_s, self.retries, self.backoff_s = (
            float(timeout_s),
            int(retries),
            float(backoff_s),
        )
        self.calls = self.failures = self.chars = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JinaReader(base_url={self.base_url!r})"  # never print the key

    def endpoint(self, url: str) -> str:
        """The Reader URL for ``url`` (the page URL is appended as it is)."""
        return f"{self.base_url}/{url}"

    def read(self, url: str) -> str:
        """The page at ``url`` as Markdown.

        Raises:
            ConfigError: ``url`` is not an http(s) URL.
            ServiceError: the Reader could not be reached or answered badly after the retries.
        """
        return str(self.read_record(url)["content"])

    def read_page(self, url: str) -> Page | None:
        """The page at ``url`` as a :class:`~lite_world.store.page.Page` (``None``: unreadable)."""
        try:
            rec = self.read_record(url)
        except (ServiceError, ConfigError) as exc:
            logger.info("jina read %s failed: %s", url, exc)
            return None
        if not str(rec.get("content") or "").strip():
            return None
        return Page.create(
            url,
            str(rec.get("title") or ""),
            str(rec["content"]),
            source="jina",
            date=rec.get("date"),
        )

    def read_record(self, url: str) -> dict[str, Any]:
        """``{title, url, content, date?}`` for ``url``."""
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise ConfigError(f"Expects an http(s) URL to read, actual: {url!r}")
        raw, ctype = self._get(self.endpoint(url))
        text = raw.decode("utf-8", "replace")
        if "json" in ctype or text.lstrip().startswith("{"):
            try:
                body = json.loads(text)
            except ValueError as exc:
                self._count(failures=1)
                raise ServiceError(
                    f"Expects JSON from {self.endpoint(url)}, actual: {text[:200]!r}"
                ) from exc
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("content"), str):
                self._count(failures=1)
                raise ServiceError(f"Expects data.content in Jina's reply, actual: {text[:200]!r}")
            rec = {
                "title": data.get("title") or "",
                "url": data.get("url") or url,
                "content": data["content"],
            }
            if data.get("publishedTime"):
                rec["date"] = data["publishedTime"]
        else:
            rec = parse_text_reply(text)
        self._count(chars=len(rec["content"]))
        return rec

    def _count(self, **kw: int) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def _get(self, endpoint: str) -> tuple[bytes, str]:
        headers = {"Accept": "application/json", "X-Return-Format": "markdown"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        failure = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff_s * 2 ** (attempt - 1)
                logger.warning("Jina read failed (%s); retry %d in %.2fs", failure, attempt, delay)
                time.sleep(delay)
            self._count(calls=1)
            req = urllib.request.Request(endpoint, headers=headers, method="GET")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return resp.read(), resp.headers.get("Content-Type", "")
            except urllib.error.HTTPError as exc:
                failure = f"HTTP {exc.code}"
                if exc.code == 429 or exc.code >= 500:
                    continue
                self._count(failures=1)
                raise ServiceError(
                    f"Expects a 2xx response from GET {endpoint}, actual: {failure}"
                    + (f" (check {JINA_KEY_ENV})" if exc.code in (401, 403) else "")
                ) from exc
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                failure = f"{type(reason).__name__}: {reason}"
                continue
        self._count(failures=1)
        raise ServiceError(
            f"Expects a response from GET {endpoint}, actual: {failure} after "
            f"{self.retries + 1} attempt(s)"
        )
