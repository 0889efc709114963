"""Step 5, multi-hop backward graph questions.

From a seed entity an entity graph is grown through the world
(:func:`~lite_world.synth.graph.grow`), a connected subgraph of about six nodes is sampled
(:func:`~lite_world.synth.graph.sample_subgraph`), a *target* entity with a mention in another
subgraph page is picked, and the subgraph's edges become vague relational constraints: each is
the sentence that links two entities, with the target replaced by ``X`` and the other entities
by ``E1``, ``E2``… The constraints are composed into one question, by a template (no LLM) or by
the LLM (which then only writes the question). The hop path, the pages and the constraints
are the provenance; the target's own page is the task's ``mask_urls``, so the agent must
reach the answer through the other pages.

The graph comes from the world's link structure (:class:`~lite_world.synth.graph.LinkGraph`, no
LLM calls however large), or from an LLM that reads each page and names its related entities
(:func:`llm_graph`). Same seed, same questions.

Example:
    >>> mask_entities("Anna Berg wrote Nordlys in Oslo.", {"Anna Berg": "X", "Oslo": "E1"})
    'X wrote Nordlys in E1.'
    >>> template_question(["X was born in E1.", "E1 is the capital of E2."])
    'Identify X from these clues: (1) X was born in E1. (2) E1 is the capital of E2. What is X?'
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tqdm.auto import tqdm

from lite_world.llm.client import LLMClient
from lite_world.reward.normalize import normalize_answer
from lite_world.synth.extract import answer_in_text
from lite_world.synth.graph import LinkGraph, bfs_depths, grow, is_generic, sample_subgraph, surface
from lite_world.synth.prompts import compose_messages, graph_messages
from lite_world.synth.records import StepReport

__all__ = [
    "mask_entities",
    "template_question",
    "question_from_subgraph",
    "generate_multihop",
    "llm_graph",
]


_QUESTION_START = re.compile(
    r"^(what|which|who|whom|whose|where|when|how|in|at|on|from|during|identify|name)\b",
    re.IGNORECASE,
)


def mask_entities(text: str, names: Mapping[str, str]) -> str:
    """Replace every name (whole words, longest first) by its placeholder."""
    for name in sorted(names, key=len, reverse=True):
        if name:
            text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", names[name], text)
    return text


def template_question(constraints: Sequence[str]) -> str:
    """One question from numbered clues (the LLM-free composer)."""
    clues = " ".join(f"({i}) {c.rstrip()}" for i, c in enumerate(constraints, 1))
    return f"Identify X from these clues: {clues} What is X?"


def question_from_subgraph(
    graph: LinkGraph,
    sub: Sequence[str],
    rng: random.Random,
    *,
    max_constraints: int = 4,
    max_chars: int = 240,
) -> dict[str, Any] | None:
    """Target, constraints, hop path and pages for one subgraph (``None``: no usable target)."""
    inside = set(sub)
    targets = sorted(t for t in sub if any((u, t) in graph.edges for u in inside if u != t))
    if not targets:
        return None
    target = rng.choice(targets)
    depths = bfs_depths(graph, sub, target)
    order = sorted((n for n in depths if n != target), key=lambda n: (depths[n][0], n))
    names = {surface(target): "X"}
    for i, n in enumerate(order, 1):
        names.setdefault(surface(n), f"E{i}")
    constraints: list[str] = []
    used, edges = [target], []
    for n in order:
        if len(constraints) >= max_constraints:
            break
        parent = depths[n][1]
        assert parent is not None
        # Prefer the sentence from the page that is not the target's (the target's page is masked).
        e = graph.edges.get((n, parent)) if parent == target else None
        e = e or graph.edge(parent, n)
        if e is None:
            continue
        sent = (
            e["sentence"]
            if len(e["sentence"]) <= max_chars
            else e["sentence"][:max_chars].rsplit(" ", 1)[0] + "…"
        )
        c = mask_entities(sent, names)
        if answer_in_text([surface(target)], c) or "X" not in c and not re.search(r"\bE\d+\b", c):
            continue
        constraints.append(c)
        used.append(n)
        edges.append({"a": parent, "b": n, "url": e["url"], "sentence": e["sentence"]})
    if len(constraints) < 2:
        return None
    hops = max(depths[n][0] for n in used)
    deepest = max(used, key=lambda n: (depths[n][0], n))
    path = [deepest]
    while depths[path[-1]][1] is not None:
        path.append(depths[path[-1]][1])  # type: ignore[arg-type]
    return {
        "target": target,
        "constraints": constraints,
        "hops": hops,
        "hop_path": path[::-1],
        "hop_urls": [graph.urls.get(n) for n in path[::-1]],
        "pages": [graph.urls.get(n) for n in used],
        "edges": edges,
        "placeholders": {v: k for k, v in names.items() if k in {surface(n) for n in used}},
    }


def llm_graph(
    graph: LinkGraph,
    seed_entity: str,
    client: LLMClient,
    *,
    max_nodes: int = 8,
    new_per_node: int = 2,
    max_page_chars: int = 1200,
    report: StepReport | None = None,
) -> LinkGraph:
    """Grow an entity graph from ``seed_entity`` by asking the LLM, per page, for 2 features and
    up to ``new_per_node`` related entities; names are matched to world titles by surface form,
    unmatched names become nodes without a page. Uses ``graph`` only for titles, URLs and texts."""
    by_surface = {normalize_answer(surface(t)): t for t in graph.urls}
    g = LinkGraph(urls={seed_entity: graph.urls.get(seed_entity, "")}, texts={})
    frontier, nodes = [seed_entity], [seed_entity]
    while frontier and len(nodes) < max_nodes:
        with_page = [n for n in frontier if graph.texts.get(n)]
        replies = client.chat(
            [graph_messages(n, graph.texts[n][:max_page_chars]) for n in with_page],
            max_tokens=160,
            desc="graph",
        )
        nxt = []
        for n, rep in zip(with_page, replies, strict=True):
            value = rep.json(dict)
            if value is None:
                if report is not None:
                    report.drop("graph_no_json")
                continue
            related = [r for r in (value.get("related") or []) if isinstance(r, str) and r.strip()]
            for name in related[:new_per_node]:
                title = by_surface.get(normalize_answer(surface(name)), name.strip())
                if title == n or is_generic(title) or len(nodes) >= max_nodes:
                    continue
                text = graph.texts.get(n, "")
                sent = next(
                    (s for s in re.split(r"(?<=[.!?])\s+", text) if surface(title) in s), None
                )
                g.edges[(n, title)] = {
                    "sentence": sent or f"{n} is related to {title}.",
                    "url": graph.urls.get(n, ""),
                }
                g.adj.setdefault(n, set()).add(title)
                g.adj.setdefault(title, set()).add(n)
                if title not in nodes:
                    nodes.append(title)
                    nxt.append(title)
                    g.urls[title] = graph.urls.get(title, "")
        frontier = nxt
    return g


def generate_multihop(
    graph: LinkGraph,
    n_questions: int,
    *,
    seed: int = 0,
    client: LLMClient | None = None,
    graph_kind: str = "link",
    max_nodes: int = 8,
    new_per_node: int = 2,
    size: int = 6,
    max_constraints: int = 4,
    max_attempts: int | None = None,
    show_progress: bool = True,
    report: StepReport | None = None,
) -> tuple[list[dict[str, Any]], StepReport]:
    """Up to ``n_questions`` multi-hop tasks; ``client`` composes the question (else a template);
    ``graph_kind='llm'`` grows each entity graph with :func:`llm_graph` (needs ``client``)."""
    report = report or StepReport("multihop")
    rng = random.Random(seed)
    seeds = sorted(n for n in graph.adj if graph.degree(n) >= 2 and not is_generic(n))
    rng.shuffle(seeds)
    attempts = seeds[: max_attempts or max(4 * n_questions, n_questions + 20)]
    report.n_in += len(attempts)
    report.extra.setdefault("unit_in", "seed entities")
    out: list[dict[str, Any]] = []
    targets_seen: set[str] = set()
    drafts: list[Any] = []
    for i, s in enumerate(tqdm(attempts, desc="multihop", unit="seed", disable=not show_progress)):
        if len(drafts) >= n_questions:
            break
        sub_seed = seed * 1_000_003 + i
        g = graph
        if graph_kind == "llm":
            if client is None:
                from lite_world.errors import ConfigError

                raise ConfigError("Expects an LLM client with graph_kind='llm', actual: None")
            g = llm_graph(
                graph, s, client, max_nodes=max_nodes, new_per_node=new_per_node, report=report
            )
        nodes = grow(g, s, max_nodes=max_nodes, new_per_node=new_per_node, seed=sub_seed)
        if len(nodes) < 3:
            report.drop("too_few_nodes")
            continue
        sub = sample_subgraph(g, nodes, size=size, seed=sub_seed)
        q = question_from_subgraph(g, sub, random.Random(sub_seed), max_constraints=max_constraints)
        if q is None:
            report.drop("no_usable_target")
            continue
        if q["target"] in targets_seen:
            report.drop("duplicate_target")
            continue
        targets_seen.add(q["target"])
        q.update(seed_entity=s, subgraph=sub, graph=graph_kind, sub_seed=sub_seed)
        drafts.append(q)
    questions: list[str | None]
    if client is not None:
        replies = client.chat(
            [compose_messages(d["constraints"]) for d in drafts], max_tokens=96, desc="compose"
        )
        questions = []
        for d, rep in zip(drafts, replies, strict=True):
            text = " ".join(rep.text.strip().split("\n")[0].split()) if not rep.error else ""
            if rep.error:
                report.drop("llm_error")
                questions.append(None)
            elif len(text.split()) < 6 or "?" not in text or not _QUESTION_START.match(text):
                report.drop("llm_bad_question")
                questions.append(None)
            elif answer_in_text([surface(d["target"]), d["target"]], text):
                report.drop("llm_leaks_answer")
                questions.append(None)
            else:
                questions.append(text[: text.rindex("?") + 1])
        report.llm = client.usage.to_dict()
    else:
        questions = [template_question(d["constraints"]) for d in drafts]
    for d, qtext in zip(drafts, questions, strict=True):
        if qtext is None:
            continue
        answers = list(dict.fromkeys([surface(d["target"]), d["target"]]))
        tid = "mh-" + hashlib.sha1(f"{d['target']}\n{qtext}".encode()).hexdigest()[:12]
        out.append(
            {
                "id": tid,
                "question": qtext,
                "answers": answers,
                "mask_urls": [u for u in [graph.urls.get(d["target"])] if u],
                "capability": "multi-hop",
                "difficulty": d["hops"],
                "meta": {
                    "step": "multihop",
                    "graph": graph_kind,
                    "composer": client.model if client is not None else "template",
                    "seed": seed,
                    "sub_seed": d["sub_seed"],
                    "seed_entity": d["seed_entity"],
                    "target": d["target"],
                    "hops": d["hops"],
                    "hop_path": d["hop_path"],
                    "hop_urls": d["hop_urls"],
                    "pages": d["pages"],
                    "constraints": d["constraints"],
                    "edges": d["edges"],
                    "subgraph": d["subgraph"],
                },
            }
        )
        report.keep()
    return out, report
