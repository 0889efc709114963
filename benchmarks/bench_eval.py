"""Evaluation-harness benchmark (issue 14): one world per benchmark format that can be built here.

Measures, on 2 CPU cores, offline:

1. The ScriptedAgent on a world built for each format from the bundled demo data: generic JSONL in
the
   demo world; Xbench- and BrowseComp-encrypted copies (a test canary) of the same questions; a
   FanOutQA-layout set whose evidence pages are fetched by the real ``PageFetcher`` from a local
   page
   server (``eval-world``), plus distractors; a Frames-layout TSV built from a local page dump; a
   BrowseComp-Plus-layout corpus + queries (relevant-document recall).
2. Local versus "live" tools: the live side is the real Serper / Jina Reader clients talking to
local
   protocol stand-ins over the demo world.
3. Context management on long episodes: an agent that keeps researching after it has an answer
   (``Persistent``), with no management, summary memory and ReSum, under a token budget.
4. SmolLM2-135M-Instruct (the embedded default) on a few generic items.
5. Judge / EM agreement with a local judge: SmolLM2 served over the OpenAI protocol
   (``lite_world.agents.openai_server``) judging the generic run.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_eval [--items 30] [--llm-items 3] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks._common import CACHE_DIR, RESULTS_DIR, table, write_result

CANARY = "lite-world-benchmark-canary"


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def _wiki(title: str) -> str:
    from lite_world.store.urls import wikipedia_url

    return wikipedia_url(title)


def _support(q: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(p["title"] for p in q["paragraphs"] if p.get("is_supporting")))


class _Pages(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = self.server.pages.get(self.path)
        data = (body or "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _page_server(questions: list[dict[str, Any]]) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    srv.daemon_threads = True
    by: dict[str, list[str]] = {}
    for q in questions:
        for p in q["paragraphs"]:
            by.setdefault(p["title"], []).append(p["paragraph_text"])
    srv.pages = {
        "/wiki/"
        + t.replace(" ", "_"): f"<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
        + "".join(f"<p>{x}</p>" for x in v)
        + "</article></body></html>"
        for t, v in by.items()
    }
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class Persistent:
    """The ScriptedAgent, but it keeps searching (``extra`` more queries) after it has an answer:
    a deterministic long episode. At a forced final answer it gives the answer it holds."""

    def __init__(self, extra: int = 16):
        from lite_world.agents.scripted import ScriptedAgent

        self.inner, self.extra = ScriptedAgent(), extra

    def reset(self, task: Any) -> None:
        self.inner.reset(task)
        self.held, self.n, self.words = None, 0, str(task["question"]).rstrip("?").split()

    def act(self, observation: str, info: Any) -> str:
        from lite_world.eval.context import FORCE_ANSWER

        msgs = info.get("messages") or []
        if observation == FORCE_ANSWER or (msgs and msgs[-1].get("content") == FORCE_ANSWER):
            return f"<answer>{self.held or 'unknown'}</answer>"
        if self.held is None:
            out = self.inner.act(observation, info)
            if "<answer>" not in out:
                return out
            self.held = out.split("<answer>")[1].split("</answer>")[0]
        if self.n >= self.extra:
            return f"<think>done</think><answer>{self.held}</answer>"
        self.n += 1
        w = self.words
        q = " ".join(w[(self.n * 2) % max(1, len(w)) :][:4]) or self.held
        call = json.dumps({"name": "search", "arguments": {"query": [q]}})
        return f"<think>double-check</think><tool_call>{call}</tool_call>"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_eval", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--items", type=int, default=30, help="questions per format")
    ap.add_argument("--llm-items", type=int, default=3, help="SmolLM2 episodes (0: skip)")
    ap.add_argument(
        "--judge-items",
        type=int,
        default=10,
        help="episodes judged by the local SmolLM2 judge (0: skip)",
    )
    ap.add_argument(
        "--quick", action="store_true", help="8 items, 1 LLM item, 6 judged; results *_quick.json"
    )
    a = ap.parse_args(argv)
    if a.quick:
        a.items, a.llm_items, a.judge_items = 8, 1, 6

    from lite_world.agents.scripted import ScriptedAgent
    from lite_world.demo import DEMO_DATA, ensure_demo_world
    from lite_world.eval.crypto import browsecomp_encrypt, xor_encrypt
    from lite_world.eval.report import write_plots
    from lite_world.eval.runner import EvalConfig, read_results, run_eval
    from lite_world.eval.worlds import build_eval_world
    from lite_world.web.fetch import PageFetcher

    t_all = time.perf_counter()
    demo = str(ensure_demo_world())
    work = CACHE_DIR / ("eval_quick" if a.quick else "eval")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    qs = json.loads((DEMO_DATA / "musique_train.json").read_text())[: a.items]
    answers = {q["id"]: [q["answer"], *q.get("answer_aliases", [])] for q in qs}
    base = dict(max_turns=12, concurrency=2, show_progress=False)
    runs: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    rows: list[dict[str, Any]] = []

    def run(
        name: str, bench: str, data: Path, world: str, factory: Any = ScriptedAgent, **kw: Any
    ) -> dict[str, Any]:
        t0 = time.perf_counter()
        out = work / name
        s = run_eval(
            factory,
            EvalConfig(bench=bench, data=str(data), world=world, **{**base, **kw}),
            out_dir=out,
        )
        runs[name] = (s, read_results(out / "results.jsonl"))
        ev = s.get("evidence") or {}
        rows.append(
            {
                "run": name,
                "items": s["items"],
                "accuracy": s["accuracy"],
                "em": s["em"],
                "mean_turns": s["mean_turns"],
                "tool_calls": s["mean_tool_calls"],
                "evidence_complete": f"{ev.get('complete', '-')}/"
                f"{ev.get('items_with_evidence', '-')}",
                "recall": s.get("relevant_recall"),
                "wall_s": round(time.perf_counter() - t0, 1),
            }
        )
        print(
            f"  {name}: accuracy {s['accuracy']:.3f}, {s['items']} items, "
            f"{time.perf_counter() - t0:.0f}s",
            flush=True,
        )
        return s

    print("== 1. the ScriptedAgent, one world per format ==", flush=True)
    generic = _jsonl(
        work / "generic.jsonl",
        [
            {
                "id": q["id"],
                "question": q["question"],
                "answer": answers[q["id"]],
                "evidence_urls": [_wiki(t) for t in _support(q)],
            }
            for q in qs
        ],
    )
    run("generic", "generic", generic, demo)
    xb = work / "xbench.csv"
    with open(xb, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["id", "prompt", "answer", "canary"])
        w.writeheader()
        w.writerows(
            {
                "id": q["id"],
                "prompt": xor_encrypt(q["question"], CANARY),
                "answer": xor_encrypt(q["answer"], CANARY),
                "canary": CANARY,
            }
            for q in qs
        )
    run("xbench-format", "xbench", xb, demo)
    bc = work / "browse_comp.csv"
    with open(bc, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["problem", "answer", "problem_topic", "canary"])
        w.writeheader()
        w.writerows(
            {
                "problem": browsecomp_encrypt(q["question"], CANARY),
                "problem_topic": "demo",
                "answer": browsecomp_encrypt(q["answer"], CANARY),
                "canary": CANARY,
            }
            for q in qs
        )
    run("browsecomp-format", "browsecomp", bc, demo)

    srv = _page_server(qs)
    base_url = f"http://127.0.0.1:{srv.server_address[1]}"
    fan = work / "fanoutqa.json"
    fan.write_text(
        json.dumps(
            [
                {
                    "id": q["id"],
                    "question": q["question"],
                    "answer": q["answer"],
                    "decomposition": [
                        {
                            "id": f"{q['id']}-{i}",
                            "question": "",
                            "answer": "",
                            "depends_on": [],
                            "decomposition": [],
                            "evidence": {
                                "title": t,
                                "url": f"{base_url}/wiki/{t.replace(' ', '_')}",
                            },
                        }
                        for i, t in enumerate(_support(q))
                    ],
                }
                for q in qs
            ]
        )
    )
    distract = _jsonl(
        work / "distractors.jsonl",
        [
            {"url": _wiki(p["title"]), "title": p["title"], "text": p["paragraph_text"]}
            for q in qs
            for p in q["paragraphs"]
            if not p.get("is_supporting")
        ],
    )
    t0 = time.perf_counter()
    fan_info = build_eval_world(
        "fanoutqa",
        fan,
        work / "world_fanoutqa",
        fetcher=PageFetcher(timeout_s=10),
        distractors=[distract],
        min_chars=50,
        show_progress=False,
    )
    fan_build = time.perf_counter() - t0
    srv.shutdown()
    srv.server_close()
    run("fanoutqa-world", "fanoutqa", fan, str(work / "world_fanoutqa"))

    frames = work / "frames.tsv"
    with open(frames, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["", "Prompt", "Answer", "wiki_links"])
        w.writerows(
            [i, q["question"], q["answer"], json.dumps([_wiki(t) for t in _support(q)])]
            for i, q in enumerate(qs)
        )
    dump = _jsonl(
        work / "dump.jsonl",
        [
            {"url": _wiki(p["title"]), "title": p["title"], "text": p["paragraph_text"]}
            for q in qs
            for p in q["paragraphs"]
        ],
    )
    t0 = time.perf_counter()
    frames_info = build_eval_world(
        "frames", frames, work / "world_frames", dump=dump, min_chars=50, show_progress=False
    )
    frames_build = time.perf_counter() - t0
    run("frames-world", "frames", frames, str(work / "world_frames"))

    corpus = _jsonl(
        work / "bcp_corpus.jsonl",
        [
            {"docid": f"{q['id']}-{i}", "text": f"{p['title']}\n{p['paragraph_text']}"}
            for q in qs
            for i, p in enumerate(q["paragraphs"])
        ],
    )
    bq = _jsonl(
        work / "bcp_queries.jsonl",
        [
            {
                "query_id": q["id"],
                "query": q["question"],
                "answer": q["answer"],
                "evidence_docs": [
                    {"docid": f"{q['id']}-{i}"}
                    for i, p in enumerate(q["paragraphs"])
                    if p.get("is_supporting")
                ],
            }
            for q in qs
        ],
    )
    t0 = time.perf_counter()
    build_eval_world(
        "browsecomp-plus", bq, work / "world_bcp", corpus=corpus, min_chars=50, show_progress=False
    )
    bcp_build = time.perf_counter() - t0
    run("browsecomp-plus-world", "browsecomp-plus", bq, str(work / "world_bcp"))

    print("== 2. local versus live (protocol stand-ins) ==", flush=True)
    from lite_world.eval.compare import run_compare

    cmp_cfg = EvalConfig(
        bench="generic", data=str(generic), world=demo, limit=min(20, a.items), **base
    )
    t0 = time.perf_counter()
    compare = run_compare(ScriptedAgent, cmp_cfg, out_dir=work / "compare", standins=True)
    compare["wall_s"] = round(time.perf_counter() - t0, 1)

    print("== 3. context management on long episodes ==", flush=True)
    ctx_rows = []
    n_ctx = min(15, a.items)
    for mode in ("none", "memory", "resum"):
        out = work / f"ctx_{mode}"
        cfg = EvalConfig(
            bench="generic",
            data=str(generic),
            world=demo,
            limit=n_ctx,
            max_turns=30,
            concurrency=2,
            show_progress=False,
            context_mode=mode,
            context_budget=3072,
        )
        s = run_eval(lambda: Persistent(extra=16), cfg, out_dir=out, report=False)
        c = s["context"]
        ctx_rows.append(
            {
                "mode": mode,
                "budget": 3072,
                "accuracy": s["accuracy"],
                "mean_turns": s["mean_turns"],
                "forced_answers": c["forced_answers"],
                "resets": c["resets"],
                "mean_max_raw_tokens": c["mean_max_raw_tokens"],
                "mean_max_context_tokens": c["mean_max_context_tokens"],
                "max_context_tokens": c["max_context_tokens"],
            }
        )
        print(
            f"  {mode}: turns {s['mean_turns']:.1f}, forced {c['forced_answers']}, max ctx "
            f"{c['max_context_tokens']}"
        )

    llm: dict[str, Any] = {}
    judge: dict[str, Any] = {}
    if a.llm_items or a.judge_items:
        from lite_world.agents.base import GenerationConfig
        from lite_world.agents.hf import TransformersAgent

        model = TransformersAgent("smollm2", config=GenerationConfig(max_new_tokens=64))
        if a.llm_items:
            print("== 4. SmolLM2-135M-Instruct ==", flush=True)
            t0 = time.perf_counter()
            s = run_eval(
                lambda: model,
                EvalConfig(
                    bench="generic",
                    data=str(generic),
                    world=demo,
                    limit=a.llm_items,
                    max_turns=3,
                    show_progress=False,
                ),
                out_dir=work / "smollm2",
            )
            eps = read_results(work / "smollm2" / "results.jsonl")
            llm = {
                "items": s["items"],
                "accuracy": s["accuracy"],
                "answer_rate": s["answer_rate"],
                "mean_turns": s["mean_turns"],
                "mean_tool_calls": s["mean_tool_calls"],
                "action_errors": sum((e.get("totals") or {}).get("errors", 0) for e in eps),
                "mean_completion_tokens": s.get("mean_completion_tokens"),
                "wall_s": round(time.perf_counter() - t0, 1),
            }
            runs["smollm2"] = (s, eps)
        if a.judge_items:
            print("== 5. judge / EM agreement with a local SmolLM2 judge ==", flush=True)
            from lite_world.agents.openai_server import create_openai_app, serve_in_thread
            from lite_world.eval.judging import judge_episodes, make_judge
            from lite_world.eval.metrics import summarize_eval

            base_url, stop = serve_in_thread(create_openai_app(model, "smollm2"))
            try:
                eps = [
                    {k: v for k, v in e.items() if k != "judge"}
                    for e in runs["generic"][1][: a.judge_items]
                ]
                j = make_judge(base_url, "smollm2", timeout_s=120, max_tokens=96)
                t0 = time.perf_counter()
                judge_episodes(eps, j, max_workers=1)
                s = summarize_eval(eps)
                judge = {
                    "episodes": len(eps),
                    "judge_accuracy": s["accuracy"],
                    "em": s["em"],
                    "judge_em_agreement": s["judge_em_agreement"],
                    "verdict_sources": s["judge_sources"],
                    "judge_stats": j.stats(),
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
            finally:
                stop()

    name = "bench_eval_quick" if a.quick else "bench_eval"
    plot_dir = work / "plots_all"
    write_plots(plot_dir, {k: v for k, v in runs.items() if k != "smollm2"})
    RESULTS_DIR.mkdir(exist_ok=True)
    shutil.copy(plot_dir / "plots" / "accuracy.png", RESULTS_DIR / f"{name}.png")
    print(
        table(
            rows,
            [
                "run",
                "items",
                "accuracy",
                "em",
                "mean_turns",
                "tool_calls",
                "evidence_complete",
                "recall",
                "wall_s",
            ],
        )
    )
    print(table(ctx_rows, list(ctx_rows[0])))
    result = {
        "items_per_format": a.items,
        "formats": rows,
        "worlds": {
            "fanoutqa": {
                "pages": fan_info["pages"],
                "urls_found": fan_info["urls_found"],
                "urls_requested": fan_info["urls_requested"],
                "build_s": round(fan_build, 1),
            },
            "frames": {
                "pages": frames_info["pages"],
                "urls_found": frames_info["urls_found"],
                "urls_requested": frames_info["urls_requested"],
                "build_s": round(frames_build, 1),
            },
            "browsecomp_plus": {"build_s": round(bcp_build, 1)},
        },
        "compare_local_vs_standins": compare,
        "context_management": ctx_rows,
        "smollm2": llm,
        "judge": judge,
        "total_s": round(time.perf_counter() - t_all, 1),
    }
    print(json.dumps({"smollm2": llm, "judge": judge, "compare": compare["outcomes"]}, indent=2))
    write_result(name, result)
    return result


if __name__ == "__main__":
    main()
