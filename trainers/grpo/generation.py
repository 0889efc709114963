"""KV-cached batched multi-turn generation: a turn prefills only the tokens added since the last.

The ``"generate"`` rollout path (:func:`trainers.grpo.rollout.generate_turns`) calls HF
``generate`` once per turn over each episode's whole context, so every turn re-encodes the
system prompt, the question, all earlier turns and all tool responses. :class:`EpisodeBatch`
instead keeps one ``DynamicCache`` over a batch of episodes for their whole life:

* a turn first prefills each episode's *pending* tokens (the observation appended since its
  last turn, plus the last sampled token, which was never fed), right-aligned in one block with
  left padding, then decodes one token per step for the whole batch;
* rows with the same context and cache layout (a group's episodes share their prompt; a peaked
  policy often repeats a sibling's turn) are prefilled once and their cache rows copied;
* ragged lengths are holes in the 2-D attention mask (left padding, padding fed to a row that
  already ended its turn, tokens sampled after a stop string and cut by the turn-ending rules);
  positions are ``cumsum(mask) - 1``, so each episode sees the contiguous positions a plain
  full-sequence forward gives it;
* each row stops on its own (end-of-turn token, a stop string, ``max_new_tokens``), with the
  same rules and the same sampling as ``generate`` (temperature and top-p warpers of
  ``transformers``, ``torch.multinomial`` over every row of the batch, torch's global RNG, so
  :class:`~trainers.grpo.rollout.SamplingRNG` drives it); log-probs and entropies are those of
  ``softmax(logits / temperature)``, as :class:`~trainers.grpo.rollout.Turn` records them;
* a row that ended its turn leaves the decode batch (its cache rows are set aside and come
  back, padded, for the next turn) while the others go on; parked rows still take part in
  the ``multinomial`` draw with a certain pad token, so the batch draws with the shape
  ``generate`` uses and the rows' draws match its own (checked on CPU by the tests);
* :meth:`EpisodeBatch.select` drops finished episodes from the cache (and the columns no
  remaining row uses), so they cost nothing in later turns.

With the episodes in one batch (``generation_batch_size`` >= episodes), both paths draw the
same random numbers for the same rows, so trajectories agree token for token whenever the
logits agree to within float noise (always when sampling is deterministic, e.g. tiny top-p).

Example:
    >>> from lite_world.agents.smollm import load_smollm2
    >>> from trainers.grpo.rollout import ChatTokens
    >>> model, tokenizer = load_smollm2()
    >>> chat = ChatTokens(tokenizer)
    >>> prompts = [chat.prompt_ids([{"role": "user", "content": q}]) for q in ("Hi.", "Say 1 2 3.")]
    >>> batch = EpisodeBatch(model, pad_token_id=2, size=2)
    >>> with torch.no_grad():
    ...     turns = batch.turn(prompts, tokenizer=tokenizer, stop=["<tool_response>"],
    ...                        eos_token_ids=[2], max_new_tokens=8, temperature=1.0, top_p=1e-9)
    >>> [len(t.token_ids) == len(t.logprobs) <= 8 for t in turns], batch.size
    ([True, True], 2)
    >>> batch.select([1])  # episode 0 ended: drop it from the cache
    >>> batch.size, batch.fed[0] >= len(prompts[1])
    (1, True)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lite_world._lazy import require
from lite_world.agents.turns import end_turn
from lite_world.envs.prefetch import prefetch_searches
from lite_world.errors import ConfigError
from trainers.grpo.rollout import ChatTokens, SamplingRNG, TokenTrajectory, Turn
from trainers.grpo.rollout import _advance as advance

torch = require("torch")
transformers = require("transformers", extra="llm")

__all__ = ["EpisodeBatch", "rollout_kv_cache"]

logger = logging.getLogger(__name__)


class EpisodeBatch:
    """The KV cache of a batch of episodes that take turns with an env (see the module doc).

    Row ``r`` holds one episode; :attr:`fed` ``[r]`` counts the leading tokens of its context
    whose keys and values are in the cache (in the cache's columns where :attr:`mask` is 1).

    Args:
        model: A causal LM that takes ``attention_mask``, ``position_ids``,
            ``past_key_values`` and ``logits_to_keep`` (any HF decoder-only model).
        pad_token_id: Token fed where a row has nothing to feed (always masked out).
        size: Episodes in the batch.
    """

    def __init__(self, model: Any, pad_token_id: int, size: int) -> None:
        if size < 1:
            raise ConfigError(f"Expects an EpisodeBatch of >= 1 episode, actual: {size}")
        self.model = model
        self.pad_token_id = int(pad_token_id)
        self.device = model.device
        self.cache: Any = None
        self.mask = torch.zeros((size, 0), dtype=torch.long, device=self.device)
        self.fed = [0] * size

    @property
    def size(self) -> int:
        """Episodes in the batch now (what the model's forward sees as the batch size)."""
        return len(self.fed)

    @property
    def width(self) -> int:
        """Cache columns (the longest context plus padding and holes)."""
        return int(self.mask.shape[1])

    def _forward(self, input_ids: Any, new_mask: Any) -> Any:
        """Feed ``(B, P)`` tokens (``new_mask`` 1 where real); the float32 logits of the last."""
        self.mask = torch.cat([self.mask, new_mask], dim=1)
        positions = (self.mask.cumsum(-1) - 1).clamp(min=0)[:, -input_ids.shape[1] :]
        out = self.model(
            input_ids=input_ids,
            attention_mask=self.mask,
            position_ids=positions,
            past_key_values=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.cache = out.past_key_values
        return out.logits[:, -1, :].to(dtype=torch.float32, copy=True)

    def _prefill(self, contexts: Sequence[Sequence[int]]) -> Any:
        """Feed each row's pending tokens, right-aligned; the logits of the next token."""
        if len(contexts) != self.size:
            raise ConfigError(
                f"Expects one context per episode of the batch ({self.size}), "
                f"actual: {len(contexts)}"
            )
        pending = [list(c[f:]) for c, f in zip(contexts, self.fed, strict=True)]
        if not all(pending):
            raise ConfigError(
                "Expects every context to have grown since the last turn, actual: rows "
                f"{[r for r, p in enumerate(pending) if not p]} have nothing new"
            )
        for row, p in enumerate(pending):
            self.fed[row] += len(p)
        firsts = self._first_copies(contexts)
        unique = sorted(set(firsts))
        if len(unique) < self.size:  # feed each distinct episode once, then copy its rows
            self._keep_rows(torch.tensor(unique, dtype=torch.long, device=self.device))
            logits = self._feed([pending[r] for r in unique])
            copies = torch.tensor([unique.index(f) for f in firsts], device=self.device)
            self._keep_rows(copies)
            return logits.index_select(0, copies)
        return self._feed(pending)

    def _feed(self, pending: Sequence[Sequence[int]]) -> Any:
        """Feed one block of ``pending`` tokens per row, right-aligned; the next logits."""
        width = max(len(p) for p in pending)
        ids = torch.full((len(pending), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(pending), width), dtype=torch.long)
        for row, p in enumerate(pending):
            ids[row, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[row, width - len(p) :] = 1
        return self._forward(ids.to(self.device), mask.to(self.device))

    def _first_copies(self, contexts: Sequence[Sequence[int]]) -> list[int]:
        """For each row, the first row with the same context and the same cache layout.

        Such rows (a group's episodes all start from one prompt, and a peaked policy often
        repeats its sibling's turn) have the same keys and values, so they are fed once.
        """
        seen: dict[tuple[tuple[int, ...], bytes], int] = {}
        mask = self.mask.cpu().numpy()
        return [seen.setdefault((tuple(c), mask[r].tobytes()), r) for r, c in enumerate(contexts)]

    def turn(
        self,
        contexts: Sequence[Sequence[int]],
        *,
        tokenizer: Any,
        stop: Sequence[str],
        eos_token_ids: Sequence[int],
        max_new_tokens: int,
        temperature: float,
        top_p: float = 1.0,
    ) -> list[Turn]:
        """Sample the next assistant turn of every episode; one :class:`Turn` per row.

        ``contexts[r]`` is row ``r``'s whole token sequence so far (its first :attr:`fed`
        tokens must be those already fed). Uses torch's global RNG, like ``generate``; call it
        under ``torch.no_grad()``.
        """
        logits = self._prefill(contexts)
        base = self.width  # generated token j of a row is fed at column base + j
        warpers = _warpers(temperature, top_p)
        eos = torch.tensor(sorted({int(i) for i in eos_token_ids}), device=self.device)
        window = 4 * max((len(s) for s in stop), default=0) + 4
        size = self.size
        tokens: list[list[int]] = [[] for _ in range(size)]
        logprobs: list[list[float]] = [[] for _ in range(size)]
        entropies: list[list[float]] = [[] for _ in range(size)]
        order = list(range(size))  # the rows in the decode batch, in cache order
        running = torch.ones(size, dtype=torch.bool, device=self.device)  # aligned with order
        parked: list[_Parked] = []
        for step in range(max_new_tokens):
            logp = torch.log_softmax(logits / temperature, dim=-1)
            entropy = -(logp.exp() * logp).sum(-1)
            probs = torch.softmax(warpers(None, logits), dim=-1)
            if len(order) < size:  # parked rows draw too (a certain pad), as in generate
                full = torch.zeros((size, probs.shape[1]), dtype=probs.dtype, device=self.device)
                full[:, self.pad_token_id] = 1.0
                full[torch.tensor(order, device=self.device)] = probs
                probs = full
            sampled = torch.multinomial(probs, num_samples=1).squeeze(1)
            if len(order) < size:
                sampled = sampled[torch.tensor(order, device=self.device)]
            chosen = logp.gather(1, sampled[:, None]).squeeze(1)
            live = running.nonzero().squeeze(1).tolist()
            sampled_list, chosen_list, entropy_list = (
                sampled.tolist(),
                chosen.tolist(),
                entropy.tolist(),
            )
            for k in live:
                r = order[k]
                tokens[r].append(sampled_list[k])
                logprobs[r].append(chosen_list[k])
                entropies[r].append(entropy_list[k])
            ended = torch.isin(sampled, eos) & running
            if stop:
                tails = tokenizer.batch_decode(
                    [tokens[order[k]][-window:] for k in live], skip_special_tokens=True
                )
                for k, tail in zip(live, tails, strict=True):
                    if any(s in tail for s in stop):
                        ended[k] = True
            running = running & ~ended
            if step + 1 == max_new_tokens or not bool(running.any()):
                break
            done = (~running).nonzero().squeeze(1).tolist()
            if len(done) >= max(1, len(order) // 4):  # take rows that ended their turn out
                keep = running.nonzero().squeeze(1)
                parked.append(self._park([order[k] for k in done], done))
                self._keep_rows(keep)
                order = [order[k] for k in keep.tolist()]
                running, sampled = running[keep], sampled[keep]
            feed = torch.where(running, sampled, torch.full_like(sampled, self.pad_token_id))
            logits = self._forward(feed[:, None], running.long()[:, None])
        if parked:
            self._unpark(parked, order)
        turns = []
        for r in range(size):
            end = end_turn(tokenizer, tokens[r], eos_token_ids, stop)
            kept = len(end.token_ids)
            fed = min(kept, len(tokens[r]) - 1)  # the last sampled token is never fed
            self.mask[r, base + fed :] = 0  # sampled after a stop string: not in the episode
            self.fed[r] += fed
            turns.append(
                Turn(
                    token_ids=end.token_ids,
                    logprobs=tuple(logprobs[r][:kept]),
                    entropy_sum=float(sum(entropies[r][:kept])),
                    text=end.text,
                    finish=end.finish,
                )
            )
        return turns

    def _park(self, rows: list[int], positions: list[int]) -> _Parked:
        """Copy out the cache and mask of the batch rows at ``positions`` (episode ``rows``)."""
        index = torch.tensor(positions, dtype=torch.long, device=self.device)
        layers = [(layer.keys[index], layer.values[index]) for layer in self.cache.layers]
        return _Parked(rows, layers, self.mask[index])

    def _keep_rows(self, index: Any) -> None:
        """Keep only the batch rows at ``index`` (repeats copy a row) in the cache and mask."""
        if self.cache is not None:
            self.cache.batch_select_indices(index)
        self.mask = self.mask.index_select(0, index)

    def _unpark(self, parked: list[_Parked], order: list[int]) -> None:
        """Put the parked rows back, padded to the current width, all rows in episode order."""
        width = self.width
        groups = [
            *parked,
            _Parked(order, [(x.keys, x.values) for x in self.cache.layers], self.mask),
        ]
        rows = [r for g in groups for r in g.rows]
        back = torch.tensor(sorted(range(len(rows)), key=rows.__getitem__), device=self.device)

        def pad(t: Any, dim: int) -> Any:
            missing = width - t.shape[dim]
            if missing == 0:
                return t
            shape = list(t.shape)
            shape[dim] = missing
            return torch.cat([t, t.new_zeros(shape)], dim=dim)

        for i, layer in enumerate(self.cache.layers):
            layer.keys = torch.cat([pad(g.layers[i][0], -2) for g in groups])[back]
            layer.values = torch.cat([pad(g.layers[i][1], -2) for g in groups])[back]
        self.mask = torch.cat([pad(g.mask, 1) for g in groups])[back]

    def select(self, rows: Sequence[int]) -> None:
        """Keep only ``rows`` (in that order), drop the others from the cache, and trim the
        leading columns that no kept row uses."""
        rows = list(rows)
        self.fed = [self.fed[r] for r in rows]
        if not rows:
            self.cache, self.mask = None, self.mask[:0]
            return
        index = torch.tensor(rows, dtype=torch.long, device=self.device)
        self.mask = self.mask.index_select(0, index)
        if self.cache is not None:
            self.cache.batch_select_indices(index)
        used = self.mask.any(dim=0).nonzero()
        first = int(used[0]) if used.numel() else self.width
        if first > 0 and self.cache is not None:
            self.mask = self.mask[:, first:]
            for layer in self.cache.layers:
                layer.keys = layer.keys[..., first:, :]
                layer.values = layer.values[..., first:, :]


@dataclass
class _Parked:
    """Batch rows taken out of the decode batch after they ended their turn: their episode
    rows, per-layer ``(keys, values)`` and attention mask, as they were then."""

    rows: list[int]
    layers: list[tuple[Any, Any]]
    mask: Any


def _warpers(temperature: float, top_p: float) -> Any:
    """The score warpers ``generate`` applies for these settings (``top_k=0``)."""
    warpers = transformers.LogitsProcessorList()
    if temperature != 1.0:
        warpers.append(transformers.TemperatureLogitsWarper(temperature))
    if top_p < 1.0:
        warpers.append(transformers.TopPLogitsWarper(top_p))
    return warpers


def rollout_kv_cache(
    model: Any,
    tokenizer: Any,
    envs: Sequence[Any],
    trajs: Sequence[TokenTrajectory],
    *,
    chat: ChatTokens,
    stop: Sequence[str],
    eos_ids: Sequence[int],
    pad_id: int,
    config: Any,
    rng: SamplingRNG,
    autocast: Callable[[], Any] | None = None,
) -> None:
    """Play the episodes of ``trajs`` (started: their prompts added) to the end, in place.

    Episodes are split into batches of ``config.generation_batch_size``; each batch keeps one
    :class:`EpisodeBatch` for all its turns: sample a turn for every live episode, run the
    turn's searches as one batched world call (:func:`~lite_world.envs.prefetch.prefetch_searches`),
    step each env (``trainers.grpo.rollout._advance``), drop the finished episodes.
    """
    amp = autocast if autocast is not None else contextlib.nullcontext
    size = config.generation_batch_size
    for start in range(0, len(trajs), size):
        live = list(range(start, min(start + size, len(trajs))))
        batch = EpisodeBatch(model, pad_id, len(live))
        while live:
            with rng.active(), amp(), torch.no_grad():
                turns = batch.turn(
                    [trajs[i].input_ids for i in live],
                    tokenizer=tokenizer,
                    stop=stop,
                    eos_token_ids=eos_ids,
                    max_new_tokens=config.max_new_tokens,
                    temperature=config.temperature,
                    top_p=config.top_p,
                )
            # the turn's searches: one encoder pass and one index search for all episodes
            start = time.perf_counter()
            prefetch_searches([envs[i] for i in live], [turn.text for turn in turns])
            share = (time.perf_counter() - start) / len(live)  # tool time, split evenly
            for i in live:
                trajs[i].env_seconds += share
            for i, turn in zip(live, turns, strict=True):
                advance(trajs[i], envs[i], turn, chat, eos_ids, config)
            keep = [r for r, i in enumerate(live) if not trajs[i].done]
            if len(keep) < len(live):
                batch.select(keep)
                live = [live[r] for r in keep]
