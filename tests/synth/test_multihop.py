"""Multi-hop questions from the tiny world's link graph: deterministic, connected, in the world."""

from __future__ import annotations

import json

import pytest

from lite_world.synth.extract import answer_in_text
from lite_world.synth.graph import LinkGraph, is_connected, sample_subgraph
from lite_world.synth.multihop import generate_multihop


@pytest.fixture(scope="module")
def graph(tiny_world):
    from lite_world.synth.pages import load_pages

    return LinkGraph.from_pages(load_pages(tiny_world, min_chars=0))


def test_deterministic_connected_and_in_world(graph, world):
    a, rep = generate_multihop(graph, 4, seed=3, show_progress=False)
    b, _ = generate_multihop(graph, 4, seed=3, show_progress=False)
    assert a == b and len(a) >= 2 and rep.kept == len(a)
    for t in a:
        m = t["meta"]
        assert is_connected(graph, m["subgraph"]) and 3 <= len(m["subgraph"]) <= 6
        assert (
            m["hops"] >= 1 and t["difficulty"] == m["hops"] and len(m["hop_path"]) == m["hops"] + 1
        )
        assert m["hop_path"][0] == m["target"] and t["answers"][0] in m["target"]
        assert all(world.get_page(u) is not None for u in m["hop_urls"])
        assert not answer_in_text(t["answers"], t["question"])
        assert t["mask_urls"] == [graph.urls[m["target"]]]


def test_subgraph_sampling_is_seeded(graph):
    nodes = sorted(graph.adj, key=lambda n: (-graph.degree(n), n))[:8]
    subs = {tuple(sample_subgraph(graph, nodes, size=4, seed=s)) for s in range(6)}
    assert all(is_connected(graph, list(s)) for s in subs)
    assert sample_subgraph(graph, nodes, size=4, seed=1) == sample_subgraph(
        graph, nodes, size=4, seed=1
    )


def test_llm_composer_drops_leaks_and_junk(graph, junk_llm, junk_client):
    drafts, _ = generate_multihop(graph, 3, seed=3, show_progress=False)
    assert len(drafts) == 3
    by_clue = {d["meta"]["constraints"][0]: d for d in drafts}

    def rule(prompt):
        d = next(d for c, d in by_clue.items() if c in prompt)
        i = drafts.index(d)
        if i == 0:
            # leaks the answer
            return f"Which entity is {d['meta']['target']}, the one in these clues?"
        if i == 1:
            return "X"
        return "Which entity matches every one of these clues about people and places?\nExtra text."

    junk_llm.set(rule)
    out, rep = generate_multihop(graph, 3, seed=3, client=junk_client, show_progress=False)
    assert rep.dropped["llm_leaks_answer"] == 1 and rep.dropped["llm_bad_question"] == 1
    assert [t["question"] for t in out] == [
        "Which entity matches every one of these clues about people and places?"
    ]
    assert (
        out[0]["meta"]["composer"] == "junk"
        and out[0]["meta"]["target"] == drafts[2]["meta"]["target"]
    )


def test_llm_graph_extractor_with_junk_and_media(graph, junk_llm, junk_client):
    titles = sorted(graph.urls)

    def junk(title):
        return len(title) % 5 == 0

    def rule(prompt):
        if "Page title: " not in prompt:  # the composer
            return "Which person or place matches every one of these clues given here?"
        title = prompt.split("Page title: ", 1)[1].split("\n", 1)[0]
        if junk(title):
            return "Sorry, I can't read that page."
        i = titles.index(title)
        related = [titles[(i + 7) % len(titles)], titles[(i + 13) % len(titles)]]
        return json.dumps({"features": ["a fact"], "related": ["The New York Times", *related]})

    junk_llm.set(rule)
    out, rep = generate_multihop(
        graph, 2, seed=3, client=junk_client, graph_kind="llm", show_progress=False
    )
    asked = [
        p.split("Page title: ", 1)[1].split("\n", 1)[0]
        for p in junk_llm.prompts
        if "Page title: " in p
    ]
    assert len(out) >= 1, rep.to_dict()
    assert rep.dropped.get("graph_no_json", 0) == sum(junk(t) for t in asked)
    for t in out:
        assert t["meta"]["graph"] == "llm" and "The New York Times" not in t["meta"]["subgraph"]
        assert t["question"] == "Which person or place matches every one of these clues given here?"
