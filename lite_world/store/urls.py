"""URL normalisation, used identically at ingest, search, browse and masking.

A world keys pages by :func:`normalize_url`, so ``HTTPS://En.Wikipedia.org:443/wiki/X/#top``
and ``https://en.wikipedia.org/wiki/X`` are the same page everywhere.

Example:
    >>> normalize_url("HTTPS://En.Wikipedia.org:443/wiki/Paris/?utm_source=x#History")
    'https://en.wikipedia.org/wiki/Paris'
    >>> wikipedia_url("Carl Rogers")
    'https://en.wikipedia.org/wiki/Carl_Rogers'
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["normalize_url", "wikipedia_url", "url_domain", "is_fetchable_url", "TRACKING_PARAMS"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_ga",
        "ref_src",
        "spm",
        "share",
        "si",
    }
)
# Characters kept literally in paths: RFC 3986 unreserved + sub-delims + ":@/" (and "%" of escapes).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k.startswith("utm_") or k in TRACKING_PARAMS


def normalize_url(url: str) -> str:
    """Return the canonical form of ``url`` (never raises).

    Lower-cases the scheme and host, drops default ports, the fragment, tracking
    parameters (``utm_*``, ``fbclid``, ...) and a trailing slash (except the root),
    sorts the remaining query parameters and re-quotes the path consistently.
    A string without a scheme gets ``https://``. Strings that are not URLs come
    back stripped, so lookups simply miss.

    Args:
        url: any string.

    Returns:
        The normalised URL.

    Example:
        >>> normalize_url("en.wikipedia.org/wiki/Caf%C3%A9")
        'https://en.wikipedia.org/wiki/Caf%C3%A9'
        >>> normalize_url("http://Example.com:80/a/b/?b=2&a=1&fbclid=z")
        'http://example.com/a/b?a=1&b=2'
        >>> normalize_url("https://example.com/")
        'https://example.com/'
    """
    if not isinstance(url, str):
        return ""
    url = url.strip()
    if not url:
        return ""
    if "://" not in url and not url.lower().startswith(
        ("javascript:", "file:", "data:", "mailto:")
    ):
        url = "https://" + url
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return url
    if scheme not in _DEFAULT_PORTS:
        return url
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_PATH_SAFE, errors="surrogatepass") or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query), errors="surrogatepass"), ""))


def wikipedia_url(title: str, lang: str = "en") -> str:
    """The canonical Wikipedia URL of an article title (spaces become underscores).

    Example:
        >>> wikipedia_url("Hello Love (album)")
        'https://en.wikipedia.org/wiki/Hello_Love_(album)'
    """
    return normalize_url(f"https://{lang}.wikipedia.org/wiki/" + title.strip().replace(" ", "_"))


def url_domain(url: str) -> str:
    """The host of a normalised URL without ``www.``.

    Example:
        >>> url_domain("https://www.example.com/x")
        'example.com'
    """
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def is_fetchable_url(url: str) -> bool:
    """True for an ``http(s)`` URL with a host; ``file:``, ``javascript:`` and junk are not.

    Example:
        >>> is_fetchable_url("file:///etc/passwd"), is_fetchable_url("https://a.org/x")
        (False, True)
    """
    try:
        parts = urlsplit(url)
        return parts.scheme in _DEFAULT_PORTS and bool(parts.hostname)
    except ValueError:
        return False
