"""SFT data: conversation records, their token ids and assistant-only labels, padded batches.

A record is a dict with ``"messages"``: ``[{"role", "content"}]``, a system prompt, the question
as the user, then assistant turns and tool responses (as user turns), ending with an assistant
turn. Other keys (``id``, ``question``, ``answers``, ``meta``) are ignored.

**What is trained.** Only the assistant turns: each turn's content and the end-of-turn token that
closes it (``<|im_end|>`` in ChatML), so the model learns to stop. The system prompt, user turns,
tool responses and the template's assistant header (``<|im_start|>assistant\\n``) get label
-100. The template's glue after the end-of-turn token (ChatML's ``\\n``) is masked too: at
inference generation stops at the end-of-turn token and the rollout appends the glue itself (see
:class:`trainers.grpo.rollout.ChatTokens`).

**How.** The conversation is rendered with the tokenizer's chat template one assistant turn at a
time: the text before turn *i* is ``render(messages[:i], add_generation_prompt=True)`` and must be
a prefix of ``render(messages[:i + 1])`` (a template that rewrites earlier turns, e.g. one that
drops past reasoning, is refused). Each piece is tokenised on its own, so every assistant turn
starts at a token boundary exactly as when the model generates it after the prompt. For
SmolLM2's ChatML the concatenation equals tokenising the whole rendered text at once (tested).

Example:
    >>> from lite_world.agents.smollm import load_smollm2
    >>> tokenizer = load_smollm2()[1]
    >>> chat = encode_chat([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], tokenizer)
    >>> tokenizer.decode([t for t, y in zip(chat.input_ids, chat.labels) if y != IGNORE_INDEX])
    'Hello!<|im_end|>'
    >>> chat.num_tokens, chat.num_assistant_tokens
    (35, 3)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lite_world._lazy import require
from lite_world.config import check_int
from lite_world.errors import ConfigError, TaskError
from lite_world.sft.records import DATA_FILES, ROLES, validate_record
from lite_world.sft.records import read_records as load_records
from trainers.sft.config import TRUNCATIONS

__all__ = [
    "DATA_FILES",
    "IGNORE_INDEX",
    "ROLES",
    "EncodedChat",
    "SFTDataset",
    "collate",
    "encode_chat",
    "encode_records",
    "load_records",
    "pad_token_id",
    "validate_record",
]

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
"""Label of a token that carries no loss (the ``ignore_index`` of cross-entropy)."""


@dataclass(frozen=True)
class EncodedChat:
    """One conversation as token ids and labels of the same length (``-100``: no loss)."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    @property
    def num_tokens(self) -> int:
        """Tokens of the conversation."""
        return len(self.input_ids)

    @property
    def num_assistant_tokens(self) -> int:
        """Tokens that carry loss."""
        return sum(1 for y in self.labels if y != IGNORE_INDEX)


# -- tokens -------------------------------------------------------------------------------------
def encode_chat(
    messages: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    max_length: int | None = None,
    truncation: str = "right",
) -> EncodedChat | None:
    """Token ids of ``messages`` through the chat template, with loss on assistant tokens only.

    Messages after the last assistant turn are dropped (nothing would learn from them). The
    ids equal ``tokenizer(render(messages), add_special_tokens=False)`` for prefix-stable
    templates whose special tokens sit at the turn boundaries (ChatML).

    Args:
        messages: ``[{"role", "content"}]`` with at least one assistant turn.
        tokenizer: A transformers tokenizer with a chat template.
        max_length: Tokens kept at most (None: no limit).
        truncation: A longer conversation is cut to its first ``max_length`` tokens
            (``"right"``), skipped (``"drop"``: returns None) or refused (``"error"``).

    Raises:
        TaskError: no assistant turn, or too long with ``truncation="error"``.
        ConfigError: the tokenizer has no chat template or it is not prefix-stable; a bad
            ``truncation`` or ``max_length``.

    Example:
        >>> from lite_world.agents.smollm import load_smollm2
        >>> tok = load_smollm2()[1]
        >>> msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
        ...         {"role": "assistant", "content": "<answer>4</answer>"}]
        >>> chat = encode_chat(msgs, tok)
        >>> tok.convert_ids_to_tokens(chat.input_ids[-2:]), chat.labels[-2:]  # "<|im_end|>" trained, "\\n" not
        (['<|im_end|>', 'Ċ'], [2, -100])
        >>> encode_chat(msgs, tok, max_length=20, truncation="drop") is None
        True
        >>> encode_chat(msgs, tok, max_length=20).num_tokens, encode_chat(msgs, tok, max_length=20).truncated
        (20, True)
    """
    if truncation not in TRUNCATIONS:
        raise ConfigError(f"Expects truncation in {TRUNCATIONS}, actual: {truncation!r}")
    check_int("max_length", max_length, low=1, optional=True)
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "Expects a tokenizer with a chat template, actual: none. Set tokenizer.chat_template"
        )
    validate_record({"messages": messages}, where="messages")
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    eos = tokenizer.eos_token or ""

    ids: list[int] = []
    labels: list[int] = []

    def add(text: str, train: bool) -> None:
        if text:
            piece = _encode(tokenizer, text)
            ids.extend(piece)
            labels.extend(piece if train else [IGNORE_INDEX] * len(piece))

    done = ""  # the text encoded so far
    for i, message in enumerate(messages[: last + 1]):
        if message["role"] != "assistant":
            continue
        prefix = (
            _render(tokenizer, messages[:i], generation_prompt=True)
            if i
            else _generation_prompt(tokenizer)
        )
        full = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        for outer, inner in ((prefix, done), (full, prefix)):
            if not outer.startswith(inner):
                before = outer[max(0, len(inner) - 60) : len(inner)]
                raise ConfigError(
                    "Expects a prefix-stable chat template (rendering more messages only appends text), "
                    f"actual: message {i} changes the text before it: {inner[-60:]!r} became {before!r}"
                )
        turn = full[len(prefix) :]
        end = turn.rfind(eos) + len(eos) if eos and eos in turn else len(turn)
        add(prefix[len(done) :], train=False)
        add(turn[:end], train=True)
        add(turn[end:], train=False)  # template glue after the end-of-turn token (ChatML: "\n")
        done = full

    truncated = max_length is not None and len(ids) > max_length
    if truncated:
        if truncation == "error":
            raise TaskError(
                f"Expects a conversation of at most max_length={max_length} tokens, actual: {len(ids)} "
                "(raise max_length, or use truncation='right' or 'drop')"
            )
        if truncation == "drop":
            return None
        ids, labels = ids[:max_length], labels[:max_length]
    return EncodedChat(ids, labels, truncated)


def encode_records(
    records: Iterable[Mapping[str, Any]],
    tokenizer: Any,
    max_length: int | None = None,
    truncation: str = "right",
) -> list[EncodedChat]:
    """:func:`encode_chat` of every record's ``messages``; conversations dropped by truncation,
    or left without an assistant token by it, are skipped (and counted in a log line).

    Raises:
        TaskError: a record is malformed, or no conversation is left.
    """
    out: list[EncodedChat] = []
    dropped = empty = 0
    for index, record in enumerate(records):
        validate_record(record, where=f"record {index}")
        chat = encode_chat(record["messages"], tokenizer, max_length, truncation)
        if chat is None:
            dropped += 1
        elif chat.num_assistant_tokens == 0:
            empty += 1
        else:
            out.append(chat)
    if dropped or empty:
        logger.warning(
            "skipped %d conversations longer than max_length=%s and %d with no assistant token left "
            "after truncation",
            dropped,
            max_length,
            empty,
        )
    if not out:
        raise TaskError(
            f"Expects at least one conversation with assistant tokens within max_length={max_length}, "
            f"actual: none ({dropped} dropped, {empty} truncated before any assistant token)"
        )
    truncated = sum(c.truncated for c in out)
    if truncated:
        logger.info(
            "%d of %d conversations truncated to max_length=%s", truncated, len(out), max_length
        )
    return out


def _render(tokenizer: Any, messages: Sequence[Mapping[str, Any]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(
        list(messages), add_generation_prompt=generation_prompt, tokenize=False
    )


def _generation_prompt(tokenizer: Any) -> str:
    """The text before a first message that is an assistant turn (an empty-history prompt)."""
    try:
        return _render(tokenizer, [], generation_prompt=True)
    except Exception:  # noqa: BLE001 - some templates index messages[0]
        return ""


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


# -- batches ------------------------------------------------------------------------------------
class SFTDataset:
    """Encoded conversations as a map-style dataset (works with ``torch.utils.data.DataLoader``;
    pass ``collate_fn=dataset.collate``).

    Example:
        >>> ds = SFTDataset([EncodedChat([1, 2, 3], [-100, 2, 3]), EncodedChat([4, 5], [-100, 5])], pad_token_id=0)
        >>> len(ds), ds.collate([ds[0], ds[1]])["labels"].tolist()
        (2, [[-100, 2, 3], [-100, 5, -100]])
    """

    def __init__(self, chats: Sequence[EncodedChat], pad_token_id: int) -> None:
        self.chats = list(chats)
        self.pad_token_id = int(pad_token_id)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        tokenizer: Any,
        max_length: int | None = None,
        truncation: str = "right",
    ) -> SFTDataset:
        """Encode ``records`` (see :func:`encode_records`); pads with the tokenizer's pad token, else its eos."""
        return cls(
            encode_records(records, tokenizer, max_length, truncation), pad_token_id(tokenizer)
        )

    def __len__(self) -> int:
        return len(self.chats)

    def __getitem__(self, index: int) -> EncodedChat:
        return self.chats[index]

    def collate(self, chats: Sequence[EncodedChat]) -> dict[str, Any]:
        """:func:`collate` with this dataset's pad id."""
        return collate(chats, self.pad_token_id)


def pad_token_id(tokenizer: Any) -> int:
    """The tokenizer's pad id, else its eos id (SmolLM2's GGUF tokenizer has no pad token)."""
    value = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if value is None:
        raise ConfigError("Expects a tokenizer with a pad or eos token, actual: neither")
    return int(value)


def collate(chats: Sequence[EncodedChat], pad_token_id: int, device: Any = "cpu") -> dict[str, Any]:
    """Right-pad ``chats`` to the longest: ``input_ids``, ``attention_mask`` and ``labels``
    (``(B, T)`` long tensors; padding has label -100 and attention 0).

    Example:
        >>> b = collate([EncodedChat([5, 6, 7], [-100, 6, 7]), EncodedChat([8], [8])], pad_token_id=0)
        >>> b["input_ids"].tolist(), b["attention_mask"].tolist(), b["labels"].tolist()
        ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]], [[-100, 6, 7], [8, -100, -100]])
    """
    torch = require("torch")
    if not chats:
        raise ConfigError("Expects at least one conversation to collate, actual: none")
    width = max(c.num_tokens for c in chats)
    ids = torch.full((len(chats), width), pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(chats), width), dtype=torch.long)
    labels = torch.full((len(chats), width), IGNORE_INDEX, dtype=torch.long)
    for row, c in enumerate(chats):
        n = c.num_tokens
        ids[row, :n] = torch.tensor(c.input_ids, dtype=torch.long)
        attention[row, :n] = 1
        labels[row, :n] = torch.tensor(c.labels, dtype=torch.long)
    return {
        "input_ids": ids.to(device),
        "attention_mask": attention.to(device),
        "labels": labels.to(device),
    }
