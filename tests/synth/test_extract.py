"""Extraction on real pages of the tiny world against an LLM that returns junk."""

from __future__ import annotations

import json

from lite_world.synth.extract import answer_in_text, extract_pairs

from .conftest import page_of


def _fact(page):
    """A real (question, answer, evidence) from the page text: its first 4-digit year."""
    import re

    for sent in re.split(r"(?<=[.!?])\s+", page["markdown"]):
        m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", sent)
        if m:
            return f"In which year did the event about {page['title']} happen?", m.group(1), sent
    return None


def test_every_kind_of_bad_output_is_counted(junk_llm, junk_client, tiny_pages):
    pages = [p for p in tiny_pages if _fact(p)][:6]
    assert len(pages) == 6
    modes = ["valid", "prose", "truncated", "wrong_schema", "not_in_page", "valid_twice"]

    def rule(prompt):
        page = page_of(prompt, pages)
        mode = modes[pages.index(page)]
        q, a, ev = _fact(page)
        if mode == "valid":
            return (
                "Here you go:\n```json\n"
                + json.dumps([{"question": q, "answer": a, "evidence": ev}])
                + "\n```"
            )
        if mode == "prose":
            return "The page talks about many interesting things."
        if mode == "truncated":
            return '[{"question": "' + q
        if mode == "wrong_schema":
            return json.dumps(
                [{"q": q, "a": a}, "just a string", {"question": q, "answer": 1234567}]
            )
        if mode == "not_in_page":
            return json.dumps(
                [
                    {
                        "question": "Who painted the Mona Lisa in Florence?",
                        "answer": "Leonardo da Vinci",
                    }
                ]
            )
        # the same question twice, model evidence not in the page
        return json.dumps([{"question": q + " (again)", "answer": a, "evidence": "made up"}] * 2)

    junk_llm.set(rule)
    tasks, rep = extract_pairs(pages, junk_client, per_page=2)
    d = rep.to_dict()
    assert d["in"] == 6 and d["kept"] == 2 == len(tasks)
    assert d["dropped"] == {"answer_not_in_page": 2, "bad_schema": 2, "duplicate": 1, "no_json": 2}
    for t in tasks:
        page = next(p for p in pages if p["url"] == t["mask_urls"][0])
        assert t["meta"]["source_url"] == page["url"] and t["capability"] == "single-hop"
        assert answer_in_text(t["answers"], page["markdown"])  # provenance holds
        assert t["meta"]["evidence"] and t["meta"]["evidence"].split()[0] in page["markdown"]
    assert {t["meta"]["evidence_from"] for t in tasks} == {
        "model",
        "page",
    }  # made-up evidence replaced


def test_llm_failures_are_drops_not_crashes(junk_llm, junk_client, tiny_pages):
    junk_llm.set(lambda p: "[]", fail=[f"Page title: {tiny_pages[0]['title']}\n"])
    tasks, rep = extract_pairs(tiny_pages[:3], junk_client)
    assert tasks == [] and rep.dropped == {"llm_error": 1}
    assert rep.llm["errors"] == 1 and rep.llm["requests"] == 3
