"""The four cleaning steps applied to the trajectories the filters keep (LiteResearcher recipe).

Each step is a pure function ``messages -> messages`` (new lists, inputs untouched):

* **C1** :func:`standard_system_prompt`: the system prompt becomes the one the env shows, so
  training and inference condition on the same text whatever prompt the teacher ran with.
* **C2** :func:`shorten_answer`: a final answer longer than 100 characters is replaced by the
  reference answer (teachers pad answers with explanations; the reward wants the span).
* **C3** :func:`merge_reminders`: a user message that is neither the question nor a tool
  response (a harness reminder such as "You have 3 turns left") is merged into the adjacent
  user turn, so turns alternate assistant / tool response as they do at inference.
* **C4** :func:`truncate_after_answer`: the conversation ends right after ``</answer>``.

Example:
    >>> msgs = [{"role": "system", "content": "old"}, {"role": "user", "content": "Q?"},
    ...         {"role": "assistant", "content": "<think>t</think><answer>A</answer> Hope this helps!"}]
    >>> cleaned = clean_messages(msgs, answers=["A"], action_format="tool_call")
    >>> cleaned[0]["content"].startswith("You are"), cleaned[-1]["content"]
    (True, '<think>t</think><answer>A</answer>')
"""

from __future__ import annotations

from collections.abc import Sequence

from lite_world.tools.prompts import DEFAULT_DATE, system_prompt
from lite_world.tools.protocol import ActionFormat

__all__ = [
    "CLEANING_STEPS",
    "clean_messages",
    "merge_reminders",
    "shorten_answer",
    "standard_system_prompt",
    "truncate_after_answer",
]

Message = dict[str, str]
CLEANING_STEPS: tuple[str, ...] = ("C1", "C2", "C3", "C4")
_RESPONSE_TAGS = ("<tool_response>", "<information>")


def standard_system_prompt(
    messages: Sequence[Message],
    action_format: ActionFormat = "tool_call",
    date: str | None = DEFAULT_DATE,
) -> list[Message]:
    """C1: replace (or insert) the system prompt with the env's standard one.

    Example:
        >>> out = standard_system_prompt([{"role": "user", "content": "Q?"}], date=None)
        >>> [m["role"] for m in out], out[0]["content"] == system_prompt("tool_call", None)
        (['system', 'user'], True)
    """
    prompt = {"role": "system", "content": system_prompt(action_format, date)}
    rest = [dict(m) for m in messages if m["role"] != "system"]
    return [prompt, *rest]


def shorten_answer(
    messages: Sequence[Message], answers: Sequence[str], max_chars: int = 100
) -> list[Message]:
    """C2: replace a final answer longer than ``max_chars`` characters with ``answers[0]``.

    Only the last ``<answer>...</answer>`` block of the last assistant message changes.

    Example:
        >>> long = "<answer>" + "It is Paris, the capital, which " * 5 + "</answer>"
        >>> shorten_answer([{"role": "assistant", "content": long}], ["Paris"])[0]["content"]
        '<answer>Paris</answer>'
        >>> shorten_answer([{"role": "assistant", "content": "<answer>Paris</answer>"}], ["x"])[0]["content"]
        '<answer>Paris</answer>'
    """
    out = [dict(m) for m in messages]
    last = next((i for i in range(len(out) - 1, -1, -1) if out[i]["role"] == "assistant"), None)
    if last is None or not answers:
        return out
    text = out[last]["content"]
    start = text.rfind("<answer>")
    end = text.find("</answer>", start) if start >= 0 else -1
    if start < 0 or end < 0:
        return out
    if len(text[start + len("<answer>") : end].strip()) > max_chars:
        out[last]["content"] = f"{text[: start + len('<answer>')]}{answers[0]}{text[end:]}"
    return out


def merge_reminders(messages: Sequence[Message]) -> list[Message]:
    """C3: merge reminder prompts into the adjacent user turn.

    A reminder is a user message after the question that is not a tool response. It is
    appended to the preceding user message when there is one (a tool response), else
    prepended to the following one; a reminder with no user message beside it is kept.
    Consecutive tool responses are merged the same way.

    Example:
        >>> msgs = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "call"},
        ...         {"role": "user", "content": "<tool_response>\\nr\\n</tool_response>"},
        ...         {"role": "user", "content": "Reminder: 3 turns left."},
        ...         {"role": "assistant", "content": "<answer>A</answer>"}]
        >>> out = merge_reminders(msgs)
        >>> len(out), out[2]["content"]
        (4, '<tool_response>\\nr\\n</tool_response>\\n\\nReminder: 3 turns left.')
    """
    out: list[Message] = []
    first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), None)
    question_at = None  # index of the question in ``out``: never merged into
    pending: list[str] = []  # reminders waiting for the next user turn
    for i, m in enumerate(messages):
        m = dict(m)
        if m["role"] == "user" and i != first_user:
            if out and out[-1]["role"] == "user" and len(out) - 1 != question_at:
                out[-1]["content"] = f"{out[-1]['content']}\n\n{m['content']}"
                continue
            is_response = m["content"].lstrip().startswith(_RESPONSE_TAGS)
            if not is_response and i + 1 < len(messages) and messages[i + 1]["role"] == "user":
                pending.append(m["content"])
                continue
        if pending and m["role"] == "user":
            m["content"] = "\n\n".join([*pending, m["content"]])
            pending = []
        if i == first_user:
            question_at = len(out)
        out.append(m)
    return out


def truncate_after_answer(messages: Sequence[Message]) -> list[Message]:
    """C4: cut the first assistant message with ``</answer>`` right after it; drop what follows.

    Example:
        >>> msgs = [{"role": "assistant", "content": "<answer>A</answer>\\nmore"}, {"role": "user", "content": "x"}]
        >>> truncate_after_answer(msgs)
        [{'role': 'assistant', 'content': '<answer>A</answer>'}]
    """
    out: list[Message] = []
    for m in messages:
        m = dict(m)
        end = m["content"].find("</answer>") if m["role"] == "assistant" else -1
        if end >= 0:
            m["content"] = m["content"][: end + len("</answer>")]
            out.append(m)
            break
        out.append(m)
    return out


def clean_messages(
    messages: Sequence[Message],
    *,
    answers: Sequence[str] = (),
    action_format: ActionFormat = "tool_call",
    date: str | None = DEFAULT_DATE,
    max_answer_chars: int = 100,
    steps: Sequence[str] = CLEANING_STEPS,
) -> list[Message]:
    """Apply the cleaning ``steps`` in the order C3, C4, C1, C2 (merging first, so truncation and
    the answer check see the final turns)."""
    out = [dict(m) for m in messages]
    if "C3" in steps:
        out = merge_reminders(out)
    if "C4" in steps:
        out = truncate_after_answer(out)
    if "C1" in steps:
        out = standard_system_prompt(out, action_format, date)
    if "C2" in steps:
        out = shorten_answer(out, answers, max_answer_chars)
    return out
