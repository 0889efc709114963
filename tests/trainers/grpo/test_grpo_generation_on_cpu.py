"""KV-cached multi-turn generation (``GRPOConfig.generation="kv_cache"``) against ``generate``.

Real SmolLM2, the tiny world: the cached path gives the same trajectories as the HF
``generate`` path for the same seed, its log-probs are the trainer's full-sequence recompute,
and finished episodes leave the batch the model sees.
"""

from __future__ import annotations

import pytest
import torch

from lite_world.errors import ConfigError
from trainers.grpo.config import GRPOConfig
from trainers.grpo.generation import EpisodeBatch
from trainers.grpo.rollout import ChatTokens, SamplingRNG, generate_turns, make_envs, rollout
from trainers.grpo.trainer import GRPOTrainer


class _BatchSizes:
    """A forward pre-hook on the model that records the shape of every forward's input ids."""

    def __init__(self, model):
        self.shapes: list[tuple[int, int]] = []
        self.handle = model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.shapes.append(tuple(ids.shape))

    @property
    def sizes(self) -> list[int]:
        return [b for b, _ in self.shapes]

    def turns(self) -> list[list[int]]:
        """Batch sizes per turn: a prefill (many tokens per row), then one-token decode steps."""
        out: list[list[int]] = []
        for b, width in self.shapes:
            if width > 1 or not out:
                out.append([])
            out[-1].append(b)
        return out

    def remove(self) -> None:
        self.handle.remove()


def _policy_turns(traj):
    """Maximal runs of mask-1 tokens: [(1, ids), ...], one per turn."""
    out = []
    for i, (token, m) in enumerate(zip(traj.input_ids, traj.loss_mask, strict=True)):
        if m and (i == 0 or not traj.loss_mask[i - 1]):
            out.append((1, []))
        if m:
            out[-1][1].append(token)
    return out


def _config(world, generation, **kwargs):
    flat = dict(
        world=str(world),
        action_format="tags",
        tools=("search",),
        search_k=2,
        max_observation_chars=300,
        tasks_per_step=2,
        group_size=2,
        max_turns=3,
        max_new_tokens=24,
        generation=generation,
    )
    flat.update(kwargs)
    return GRPOConfig.from_flat(**flat)


def _tasks(one_hop_tasks):
    """Two tasks whose prompts differ in length (ragged left padding)."""
    by_length = sorted(one_hop_tasks, key=lambda t: len(t.question))
    return [by_length[0], by_length[-1]]


def _rollout(smollm2, world, tasks, generation, **kwargs):
    model, tokenizer = smollm2
    config = _config(world, generation, **kwargs)
    envs = make_envs(config, tasks, len(tasks) * config.group_size)
    return rollout(
        model,
        tokenizer,
        envs,
        tasks,
        group_size=config.group_size,
        config=config,
        rng=SamplingRNG(7, "cpu"),
        seed=3,
    ), config


def test_config_generation_choices():
    assert GRPOConfig().generation == "kv_cache"
    assert GRPOConfig(generation="generate").generation == "generate"
    with pytest.raises(ConfigError, match="Expects GRPOConfig.generation in"):
        GRPOConfig(generation="vllm")


def test_kv_cache_rollout_equals_generate_and_recompute(smollm2, tiny_world, one_hop_tasks):
    """Same seed, same draws: token-for-token the same multi-turn trajectories (ids, masks,
    turn ends, rewards) as ``generate``; log-probs equal the trainer's recompute; the batch
    the model sees shrinks as episodes finish."""
    model, tokenizer = smollm2
    tasks = _tasks(one_hop_tasks)
    chat = ChatTokens(tokenizer)
    prompts = [len(chat.prompt_ids([{"role": "user", "content": t.question}])) for t in tasks]
    assert prompts[0] != prompts[1]  # ragged
    reference, _ = _rollout(smollm2, tiny_world, tasks, "generate")
    sizes = _BatchSizes(model)
    try:
        cached, config = _rollout(smollm2, tiny_world, tasks, "kv_cache")
    finally:
        sizes.remove()

    assert max(t.turns for t in cached) >= 2  # multi-turn: observations were prefilled
    for a, b in zip(reference, cached, strict=True):
        assert b.input_ids == a.input_ids
        assert b.loss_mask == a.loss_mask
        assert (b.turns, b.reward, b.answered, b.truncated) == (
            a.turns,
            a.reward,
            a.answered,
            a.truncated,
        )
        assert [m["content"] for m in b.messages] == [m["content"] for m in a.messages]
        assert b.sampler_logprobs == pytest.approx(a.sampler_logprobs, abs=1e-4)
        assert b.entropy_sum == pytest.approx(a.entropy_sum, abs=1e-3)
    assert len({tuple(t.input_ids) for t in cached}) > 1  # sampled, not all alike

    # the batch the model sees: each turn's prefill feeds each distinct episode once (a group's
    # episodes share their prompt), its decoding starts with the live episodes (finished ones
    # are dropped), and rows that ended their turn leave the decode steps
    live = [sum(t.turns >= k for t in cached) for k in range(1, max(t.turns for t in cached) + 1)]
    turns = sizes.turns()
    distinct_prompts = len(
        {tuple(chat.prompt_ids([{"role": "user", "content": t.question}])) for t in tasks}
    )
    assert turns[0][0] == distinct_prompts < live[0]  # 2 tasks x group of 2: 2 prefill rows
    assert all(steps[0] <= n for steps, n in zip(turns, live, strict=True))
    assert [steps[1] for steps in turns if len(steps) > 1] == [
        n for steps, n in zip(turns, live, strict=True) if len(steps) > 1
    ]
    assert all(sorted(s[1:], reverse=True) == s[1:] for s in turns)  # never grows in a turn
    lengths = [len(ids) for t in cached for m, ids in _policy_turns(t)]
    if len(set(lengths)) > 1:
        assert any(steps[-1] < steps[0] for steps in turns)

    trainer = GRPOTrainer(config, model=model, tokenizer=tokenizer, tasks=tasks)
    for t, recomputed in zip(cached, trainer.behaviour_logprobs(cached), strict=True):
        mask = torch.tensor(t.loss_mask, dtype=torch.bool)
        sampled = torch.tensor(t.sampler_logprobs, dtype=torch.float32)
        assert (sampled[~mask] == 0).all()
        assert torch.allclose(sampled[mask], recomputed[mask], atol=1e-4)


def test_dropped_episode_costs_nothing_and_changes_nothing(smollm2):
    """After a turn, row 1 is dropped: the next turn runs the model on 2 rows, and the kept
    rows' turns are those of a fresh ``generate`` over their whole contexts (same draws)."""
    model, tokenizer = smollm2
    chat = ChatTokens(tokenizer)
    questions = ["Name a colour.", "Count from one to twenty in words, please.", "Hi."]
    contexts = [chat.prompt_ids([{"role": "user", "content": q}]) for q in questions]
    settings = dict(stop=["<information>"], max_new_tokens=12, temperature=1.0, top_p=1e-9)
    batch = EpisodeBatch(model, pad_token_id=2, size=3)
    with torch.no_grad():
        first = batch.turn(contexts, tokenizer=tokenizer, eos_token_ids=[2], **settings)
    for context, turn in zip(contexts, first, strict=True):
        context.extend(turn.token_ids)
        observation = chat.observation_ids("<information>none</information>", turn.finish == "eos")
        context.extend(observation)
    batch.select([0, 2])
    kept = [contexts[0], contexts[2]]
    assert batch.size == 2 and batch.mask.shape[0] == 2
    assert all(0 < len(c) - f for c, f in zip(kept, batch.fed, strict=True))  # observations pending
    sizes = _BatchSizes(model)
    try:
        with torch.no_grad():
            second = batch.turn(kept, tokenizer=tokenizer, eos_token_ids=[2], **settings)
    finally:
        sizes.remove()
    assert set(sizes.sizes) == {2}
    assert batch.mask.sum(1).tolist()[0] <= len(kept[0]) + 12
    with SamplingRNG(0, "cpu").active():
        fresh = generate_turns(
            model, tokenizer, kept, eos_token_ids=[2], pad_token_id=2, **settings
        )
    assert [t.token_ids for t in second] == [t.token_ids for t in fresh]
    for a, b in zip(fresh, second, strict=True):
        assert b.logprobs == pytest.approx(a.logprobs, abs=1e-4)
        assert b.finish == a.finish


def test_episode_batch_rejects_a_context_that_did_not_grow(smollm2):
    model, tokenizer = smollm2
    prompt = ChatTokens(tokenizer).prompt_ids([{"role": "user", "content": "Hi."}])
    batch = EpisodeBatch(model, pad_token_id=2, size=1)
    short = dict(max_new_tokens=2, temperature=1.0)
    with torch.no_grad():
        batch.turn([prompt], tokenizer=tokenizer, stop=(), eos_token_ids=[2], **short)
    batch.fed[0] = len(prompt)  # pretend everything was fed
    with pytest.raises(ConfigError, match="Expects every context to have grown"):
        batch.turn([prompt], tokenizer=tokenizer, stop=(), eos_token_ids=[2], **short)
    with pytest.raises(ConfigError, match="Expects one context per episode"):
        batch.turn([prompt, prompt], tokenizer=tokenizer, stop=(), eos_token_ids=[2], **short)


def test_duplicate_episodes_are_fed_once_and_diverge_exactly(smollm2):
    """Rows with the same context (a group's shared prompt) are fed once and copied; once their
    observations differ they are fed apart, and every row's turn is that of a fresh
    ``generate`` over its whole context (same draws)."""
    model, tokenizer = smollm2
    chat = ChatTokens(tokenizer)
    contexts = [
        chat.prompt_ids([{"role": "user", "content": q}])
        for q in ("Name a colour.", "Name a colour.", "Hi.", "Name a colour.")
    ]
    settings = dict(stop=["<information>"], max_new_tokens=10, temperature=1.0, top_p=1e-9)
    batch = EpisodeBatch(model, pad_token_id=2, size=4)
    sizes = _BatchSizes(model)
    try:
        with torch.no_grad():
            first = batch.turn(contexts, tokenizer=tokenizer, eos_token_ids=[2], **settings)
    finally:
        sizes.remove()
    assert sizes.turns()[0][0] == 2  # 2 distinct prompts prefilled for 4 rows
    assert sizes.turns()[0][1] == 4  # then all 4 rows decode
    assert first[0].token_ids == first[1].token_ids == first[3].token_ids
    observations = ["red", "red", "none", "blue"]  # rows 0 and 1 stay alike, row 3 diverges
    for context, turn, seen in zip(contexts, first, observations, strict=True):
        context.extend(turn.token_ids)
        context.extend(chat.observation_ids(f"<information>{seen}</information>", False))
    sizes = _BatchSizes(model)
    try:
        with torch.no_grad():
            second = batch.turn(contexts, tokenizer=tokenizer, eos_token_ids=[2], **settings)
    finally:
        sizes.remove()
    assert sizes.turns()[0][0] == 3  # rows 0 and 1 still alike: fed once
    with SamplingRNG(0, "cpu").active():
        fresh = generate_turns(
            model, tokenizer, contexts, eos_token_ids=[2], pad_token_id=2, **settings
        )
    assert [t.token_ids for t in second] == [t.token_ids for t in fresh]
    for a, b in zip(fresh, second, strict=True):
        assert b.logprobs == pytest.approx(a.logprobs, abs=1e-4)
