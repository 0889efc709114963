"""Benchmark worlds: built from evidence URLs through the real PageFetcher against a local page
server, or from a local dump, or from a BrowseComp-Plus corpus; missing evidence is reported."""

from __future__ import annotations

import json

import pytest

from lite_world.errors import ConfigError, TaskError
from lite_world.eval.runner import EvalConfig, run_eval
from lite_world.eval.worlds import BCP_URL, build_eval_world
from lite_world.web.fetch import PageFetcher

from .conftest import write_jsonl


def _fanout_file(tmp, musique, base_url):
    """FanOutQA-layout items whose evidence pages are on the local page server (one is dead)."""
    rows = []
    for q in musique[:3]:
        titles = list(dict.fromkeys(p["title"] for p in q["paragraphs"] if p.get("is_supporting")))
        decomp = [
            {
                "id": f"{q['id']}-{i}",
                "question": "sub",
                "answer": "x",
                "depends_on": [],
                "decomposition": [],
                "evidence": {"title": t, "url": f"{base_url}/wiki/{t.replace(' ', '_')}"},
            }
            for i, t in enumerate(titles)
        ]
        rows.append(
            {
                "id": q["id"],
                "question": q["question"],
                "answer": q["answer"],
                "decomposition": decomp,
            }
        )
    rows[2]["decomposition"].append(
        {
            "id": "dead",
            "question": "s",
            "answer": "x",
            "depends_on": [],
            "decomposition": [],
            "evidence": {"url": f"{base_url}/wiki/No_Such_Page"},
        }
    )
    p = tmp / "fanout_dev.json"
    p.write_text(json.dumps(rows))
    return p


def test_fetched_world_reports_missing_evidence_and_runs(
    tmp_path, musique, page_server, embedder, tiny_corpus
):
    data = _fanout_file(tmp_path, musique, page_server.base_url)
    out = tmp_path / "world"
    info = build_eval_world(
        "fanoutqa",
        data,
        out,
        fetcher=PageFetcher(timeout_s=5),
        distractors=[tiny_corpus],
        min_chars=20,
        embedder=embedder,
        show_progress=False,
    )
    dead = f"{page_server.base_url}/wiki/No_Such_Page"
    assert info["missing_urls"] == [dead] and info["provenance"][dead] == "missing"
    assert (
        info["urls_found"] == info["urls_requested"] - 1 and info["pages"] > 90
    )  # evidence + distractors
    assert info["items"] == {"complete": 2, "missing_evidence": 1}
    assert info["items_missing_evidence"] == {musique[2]["id"]: [dead]}
    assert (out / "eval_world.json").is_file() and (out / "manifest.json").is_file()
    assert (
        sum(h.startswith("/wiki/") for h in page_server.hits) == info["urls_requested"]
    )  # each URL once

    s = run_eval(
        lambda: __import__("lite_world.agents.scripted", fromlist=["x"]).ScriptedAgent(),
        EvalConfig(
            bench="fanoutqa",
            data=str(data),
            world=str(out),
            max_turns=6,
            show_progress=False,
            search_mode="sparse",
        ),
        out_dir=tmp_path / "run",
    )
    assert (
        s["evidence"]["items_missing_evidence"] == [musique[2]["id"]]
        and s["world"]["bench"] == "fanoutqa"
    )
    assert "1 with none" not in (tmp_path / "run" / "report.md").read_text()
    assert "Items missing evidence" in (tmp_path / "run" / "report.md").read_text()


def test_dump_world_without_network(tmp_path, musique, embedder):
    q = musique[0]
    urls = [
        f"https://en.wikipedia.org/wiki/{p['title'].replace(' ', '_')}" for p in q["paragraphs"][:4]
    ]
    frames = tmp_path / "test.tsv"
    frames.write_text(
        "Prompt\tAnswer\twiki_links\n" + f"{q['question']}\t{q['answer']}\t{json.dumps(urls)}\n"
    )
    dump = write_jsonl(
        tmp_path / "dump.jsonl",
        [
            {"url": u, "title": p["title"], "text": p["paragraph_text"]}
            for u, p in zip(urls[:3], q["paragraphs"][:3], strict=False)
        ],
    )
    info = build_eval_world(
        "frames",
        frames,
        tmp_path / "w",
        dump=dump,
        min_chars=20,
        embedder=embedder,
        show_progress=False,
    )
    assert set(info["provenance"].values()) == {"dump", "missing"} and info["missing_urls"] == [
        urls[3]
    ]
    assert info["pages"] == 3


def test_browsecomp_plus_corpus_world(tmp_path, musique, embedder):
    paras = [p for q in musique[:2] for p in q["paragraphs"]][:30]
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {
                "docid": str(i),
                "text": f"{p['title']}\n{p['paragraph_text']}",
                **({"url": "https://x.org/" + str(i)} if i % 2 else {}),
            }
            for i, p in enumerate(paras)
        ],
    )
    queries = write_jsonl(
        tmp_path / "queries.jsonl",
        [
            {
                "query_id": "1",
                "query": musique[0]["question"],
                "answer": musique[0]["answer"],
                "evidence_docs": [{"docid": "0"}, {"docid": "1"}, {"docid": "999"}],
            }
        ],
    )
    info = build_eval_world(
        "browsecomp-plus",
        queries,
        tmp_path / "w",
        corpus=corpus,
        min_chars=20,
        embedder=embedder,
        show_progress=False,
    )
    assert (
        info["docid_urls"]["0"] == BCP_URL.format(docid="0")
        and info["docid_urls"]["1"] == "https://x.org/1"
    )
    assert info["items_missing_evidence"] == {"1": ["999"]}
    s = run_eval(
        lambda: __import__("lite_world.agents.scripted", fromlist=["x"]).ScriptedAgent(),
        EvalConfig(
            bench="browsecomp-plus",
            data=str(queries),
            world=str(tmp_path / "w"),
            max_turns=6,
            show_progress=False,
            search_mode="sparse",
        ),
        out_dir=tmp_path / "run",
        report=False,
    )
    assert s["relevant_recall"] is not None and 0.0 <= s["relevant_recall"] <= 1.0


def test_errors_say_how_to_fix(tmp_path, generic_file):
    hle = write_jsonl(
        tmp_path / "hle.jsonl", [{"id": "h", "question": "2+2?", "answer": "4", "image": ""}]
    )
    with pytest.raises(TaskError, match="Evaluate it with --tools live"):
        build_eval_world("hle", hle, tmp_path / "w")
    with pytest.raises(ConfigError, match="Expects a page source"):
        build_eval_world("generic", generic_file, tmp_path / "w")
    with pytest.raises(ConfigError, match="--corpus"):
        build_eval_world(
            "browsecomp-plus",
            write_jsonl(tmp_path / "q.jsonl", [{"query": "q", "answer": "a"}]),
            tmp_path / "w",
        )
