"""``DiverseTeacher``: a seeded, LLM-free teacher whose trajectories for one task differ.

A deterministic teacher makes SFT data in which every trajectory of a task is the same, and a
student that copies it has no spread left for GRPO to compare (every group's rewards are
equal). This teacher samples, per episode, from a few reasonable strategies:

* the query: the question verbatim, its keywords (stopwords dropped) or its key entity (the
  task's page title when the task names one, a privileged hint that only steers the query);
* a second search for the entity when the first one did not return its page (30% of the time);
* the answer: one of the top three candidate spans of the evidence, drawn with probability
  proportional to ``exp(score / answer_temperature)`` (``answer_temperature=0`` takes the best).
  Its thought restates the question before the span, so what is asked ("born" or "died") sits
  next to the choice: a small student otherwise has to look a few hundred tokens back for it,
  and RL from such a cold start learned one year for both questions.

It plays both action formats: ``tags`` (Search-R1: ``<search>q</search>``, search only) and
``tool_call`` (search, then visit of the best pages, like :class:`ScriptedAgent`). Every action
is one the env accepts and every observation it reads is the env's own, so its episodes are
valid SFT trajectories.

Example:
    >>> teacher = DiverseTeacher(seed=1, action_format="tags")
    >>> teacher.reset({"question": "In what year was Mikael Strandberg born?",
    ...                "meta": {"title": "Mikael Strandberg"}})
    >>> teacher.act("", {}).split("\\n")[-1]
    '<search>Mikael Strandberg</search>'
    >>> obs = ("<information>1. [Mikael Strandberg](https://en.wikipedia.org/wiki/Mikael_Strandberg)"
    ...        "\\n\\nMikael Strandberg was born in 1962 in Dala-Järna, Sweden.</information>")
    >>> teacher.act(obs, {}).split("\\n")[-1]
    '<answer>1962</answer>'
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Mapping
from typing import Any

from lite_world.agents.scripted import ScriptedAgent
from lite_world.errors import ConfigError
from lite_world.tools.text import STOPWORDS

__all__ = ["DiverseTeacher", "QUERY_STYLES"]

QUERY_STYLES = ("question", "keywords", "entity")
"""How the first query is written; one is drawn per episode."""

_RESULT = re.compile(r"^\d+\. \[([^\]]*)\]\((\S+?)\)\s*$", re.M)
_THOUGHTS = {
    "question": ("Search the question directly.", "Look the question up as it is."),
    "keywords": ("Search the key words of the question.", "Search a shorter query."),
    "entity": ("Search the entity the question is about.", "Find the page about the subject."),
}


class DiverseTeacher(ScriptedAgent):
    """Search (one query style drawn per episode) → [second search] → sampled answer.

    Args:
        seed: base seed; each episode's draws are seeded by ``(seed, question, episode)`` so a
            rerun reproduces the same trajectories.
        action_format: ``"tags"`` or ``"tool_call"`` (the env's ``action_format``).
        answer_temperature: softness of the answer draw among the top three candidates
            (0: always the best-scored one).
        visit_k: pages visited per hop in the ``tool_call`` format.
    """

    def __init__(
        self,
        seed: int = 0,
        action_format: str = "tags",
        answer_temperature: float = 1.0,
        visit_k: int = 1,
    ):
        if action_format not in ("tags", "tool_call"):
            raise ConfigError(
                f"Expects action_format 'tags' or 'tool_call', actual: {action_format!r}"
            )
        if not answer_temperature >= 0:
            raise ConfigError(f"Expects answer_temperature >= 0, actual: {answer_temperature}")
        self.seed, self.action_format = seed, action_format
        self.answer_temperature = answer_temperature
        self.episodes = 0
        super().__init__(visit_k=visit_k, hops=1)

    def reset(self, task: Mapping[str, Any]) -> None:
        super().reset(task)
        meta = task.get("meta") or {}
        self.entity = str(meta.get("title") or "") if isinstance(meta, Mapping) else ""
        key = f"{self.seed}\n{self.question}\n{self.episodes}".encode()
        self.rng = random.Random(int.from_bytes(hashlib.sha1(key).digest()[:8], "big"))
        self.episodes += 1
        self.style = self.rng.choice(QUERY_STYLES)
        self.searches = 0

    # -- the policy ---------------------------------------------------------------------------
    def act(self, observation: str, info: Mapping[str, Any]) -> str:
        if self.action_format == "tool_call":
            return self._act_tool_call(observation, info)
        if observation.lstrip().startswith("<information>"):  # a search result, not the prompt
            self._read_results(observation)
            if self.searches == 1 and not self._found_entity(observation) and self._again():
                return self._search(self._query("entity"), "The page is not there; search again.")
            return self._answer()
        if self.searches == 0:
            return self._search(self._query(self.style), self.rng.choice(_THOUGHTS[self.style]))
        return self._answer()

    def _act_tool_call(self, observation: str, info: Mapping[str, Any]) -> str:
        if self.state == "search":
            self.state = "visited"
            self.hop = 1
            self.searches = 1
            return self._call(
                "search",
                {"query": [self._query(self.style)]},
                self.rng.choice(_THOUGHTS[self.style]),
            )
        action = super().act(observation, info)
        if "<answer>" in action:
            return self._answer()
        return action

    # -- pieces --------------------------------------------------------------------------------
    def _query(self, style: str) -> str:
        if style == "entity" and self.entity:
            return self.entity
        if style in ("keywords", "entity"):
            words = [w for w in self.question.rstrip("?").split() if w.lower() not in STOPWORDS]
            if words:
                return " ".join(words)
        return self.question

    def _again(self) -> bool:
        return bool(self.entity) and self.rng.random() < 0.3

    def _found_entity(self, observation: str) -> bool:
        titles = {t.strip().lower() for t, _ in _RESULT.findall(observation)}
        return not self.entity or self.entity.lower() in titles

    def _search(self, query: str, thought: str) -> str:
        self.searches += 1
        return f"<think>{thought}</think>\n<search>{query}</search>"

    def _read_results(self, observation: str) -> None:
        body = observation.split("<information>", 1)[-1].split("</information>", 1)[0]
        for block in re.split(r"\n\s*\n", body):
            block = block.strip()
            if block and not _RESULT.match(block) and not block.startswith(("#", "A Google")):
                self.evidence.append(block)

    def _answer(self) -> str:
        best = self._scored_candidates()[:3]
        if not best:
            answer = "unknown"
        elif self.answer_temperature == 0 or len(best) == 1:
            answer = best[0][0]
        else:
            top = best[0][1]
            weights = [math.exp((s - top) / self.answer_temperature) for _, s in best]
            answer = self.rng.choices([span for span, _ in best], weights=weights)[0]
        found = "The evidence supports" if self.action_format == "tool_call" else "The results say"
        return f"<think>{self.question} {found} {answer}.</think>\n<answer>{answer}</answer>"
