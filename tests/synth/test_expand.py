"""Corpus expansion from an offline page dump into a copy of the tiny world."""

from __future__ import annotations

import json

import pytest

from lite_world.demo import DEMO_DATA
from lite_world.store.manifest import read_manifest
from lite_world.synth.expand import expand_world
from lite_world.web.local import LocalDumpProvider
from lite_world.world import World


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    """30 real 2WikiMultihopQA articles as a JSONL page dump."""
    paras = json.loads((DEMO_DATA / "2wikimultihopqa_corpus.json").read_text())
    by_title: dict[str, list[str]] = {}
    for p in paras[:400]:
        by_title.setdefault(p["title"], []).append(p["text"])
    rows = [
        {
            "url": "https://en.wikipedia.org/wiki/" + t.replace(" ", "_"),
            "title": t,
            "text": "\n".join(v),
        }
        for t, v in list(by_title.items())[:30]
    ]
    path = tmp_path_factory.mktemp("dump") / "wiki_dump.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


def test_expansion_adds_pages_with_provenance_once(dump, world_copy, tmp_path):
    path, rows = dump
    provider = LocalDumpProvider([path])
    tasks = [
        {"id": f"t{i}", "question": f"What is known about {r['title']}?", "answers": ["x"]}
        for i, r in enumerate(rows[:6])
    ]
    before = read_manifest(world_copy).page_count
    out = tmp_path / "expansion.jsonl"
    pages, rep = expand_world(
        tasks, world_copy, provider, out, num=3, min_chars=100, show_progress=False
    )
    assert len(pages) >= 6 and len({p["url"] for p in pages}) == len(pages)  # no duplicates
    assert all(p["provenance"]["task_id"] in {t["id"] for t in tasks} for p in pages)
    assert all(
        p["provenance"]["provider"] == "LocalDumpProvider" and p["provenance"]["query"]
        for p in pages
    )
    m = read_manifest(world_copy)
    assert m.page_count == before + len(pages) == rep.extra["world"]["pages_after"]
    assert "expansion.jsonl" in m.sources
    w = World(world_copy)
    title = rows[0]["title"]
    hits = w.search([title], k=3)[0]
    assert hits[0].title == title
    page = w.get_page(hits[0].url)
    assert page is not None and page.source == "expansion.jsonl"
    w.close()
    # a second run finds everything already in the world
    pages2, rep2 = expand_world(
        tasks,
        world_copy,
        provider,
        tmp_path / "again.jsonl",
        num=3,
        min_chars=100,
        show_progress=False,
    )
    assert pages2 == [] and rep2.dropped["in_world"] >= len(pages)
    assert read_manifest(world_copy).page_count == m.page_count
