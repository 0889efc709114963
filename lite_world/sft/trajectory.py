"""A teacher trajectory as the filters see it: its messages, parsed turn by turn.

The input is one line of the rollout runner's ``trajectories.jsonl`` (any teacher agent:
an OpenAI-compatible endpoint, ``ScriptedAgent``, ...). Only ``messages`` is required; the
runner also records ``question``, ``answers``, ``reward``, ``reward_info`` and ``steps`` (the
env's verdict on each turn), which the filters use when present. Every assistant turn is
re-parsed with the env's own :func:`~lite_world.tools.protocol.parse_action`, so a trajectory
written by another framework in the same chat format is judged the same way.

Example:
    >>> traj = Trajectory.from_episode({
    ...     "task_id": "t1", "question": "Who wrote Dune?", "answers": ["Frank Herbert"],
    ...     "messages": [
    ...         {"role": "user", "content": "Who wrote Dune?"},
    ...         {"role": "assistant", "content": '<think>s</think><tool_call>{"name": "search", '
    ...                                          '"arguments": {"query": ["Dune"]}}</tool_call>'},
    ...         {"role": "user", "content": "<tool_response>\\nDune ...\\n</tool_response>"},
    ...         {"role": "assistant", "content": "<think>ok</think><answer>Frank Herbert</answer>"}]})
    >>> [t.kind for t in traj.turns], traj.final_answer, traj.tool_calls[0].name
    (['tool', 'answer'], 'Frank Herbert', 'search')
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lite_world.errors import TaskError
from lite_world.sft.records import ROLES
from lite_world.tools.protocol import ActionFormat, ParsedAction, ToolCall, parse_action

__all__ = ["AssistantTurn", "Trajectory", "read_trajectories"]

Message = dict[str, str]


@dataclass(frozen=True)
class AssistantTurn:
    """One assistant message, parsed.

    Attributes:
        index: Position of the message in ``Trajectory.messages``.
        content: The message text.
        parsed: What :func:`~lite_world.tools.protocol.parse_action` made of it.
        response: The tool response that followed it (the next non-assistant message), if any.
        error: The env's error code for this turn (``steps[i]["error"]``), or ``None``.
    """

    index: int
    content: str
    parsed: ParsedAction
    response: str | None = None
    error: str | None = None

    @property
    def kind(self) -> str:
        """``"tool"``, ``"answer"``, ``"error"`` or ``"none"`` (see :class:`ParsedAction`)."""
        return self.parsed.kind


@dataclass(frozen=True)
class Trajectory:
    """A teacher episode: its chat messages plus what is known about the task and its outcome.

    Attributes:
        id: ``task_id`` (with ``-s{sample}`` when the runner sampled several per task).
        messages: The conversation (``system``, ``user``, ``assistant`` ... messages).
        question: The task's question ('' when unknown).
        answers: Reference answers (empty when unknown).
        reward: The env's reward, or ``None`` when not recorded.
        reward_info: The env's reward details (``em``, ``judged``, ``source`` ...).
        turns: The assistant turns, parsed.
        episode: The original record, untouched.
    """

    id: str
    messages: tuple[Message, ...]
    question: str = ""
    answers: tuple[str, ...] = ()
    reward: float | None = None
    reward_info: Mapping[str, Any] = field(default_factory=dict)
    turns: tuple[AssistantTurn, ...] = ()
    episode: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_episode(
        cls, episode: Mapping[str, Any], action_format: ActionFormat = "tool_call"
    ) -> Trajectory:
        """Parse one rollout-runner record (or any dict with ``messages``).

        Raises:
            TaskError: ``messages`` is missing, not a list of ``{"role", "content"}`` dicts, or
                has no assistant message.
        """
        if not isinstance(episode, Mapping):
            raise TaskError(f"Expects a trajectory dict, actual: {type(episode).__name__}")
        raw = episode.get("messages")
        if not isinstance(raw, Sequence) or isinstance(raw, str):
            raise TaskError(
                f"Expects 'messages' (a list of {{'role', 'content'}} dicts) in the trajectory, actual: "
                f"{type(raw).__name__}. Write trajectories with `lite-world rollout` or the rollout runner."
            )
        messages = tuple(_message(m, i) for i, m in enumerate(raw))
        raw_steps = episode.get("steps")
        steps: Sequence[Any] = raw_steps if isinstance(raw_steps, Sequence) else []
        turns, n = [], 0
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            nxt = (
                messages[i + 1]["content"]
                if i + 1 < len(messages) and messages[i + 1]["role"] != "assistant"
                else None
            )
            step = steps[n] if n < len(steps) and isinstance(steps[n], Mapping) else {}
            turns.append(
                AssistantTurn(
                    i,
                    m["content"],
                    parse_action(m["content"], action_format),
                    nxt,
                    step.get("error"),
                )
            )
            n += 1
        if not turns:
            raise TaskError(
                "Expects at least one assistant message in the trajectory, actual: none"
            )
        answers = episode.get("answers") or ()
        if isinstance(answers, str):
            answers = (answers,)
        tid = str(episode.get("task_id", episode.get("id", "")))
        if episode.get("sample") is not None and "task_id" in episode:
            tid = f"{tid}-s{episode['sample']}"
        reward = episode.get("reward")
        return cls(
            id=tid,
            messages=messages,
            question=str(episode.get("question", "")),
            answers=tuple(str(a) for a in answers),
            reward=float(reward) if isinstance(reward, (int, float)) else None,
            reward_info=dict(episode.get("reward_info") or {}),
            turns=tuple(turns),
            episode=episode,
        )

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The parsed tool calls, in order (malformed calls excluded)."""
        return [t.parsed.call for t in self.turns if t.parsed.call is not None]

    @property
    def final_answer(self) -> str | None:
        """The answer of the last assistant turn, or ``None`` if it did not answer."""
        last = self.turns[-1]
        return last.parsed.answer if last.kind == "answer" else None


def _message(m: Any, i: int) -> Message:
    if (
        not isinstance(m, Mapping)
        or not isinstance(m.get("content"), str)
        or m.get("role") not in ROLES
    ):
        raise TaskError(
            f"Expects message {i} to be {{'role': one of {ROLES}, 'content': str}}, actual: {str(m)[:120]!r}"
        )
    return {"role": str(m["role"]), "content": m["content"]}


def read_trajectories(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a trajectory JSONL file (or of ``trajectories.jsonl`` in a run directory).

    Raises:
        TaskError: The file does not exist or a line is not a JSON object.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "trajectories.jsonl").write_text('{"messages": []}\\n\\n')
        >>> list(read_trajectories(d))
        [{'messages': []}]
    """
    p = Path(path)
    if p.is_dir():
        p = p / "trajectories.jsonl"
    if not p.is_file():
        raise TaskError(
            f"Expects a trajectory JSONL file (or a run directory with trajectories.jsonl), actual: {p} does not exist"
        )
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskError(
                    f"Expects one JSON object per line in {p}, actual: line {n}: {exc}"
                ) from exc
            if not isinstance(record, dict):
                raise TaskError(
                    f"Expects one JSON object per line in {p}, actual: line {n} is {type(record).__name__}"
                )
            yield record
