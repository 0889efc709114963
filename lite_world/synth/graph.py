"""Entity graphs for multi-hop questions, built from the world itself (no LLM) or by an LLM.

The *link graph* connects two pages when one page's text mentions the other's title (its
surface form: the title without a parenthesised qualifier). Each edge keeps the sentence that
makes the mention, and the URL of the page it is in: that sentence becomes a relational
constraint. Generic concepts (nationalities, languages, common nouns) and media sources
(newspapers, broadcasters) are not nodes.

From a seed entity the *backward* growth adds at most ``max_nodes`` nodes, at most
``new_per_node`` new entities per expanded node; :func:`sample_subgraph` then picks a
connected subgraph of about ``size`` nodes greedily by edge count, each candidate's count
perturbed by ``Uniform(0, 0.5)``. Everything draws from one ``random.Random(seed)``, so the
same seed gives the same graph.

Example:
    >>> pages = [
    ...     {"url": "u:a", "title": "Anna Berg",
    ...      "markdown": "Anna Berg was born in Oslo. She wrote Nordlys."},
    ...     {"url": "u:o", "title": "Oslo", "markdown": "Oslo is the capital of Norway."},
    ...     {"url": "u:n", "title": "Nordlys (novel)",
    ...      "markdown": "Nordlys is a novel set in Oslo."},
    ... ]
    >>> g = LinkGraph.from_pages(pages)
    >>> sorted(g.neighbors("Anna Berg")), g.edge("Nordlys (novel)", "Oslo")["sentence"]
    (['Nordlys (novel)', 'Oslo'], 'Nordlys is a novel set in Oslo.')
    >>> sub = sample_subgraph(g, grow(g, "Anna Berg", seed=0), size=3, seed=0)
    >>> sorted(sub), is_connected(g, sub)
    (['Anna Berg', 'Nordlys (novel)', 'Oslo'], True)
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from lite_world.tools.text import split_sentences

__all__ = [
    "LinkGraph",
    "surface",
    "is_generic",
    "grow",
    "sample_subgraph",
    "is_connected",
    "bfs_depths",
]

_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
_WORDS = re.compile(r"\w+(?:[’'.-]\w+)*")
_MEDIA = re.compile(
    r"\b(times|news|post|journal|gazette|magazine|herald|tribune|chronicle|bbc|cnn|press|radio|"
    r"television|tv|broadcasting|daily|weekly|review|records|network)\b",
    re.IGNORECASE,
)
_GENERIC = frozenset(
    """english french german american british italian spanish russian chinese japanese european
    film music album song novel book city country river people war world history family television
    actor actress singer writer president king queen church school university company band team
    united states america england europe india china japan france germany italy spain canada
    london paris""".split()
)
MAX_NGRAM = 6
_HEADING = re.compile(r"^\s*(?:#+[^\n]*\n\s*)+")


def surface(title: str) -> str:
    """The form a title is mentioned by: without a trailing ``(qualifier)``.

    Example:
        >>> surface("Nordlys (novel)")
        'Nordlys'
    """
    return _PAREN.sub("", title).strip()


def is_generic(title: str) -> bool:
    """Generic concepts, countries and media sources are not graph nodes.

    Example:
        >>> is_generic("English"), is_generic("The New York Times"), is_generic("Anna Berg")
        (True, True, False)
    """
    s = surface(title)
    words = _WORDS.findall(s)
    if len(s) < 4 or not words or not any(w[0].isupper() for w in words) or s.isdigit():
        return True
    if " ".join(words).lower() in _GENERIC or (len(words) == 1 and words[0].lower() in _GENERIC):
        return True
    return bool(_MEDIA.search(s))


@dataclass
class LinkGraph:
    """Pages as nodes (by title), mentions as edges; ``edges[(a, b)]`` = a's sentence naming b."""

    urls: dict[str, str] = field(default_factory=dict)
    edges: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    adj: dict[str, set[str]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_pages(
        cls,
        pages: Iterable[Mapping[str, Any]],
        *,
        show_progress: bool = False,
        keep_text: bool = True,
    ) -> LinkGraph:
        """Scan every page's sentences for other pages' title surfaces (case-sensitive n-grams)."""
        pages = list(pages)
        g = cls()
        by_surface: dict[str, str | None] = {}
        for p in pages:
            t = p["title"]
            g.urls[t] = p["url"]
            if keep_text:
                g.texts[t] = p["markdown"]
            if is_generic(t):
                continue
            key = " ".join(_WORDS.findall(surface(t)))
            by_surface[key] = (
                None if key in by_surface and by_surface[key] != t else t
            )  # ambiguous → None
        for p in tqdm(pages, desc="link graph", unit="page", disable=not show_progress):
            src = p["title"]
            if is_generic(src):
                continue
            for sent in split_sentences(p["markdown"]):
                sent = _HEADING.sub("", sent)
                words = _WORDS.findall(sent)
                for i in range(len(words)):
                    for n in range(1, MAX_NGRAM + 1):
                        if i + n > len(words):
                            break
                        dst = by_surface.get(" ".join(words[i : i + n]))
                        if dst and dst != src and (src, dst) not in g.edges:
                            g.edges[(src, dst)] = {
                                "sentence": " ".join(sent.split()),
                                "url": p["url"],
                            }
                            g.adj.setdefault(src, set()).add(dst)
                            g.adj.setdefault(dst, set()).add(src)
        return g

    def neighbors(self, node: str) -> set[str]:
        return self.adj.get(node, set())

    def edge(self, a: str, b: str) -> dict[str, str] | None:
        """The mention of ``b`` in ``a``'s page, else of ``a`` in ``b``'s page, else ``None``."""
        return self.edges.get((a, b)) or self.edges.get((b, a))

    def degree(self, node: str) -> int:
        return len(self.adj.get(node, ()))

    def stats(self) -> dict[str, int]:
        return {
            "pages": len(self.urls),
            "nodes_with_edges": len(self.adj),
            "edges": len(self.edges),
        }


def grow(
    graph: LinkGraph, seed_entity: str, *, max_nodes: int = 8, new_per_node: int = 2, seed: int = 0
) -> list[str]:
    """Breadth-first growth from ``seed_entity``: each expanded node adds up to ``new_per_node``
    random new neighbours until ``max_nodes`` nodes; returns the nodes in the order added."""
    rng = random.Random(seed)
    nodes = [seed_entity]
    queue = deque([seed_entity])
    while queue and len(nodes) < max_nodes:
        cur = queue.popleft()
        fresh = sorted(n for n in graph.neighbors(cur) if n not in nodes)
        rng.shuffle(fresh)
        for n in fresh[:new_per_node]:
            if len(nodes) >= max_nodes:
                break
            nodes.append(n)
            queue.append(n)
    return nodes


def sample_subgraph(
    graph: LinkGraph, nodes: Sequence[str], *, size: int = 6, seed: int = 0
) -> list[str]:
    """A connected subset of ``nodes`` of up to ``size``: start at the best-connected node, then
    add the frontier node with most edges into the subset (+ Uniform(0, 0.5) noise)."""
    rng = random.Random(seed)
    pool = list(nodes)
    inside = set(pool)

    def score(n: str, chosen: set[str]) -> float:
        return len(graph.neighbors(n) & chosen) + rng.uniform(0.0, 0.5)

    start = max(pool, key=lambda n: (len(graph.neighbors(n) & inside) + rng.uniform(0.0, 0.5), n))
    chosen = [start]
    cs = {start}
    while len(chosen) < size:
        frontier = sorted(n for n in pool if n not in cs and graph.neighbors(n) & cs)
        if not frontier:
            break
        best = max(frontier, key=lambda n: (score(n, cs), n))
        chosen.append(best)
        cs.add(best)
    return chosen


def bfs_depths(
    graph: LinkGraph, nodes: Sequence[str], root: str
) -> dict[str, tuple[int, str | None]]:
    """``node -> (depth, parent)`` of a BFS from ``root`` inside ``nodes``."""
    inside = set(nodes)
    out: dict[str, tuple[int, str | None]] = {root: (0, None)}
    q = deque([root])
    while q:
        cur = q.popleft()
        for n in sorted(graph.neighbors(cur) & inside):
            if n not in out:
                out[n] = (out[cur][0] + 1, cur)
                q.append(n)
    return out


def is_connected(graph: LinkGraph, nodes: Sequence[str]) -> bool:
    """Whether ``nodes`` form one connected component of ``graph``."""
    return bool(nodes) and len(bfs_depths(graph, nodes, nodes[0])) == len(set(nodes))
