"""The Page record and the value codec (zstd, zstd + dictionary, none, mixed)."""

from __future__ import annotations

import json

import pytest

from lite_world.errors import ConfigError
from lite_world.store.codec import RAW, ZSTD, ZSTD_DICT, PageCodec, train_dictionary
from lite_world.store.page import Page, content_hash, make_summary


def _page(i: int) -> Page:
    return Page.create(
        f"https://en.wikipedia.org/wiki/Page_{i}",
        f"Page {i}",
        f"# Page {i}\n\nPage {i} is a village in the district number {i * 7}. "
        f"It has {i * 13} inhabitants "
        f"and a church built in {1500 + i}.",
        source="unit.jsonl",
        date="2020-01-02" if i % 2 else None,
    )


def test_page_create_derives_fields():
    p = Page.create(
        "HTTPS://En.Wikipedia.org/wiki/Paris/#History",
        "  Paris \n (city) ",
        "# Paris (city)\n\nParis is the capital of France.\n\n- It has 2M people.",
        source="x.jsonl",
        date="",
    )
    assert p.url == "https://en.wikipedia.org/wiki/Paris"
    assert p.title == "Paris (city)"
    assert p.domain == "en.wikipedia.org"
    assert p.summary == "Paris (city). Paris is the capital of France. It has 2M people."
    assert p.date is None
    assert p.source == "x.jsonl"
    assert p.hash == content_hash(p.markdown)
    assert len(p.hash) == 40


def test_page_explicit_summary_and_www_domain():
    p = Page.create("https://www.example.com/a", "A", "Body text.", summary="Given summary")
    assert (p.summary, p.domain) == ("Given summary", "example.com")


def test_page_round_trip():
    p = _page(3)
    d = p.to_dict()
    assert set(d) == {"url", "title", "markdown", "summary", "domain", "source", "date", "hash"}
    assert Page.from_dict(d) == p
    # a stored record carries the row id too; from_dict ignores unknown keys
    assert Page.from_dict({**d, "id": 7}) == p
    assert Page.from_dict(json.loads(json.dumps(d))) == p


def test_content_hash_normalises_whitespace_only():
    assert content_hash("a  b\n\tc ") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b C")
    assert content_hash("x\udcff") == content_hash("x\udcff")  # lone surrogates hash, never raise


def test_make_summary_cut_at_word_boundary():
    md = "# Paris\n\nParis is the capital of France. It has 2M people."
    assert make_summary("Paris", md, max_chars=30) == "Paris. Paris is the capital of…"
    assert make_summary("", "Just a lead.") == "Just a lead."
    # a heading that differs from the title is kept (without its markup)
    assert make_summary("T", "# Other\n\nBody.") == "T. Other Body."


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_codec_round_trip(compression):
    c = PageCodec(compression)
    rec = {**_page(1).to_dict(), "id": 1, "markdown": "Ünïcødé — 東京 \udcff " * 50}
    data = c.encode(rec)
    assert data[:1] == (ZSTD if compression == "zstd" else RAW)
    assert c.decode(data) == rec


def test_codec_zstd_compresses():
    c = PageCodec("zstd")
    rec = {"markdown": "the same sentence again. " * 200}
    assert len(c.encode(rec)) < len(PageCodec("none").encode(rec)) // 10


def test_codec_with_dictionary_round_trip_and_mixed_values():
    samples = [json.dumps(_page(i).to_dict()).encode() for i in range(200)]
    d = train_dictionary(samples, size=4096)
    assert d is not None
    with_dict = PageCodec("zstd", dictionary=d)
    assert with_dict.has_dictionary
    rec = {**_page(500).to_dict(), "id": 500}
    enc = with_dict.encode(rec)
    assert enc[:1] == ZSTD_DICT
    assert with_dict.decode(enc) == rec
    # a store mixes encodings: values written before the dictionary (raw or zstd) stay readable
    raw_val = PageCodec("none").encode(rec)
    zstd_val = PageCodec("zstd").encode(rec)
    assert [with_dict.decode(v) for v in (raw_val, zstd_val, enc)] == [rec, rec, rec]
    # the dictionary helps on short, similar records
    assert len(enc) < len(zstd_val)


def test_codec_errors():
    with pytest.raises(ConfigError, match="Expects compression 'zstd' or 'none', actual: 'lz4'"):
        PageCodec("lz4")
    samples = [json.dumps(_page(i).to_dict()).encode() for i in range(200)]
    enc = PageCodec("zstd", dictionary=train_dictionary(samples, size=4096)).encode({"a": 1})
    with pytest.raises(ValueError, match="compressed with a dictionary the store does not have"):
        PageCodec("zstd").decode(enc)
    with pytest.raises(ValueError, match=r"unknown value encoding tag b'\\x07'"):
        PageCodec().decode(b"\x07{}")


def test_train_dictionary_needs_64_samples():
    assert train_dictionary([b'{"a": 1}'] * 63) is None
