"""Agent-side context management for long episodes: summary "memory", ReSum-style resets, forced
answers.

:class:`ContextManagedAgent` wraps any agent. Before each turn it rewrites the conversation it
hands to the inner agent (``info["messages"]``; the env's own record is untouched) so that it
fits ``budget_tokens``:

- ``mode="memory"`` (the paper's 64K BrowseComp setting): the oldest tool responses are replaced,
  oldest first, by a one-sentence summary of the step until the conversation is under
  ``trigger * budget_tokens`` (the last ``keep_last`` responses stay verbatim);
- ``mode="resum"`` (ReSum): when the conversation reaches ``trigger * budget_tokens``, the history
  is reset to ``[system, question + running summary]``; the summary is extractive (one sentence
  per tool step) or comes from ``summarizer`` (e.g. an LLM);
- ``mode="none"``: the conversation is passed unchanged (its size is still measured).

In every mode, when the conversation still exceeds ``budget_tokens``, the last message is replaced
by an instruction to stop calling tools and answer, the inner agent gets one more turn, and an
answer is forced (``"No answer found."`` when it gives none), as LiteResearcher's inference does
at its context limit. :attr:`ContextManagedAgent.stats` records what happened in the episode.

Example:
    >>> msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "Q?"}]
    >>> for i in range(6):
    ...     msgs += [{"role": "assistant", "content": f"<tool_call>{i}</tool_call>"},
    ...              {"role": "user",
    ...               "content": "<tool_response>\\n" + "word " * 400 + "\\n</tool_response>"}]
    >>> class Last:
    ...     def reset(self, task): pass
    ...     def act(self, obs, info): self.seen = info["messages"]; return "<answer>x</answer>"
    >>> inner = Last()
    >>> agent = ContextManagedAgent(inner, ContextConfig(mode="memory", budget_tokens=1500))
    >>> agent.reset({"question": "Q?"}); _ = agent.act("", {"messages": msgs})
    >>> n_raw, n_seen = count_messages(msgs), count_messages(inner.seen)
    >>> n_raw > 1500, n_seen <= 1500, agent.stats["compressed_steps"]
    (True, True, 5)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lite_world.config import ConfigMixin
from lite_world.errors import ConfigError

__all__ = [
    "CONTEXT_MODES",
    "ContextConfig",
    "ContextManagedAgent",
    "approx_tokens",
    "count_messages",
    "step_summary",
    "FORCE_ANSWER",
]

CONTEXT_MODES = ("none", "memory", "resum")
FORCE_ANSWER = (
    "You have reached the context limit. Stop calling tools now. Using what you have found so far, "
    "write your reasoning in <think></think> and then your final answer in <answer></answer>."
)
NO_ANSWER = "<answer>No answer found.</answer>"
_TOOL_OPEN, _TOOL_CLOSE = "<tool_response>", "</tool_response>"
_SEARCH_HEAD = re.compile(r"A Google search for '(.*?)' found \d+ results")
_TITLE = re.compile(r"^\d+\. \[([^\]]*)\]", re.M)
_VISIT = re.compile(
    r"The useful information in (\S+) for user goal .*?Summary: \n(.*?)(?:\n\n|$)", re.S
)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+")


def approx_tokens(text: str) -> int:
    """A tokenizer-free token estimate: ASCII text at 4 characters per token, other characters 1
    each.

    Example:
        >>> approx_tokens("abcdefgh"), approx_tokens("电话号码")
        (2, 4)
    """
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return -(-ascii_chars // 4) + (len(text) - ascii_chars)


def count_messages(
    messages: Sequence[Mapping[str, Any]], count: Callable[[str], int] = approx_tokens
) -> int:
    """Tokens of a chat: the contents plus 4 per message for the chat template's role markers."""
    return sum(count(str(m.get("content") or "")) + 4 for m in messages)


def _first_sentence(text: str, limit: int) -> str:
    text = " ".join(text.split())
    first = _SENTENCE.split(text, maxsplit=1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def step_summary(response: str, limit: int = 200) -> str:
    """One sentence for one tool response: the queries and top titles, the page and its summary, or
    its lead.

    Example:
        >>> step_summary("A Google search for 'Paris' found 2 results:\\n\\n## Web Results\\n"
        ...              "1. [Paris](u)\\n\\n2. [France](v)\\n")
        "Searched 'Paris': Paris; France."
    """
    body = response.replace(_TOOL_OPEN, "").replace(_TOOL_CLOSE, "").strip()
    queries = _SEARCH_HEAD.findall(body)
    if queries:
        titles = list(dict.fromkeys(_TITLE.findall(body)))[:3]
        return _first_sentence(
            f"Searched {', '.join(repr(q) for q in queries)}: {'; '.join(titles) or 'no results'}.",
            limit,
        )
    visits = _VISIT.findall(body)
    if visits:
        parts = [f"{u}: {_first_sentence(s, limit // max(1, len(visits)))}" for u, s in visits]
        return _first_sentence("Visited " + " | ".join(parts), limit)
    return _first_sentence(body, limit)


@dataclass(frozen=True)
class ContextConfig(ConfigMixin):
    """How :class:`ContextManagedAgent` keeps a conversation within its token budget.

    Example:
        >>> ContextConfig(mode="resum", budget_tokens=32768).trigger
        0.9
        >>> ContextConfig(mode="rag")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects ContextConfig.mode in ('none', 'memory', ...'rag'
    """

    mode: str = field(
        default="none",
        metadata={"help": "none | memory (summarise old tool steps) | resum (reset)."},
    )
    budget_tokens: int = field(
        default=65_536, metadata={"help": "Context budget in tokens (the paper: 64K)."}
    )
    trigger: float = field(
        default=0.9, metadata={"help": "Compress or reset at this fraction of the budget."}
    )
    keep_last: int = field(
        default=1, metadata={"help": "memory: latest tool responses kept verbatim."}
    )
    summary_chars: int = field(
        default=200, metadata={"help": "Length cap of one step's summary sentence."}
    )
    force_answer: bool = field(
        default=True, metadata={"help": "Force a final answer when over the budget."}
    )

    def __post_init__(self) -> None:
        if self.mode not in CONTEXT_MODES:
            raise ConfigError(
                f"Expects ContextConfig.mode in {CONTEXT_MODES}, actual: {self.mode!r}"
            )
        if not isinstance(self.budget_tokens, int) or self.budget_tokens < 256:
            raise ConfigError(
                "Expects ContextConfig.budget_tokens to be an int >= 256, actual: "
                f"{self.budget_tokens!r}"
            )
        if not 0.1 <= self.trigger <= 1.0:
            raise ConfigError(
                f"Expects ContextConfig.trigger in [0.1, 1], actual: {self.trigger!r}"
            )
        if self.keep_last < 0 or self.summary_chars < 20:
            raise ConfigError(
                f"Expects keep_last >= 0 and summary_chars >= 20, actual: {self.keep_last}, "
                f"{self.summary_chars}"
            )


def _is_tool(m: Mapping[str, Any]) -> bool:
    c = str(m.get("content") or "")
    return m.get("role") in ("user", "tool") and c.startswith(_TOOL_OPEN)


class ContextManagedAgent:
    """Wrap ``agent`` so that every turn it sees fits the budget of ``config``.

    Args:
        agent: any :class:`~lite_world.agents.base.Agent` (LLM agents read ``info["messages"]``).
        config: the policy.
        count: tokens of a string (default :func:`approx_tokens`; pass a tokenizer's for exact
        counts).
        summarizer: ``resum`` only: ``(question, messages since last reset, previous summary) ->
        summary``.
    """

    def __init__(
        self,
        agent: Any,
        config: ContextConfig | None = None,
        *,
        count: Callable[[str], int] = approx_tokens,
        summarizer: Callable[[str, list[dict[str, Any]], str], str] | None = None,
    ):
        self.inner, self.config, self.count, self.summarizer = (
            agent,
            config or ContextConfig(),
            count,
            summarizer,
        )
        self.stats: dict[str, Any] = {}
        self._question, self._summary, self._segment, self._done = "", "", 2, False

    @property
    def usage(self) -> Any:
        """The inner agent's token usage (LLM agents), else ``None``."""
        return getattr(self.inner, "usage", None)

    def reset(self, task: Mapping[str, Any]) -> None:
        self.inner.reset(task)
        self._question, self._summary, self._segment, self._done = (
            str(task.get("question", "")),
            "",
            2,
            False,
        )
        self.stats = {
            "mode": self.config.mode,
            "budget_tokens": self.config.budget_tokens,
            "turns": 0,
            "raw_tokens": [],
            "context_tokens": [],
            "compressed_steps": 0,
            "resets": 0,
            "forced": False,
        }

    def act(self, observation: str, info: Mapping[str, Any]) -> str:
        if self._done:  # the forced answer was given; the env should have ended the episode
            return NO_ANSWER
        messages = [dict(m) for m in (info.get("messages") or [])]
        self.stats["turns"] += 1
        self.stats["raw_tokens"].append(count_messages(messages, self.count))
        managed = self._manage(list(messages)) if messages else messages
        tokens = count_messages(managed, self.count)
        if self.config.force_answer and managed and tokens > self.config.budget_tokens:
            managed[-1] = {"role": "user", "content": FORCE_ANSWER}
            self.stats["context_tokens"].append(count_messages(managed, self.count))
            self.stats["forced"], self._done = True, True
            out = self.inner.act(FORCE_ANSWER, {**info, "messages": managed})
            if "<answer>" in out:  # a server may cut the closing tag (its stop string)
                return out if "</answer>" in out else out + "</answer>"
            return out + "\n" + NO_ANSWER
        self.stats["context_tokens"].append(tokens)
        return self.inner.act(observation, {**info, "messages": managed} if messages else info)

    # -- policies -----------------------------------------------------------------------
    def _manage(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.config.mode == "memory":
            return self._memory(messages)
        if self.config.mode == "resum":
            return self._resum(messages)
        return messages

    def _memory(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit = self.config.trigger * self.config.budget_tokens
        tool_ix = [i for i, m in enumerate(messages) if _is_tool(m)]
        old = tool_ix[: max(0, len(tool_ix) - self.config.keep_last)]
        total = count_messages(messages, self.count)
        compressed = 0
        for i in old:
            if total <= limit:
                break
            before = self.count(messages[i]["content"])
            line = step_summary(messages[i]["content"], self.config.summary_chars)
            short = f"{_TOOL_OPEN}\n[memory] {line}\n{_TOOL_CLOSE}"
            messages[i] = {**messages[i], "content": short}
            total -= before - self.count(short)
            compressed += 1
        self.stats["compressed_steps"] = max(self.stats["compressed_steps"], compressed)
        return messages

    def _resum(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        head = messages[:1] if messages and messages[0].get("role") == "system" else []
        view = head + [self._question_message()] + messages[self._segment :]
        if count_messages(view, self.count) >= self.config.trigger * self.config.budget_tokens:
            segment = messages[self._segment :]
            if self.summarizer is not None:
                self._summary = self.summarizer(self._question, segment, self._summary)
            else:
                steps = [
                    step_summary(m["content"], self.config.summary_chars)
                    for m in segment
                    if _is_tool(m)
                ]
                self._summary = " ".join(filter(None, [self._summary, *steps]))
            self._segment = len(messages)
            self.stats["resets"] += 1
            view = head + [self._question_message()]
        return view

    def _question_message(self) -> dict[str, str]:
        if not self._summary:
            return {"role": "user", "content": self._question}
        return {
            "role": "user",
            "content": (
                f"{self._question}\n\nYou have already researched this question. Summary of "
                "what you found so far:\n"
                f"<summary>\n{self._summary}\n</summary>\nContinue from this summary: search or "
                "visit pages for what is "
                "still missing, or answer if you can."
            ),
        }
