"""How an assistant turn ends, the same way for every path that samples a policy.

The policy ends its own turn by writing the end-of-turn token (EOT: the tokenizer's eos,
``<|im_end|>`` for SmolLM2 and Qwen), as vLLM, SGLang and verl let it. That token is a policy
token: trainers give it loss mask 1 and its log-prob is in the loss. The only stop strings are
the openings of a tool result (``<tool_response>``, ``<information>``;
:func:`lite_world.tools.protocol.stop_sequences`): a model that writes one is inventing the
result, so the turn is cut before it. A turn ends in one of three ways:

* ``"eos"``: the policy wrote the EOT token; it is kept as the turn's last token.
* ``"stop"``: the text reached a stop string (a hallucinated tool result); the tokens are cut
  before it and the harness closes the turn with the EOT token, mask 0 (the policy did not end
  the turn there, so the token is not trained).
* ``"length"``: the turn hit the per-turn token limit; all its tokens are kept, the env gets the
  text as it is (a call cut in half is an error observation), and the harness closes the turn
  with the EOT token, mask 0.

:func:`end_turn` applies these rules to sampled token ids; the env receives
:attr:`TurnEnd.text`, the decoding of the kept tokens, so the env and the trainer see the same
turn.

Example:
    >>> from lite_world.agents.smollm import load_smollm2
    >>> tok = load_smollm2()[1]
    >>> eot = end_of_turn_ids(tok)
    >>> eot
    (2,)
    >>> ids = tok("<answer>Paris</answer>", add_special_tokens=False)["input_ids"] + [2]
    >>> turn = end_turn(tok, ids, eot, ["<tool_response>"])
    >>> turn.finish, turn.text, turn.token_ids[-1] == 2, turn.closed_by_policy
    ('eos', '<answer>Paris</answer>', True, True)
    >>> text = "<think>x</think>\\n<tool_response>\\nmade up"
    >>> ids = tok(text, add_special_tokens=False)["input_ids"]
    >>> turn = end_turn(tok, ids, eot, ["\\n<tool_response>", "<tool_response>"])
    >>> turn.finish, turn.text, tok.decode(turn.token_ids)
    ('stop', '<think>x</think>', '<think>x</think>')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lite_world.agents.base import truncate_at_stop
from lite_world.errors import ConfigError
from lite_world.tools.protocol import complete_stop

__all__ = ["TurnEnd", "end_of_turn_ids", "end_turn"]

Finish = Literal["eos", "stop", "length"]


@dataclass(frozen=True)
class TurnEnd:
    """One sampled turn after the turn-ending rules (see the module docstring).

    ``token_ids`` are the policy's tokens to train (mask 1), the EOT token last when
    ``finish == "eos"``; ``text`` is the action for the env (special tokens dropped); ``matched``
    is the stop string that cut the turn (``finish == "stop"``).
    """

    token_ids: tuple[int, ...]
    text: str
    finish: Finish
    matched: str | None = None

    @property
    def closed_by_policy(self) -> bool:
        """Whether the policy wrote the EOT token itself (else the harness appends it, mask 0)."""
        return self.finish == "eos"


def end_of_turn_ids(tokenizer: Any, model: Any = None) -> tuple[int, ...]:
    """The token ids that end a turn: the model's generation-config eos, then the tokenizer's.

    Raises:
        ConfigError: neither the model nor the tokenizer defines an eos token.

    Example:
        >>> class Tok:
        ...     eos_token_id = 7
        >>> end_of_turn_ids(Tok())
        (7,)
    """
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    if not ids:
        raise ConfigError(
            "Expects the model or tokenizer to define an eos (end-of-turn) token, actual: none. "
            "Set tokenizer.eos_token to the chat template's end-of-turn token"
        )
    return tuple(int(i) for i in ids)


def end_turn(
    tokenizer: Any, token_ids: Sequence[int], eos_ids: Sequence[int], stop: Sequence[str]
) -> TurnEnd:
    """Apply the turn-ending rules to the ids a sampler generated for one turn.

    Tokens after the first EOT token are dropped (padding, or a sampler that went on). When the
    decoded text holds a stop string, the kept tokens are the longest prefix whose decoding is
    a prefix of the text before it (:func:`~lite_world.tools.protocol.complete_stop` decides
    whether a closing-tag stop string stays), so ``text`` always equals the decoded tokens.

    Args:
        tokenizer: Decodes the ids (``skip_special_tokens=True`` for the env's text).
        token_ids: The generated ids of the turn, as sampled.
        eos_ids: End-of-turn ids (:func:`end_of_turn_ids`).
        stop: Stop strings (the env's ``info["stop"]``).
    """
    eos = set(int(i) for i in eos_ids)
    ids = [int(t) for t in token_ids]
    eos_at = next((i for i, t in enumerate(ids) if t in eos), None)
    if eos_at is not None:
        ids = ids[: eos_at + 1]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    content, matched = truncate_at_stop(text, stop)
    if matched is not None:
        target = complete_stop(content, matched)
        kept = _longest_prefix(tokenizer, ids, target)
        return TurnEnd(
            tuple(kept), tokenizer.decode(kept, skip_special_tokens=True), "stop", matched
        )
    return TurnEnd(tuple(ids), text, "eos" if eos_at is not None else "length")


def _longest_prefix(tokenizer: Any, ids: list[int], target: str) -> list[int]:
    """The longest ``ids[:k]`` whose decoding is a prefix of ``target`` (binary search on k)."""
    low, high = 0, len(ids)
    while low < high:
        mid = (low + high + 1) // 2
        if target.startswith(tokenizer.decode(ids[:mid], skip_special_tokens=True)):
            low = mid
        else:
            high = mid - 1
    return ids[:low]
