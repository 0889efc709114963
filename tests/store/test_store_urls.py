"""URL normalisation: one canonical form, used by the store, the world and masking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lite_world.store.urls import is_fetchable_url, normalize_url, url_domain, wikipedia_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # scheme and host case
        ("HTTPS://En.Wikipedia.ORG/wiki/Paris", "https://en.wikipedia.org/wiki/Paris"),
        ("HTTPS://A.ORG", "https://a.org/"),
        # default ports dropped, others kept
        ("https://a.org:443/x", "https://a.org/x"),
        ("http://a.org:80", "http://a.org/"),
        ("http://a.org:8080/x", "http://a.org:8080/x"),
        ("https://a.org:80/x", "https://a.org:80/x"),
        ("http://a.org:443/x", "http://a.org:443/x"),
        # trailing slash (the root keeps its slash), trailing dot of the host
        ("https://a.org/x/", "https://a.org/x"),
        ("https://a.org/x///", "https://a.org/x"),
        ("https://a.org/", "https://a.org/"),
        ("https://a.org//", "https://a.org/"),
        ("https://a.org.:443/x", "https://a.org/x"),
        # fragment dropped
        ("https://a.org/x?q=1#frag", "https://a.org/x?q=1"),
        ("HTTPS://En.Wikipedia.org:443/wiki/X/#top", "https://en.wikipedia.org/wiki/X"),
        # tracking parameters dropped (any case of utm_*), the rest sorted
        ("https://a.org/x?utm_source=a&b=2&a=1&fbclid=3&UTM_Medium=z", "https://a.org/x?a=1&b=2"),
        ("https://a.org/x?gclid=1&msclkid=2&_ga=3", "https://a.org/x"),
        ("https://a.org/x?b=1&b=0", "https://a.org/x?b=0&b=1"),
        ("https://a.org/x?a=&b=1", "https://a.org/x?a=&b=1"),
        # no scheme: https is assumed
        ("en.wikipedia.org/wiki/Caf%C3%A9", "https://en.wikipedia.org/wiki/Caf%C3%A9"),
        ("  a.org/x/  ", "https://a.org/x"),
        # consistent path quoting
        ("https://a.org/café", "https://a.org/caf%C3%A9"),
        ("https://a.org/a b", "https://a.org/a%20b"),
        ("https://a.org/%7Euser", "https://a.org/~user"),
        (
            "https://en.wikipedia.org/wiki/Hello_Love_(song)",
            "https://en.wikipedia.org/wiki/Hello_Love_(song)",
        ),
        # credentials are not part of a page's identity
        ("https://user:pw@a.org/x", "https://a.org/x"),
        # non-http schemes and junk come back stripped, unchanged
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("file:///etc/passwd", "file:///etc/passwd"),
        ("mailto:a@b.c", "mailto:a@b.c"),
        ("ftp://a.org/x", "ftp://a.org/x"),
        ("http://[::1", "http://[::1"),
        ("", ""),
        ("   \n\t", ""),
        # lone surrogates and NUL are quoted, never raised on
        ("https://a.org/\udcff", "https://a.org/%ED%B3%BF"),
        ("https://a.org/x?q=\udcff", "https://a.org/x?q=%ED%B3%BF"),
        ("https://a.org/x\x00y", "https://a.org/x%00y"),
    ],
)
def test_normalize_url_cases(raw, expected):
    assert normalize_url(raw) == expected


@pytest.mark.parametrize("value", [None, 3, 2.5, b"https://a.org", ["https://a.org"], {"u": 1}])
def test_normalize_url_non_str_is_empty(value):
    assert normalize_url(value) == ""


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_normalize_url_never_raises_and_is_idempotent_on_http(s):
    n = normalize_url(s)
    assert isinstance(n, str)
    if is_fetchable_url(n):
        assert normalize_url(n) == n


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Carl Rogers", "https://en.wikipedia.org/wiki/Carl_Rogers"),
        ("Hello Love (song)", "https://en.wikipedia.org/wiki/Hello_Love_(song)"),
        ("Johnnycake, West Virginia", "https://en.wikipedia.org/wiki/Johnnycake,_West_Virginia"),
        ("Aschenbrödel", "https://en.wikipedia.org/wiki/Aschenbr%C3%B6del"),
        ("  East–West Schism ", "https://en.wikipedia.org/wiki/East%E2%80%93West_Schism"),
    ],
)
def test_wikipedia_url(title, expected):
    assert wikipedia_url(title) == expected


def test_wikipedia_url_lang():
    assert wikipedia_url("Paris", lang="fr") == "https://fr.wikipedia.org/wiki/Paris"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com/x", "example.com"),
        ("https://en.wikipedia.org/wiki/X", "en.wikipedia.org"),
        ("not a url at all", ""),
        ("http://[::1", ""),
    ],
)
def test_url_domain(url, expected):
    assert url_domain(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.org/x", True),
        ("http://a.org", True),
        ("file:///etc/passwd", False),
        ("javascript:alert(1)", False),
        ("ftp://a.org/x", False),
        ("https://", False),
        ("http://[::1", False),
        ("", False),
    ],
)
def test_is_fetchable_url(url, expected):
    assert is_fetchable_url(url) is expected
