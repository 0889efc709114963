"""``LiteSearchConfig``: every option of ``LiteSearch-v0``, its default and its check, in one place.

``gym.make("LiteSearch-v0", **options)`` builds one from its keyword arguments, so a bad value
raises :class:`~lite_world.errors.ConfigError` at ``gym.make`` time. The rollout runner, the
verl adapter and the GRPO and SFT trainers embed a ``LiteSearchConfig`` instead of re-declaring
its fields, and their command lines get one flag per field from
:func:`lite_world.config.add_config_flags`.

``max_turns`` is the episode's turn limit. Truncation belongs to Gymnasium's ``TimeLimit``:
:func:`~lite_world.envs.factory.make_env` passes it as ``max_episode_steps``, and the
registration's default ``max_episode_steps`` is this field's default.

Example:
    >>> cfg = LiteSearchConfig(search_k=5, reward="f1")
    >>> cfg.search_k, cfg.max_turns, cfg.tools
    (5, 32, ('search', 'visit'))
    >>> LiteSearchConfig(search_mode="fuzzy")
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects LiteSearchConfig.search_mode in ('hybrid', 'dense', 'sparse'), actual: 'fuzzy'
    >>> LiteSearchConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lite_world.config import ConfigMixin, check_choice, check_int, check_number
from lite_world.errors import ConfigError
from lite_world.registration import DEFAULT_MAX_EPISODE_STEPS
from lite_world.reward.judge import JudgeConfig
from lite_world.reward.score import REWARD_KINDS
from lite_world.tools.prompts import DEFAULT_DATE, DEFAULT_TOOLS, check_date
from lite_world.tools.protocol import ACTION_FORMATS, ActionFormat
from lite_world.tools.search import SEARCH_STYLES
from lite_world.worlds import SEARCH_MODES

__all__ = ["LiteSearchConfig"]

_PROMPT_FILE_SUFFIXES = (".txt", ".md", ".prompt", ".jinja")


@dataclass(frozen=True)
class LiteSearchConfig(ConfigMixin):
    """Options of a ``LiteSearch-v0`` episode (the env's constructor keyword arguments)."""

    world: Any = field(
        default="demo",
        metadata={
            "help": "World: a directory, 'demo' (the bundled demo world), the http(s):// URL of "
            "`lite-world serve`, or a world object (see lite_world.open_world)."
        },
    )
    tasks: Any = field(
        default=None,
        metadata={
            "help": "Tasks: a JSONL / Parquet / MuSiQue JSON file or a list of task dicts "
            "(None: the demo tasks)."
        },
    )
    action_format: ActionFormat = field(
        default="tool_call",
        metadata={
            "help": "'tool_call' (LiteResearcher / Tongyi: <tool_call> JSON) or 'tags' "
            "(Search-R1: <search>q</search>; only the search tool is callable)."
        },
    )
    tools: tuple[str, ...] = field(
        default=DEFAULT_TOOLS,
        metadata={
            "help": "Tools the agent may call: registered names (lite_world.register_tool) or "
            "'module:Class' import paths of Tool subclasses."
        },
    )
    system_prompt: str | None = field(
        default=None,
        metadata={
            "help": "System prompt used verbatim instead of the built-in one: the text, or the "
            "path of a file holding it (e.g. the prompt a checkpoint was trained with)."
        },
    )
    date: str | None = field(
        default=DEFAULT_DATE,
        metadata={
            "help": "YYYY-MM-DD on the built-in prompt's 'Current date:' line (fixed, so episodes "
            "are deterministic); None: no date line."
        },
    )
    max_turns: int = field(
        default=DEFAULT_MAX_EPISODE_STEPS,
        metadata={
            "help": "Assistant turns per episode: Gymnasium's TimeLimit (max_episode_steps)."
        },
    )
    max_observation_chars: int = field(
        default=20_000,
        metadata={"help": "Characters of one tool response; longer ones are cut with a note."},
    )
    max_answer_chars: int = field(
        default=200, metadata={"help": "Longer answers get reward 0 (guard)."}
    )
    reward: str = field(
        default="em",
        metadata={
            "help": "Episode reward: 'em' (exact match over the aliases), 'f1' (token F1) or "
            "'judge' (an LLM judge with exact-match fallback)."
        },
    )
    judge_url: str | None = field(
        default=None,
        metadata={"help": "OpenAI-compatible judge base URL (…/v1); required with reward='judge'."},
    )
    judge_model: str | None = field(
        default=None, metadata={"help": "Judge model name; required with reward='judge'."}
    )
    judge_api_key: str | None = field(
        default=None,
        repr=False,
        metadata={"help": "Judge bearer token (default: $LITE_WORLD_JUDGE_API_KEY)."},
    )
    judge_timeout_s: float = field(
        default=30.0,
        metadata={"help": "Judge request timeout in seconds; exact match is used on failure."},
    )
    mask_sources: bool = field(
        default=True,
        metadata={"help": "Hide each task's mask_urls from search and visit (source masking)."},
    )
    search_k: int = field(default=10, metadata={"help": "Search results per query."})
    search_mode: str = field(
        default="hybrid",
        metadata={
            "help": "Retrieval of a local world: 'hybrid' (dense + BM25), 'dense' or 'sparse'."
        },
    )
    search_style: str = field(
        default="web",
        metadata={
            "help": "Search rendering: 'web' (LiteResearcher's evaluation format) or 'train' "
            "(its training-time local RAG format)."
        },
    )
    visit_max_chars: int = field(
        default=3000, metadata={"help": "Evidence characters per visited page."}
    )

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_choice(f"{name}.action_format", self.action_format, ACTION_FORMATS)
        check_choice(f"{name}.reward", self.reward, REWARD_KINDS)
        check_choice(f"{name}.search_mode", self.search_mode, SEARCH_MODES)
        check_choice(f"{name}.search_style", self.search_style, SEARCH_STYLES)
        check_int(f"{name}.max_turns", self.max_turns, low=1)
        check_int(f"{name}.max_observation_chars", self.max_observation_chars, low=100)
        check_int(f"{name}.max_answer_chars", self.max_answer_chars, low=1)
        check_int(f"{name}.search_k", self.search_k, low=1, high=100)
        check_int(f"{name}.visit_max_chars", self.visit_max_chars, low=100)
        check_number(f"{name}.judge_timeout_s", self.judge_timeout_s, low=0.0, low_open=True)
        if not isinstance(self.mask_sources, bool):
            raise ConfigError(
                f"Expects {name}.mask_sources to be a bool, actual: {self.mask_sources!r}"
            )
        if self.reward == "judge" and not (self.judge_url and self.judge_model):
            raise ConfigError(
                f"Expects {name}.judge_url (an OpenAI-compatible base URL such as "
                f"http://127.0.0.1:8000/v1) and judge_model with reward='judge', actual: "
                f"judge_url={self.judge_url!r}, judge_model={self.judge_model!r}. Set both, or use reward='em'."
            )
        for opt in ("judge_url", "judge_model", "judge_api_key"):
            value = getattr(self, opt)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"Expects {name}.{opt} to be None or a str, actual: {value!r}")
        if self.reward == "judge":
            self.judge_config()  # checks the URL's form; nothing is contacted
        self._check_world()
        self._check_tasks()
        self._check_tools()
        self._check_prompt()

    def _check_world(self) -> None:
        from lite_world.worlds import is_world

        w = self.world
        if w is None or is_world(w):
            return
        if isinstance(w, os.PathLike):
            object.__setattr__(self, "world", os.fspath(w))
        elif not isinstance(w, str) or not w.strip():
            raise ConfigError(
                "Expects LiteSearchConfig.world to be a directory, 'demo', an http(s):// URL or a world "
                f"object, actual: {w!r}"
            )

    def _check_tasks(self) -> None:
        t = self.tasks
        if t is None or isinstance(t, str):
            return
        if isinstance(t, os.PathLike):
            object.__setattr__(self, "tasks", os.fspath(t))
        elif isinstance(t, Sequence) and all(isinstance(x, Mapping) for x in t):
            object.__setattr__(self, "tasks", tuple(t))
        else:
            raise ConfigError(
                "Expects LiteSearchConfig.tasks to be None, a task file path or a list of task dicts, "
                f"actual: {type(t).__name__}"
            )

    def _check_tools(self) -> None:
        from lite_world.tools.registry import resolve_tool

        tools = self.tools
        if isinstance(tools, str):
            tools = (tools,)
        if (
            not isinstance(tools, (tuple, list))
            or not tools
            or not all(isinstance(x, str) for x in tools)
        ):
            raise ConfigError(
                f"Expects LiteSearchConfig.tools to be a non-empty list of tool names, actual: {tools!r}"
            )
        names = [resolve_tool(spec).name for spec in tools]  # raises ConfigError for unknown tools
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(
                f"Expects each tool once in LiteSearchConfig.tools, actual: {dupes} repeated"
            )
        if self.action_format == "tags" and "search" not in names:
            raise ConfigError(
                f"Expects 'search' among the tools with action_format='tags', actual: {names}"
            )
        object.__setattr__(self, "tools", tuple(tools))

    def _check_prompt(self) -> None:
        if self.date is not None:
            check_date(self.date)
        p = self.system_prompt
        if p is None:
            return
        if not isinstance(p, str) or not p.strip():
            raise ConfigError(
                f"Expects LiteSearchConfig.system_prompt to be None, text or a file path, actual: {p!r}"
            )
        if _looks_like_path(p) and not os.path.isfile(os.path.expanduser(p)):
            raise ConfigError(
                f"Expects LiteSearchConfig.system_prompt to name a readable file, actual: {p!r} does not exist. "
                "Pass the prompt text itself, or the path of an existing file."
            )

    def prompt_text(self) -> str | None:
        """The custom system prompt's text (read from its file when it names one), else ``None``.

        Example:
            >>> LiteSearchConfig(system_prompt="You answer questions.").prompt_text()
            'You answer questions.'
        """
        p = self.system_prompt
        if p is None:
            return None
        if _looks_like_path(p) or ("\n" not in p and os.path.isfile(os.path.expanduser(p))):
            with open(os.path.expanduser(p), encoding="utf-8") as fh:
                return fh.read()
        return p

    def judge_config(self) -> JudgeConfig:
        """The :class:`~lite_world.reward.judge.JudgeConfig` of ``reward="judge"``."""
        return JudgeConfig(
            base_url=self.judge_url or "",
            model=self.judge_model or "",
            api_key=self.judge_api_key,
            timeout_s=self.judge_timeout_s,
        )

    def env_options(self) -> dict[str, Any]:
        """The fields the env class takes (all but ``max_turns``, which is the ``TimeLimit``'s).

        Example:
            >>> "max_turns" in LiteSearchConfig().env_options(), LiteSearchConfig().env_options()["search_k"]
            (False, 10)
        """
        opts = {f: getattr(self, f) for f in self.__dataclass_fields__}
        opts.pop("max_turns")
        return opts


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and text.strip().lower().endswith(_PROMPT_FILE_SUFFIXES)
