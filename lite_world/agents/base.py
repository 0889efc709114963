"""The agent protocol, the generation settings shared by LLM agents, and stop-string handling.

An agent turns the env's observation into the next action (a string). LLM agents read the
chat so far from ``info["messages"]`` and return the next assistant turn.

Turns end the way LiteResearcher / Tongyi-DeepResearch agents are served: the model ends its
own turn with its end-of-turn token, and the only stop strings are the openings of a tool
result (``"\\n<tool_response>"``, ``"<tool_response>"``), cut together with everything after
them (see :mod:`lite_world.agents.turns`). A caller may still pass closing tags as stop strings
(a stop string that starts with ``"</"`` and ends with ``">"``, e.g. ``"</tool_call>"``): they
are kept at the end of the action so the env can parse it.

Example:
    >>> from lite_world.agents.base import GenerationConfig, truncate_at_stop
    >>> config = GenerationConfig(max_new_tokens=64)
    >>> config.stop
    ('\\n<tool_response>', '<tool_response>')
    >>> turn = '<tool_call>{"name": "search"}</tool_call>\\n<tool_response>x'
    >>> truncate_at_stop(turn, config.stop)
    ('<tool_call>{"name": "search"}</tool_call>', '\\n<tool_response>')
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from lite_world.errors import ConfigError
from lite_world.tools.protocol import stop_sequences

__all__ = [
    "DEFAULT_STOP",
    "Agent",
    "ChatAgent",
    "Completion",
    "GenerationConfig",
    "Generator",
    "Usage",
    "conversation_from",
    "is_closing_tag",
    "stop_from",
    "truncate_at_stop",
]

DEFAULT_STOP: tuple[str, ...] = tuple(stop_sequences("tool_call"))
"""Stop strings of the ``tool_call`` action format: only a hallucinated ``<tool_response>``."""

Message = Mapping[str, Any]


@runtime_checkable
class Agent(Protocol):
    """Anything that can play an episode of ``LiteSearch-v0``.

    ``reset`` is called with the task record at the start of each episode; ``act`` with each
    observation and the step's ``info``, and returns the action string.

    Example:
        >>> class Echo:
        ...     def reset(self, task): pass
        ...     def act(self, observation, info): return "<answer>" + observation + "</answer>"
        >>> isinstance(Echo(), Agent)
        True
    """

    def reset(self, task: Mapping[str, Any]) -> None:
        """Start an episode for ``task`` (forget per-episode state)."""
        ...

    def act(self, observation: str, info: Mapping[str, Any]) -> str:
        """Return the next action given the latest observation and the env's ``info``."""
        ...


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings shared by :class:`TransformersAgent` and :class:`OpenAIAgent`.

    Example:
        >>> GenerationConfig(temperature=0.7, top_p=0.95).do_sample
        True
        >>> GenerationConfig(stop=["</answer>"]).stop  # lists are stored as tuples
        ('</answer>',)
        >>> GenerationConfig(max_new_tokens=0)
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects GenerationConfig.max_new_tokens >= 1, actual: 0
    """

    max_new_tokens: int = field(
        default=512, metadata={"help": "Maximum number of tokens generated per assistant turn."}
    )
    temperature: float = field(
        default=0.0,
        metadata={"help": "Sampling temperature; 0 means greedy decoding (deterministic)."},
    )
    top_p: float = field(
        default=1.0, metadata={"help": "Nucleus-sampling mass in (0, 1]; 1 disables it."}
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seed of the sampler (used only when temperature > 0)."},
    )
    stop: tuple[str, ...] = field(
        default=DEFAULT_STOP,
        metadata={
            "help": "Stop strings (default: a hallucinated '<tool_response>'; the model ends its "
            "turn with its end-of-turn token). Closing tags such as '</tool_call>' are kept in "
            "the returned text, other stop strings are cut. info['stop'] from the env "
            "overrides them."
        },
    )

    def __post_init__(self) -> None:
        if isinstance(self.stop, str) or not isinstance(self.stop, Sequence):
            raise ConfigError(
                f"Expects GenerationConfig.stop to be a sequence of strings, actual: {self.stop!r}"
            )
        object.__setattr__(self, "stop", tuple(self.stop))
        if not all(isinstance(s, str) and s for s in self.stop):
            raise ConfigError(
                f"Expects GenerationConfig.stop to hold non-empty strings, actual: {self.stop!r}"
            )
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int):
            raise ConfigError(
                "Expects GenerationConfig.max_new_tokens to be an int, "
                f"actual: {self.max_new_tokens!r}"
            )
        if self.max_new_tokens < 1:
            raise ConfigError(
                f"Expects GenerationConfig.max_new_tokens >= 1, actual: {self.max_new_tokens}"
            )
        if not self.temperature >= 0.0:
            raise ConfigError(
                f"Expects GenerationConfig.temperature >= 0, actual: {self.temperature}"
            )
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"Expects GenerationConfig.top_p in (0, 1], actual: {self.top_p}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"Expects GenerationConfig.seed to be an int, actual: {self.seed!r}")

    @property
    def do_sample(self) -> bool:
        """Whether decoding samples (``temperature > 0``) rather than taking the argmax."""
        return self.temperature > 0.0

    def replace(self, **changes: Any) -> GenerationConfig:
        """Return a copy with ``changes`` applied (and validated).

        Example:
            >>> GenerationConfig().replace(stop=()).stop
            ()
        """
        return dataclasses.replace(self, **changes)


@dataclass
class Usage:
    """Token counts accumulated by an LLM agent over its lifetime.

    Example:
        >>> usage = Usage()
        >>> usage.add(prompt_tokens=10, completion_tokens=3)
        >>> usage
        Usage(requests=1, prompt_tokens=10, completion_tokens=3)
        >>> usage.total_tokens
        13
    """

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one generation request."""
        self.requests += 1
        self.prompt_tokens += int(prompt_tokens)
        self.completion_tokens += int(completion_tokens)


@dataclass(frozen=True)
class Completion:
    """One generated assistant turn.

    ``content`` is the text before the stop string (what an OpenAI server returns), ``stop_reason``
    the stop string that ended generation (``None`` when it ended on the end-of-sequence token or
    the token limit). ``text`` is the action: ``content`` plus the stop string when it is a
    closing tag.

    Example:
        >>> c = Completion("<answer>Paris", "stop", "</answer>", 12, completion_tokens=5)
        >>> c.text
        '<answer>Paris</answer>'
        >>> Completion("Let me", "stop", "<tool_response>", 12, 3).text
        'Let me'
    """

    content: str
    finish_reason: Literal["stop", "length"]
    stop_reason: str | None
    prompt_tokens: int
    completion_tokens: int

    @property
    def text(self) -> str:
        """The action string: ``content`` with a matched closing tag re-appended."""
        if self.stop_reason is not None and is_closing_tag(self.stop_reason):
            return self.content + self.stop_reason
        return self.content


class Generator(Protocol):
    """A chat model that completes a batch of conversations (what the OpenAI server wraps)."""

    config: GenerationConfig

    def complete_batch(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig | None = None
    ) -> list[Completion]:
        """Generate the next assistant turn of each conversation."""
        ...


def is_closing_tag(stop: str) -> bool:
    """Whether ``stop`` is a closing tag, kept at the end of the generated text.

    Example:
        >>> is_closing_tag("</tool_call>"), is_closing_tag("<tool_response>"), is_closing_tag("\\n")
        (True, False, False)
    """
    return stop.startswith("</") and stop.endswith(">") and len(stop) > 3


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, str | None]:
    """Cut ``text`` at the first stop string; return ``(content, matched_stop)``.

    ``content`` is the text before the earliest occurrence of any stop string (the longest one
    wins when two start at the same index) and excludes the stop string itself, as an OpenAI
    server returns it; ``matched_stop`` is ``None`` when no stop string occurs.
    :attr:`Completion.text` re-appends closing tags.

    Example:
        >>> truncate_at_stop("<think>x</think><answer>42</answer>\\n<answer>", ["</answer>"])
        ('<think>x</think><answer>42', '</answer>')
        >>> truncate_at_stop("call\\n<tool_response>", ["<tool_response>", "\\n<tool_response>"])
        ('call', '\\n<tool_response>')
        >>> truncate_at_stop("no stop here", ["</answer>"])
        ('no stop here', None)
    """
    best_index, best_stop = len(text) + 1, None
    for s in stop:
        if not s:
            continue
        index = text.find(s)
        if index == -1:
            continue
        if index < best_index or (index == best_index and best_stop and len(s) > len(best_stop)):
            best_index, best_stop = index, s
    if best_stop is None:
        return text, None
    return text[:best_index], best_stop


def conversation_from(observation: str, info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chat an LLM agent should continue: ``info["messages"]``, else one user message.

    Example:
        >>> conversation_from("What is 2+2?", {})
        [{'role': 'user', 'content': 'What is 2+2?'}]
        >>> conversation_from("ignored", {"messages": [{"role": "user", "content": "Hi"}]})
        [{'role': 'user', 'content': 'Hi'}]
    """
    messages = info.get("messages")
    if messages is None:
        return [{"role": "user", "content": observation}]
    return [dict(m) for m in messages]


def stop_from(info: Mapping[str, Any], config: GenerationConfig) -> GenerationConfig:
    """``config`` with the env's ``info["stop"]`` (when given) as stop strings.

    Example:
        >>> stop_from({"stop": ["</answer>"]}, GenerationConfig()).stop
        ('</answer>',)
        >>> stop_from({}, GenerationConfig()).stop == DEFAULT_STOP
        True
    """
    stop = info.get("stop")
    if stop is None or tuple(stop) == config.stop:
        return config
    return config.replace(stop=tuple(stop))


class ChatAgent:
    """Shared ``reset`` / ``act`` / ``generate_batch`` of LLM agents built on ``complete_batch``.

    Subclasses call ``super().__init__(config)`` and implement :meth:`complete_batch`, which
    must honour ``config.seed`` exactly (an OpenAI ``seed``). ``act`` and ``generate_batch``
    give each conversation its own sampling seed: the n-th conversation an agent generates for
    (counting from 0) uses ``config.seed + n``, so a run is reproducible yet repeated prompts
    get different samples. With ``temperature == 0`` seeds do not matter.

    Example:
        >>> class Parrot(ChatAgent):
        ...     def complete_batch(self, conversations, config=None):
        ...         return [Completion(c[-1]["content"], "stop", None, 1, 1) for c in conversations]
        >>> Parrot(GenerationConfig()).act("Hello", {})
        'Hello'
    """

    def __init__(self, config: GenerationConfig | None = None) -> None:
        config = GenerationConfig() if config is None else config
        if not isinstance(config, GenerationConfig):
            raise ConfigError(
                f"Expects config to be a GenerationConfig, actual: {type(config).__name__}"
            )
        self.config = config
        self.usage = Usage()
        self.task: Mapping[str, Any] | None = None
        self._draws = 0
        self._draws_lock = threading.Lock()

    def complete_batch(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig | None = None
    ) -> list[Completion]:
        """Generate the next assistant turn of each conversation (implemented by subclasses)."""
        raise NotImplementedError

    def reset(self, task: Mapping[str, Any]) -> None:
        """Start an episode. LLM agents keep no per-episode state: the chat is in ``info``."""
        self.task = task

    def act(self, observation: str, info: Mapping[str, Any]) -> str:
        """Generate the next assistant turn of ``info["messages"]`` and return its text."""
        config = self._next_seed(stop_from(info, self.config), 1)
        return self.complete_batch([conversation_from(observation, info)], config)[0].text

    def generate_batch(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig | None = None
    ) -> list[str]:
        """Generate the next assistant turn of each conversation; return their texts.

        ``config`` defaults to the agent's; pass one to override e.g. the stop strings.
        """
        config = self._next_seed(config or self.config, len(conversations))
        return [c.text for c in self.complete_batch(conversations, config)]

    def _next_seed(self, config: GenerationConfig, n: int) -> GenerationConfig:
        if not config.do_sample:
            return config
        with self._draws_lock:
            seeded = config.replace(seed=config.seed + self._draws)
            self._draws += n
        return seeded
