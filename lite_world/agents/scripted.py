"""``ScriptedAgent``: a deterministic, LLM-free baseline that plays LiteSearch-v0.

It searches the question, visits the best pages with the question as the goal, follows one
bridge entity for a second hop (multi-hop questions), and answers with the short span that
the evidence supports best (typed by the question word: numbers for "how many", years for
"when", capitalised names otherwise). A smoke test and a floor for learned agents.

Example:
    >>> agent = ScriptedAgent()
    >>> agent.reset({"question": "Who founded the Society for Psychotherapy?"})
    >>> agent.act("", {}).startswith("<think>")
    True
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from lite_world.tools.text import STOPWORDS, split_sentences, tokenize

__all__ = ["ScriptedAgent", "candidate_spans"]

_URL = re.compile(r"^\d+\. \[[^\]]*\]\((https?://[^)\s]+)\)", re.M)
_EVIDENCE = re.compile(r"Evidence in page: \n(.*?)\n\nSummary: \n(.*?)(?:\n\n|$)", re.S)
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_NAME = re.compile(
    r"\b(?:[A-Z][\w'’.-]*)(?:\s+(?:of|the|de|von|van|and|du|la|le)?\s*[A-Z][\w'’.-]*)*"
)
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
}


def _qtype(question: str) -> str:
    q = question.lower()
    if re.search(r"\bhow (many|much|long|old|tall|far)\b|\bnumber of\b|\bpopulation\b", q):
        return "number"
    if re.search(r"\b(when|what year|which year|what date)\b", q):
        return "year"
    return "name"


def candidate_spans(sentence: str, qtype: str) -> list[str]:
    """Candidate answer spans in ``sentence`` for a question of type ``qtype``.

    Example:
        >>> candidate_spans("It was founded in 1892 by Carl Rogers in New York.", "year")
        ['1892']
        >>> candidate_spans("It was founded in 1892 by Carl Rogers in New York.", "name")
        ['Carl Rogers', 'New York']
    """
    if qtype == "year":
        return _YEAR.findall(sentence)
    if qtype == "number":
        words = [
            _NUMBER_WORDS[w]
            for w in re.findall(r"\b[a-z]+\b", sentence.lower())
            if w in _NUMBER_WORDS
        ]
        return [n.rstrip(".,") for n in _NUMBER.findall(sentence)] + words
    spans = []
    for m in _NAME.finditer(sentence):
        span = m.group(0).strip(" .,'’")
        if m.start() == 0 and " " not in span:
            continue  # a capitalised first word of a sentence is rarely a name
        if span and span.lower() not in STOPWORDS:
            spans.append(span)
    return spans


class ScriptedAgent:
    """Search → visit → (bridge search → visit) → answer.

    Args:
        visit_k: pages visited per hop.
        hops: 1 or 2 search/visit rounds.
    """

    def __init__(self, visit_k: int = 3, hops: int = 2):
        self.visit_k, self.hops = visit_k, hops
        self.reset({"question": ""})

    def reset(self, task: Mapping[str, Any]) -> None:
        self.question = str(task.get("question", ""))
        self.qtype = _qtype(self.question)
        self.plan: list[str] = []
        self.evidence: list[str] = []
        self.visited: set[str] = set()
        self.hop = 0
        self.state = "search"

    # -- helpers --------------------------------------------------------------
    @staticmethod
    def _call(name: str, arguments: dict[str, Any], thought: str) -> str:
        return f"<think>{thought}</think>\n<tool_call>\n{json.dumps({'name': name, 'arguments': arguments}, ensure_ascii=False)}\n</tool_call>"

    def _scored_candidates(self) -> list[tuple[str, float]]:
        qtok = set(tokenize(self.question))
        scores: Counter[str] = Counter()
        for block in self.evidence:
            for sent in split_sentences(block):
                overlap = len(qtok & set(tokenize(sent)))
                if overlap == 0:
                    continue
                for span in candidate_spans(sent, self.qtype):
                    stoks = set(tokenize(span))
                    if stoks and stoks <= qtok:
                        continue  # restating the question is not an answer
                    scores[span] += overlap
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    # -- the policy ----------------------------------------------------------------
    def act(self, observation: str, info: Mapping[str, Any]) -> str:
        if "Evidence in page:" in observation:
            for ev, summary in _EVIDENCE.findall(observation):
                self.evidence.append(ev)
                self.evidence.append(summary)
        if "## Web Results" in observation:
            urls = [u for u in _URL.findall(observation) if u not in self.visited][: self.visit_k]
            if urls:
                self.visited.update(urls)
                return self._call(
                    "visit", {"url": urls, "goal": self.question}, "Read the most relevant pages."
                )
        if self.state == "search":
            self.state = "visited"
            self.hop += 1
            return self._call("search", {"query": [self.question]}, "Search the question directly.")
        if self.hop < self.hops:
            bridge = self._bridge()
            if bridge:
                self.hop += 1
                rest = " ".join(
                    t for t in tokenize(self.question) if t not in set(tokenize(bridge))
                )
                return self._call(
                    "search",
                    {"query": [f"{bridge} {rest}".strip()]},
                    f"Follow the bridge entity {bridge}.",
                )
        best = self._scored_candidates()
        answer = best[0][0] if best else "unknown"
        return f"<think>The evidence supports {answer}.</think>\n<answer>{answer}</answer>"

    def _bridge(self) -> str | None:
        qtok = set(tokenize(self.question))
        names: Counter[str] = Counter()
        for block in self.evidence:
            for sent in split_sentences(block):
                if qtok & set(tokenize(sent)):
                    for span in candidate_spans(sent, "name"):
                        if not set(tokenize(span)) <= qtok:
                            names[span] += 1
        return max(names.items(), key=lambda kv: (kv[1], kv[0]))[0] if names else None
