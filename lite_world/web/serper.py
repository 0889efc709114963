"""A client for the Serper Google-search API (``POST {base_url}/search``), stdlib only.

Request: header ``X-API-KEY``, JSON body ``{"q", "num", "gl", "hl"}`` (a query with CJK
characters is sent with ``gl=cn, hl=zh-cn``, else ``gl=us, hl=en``). Response: ``organic:
[{title, link, snippet, date?}]``. Each result comes back as ``{title, url, snippet, date}``
(``date`` is ``None`` when Serper gives none). Connection errors, timeouts, HTTP 429 and 5xx
are retried with exponential backoff; other HTTP errors (a bad key) fail at once with a
:class:`~lite_world.errors.ServiceError`.

Example:
    >>> search_locale("Who founded Alibaba?"), search_locale("阿里巴巴的创始人是谁")
    (('us', 'en'), ('cn', 'zh-cn'))
    >>> SerperClient(api_key="k", base_url="http://127.0.0.1:9/").url
    'http://127.0.0.1:9/search'
    >>> client = SerperClient(api_key="secret")
    >>> client.search("lite-world")        # doctest: +SKIP
    [{'title': ..., 'url': ..., 'snippet': ..., 'date': None}, ...]
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

from lite_world.errors import ConfigError, ServiceError
from lite_world.http_json import post_json

__all__ = ["SerperClient", "search_locale", "SERPER_KEY_ENV"]

logger = logging.getLogger(__name__)

SERPER_KEY_ENV = "SERPER_API_KEY"
"""The environment variable read when no ``api_key`` is given."""

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def search_locale(query: str) -> tuple[str, str]:
    """``(gl, hl)``: ``('cn', 'zh-cn')`` for a query with CJK characters, else ``('us', 'en')``."""
    return ("cn", "zh-cn") if _CJK.search(query or "") else ("us", "en")


class SerperClient:
    """Google search through Serper; implements :class:`~lite_world.web.provider.SearchProvider`.

    Args:
        api_key: The Serper key (default: the ``SERPER_API_KEY`` environment variable).
        base_url: The API root (a local test server in tests).
        timeout_s: Seconds to wait for one response.
        retries: Retries after a connection error, a timeout, HTTP 429 or 5xx.
        backoff_s: Sleep before the first retry, doubled before each next one.

    Attributes:
        calls: Requests sent (retries included); ``failures``: requests that failed.

    Raises:
        ConfigError: no key given and ``SERPER_API_KEY`` unset; or a bad timeout/retries value.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str = "https://google.serper.dev",
        timeout_s: float = 15.0,
        retries: int = 2,
        *,
        backoff_s: float = 0.5,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(SERPER_KEY_ENV)
        if not key:
            raise ConfigError(
                f"Expects a Serper API key, actual: none (no api_key and ${SERPER_KEY_ENV} unset). "
                f"Export {SERPER_KEY_ENV}=<your key> or pass api_key=..."
            )
        if timeout_s <= 0 or retries < 0 or backoff_s < 0:
            raise ConfigError(
                "Expects timeout_s > 0, retries >= 0 and backoff_s >= 0, "
                f"actual: {timeout_s}, {retries}, {backoff_s}"
            )
        self.api_key = key
        self.url = base_url.rstrip("/") + "/search"
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.calls = 0
        self.failures = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SerperClient(url={self.url!r})"  # never print the key

    def search(self, query: str, num: int = 10) -> list[dict[str, Any]]:
        """Up to ``num`` organic results for ``query`` as ``{title, url, snippet, date}`` dicts.

        Raises:
            ConfigError: ``query`` is empty or ``num`` < 1.
            ServiceError: Serper could not be reached or answered badly after the retries.
        """
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(f"Expects a non-empty query string, actual: {query!r}")
        if num < 1:
            raise ConfigError(f"Expects num >= 1, actual: {num}")
        gl, hl = search_locale(query)
        body = self._post({"q": query.strip(), "num": int(num), "gl": gl, "hl": hl})
        organic = body.get("organic") if isinstance(body, dict) else None
        if organic is None:
            return []
        if not isinstance(organic, list):
            raise ServiceError(
                "Expects 'organic' to be a list in Serper's response, "
                f"actual: {type(organic).__name__}"
            )
        out = []
        for item in organic:
            if not isinstance(item, dict) or not isinstance(item.get("link"), str):
                continue
            out.append(
                {
                    "title": str(item.get("title") or ""),
                    "url": item["link"],
                    "snippet": str(item.get("snippet") or ""),
                    "date": item.get("date") or None,
                }
            )
        return out[:num]

    def _post(self, payload: dict[str, Any]) -> Any:
        def count() -> None:
            with self._lock:
                self.calls += 1

        try:
            return post_json(
                self.url,
                payload,
                headers={"X-API-KEY": self.api_key},
                timeout_s=self.timeout_s,
                retries=self.retries,
                backoff_s=self.backoff_s,
                on_attempt=count,
                status_hints={401: " (check SERPER_API_KEY)", 403: " (check SERPER_API_KEY)"},
            )
        except ServiceError:
            self._fail()
            raise

    def _fail(self) -> None:
        with self._lock:
            self.failures += 1
