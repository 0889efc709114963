"""The data engine end to end on the demo world with the embedded default (SmolLM2-135M on CPU).

Steps and what is measured (``benchmarks/results/bench_synth.json`` + ``bench_synth.png``):

1. seed pages: a seeded sample of ``--pages`` demo pages (a few hundred);
2. extract with SmolLM2 on the first ``--llm-pages`` of them (generation on a shared 2-core CPU is
   the bottleneck, so the LLM steps run on a subset; the counts say so);
3. filter: the rule pre-filters on every candidate, the LLM rubric on the survivors;
4. provenance check: share of kept tasks whose answer occurs in their source page;
5. masking audit against the demo world (rule-kept candidates and multi-hop questions);
6. expansion: a small world of ``--expand-pages`` MuSiQue pages extended from the 2Wiki dump
   by the offline provider, for the multi-hop questions;
7. multi-hop from the link graph of the whole demo world: hops, share of questions whose every
   hop page is in the world, ScriptedAgent accuracy with masking on and off; the LLM composer
   on ``--llm-multihop`` of them;
8. profiler (ScriptedAgent, K = 8) on demo tasks and generated multi-hop tasks, and the
   curriculum stage files built from the profiles;
9. cost per kept task (LLM tokens and seconds).

Run: ``HF_HUB_OFFLINE=1 python -m benchmarks.bench_synth`` (LLM replies are cached on disk in
``benchmarks/.cache/bench_synth/llm.sqlite``, so a re-run costs no generation).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks._common import CACHE_DIR, RESULTS_DIR, pyplot, write_result

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _rollout_accuracy(tasks: list[dict[str, Any]], world: str, mask: bool, out: Path) -> float:
    from lite_world.agents.scripted import ScriptedAgent
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.rollout.runner import RolloutConfig, run_rollouts
    from lite_world.tasks import Task

    env = LiteSearchConfig.from_dict({"world": world, "max_turns": 8, "mask_sources": mask})
    s = run_rollouts(
        ScriptedAgent,
        RolloutConfig(env=env, show_progress=False),
        out_dir=out,
        tasks=[Task.from_dict(t) for t in tasks],
    )
    return float(s["accuracy"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--llm-pages", type=int, default=4)
    ap.add_argument("--llm-tokens", type=int, default=96)
    ap.add_argument("--multihop", type=int, default=40)
    ap.add_argument("--llm-multihop", type=int, default=3)
    ap.add_argument("--expand-pages", type=int, default=150)
    ap.add_argument("--profile-tasks", type=int, default=12)
    ap.add_argument("-k", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from lite_world.demo import DEMO_DATA, ensure_demo_world
    from lite_world.llm import LLMConfig, make_client
    from lite_world.store.lmdb_store import PageStore
    from lite_world.synth.audit import audit_tasks
    from lite_world.synth.curriculum import build_curriculum
    from lite_world.synth.extract import answer_in_text, extract_pairs
    from lite_world.synth.graph import LinkGraph
    from lite_world.synth.multihop import generate_multihop
    from lite_world.synth.pages import load_pages
    from lite_world.synth.profile import ProfileConfig, difficulty_histogram, profile_tasks
    from lite_world.synth.records import write_jsonl
    from lite_world.synth.rubric import filter_tasks
    from lite_world.tasks import demo_tasks
    from lite_world.world import World

    work = CACHE_DIR / "bench_synth"
    work.mkdir(parents=True, exist_ok=True)
    world_path = str(ensure_demo_world(show_progress=False))
    world = World(world_path)
    res: dict[str, Any] = {"args": vars(a), "steps": {}}
    t_all = time.perf_counter()

    # 1-2. pages and extraction (LLM subset)
    pages = load_pages(world_path, limit=a.pages, seed=a.seed, min_chars=300)
    client = make_client(
        LLMConfig(batch_size=4, cache_path=str(work / "llm.sqlite"), show_progress=True)
    )
    print(f"[synth] extract on {a.llm_pages} of {len(pages)} pages", flush=True)
    cands, rep = extract_pairs(
        pages[: a.llm_pages], client, per_page=2, max_page_chars=700, max_tokens=a.llm_tokens
    )
    res["steps"]["pages"] = {"sampled": len(pages), "sent_to_llm": a.llm_pages}
    res["steps"]["extract"] = rep.to_dict()
    samples = client.chat(
        [
            __import__("lite_world.synth.prompts", fromlist=["x"]).extract_messages(
                p["title"], p["markdown"][:700], 2
            )
            for p in pages[:2]
        ],
        max_tokens=a.llm_tokens,
    )
    res["steps"]["extract"]["raw_samples"] = [r.text[:400] for r in samples]

    # 3. filter: rules, then rubric
    rule_kept, rrep = filter_tasks(cands, rules_only=True)
    res["steps"]["filter_rules"] = rrep.to_dict()
    print(f"[synth] rubric on {len(rule_kept)} candidates", flush=True)
    kept, krep = filter_tasks(rule_kept, client, max_tokens=a.llm_tokens)
    res["steps"]["filter_rubric"] = krep.to_dict()

    # 4. provenance check
    def provenance_share(tasks: list[dict[str, Any]]) -> float | None:
        ok = [
            answer_in_text(
                t["answers"],
                (
                    world.get_page(t["meta"]["source_url"]) or type("P", (), {"markdown": ""})
                ).markdown,
            )
            for t in tasks
        ]
        return round(sum(ok) / len(ok), 3) if ok else None

    res["provenance_share"] = {
        "candidates": provenance_share(cands),
        "rule_kept": provenance_share(rule_kept),
        "rubric_kept": provenance_share(kept),
    }

    # 7. multi-hop from the link graph of the whole world
    t = time.perf_counter()
    with PageStore(Path(world_path)) as store:
        all_pages = [
            {"url": r["url"], "title": r["title"], "markdown": r["markdown"]}
            for r in store.iter_records()
        ]
    graph = LinkGraph.from_pages(all_pages)
    graph_s = time.perf_counter() - t
    mh, mrep = generate_multihop(graph, a.multihop, seed=a.seed, show_progress=False)
    res["steps"]["multihop_link"] = {
        **mrep.to_dict(),
        "graph": graph.stats(),
        "graph_seconds": round(graph_s, 2),
    }
    hops = Counter(t_["meta"]["hops"] for t_ in mh)
    in_world = [
        all(u and world.get_page(u) is not None for u in t_["meta"]["hop_urls"]) for t_ in mh
    ]
    mh_llm, mlrep = generate_multihop(
        graph, a.llm_multihop, seed=a.seed, client=client, show_progress=False
    )
    res["steps"]["multihop_llm_composer"] = mlrep.to_dict()
    res["multihop"] = {
        "questions": len(mh),
        "hops_histogram": {str(k): hops[k] for k in sorted(hops)},
        "mean_hops": round(sum(t_["meta"]["hops"] for t_ in mh) / max(1, len(mh)), 2),
        "share_all_hop_pages_in_world": round(sum(in_world) / max(1, len(in_world)), 3),
        "llm_composer_kept": len(mh_llm),
        "llm_composer_examples": [t_["question"] for t_ in mh_llm[:3]],
        "template_examples": [t_["question"][:300] for t_ in mh[:2]],
    }
    write_jsonl(work / "multihop.jsonl", mh)
    print("[synth] scripted agent on multi-hop, masking on/off", flush=True)
    res["multihop"]["scripted_accuracy_mask_on"] = _rollout_accuracy(
        mh, world_path, True, work / "mh_mask_on"
    )
    res["multihop"]["scripted_accuracy_mask_off"] = _rollout_accuracy(
        mh, world_path, False, work / "mh_mask_off"
    )

    # 5. audit
    audit_in = rule_kept + mh
    audited, arep = audit_tasks(audit_in, world, show_progress=False)
    res["steps"]["audit"] = arep.to_dict()

    # 6. expansion: a small world extended from the 2Wiki dump
    from lite_world.build import BuildConfig, build_world
    from lite_world.synth.expand import expand_world
    from lite_world.web.local import LocalDumpProvider

    small = work / "small_world"
    if small.exists():
        shutil.rmtree(small)
    mus = json.loads((DEMO_DATA / "musique_train_corpus.json").read_text())
    titles = list(dict.fromkeys(p["title"] for p in mus))[: a.expand_pages]
    rows = [
        {
            "url": "https://en.wikipedia.org/wiki/" + ti.replace(" ", "_"),
            "title": ti,
            "text": "\n".join(p["text"] for p in mus if p["title"] == ti),
        }
        for ti in titles
    ]
    write_jsonl(work / "small_pages.jsonl", rows)
    build_world([work / "small_pages.jsonl"], small, BuildConfig(min_chars=50, show_progress=False))
    t = time.perf_counter()
    provider = LocalDumpProvider([DEMO_DATA / "2wikimultihopqa_corpus.json"], min_chars=50)
    dump_s = time.perf_counter() - t
    exp_tasks = mh[:20]
    pages_added, erep = expand_world(
        exp_tasks,
        small,
        provider,
        work / "expansion.jsonl",
        num=3,
        min_chars=50,
        show_progress=False,
    )
    res["steps"]["expand"] = {
        **erep.to_dict(),
        "dump_pages": len(provider),
        "dump_index_seconds": round(dump_s, 2),
    }
    sw = World(small)
    res["steps"]["expand"]["new_pages_searchable"] = round(
        sum(
            1
            for p in pages_added[:20]
            if any(h.url == p["url"] for h in sw.search([p["title"]], k=5)[0])
        )
        / max(1, min(20, len(pages_added))),
        3,
    )
    sw.close()

    # 8. profiler + curriculum
    demo = [t_.to_dict() for t_ in demo_tasks()[: a.profile_tasks]]
    pcfg = ProfileConfig(k=a.k, world=world_path, max_turns=8, chunk_tasks=8, show_progress=False)
    for name in ("profile_demo.jsonl", "profile_multihop.jsonl"):
        (work / name).unlink(missing_ok=True)
    print("[synth] profiler", flush=True)
    from lite_world.agents.scripted import ScriptedAgent

    pd, prep_d = profile_tasks(
        demo, ScriptedAgent, pcfg, work / "profile_demo.jsonl", agent_name="scripted"
    )
    pm, prep_m = profile_tasks(
        mh[: a.profile_tasks],
        ScriptedAgent,
        pcfg,
        work / "profile_multihop.jsonl",
        agent_name="scripted",
    )
    res["profile"] = {
        "k": a.k,
        "demo": difficulty_histogram(pd),
        "multihop": difficulty_histogram(pm),
        "seconds": round(prep_d.to_dict()["seconds"] + prep_m.to_dict()["seconds"], 1),
    }
    manifests, crep = build_curriculum(
        {"single": pd, "multi": pm},
        work / "stages",
        stages=[{"single": 0.73, "multi": 0.27}],
        k=a.k,
    )
    res["steps"]["curriculum"] = crep.to_dict()

    # 9. cost
    u = client.usage.to_dict()
    n_kept = len(kept)
    res["llm_usage"] = u
    res["cost_per_kept_task"] = {
        "rubric_kept_tasks": n_kept,
        "tokens": round((u["prompt_tokens"] + u["completion_tokens"]) / n_kept, 1)
        if n_kept
        else None,
        "seconds": round(u["seconds"] / n_kept, 1) if n_kept else None,
        "note": "LLM seconds of this run (cache hits cost 0); None when nothing passed the rubric",
        "per_candidate_tokens": round(
            (u["prompt_tokens"] + u["completion_tokens"]) / max(1, len(cands)), 1
        ),
    }
    res["wall_seconds"] = round(time.perf_counter() - t_all, 1)
    path = write_result("bench_synth", res)
    _plot(res, RESULTS_DIR / "bench_synth.png")
    print(
        json.dumps(
            {k: res[k] for k in ("provenance_share", "multihop", "profile", "cost_per_kept_task")},
            indent=1,
            ensure_ascii=False,
        )
    )
    print(f"wrote {path}")
    return 0


def _plot(res: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    steps = res["steps"]
    names = ["extract", "filter_rules", "filter_rubric", "audit", "multihop_link", "expand"]
    ins = [steps[n]["in"] for n in names]
    kept = [steps[n]["kept"] for n in names]
    x = range(len(names))
    axes[0].bar([i - 0.2 for i in x], ins, width=0.4, label="in", color="grey")
    axes[0].bar([i + 0.2 for i in x], kept, width=0.4, label="kept", color="tab:green")
    axes[0].set_xticks(list(x), names, rotation=30, ha="right", fontsize=8)
    axes[0].set_title("records per step")
    axes[0].legend()
    h = res["multihop"]["hops_histogram"]
    axes[1].bar(list(h), list(h.values()), color="tab:blue")
    axes[1].set_title(f"multi-hop: hops per question (n={res['multihop']['questions']})")
    k = res["profile"]["k"]
    xs = list(range(k + 1))
    for off, name, color in ((-0.2, "demo", "tab:purple"), (0.2, "multihop", "tab:orange")):
        hist = res["profile"][name]
        axes[2].bar(
            [v + off for v in xs],
            [hist.get(str(v), 0) for v in xs],
            width=0.4,
            label=name,
            color=color,
        )
    axes[2].set_title(f"ScriptedAgent correct out of {k}")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
