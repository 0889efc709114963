"""The masking audit on the tiny world: a planted mirror of a source page is found."""

from __future__ import annotations

import json

import pytest

from lite_world.synth.audit import audit_tasks
from lite_world.world import World


@pytest.fixture(scope="module")
def source(tiny_pages):
    """A real page, one of its long sentences, and a name in it as the answer."""
    import re

    for p in tiny_pages:
        for sent in re.split(r"(?<=[.!?])\s+", p["markdown"]):
            m = re.search(r"\b(1[6-9]\d\d)\b", sent)
            if m and len(sent) > 80:
                return p, " ".join(sent.split()), m.group(1)
    raise AssertionError("no sentence with a year")


def _task(tid, question, answer, mask, evidence=""):
    return {
        "id": tid,
        "question": question,
        "answers": [answer],
        "mask_urls": [mask],
        "meta": {"evidence": evidence},
    }


def test_planted_mirror_is_flagged(source, tiny_world, world_copy, embedder, tmp_path):
    from lite_world.build import BuildConfig, build_world

    page, sentence, year = source
    task = _task(
        "t1",
        f"In which year did the event in this sentence about {page['title']} occur?",
        year,
        page["url"],
        sentence,
    )
    clean, _ = audit_tasks([task], World(tiny_world), show_progress=False)
    assert "source_mirrored" not in clean[0]["meta"]["audit"]["flags"]
    # plant a mirror of the source sentence on another site, then audit again
    mirror = {
        "url": "https://mirror.example.org/copied-page",
        "title": f"{page['title']} (copy)",
        "text": f"Copied from elsewhere. {sentence} More copied text follows here.",
    }
    dump = tmp_path / "mirror.jsonl"
    dump.write_text(json.dumps(mirror) + "\n")
    build_world(
        [dump], world_copy, BuildConfig(min_chars=20, show_progress=False), embedder=embedder
    )
    leaked, rep = audit_tasks([task], World(world_copy), show_progress=False)
    audit = leaked[0]["meta"]["audit"]
    assert "source_mirrored" in audit["flags"]
    assert audit["mirror_urls"] == [mirror["url"]] and mirror["url"] in audit["evidence_urls"]
    assert page["url"] not in audit["evidence_urls"]  # the source stayed masked
    assert rep.flagged["source_mirrored"] == 1


def test_unreachable_oversimple_and_broken_masks(source, world):
    page, sentence, year = source
    tasks = [
        _task(
            "u",
            f"Which code name did the builders of {page['title']} use?",
            "Zyxwvut Qwertyuiop",
            page["url"],
        ),
        _task("o", f"What year, {year}, is mentioned about {page['title']}?", year, page["url"]),
    ]
    out, rep = audit_tasks(tasks, world, show_progress=False)
    assert out[0]["meta"]["audit"]["flags"] == ["unreachable"]
    assert "oversimple" in out[1]["meta"]["audit"]["flags"]
    assert rep.kept == 2 and rep.extra["clean"] == 0  # flagged, not silently kept as clean
    dropped, rep2 = audit_tasks(tasks, world, drop_flagged=True, show_progress=False)
    assert dropped == [] and sum(rep2.dropped.values()) == 2

    class IgnoresMasks:  # a world (or service) that forgets to apply exclude=
        def search(self, queries, k=10, *, exclude=()):
            return world.search(queries, k)

        def get_page(self, url, *, exclude=()):
            return world.get_page(url)

    q = _task("b", f"What is {page['title']} known for?", year, page["url"])
    out, _ = audit_tasks([q], IgnoresMasks(), show_progress=False)
    assert "mask_broken" in out[0]["meta"]["audit"]["flags"]
