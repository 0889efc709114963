"""``LiteSearch-v0``: a deep-research agent answers a question with Search and Browse tools.

Example:
    >>> import gymnasium as gym, lite_world
    >>> env = gym.make("LiteSearch-v0")                                   # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)                                     # doctest: +SKIP
    >>> obs, r, term, trunc, info = env.step(
    ...     '<tool_call>{"name": "search", "arguments": {"query": ["Publix"]}}</tool_call>')  # doctest: +SKIP
    >>> obs.startswith("<tool_response>")                                 # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
from gymnasium.wrappers import TimeLimit

from lite_world.envs.spaces import AnyText
from lite_world.envs.worlds import open_world
from lite_world.errors import ConfigError, TaskError
from lite_world.reward import REWARD_KINDS, JudgeConfig, LLMJudge, compute_reward
from lite_world.tasks import Task, load_tasks
from lite_world.tools.browse import VisitTool
from lite_world.tools.prompts import DEFAULT_DATE, build_messages, render_prompt_text
from lite_world.tools.protocol import ACTION_FORMATS, ParsedAction, format_tool_response, parse_action, stop_sequences
from lite_world.tools.search import SEARCH_STYLES, SearchTool

__all__ = ["LiteSearchEnv", "make_lite_search"]

MAX_ACTION_CHARS = 200_000
# info["error"] codes; the full text is info["error_message"] (and the observation)
_PARSE_ERRORS = {"error": "parse_error", "none": "no_action"}
_TRUNCATION_NOTE = "\n[... output truncated to {n} characters ...]"


class LiteSearchEnv(gym.Env[str, str]):
    """A question-answering episode in a lite virtual world.

    ## Description
    The agent receives a question and may call two tools over a local snapshot of web pages:
    ``search`` (one or several queries; web-style result lists) and ``visit`` (a URL and a goal;
    the evidence in the page for that goal). The episode ends when the agent writes
    ``<answer>...</answer>``. This follows the LiteResearcher recipe (arXiv 2604.17931): RL in a
    local world whose tools behave like the live web.

    ## Action Space
    ``AnyText``: one assistant turn as a string. With ``action_format="tool_call"`` (default,
    LiteResearcher / Tongyi DeepResearch): optional ``<think>...</think>``, then
    ``<tool_call>{"name": "search", "arguments": {"query": ["q1", "q2"]}}</tool_call>`` or
    ``<tool_call>{"name": "visit", "arguments": {"url": "...", "goal": "..."}}</tool_call>`` or
    ``<answer>...</answer>``. With ``action_format="tags"`` (Search-R1): ``<search>q</search>`` or
    ``<answer>...</answer>``. Every string is a legal action: malformed turns produce an
    observation explaining the error.

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
    Terminated when the agent answers. Truncated by ``TimeLimit`` after ``max_turns`` steps
    (reward 0).

    ## Information
    ``reset``: ``task``, ``messages``, ``stop`` (stop strings for generating a turn).
    ``step``: ``turn``, ``action_kind`` (``tool``/``answer``/``error``/``none``), ``tool``,
    ``arguments``, ``tool_latency_s``, ``error`` (``None`` or a code: ``parse_error``, ``no_action``,
    ``unknown_tool``, ``invalid_arguments``), ``error_message`` (the text shown to the agent), ``note``,
    ``repeat_count`` (times this exact call was made this episode), ``totals`` (calls per tool,
    errors, observation and action characters), ``messages``; on answer also ``answer``,
    ``reward_info`` (em, f1, judge verdict and source).

    ## Arguments
    ``world`` (directory, ``"demo"``/``None`` for the bundled demo world), ``tasks`` (JSONL /
    Parquet / MuSiQue JSON path or list of dicts; default: the demo tasks), ``action_format``,
    ``max_turns`` (32), ``max_observation_chars`` (20 000), ``reward`` (``"em"``), ``judge_url``,
    ``judge_model``, ``judge_api_key``, ``judge_timeout_s``, ``mask_sources`` (True), ``search_k``
    (10), ``search_mode`` (``"hybrid"``), ``search_style`` (``"web"``), ``visit_max_chars`` (3000),
    ``date`` (fixed prompt date, for determinism).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        world: str | None = None,
        tasks: str | Sequence[Mapping[str, Any]] | None = None,
        action_format: str = "tool_call",
        max_turns: int = 32,
        max_observation_chars: int = 20_000,
        reward: str = "em",
        judge_url: str | None = None,
        judge_model: str | None = None,
        judge_api_key: str | None = None,
        judge_timeout_s: float = 30.0,
        mask_sources: bool = True,
        search_k: int = 10,
        search_mode: str = "hybrid",
        search_style: str = "web",
        visit_max_chars: int = 3000,
        max_answer_chars: int = 200,
        date: str | None = DEFAULT_DATE,
        render_mode: str | None = None,
    ):
        if action_format not in ACTION_FORMATS:
            raise ConfigError(f"Expects action_format in {ACTION_FORMATS}, actual: {action_format!r}")
        if reward not in REWARD_KINDS:
            raise ConfigError(f"Expects reward in {REWARD_KINDS}, actual: {reward!r}")
        if reward == "judge" and not (judge_url and judge_model):
            raise ConfigError(
                "Expects judge_url (an OpenAI-compatible base URL such as http://127.0.0.1:8000/v1) and judge_model "
                f"with reward='judge', actual: judge_url={judge_url!r}, judge_model={judge_model!r}"
            )
        for name, value, low in (("max_turns", max_turns, 1), ("max_observation_chars", max_observation_chars, 100),
                                 ("search_k", search_k, 1), ("visit_max_chars", visit_max_chars, 100)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"Expects {name} to be an int >= {low}, actual: {value!r}")
        if search_style not in SEARCH_STYLES:
            raise ConfigError(f"Expects search_style in {SEARCH_STYLES}, actual: {search_style!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"Expects render_mode in {self.metadata['render_modes']} or None, actual: {render_mode!r}")

        self.world_arg, self.action_format, self.max_turns = world, action_format, max_turns
        self.max_observation_chars, self.reward_kind, self.mask_sources = max_observation_chars, reward, mask_sources
        self.search_k, self.search_mode, self.search_style, self.visit_max_chars = search_k, search_mode, search_style, visit_max_chars
        self.max_answer_chars, self.date, self.render_mode = max_answer_chars, date, render_mode
        self.tasks: list[Task] = load_tasks(tasks)
        self._task_index = {t.id: i for i, t in enumerate(self.tasks)}
        self._judge_config = (
            JudgeConfig(base_url=judge_url, model=judge_model, api_key=judge_api_key, timeout_s=judge_timeout_s)
            if reward == "judge" else None
        )
        self._judge: LLMJudge | None = None
        self._tools: dict[str, Any] | None = None  # opened lazily, in the process that steps

        self.observation_space = AnyText(max_length=max(1 << 20, 4 * max_observation_chars), min_length=0)
        self.action_space = AnyText(max_length=MAX_ACTION_CHARS, min_length=0)

        self._task: Task | None = None
        self._messages: list[dict[str, str]] = []
        self._done = True
        self._reset_counters()

    # -- lazily opened backends -----------------------------------------------
    @property
    def world(self) -> Any:
        return open_world(self.world_arg, search_mode=self.search_mode)

    def _get_tools(self) -> dict[str, Any]:
        if self._tools is None:
            w = self.world
            from lite_world.tools.browse import ExtractiveSummarizer

            self._tools = {
                "search": SearchTool(w, k=self.search_k, style=self.search_style),
                "visit": VisitTool(w, ExtractiveSummarizer(max_chars=self.visit_max_chars)),
            }
        return self._tools

    @property
    def judge(self) -> LLMJudge | None:
        if self._judge is None and self._judge_config is not None:
            self._judge = LLMJudge(self._judge_config)
        return self._judge

    def _reset_counters(self) -> None:
        self._turn = 0
        self._calls: Counter[str] = Counter()
        self._repeats: Counter[str] = Counter()
        self._totals = {"tool_calls": 0, "search": 0, "visit": 0, "errors": 0, "obs_chars": 0, "action_chars": 0}

    # -- Gymnasium API ----------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "task" in options:
            task = Task.from_dict(options["task"])
        elif "task_id" in options:
            tid = str(options["task_id"])
            if tid not in self._task_index:
                raise TaskError(f"Expects task_id among the env's {len(self.tasks)} tasks, actual: {tid!r}")
            task = self.tasks[self._task_index[tid]]
        else:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        self._task = task
        self._messages = build_messages(task.question, self.action_format, date=self.date)
        self._done = False
        self._reset_counters()
        obs = render_prompt_text(self._messages)
        info = {"task": task.to_dict(), "messages": list(self._messages), "stop": stop_sequences(self.action_format)}
        return obs, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._done or self._task is None:
            msg = "The episode has ended: call reset() before step()."
            return "", 0.0, True, False, {"error": "episode_over", "error_message": msg, "action_kind": "none"}
        self._turn += 1
        text = action if isinstance(action, str) else ""
        parsed = parse_action(action, self.action_format, max_chars=MAX_ACTION_CHARS)
        stored = text if len(text) <= MAX_ACTION_CHARS else text[:MAX_ACTION_CHARS] + "…"
        self._messages.append({"role": "assistant", "content": stored})
        self._totals["action_chars"] += len(text)
        info: dict[str, Any] = {
            "turn": self._turn, "action_kind": parsed.kind, "tool": None, "arguments": {},
            "tool_latency_s": 0.0, "error": None, "error_message": None, "note": parsed.note, "repeat_count": 0,
        }

        if parsed.kind == "answer":
            return self._finish(parsed, info)

        if parsed.kind == "tool":
            body, error = self._run_tool(parsed, info)
        else:
            body, error = parsed.error or "Error: could not read the action.", _PARSE_ERRORS[parsed.kind]
        if parsed.note and parsed.kind == "tool":
            body = f"{body}\n\n[Note] {parsed.note}"
        if error:
            self._totals["errors"] += 1
            info["error"], info["error_message"] = error, body
        obs = format_tool_response(self._truncate(body), self.action_format)
        self._messages.append({"role": "user", "content": obs})
        self._totals["obs_chars"] += len(obs)
        info["totals"] = dict(self._totals)
        info["messages"] = list(self._messages)
        return obs, 0.0, False, False, info

    def _truncate(self, body: str) -> str:
        n = self.max_observation_chars
        return body if len(body) <= n else body[:n] + _TRUNCATION_NOTE.format(n=n)

    def _run_tool(self, parsed: ParsedAction, info: dict[str, Any]) -> tuple[str, str | None]:
        call = parsed.call
        assert call is not None
        allowed = ("search",) if self.action_format == "tags" else ("search", "visit")
        info["tool"], info["arguments"] = call.name, call.arguments
        if call.name not in allowed:
            return f"Error: Tool {call.name} not found. Available tools: {', '.join(allowed)}.", "unknown_tool"
        key = json.dumps([call.name, call.arguments], sort_keys=True, ensure_ascii=False, default=str)
        self._repeats[key] += 1
        info["repeat_count"] = self._repeats[key]
        args = call.arguments
        exclude = self._task.mask_urls if (self.mask_sources and self._task) else ()
        tools = self._get_tools()
        t0 = time.perf_counter()
        if call.name == "search":
            if "query" not in args:
                return "[Search] Invalid request format: missing required argument 'query' (a list of query strings).", "invalid_arguments"
            result = tools["search"](args["query"], exclude=exclude)
        else:
            missing = [a for a in ("url", "goal") if a not in args]
            if missing:
                return f"[Visit] Invalid request format: missing required argument(s) {', '.join(repr(m) for m in missing)}.", "invalid_arguments"
            result = tools["visit"](args["url"], args["goal"], exclude=exclude)
        info["tool_latency_s"] = time.perf_counter() - t0
        if result.error == "invalid_arguments":  # not a call, like a missing argument above
            return result.text, result.error
        self._totals["tool_calls"] += 1
        self._totals[call.name] += 1
        return result.text, None

    def _finish(self, parsed: ParsedAction, info: dict[str, Any]) -> tuple[str, float, bool, bool, dict[str, Any]]:
        assert self._task is not None
        res = compute_reward(
            parsed.answer, list(self._task.answers), question=self._task.question, kind=self.reward_kind,
            judge=self.judge, max_answer_chars=self.max_answer_chars,
        )
        self._done = True
        info.update(
            answer=parsed.answer,
            reward_info={"em": res.em, "f1": res.f1, "judged": res.judged, "source": res.source, "reason": res.reason},
            totals=dict(self._totals),
            messages=list(self._messages),
        )
        return "", float(res.reward), True, False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return render_prompt_text(self._messages) if self._messages else ""


def make_lite_search(max_turns: int = 32, **kwargs: Any) -> gym.Env[str, str]:
    """Entry point of ``LiteSearch-v0``: the env wrapped in ``TimeLimit(max_turns)``."""
    env = LiteSearchEnv(max_turns=max_turns, **kwargs)
    return TimeLimit(env, max_episode_steps=max_turns)
