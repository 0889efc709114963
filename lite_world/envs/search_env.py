"""``LiteSearch-v0``: a deep-research agent answers a question with Search and Browse tools.

Example:
    >>> import gymnasium as gym, lite_world
    >>> env = gym.make("LiteSearch-v0", search_k=3)
    >>> obs, info = env.reset(seed=0)
    >>> obs, r, term, trunc, info = env.step(
    ...     '<tool_call>{"name": "search", "arguments": {"query": ["Publix"]}}</tool_call>')
    >>> obs.startswith("<tool_response>"), info["tool"], info["error"]
    (True, 'search', None)
    >>> obs, r, term, trunc, info = env.step('<tool_call>{"name": "calc", "arguments": {}}</tool_call>')
    >>> info["error"], obs
    ('unknown_tool', '<tool_response>\\nError: Tool calc not found. Available tools: search, visit.\\n</tool_response>')
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import gymnasium as gym

from lite_world.envs.config import LiteSearchConfig
from lite_world.envs.spaces import AnyText
from lite_world.errors import ConfigError, TaskError
from lite_world.reward import LLMJudge, compute_reward
from lite_world.sanitize import clean_text, clean_value
from lite_world.tasks import Task, load_tasks
from lite_world.tools.base import CallContext, Tool
from lite_world.tools.prompts import episode_messages, render_prompt_text
from lite_world.tools.protocol import (
    ParsedAction,
    format_tool_response,
    parse_action,
    stop_sequences,
)
from lite_world.tools.registry import build_tools, resolve_tool
from lite_world.tools.search import SearchTool
from lite_world.worlds import WorldLike, check_world_spec, open_world

__all__ = ["LiteSearchEnv"]

MAX_ACTION_CHARS = 200_000
# info["error"] codes; the full text is info["error_message"] (and the observation)
_PARSE_ERRORS = {"error": "parse_error", "none": "no_action"}
_TRUNCATION_NOTE = "\n[... output truncated to {n} characters ...]"


class LiteSearchEnv(gym.Env[str, str]):
    """A question-answering episode in a lite virtual world.

    ## Description
    The agent receives a question and may call tools over a local snapshot of web pages:
    ``search`` (one or several queries; web-style result lists), ``visit`` (URLs and a goal;
    the evidence in the pages for that goal), and any tool registered with
    :func:`lite_world.register_tool` and named in ``tools``. The episode ends when the agent writes
    ``<answer>...</answer>``. This follows the LiteResearcher recipe (arXiv 2604.17931): RL in a
    local world whose tools behave like the live web.

    ## Action Space
    ``AnyText``: one assistant turn as a string. With ``action_format="tool_call"`` (default,
    LiteResearcher / Tongyi DeepResearch): optional ``<think>...</think>``, then
    ``<tool_call>{"name": "search", "arguments": {"query": ["q1", "q2"]}}</tool_call>`` or
    ``<tool_call>{"name": "visit", "arguments": {"url": "...", "goal": "..."}}</tool_call>`` or
    ``<answer>...</answer>``. With ``action_format="tags"`` (Search-R1): ``<search>q</search>`` or
    ``<answer>...</answer>``. Every string is a legal action: malformed turns produce an
    observation explaining the error. As in LiteResearcher's and Tongyi's inference code, a turn
    with both a call and an answer runs the call (the answer is ignored and a note says so);
    unlike them, a turn with neither does not end the episode: the observation asks for a call
    or an answer (``info["error"] == "no_action"``), so one bad turn does not cost the episode.

    ## Observation Space
    ``AnyText``. After ``reset``: the prompt (system prompt with the tool schemas, then the
    question) rendered as ``"system:\\n...\\n\\nuser:\\n..."``; the same conversation is in
    ``info["messages"]`` as OpenAI-style messages for chat-template policies. After ``step``:
    the tool output wrapped as ``<tool_response>\\n...\\n</tool_response>`` (``<information>`` for
    ``"tags"``), cut to ``max_observation_chars``; ``""`` when the episode has ended.

    ## Starting State
    A task drawn uniformly with ``self.np_random`` (or ``options={"task_id": ...}`` /
    ``options={"task": {...}}``).

    ## Rewards
    0 for every tool step. On ``<answer>``: 1/0 exact match over the aliases (``reward="em"``),
    token F1 (``"f1"``), or an LLM judge's binary verdict with exact-match fallback (``"judge"``).
    Reward-hacking guards give 0 to no answer, answers over 200 characters, hedges and lists of
    candidates.

    ## Episode End
    Terminated when the agent answers. Truncated by ``TimeLimit`` after ``max_episode_steps``
    steps (reward 0).

    ## Information
    ``reset``: ``task``, ``messages``, ``stop`` (stop strings for generating a turn).
    ``step``: ``turn``, ``action_kind`` (``tool``/``answer``/``error``/``none``), ``tool``,
    ``arguments`` (cleaned: JSON-safe, valid UTF-8), ``tool_latency_s``, ``error`` (``None`` or a
    code: ``parse_error``, ``no_action``, ``unknown_tool``, ``invalid_arguments``,
    ``world_corrupted``, ``service_error``, ``tool_error``), ``error_message`` (the text shown to the agent), ``note``,
    ``repeat_count`` (times this exact call was made this episode), ``totals`` (calls per tool,
    errors, observation and action characters), ``messages``; on answer also ``answer``,
    ``reward_info`` (em, f1, judge verdict and source).

    ## Arguments
    Every field of :class:`~lite_world.envs.config.LiteSearchConfig` (``world``, ``tasks``,
    ``action_format``, ``tools``, ``system_prompt``, ``reward``, ``search_k``, ...), as keyword
    arguments or as ``config=LiteSearchConfig(...)`` (keywords override it); a bad value raises
    :class:`~lite_world.errors.ConfigError` here, at ``gym.make`` time. The turn limit is
    Gymnasium's: ``gym.make("LiteSearch-v0", max_episode_steps=N)`` (default 32,
    ``LiteSearchConfig.max_turns``); a ``max_turns`` keyword raises and names it.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self, config: LiteSearchConfig | None = None, render_mode: str | None = None, **options: Any
    ):
        if "max_turns" in options:
            n = options["max_turns"]
            raise ConfigError(
                f"Expects the turn limit as Gymnasium's max_episode_steps, actual: max_turns={n!r}. Use "
                f'gym.make("LiteSearch-v0", max_episode_steps={n!r}) or '
                f"lite_world.make_env(LiteSearchConfig(max_turns={n!r}))."
            )
        if config is not None and not isinstance(config, LiteSearchConfig):
            raise ConfigError(
                f"Expects config to be a LiteSearchConfig, actual: {type(config).__name__}"
            )
        try:
            config = (
                (config or LiteSearchConfig()).replace(**options)
                if options
                else (config or LiteSearchConfig())
            )
        except TypeError as exc:  # an unknown keyword
            raise ConfigError(
                f"Expects LiteSearch-v0 options among LiteSearchConfig's fields, actual: {exc}"
            ) from None
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(
                f"Expects render_mode in {self.metadata['render_modes']} or None, actual: {render_mode!r}"
            )
        check_world_spec(config.world)  # a missing directory fails here, not at the first step
        self.config, self.render_mode = config, render_mode
        self.tasks: list[Task] = load_tasks(
            list(config.tasks) if isinstance(config.tasks, tuple) else config.tasks
        )
        self._task_index = {t.id: i for i, t in enumerate(self.tasks)}
        self._custom_prompt = config.prompt_text()
        self._tool_specs = ("search",) if config.action_format == "tags" else config.tools
        self._tool_names = tuple(resolve_tool(spec).name for spec in self._tool_specs)
        self._judge: LLMJudge | None = None
        self._tools: dict[str, Tool] | None = None  # built lazily, in the process that steps

        self.observation_space = AnyText(
            max_length=max(1 << 20, 4 * config.max_observation_chars), min_length=0
        )
        self.action_space = AnyText(max_length=MAX_ACTION_CHARS, min_length=0)

        self._task: Task | None = None
        self._messages: list[dict[str, str]] = []
        self._done = True
        self._reset_counters()

    # -- lazily opened backends -----------------------------------------------
    @property
    def world(self) -> WorldLike:
        """The episode's world (opened on first use, shared within the process)."""
        return open_world(self.config.world, search_mode=self.config.search_mode)

    @property
    def tools(self) -> dict[str, Tool]:
        """The callable tools by name (built on first use)."""
        if self._tools is None:
            self._tools = build_tools(self._tool_specs, lambda: self.world, self.config)
        return self._tools

    @property
    def judge(self) -> LLMJudge | None:
        if self._judge is None and self.config.reward == "judge":
            self._judge = LLMJudge(self.config.judge_config())
        return self._judge

    def _reset_counters(self) -> None:
        self._turn = 0
        self._repeats: Counter[str] = Counter()
        self._totals: dict[str, int] = {
            "tool_calls": 0,
            "errors": 0,
            "obs_chars": 0,
            "action_chars": 0,
        }
        self._totals.update({name: 0 for name in self._tool_names})

    # -- Gymnasium API ----------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "task" in options:
            task = Task.from_dict(options["task"])
        elif "task_id" in options:
            tid = str(options["task_id"])
            if tid not in self._task_index:
                raise TaskError(
                    f"Expects task_id among the env's {len(self.tasks)} tasks, actual: {tid!r}"
                )
            task = self.tasks[self._task_index[tid]]
        else:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        c = self.config
        self._task = task
        self._messages = episode_messages(
            task.question,
            c.action_format,
            c.date,
            tools=self._tool_specs,
            custom_prompt=self._custom_prompt,
        )
        self._done = False
        self._reset_counters()
        obs = render_prompt_text(self._messages)
        info = {
            "task": task.to_dict(),
            "messages": list(self._messages),
            "stop": stop_sequences(c.action_format),
        }
        return obs, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._done or self._task is None:
            msg = "The episode has ended: call reset() before step()."
            return (
                "",
                0.0,
                True,
                False,
                {"error": "episode_over", "error_message": msg, "action_kind": "none"},
            )
        self._turn += 1
        text = action if isinstance(action, str) else ""
        parsed = parse_action(action, self.config.action_format, max_chars=MAX_ACTION_CHARS)
        stored = text if len(text) <= MAX_ACTION_CHARS else text[:MAX_ACTION_CHARS] + "…"
        self._messages.append({"role": "assistant", "content": clean_text(stored)})
        self._totals["action_chars"] += len(text)
        info: dict[str, Any] = {
            "turn": self._turn,
            "action_kind": parsed.kind,
            "tool": None,
            "arguments": {},
            "tool_latency_s": 0.0,
            "error": None,
            "error_message": None,
            "note": parsed.note,
            "repeat_count": 0,
        }

        if parsed.kind == "answer":
            return self._finish(parsed, info)

        if parsed.kind == "tool":
            body, error = self._run_tool(parsed, info)
        else:
            body, error = (
                parsed.error or "Error: could not read the action.",
                _PARSE_ERRORS[parsed.kind],
            )
        if parsed.note and parsed.kind == "tool":
            body = f"{body}\n\n[Note] {parsed.note}"
        body = clean_text(body) or "Error: the tool returned nothing."
        if error:
            self._totals["errors"] += 1
            info["error"], info["error_message"] = error, body
        obs = format_tool_response(self._truncate(body), self.config.action_format)
        self._messages.append({"role": "user", "content": obs})
        self._totals["obs_chars"] += len(obs)
        info["totals"] = dict(self._totals)
        info["messages"] = list(self._messages)
        return obs, 0.0, False, False, info

    def planned_searches(self, action: str) -> tuple[SearchTool, list[str], frozenset[str]] | None:
        """The searches ``step(action)`` would run, without running them (or ``None``).

        ``(tool, queries, exclude)``: the search tool, its cleaned queries and the URLs the
        episode masks. Lets a caller batch the searches of many envs' next steps into one world
        call (:func:`lite_world.envs.prefetch.prefetch_searches`); never raises.
        """
        if self._done or self._task is None or not isinstance(action, str):
            return None
        parsed = parse_action(action, self.config.action_format, max_chars=MAX_ACTION_CHARS)
        if parsed.kind != "tool" or parsed.call is None:
            return None
        tool = self.tools.get(clean_text(parsed.call.name, max_chars=100))
        args = clean_value(parsed.call.arguments)
        if not isinstance(tool, SearchTool) or not isinstance(args, dict):
            return None
        query = args.get("query")
        raw = [query] if isinstance(query, str) else query
        if not isinstance(raw, list) or not all(isinstance(q, str) for q in raw):
            return None
        queries, _ = tool.queries({"query": raw})
        exclude = frozenset(self._task.mask_urls) if self.config.mask_sources else frozenset()
        return tool, [q for q in queries if q], exclude

    def _truncate(self, body: str) -> str:
        n = self.config.max_observation_chars
        return body if len(body) <= n else body[:n] + _TRUNCATION_NOTE.format(n=n)

    def _run_tool(self, parsed: ParsedAction, info: dict[str, Any]) -> tuple[str, str | None]:
        call = parsed.call
        assert call is not None
        tools = self.tools
        name = clean_text(call.name, max_chars=100)
        info["tool"] = name
        if name not in tools:
            return (
                f"Error: Tool {name} not found. Available tools: {', '.join(tools)}.",
                "unknown_tool",
            )
        tool = tools[name]
        args = clean_value(call.arguments)
        info["arguments"] = args
        key = json.dumps([name, args], sort_keys=True, ensure_ascii=False)
        self._repeats[key] += 1
        info["repeat_count"] = self._repeats[key]
        exclude = (
            frozenset(self._task.mask_urls)
            if (self.config.mask_sources and self._task)
            else frozenset()
        )
        t0 = time.perf_counter()
        result = tool.call_cleaned(args, CallContext(exclude=exclude))  # cleaned once, above
        info["tool_latency_s"] = time.perf_counter() - t0
        if result.error == "invalid_arguments":  # not a call, like a missing argument
            return result.text, result.error
        self._totals["tool_calls"] += 1
        self._totals[name] += 1
        if result.error in ("world_corrupted", "service_error", "tool_error"):
            return result.text, result.error
        return result.text, None

    def _finish(
        self, parsed: ParsedAction, info: dict[str, Any]
    ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        assert self._task is not None
        c = self.config
        res = compute_reward(
            parsed.answer,
            list(self._task.answers),
            question=self._task.question,
            kind=c.reward,
            judge=self.judge,
            max_answer_chars=c.max_answer_chars,
        )
        self._done = True
        info.update(
            answer=parsed.answer,
            reward_info={
                "em": res.em,
                "f1": res.f1,
                "judged": res.judged,
                "source": res.source,
                "reason": res.reason,
            },
            totals=dict(self._totals),
            messages=list(self._messages),
        )
        return "", float(res.reward), True, False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return render_prompt_text(self._messages) if self._messages else ""
