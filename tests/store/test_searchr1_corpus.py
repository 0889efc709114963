"""The Search-R1 / FlashRAG corpus reader: ``{"id", "contents"}`` rows as pages, gz or plain."""

from __future__ import annotations

import gzip
import json

import pytest

from lite_world.build import BuildConfig, build_world
from lite_world.errors import IngestError
from lite_world.store.ingest import iter_source
from lite_world.store.ingest.searchr1 import (
    is_searchr1_corpus,
    iter_corpus_rows,
    iter_searchr1,
    join_contents,
    passage_id,
    split_contents,
)
from lite_world.store.lmdb_store import PageStore


def write_corpus(path, musique, n=None):
    """Search-R1 rows (ids "0", "1"...) from real MuSiQue paragraphs, in their order."""
    paras = [p for q in musique for p in q["paragraphs"]][:n]
    rows = [
        {"id": str(i), "contents": join_contents(p["title"], p["paragraph_text"])}
        for i, p in enumerate(paras)
    ]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return rows


def test_contents_round_trip():
    for title, text in [("Paris", "Capital."), ('A "quoted" title', "x\ny"), ("", "untitled")]:
        assert split_contents(join_contents(title, text)) == (title, text)


@pytest.mark.parametrize("name", ["corpus.jsonl", "corpus.jsonl.gz"])
def test_rows_and_passage_pages(tmp_path, musique, name):
    path = tmp_path / name
    rows = write_corpus(path, musique, n=12)
    assert is_searchr1_corpus(path)
    got = list(iter_corpus_rows(path))
    assert [r.position for r in got] == list(range(12))
    assert [r.id for r in got] == [r["id"] for r in rows]
    assert [r.contents for r in got] == [r["contents"] for r in rows]
    pages = list(iter_source(path))  # detected from the first row, no flag needed
    assert len(pages) == 12
    assert [passage_id(p.url) for p in pages] == [r["id"] for r in rows]
    assert pages[0].url.startswith("https://en.wikipedia.org/wiki/")
    assert [p.summary for p in pages] == [r["contents"] for r in rows]  # embedded as Search-R1 does
    assert all(p.keep_short for p in pages)


def test_grouped_by_title(tmp_path, musique):
    path = tmp_path / "c.jsonl"
    rows = write_corpus(path, musique)
    pages = list(iter_searchr1(path, group="title"))
    titles = list(dict.fromkeys(split_contents(r["contents"])[0] for r in rows))
    assert [p.title for p in pages] == titles
    first = [
        split_contents(r["contents"])[1]
        for r in rows
        if r["contents"].startswith(f'"{titles[0]}"\n')
    ]
    assert pages[0].markdown == f"# {titles[0]}\n\n" + "\n\n".join(first)


def test_bad_rows_and_group(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "0", "contents": "\\"T\\"\\nok"}\n{"id": "1", "contents": 5}\n')
    with pytest.raises(IngestError, match=r"string \"contents\" at .* line 2"):
        list(iter_corpus_rows(path))
    path.write_text('{"id": "0", "contents": "\\"T\\"\\nok"}\nnot json\n')
    with pytest.raises(IngestError, match="line 2"):
        list(iter_corpus_rows(path))
    with pytest.raises(IngestError, match="Expects group in"):
        list(iter_searchr1(path, group="page"))
    other = tmp_path / "rows.jsonl"
    other.write_text('{"url": "https://a.org/x", "title": "X", "text": "y"}\n')
    assert not is_searchr1_corpus(other)


def test_build_keeps_every_passage(tmp_path, musique, embedder):
    """``lite-world build corpus.jsonl``: short passages are kept, row i is page i (no dups)."""
    path = tmp_path / "corpus.jsonl"
    rows = write_corpus(path, musique, n=40)
    m = build_world([path], tmp_path / "w", BuildConfig(show_progress=False), embedder=embedder)
    assert m.page_count == 40  # min_chars=1000 by default: passages are exempt
    with PageStore(tmp_path / "w") as store:
        recs = list(store.iter_records())
    assert [passage_id(r["url"]) for r in recs] == [r["id"] for r in rows]
    assert [join_contents(r["title"], r["markdown"]) for r in recs] == [r["contents"] for r in rows]
