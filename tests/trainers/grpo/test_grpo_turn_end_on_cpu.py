"""The end-of-turn token is a policy token: sampled, mask 1, in the loss, and learnt by GRPO.

The policy is the branching tiny Llama of ``conftest.py``: it answers Paris, then ends its turn
(reward 1) or goes on with wrong answers until the token limit (reward 0), about half the time
each. Served with plain stop-at-EOS sampling (no stop strings), a checkpoint of
``trainers.grpo`` must end its turns.
"""

from __future__ import annotations

import pytest
import torch

from lite_world.agents.base import GenerationConfig
from lite_world.agents.hf import TransformersAgent
from lite_world.agents.turns import end_turn
from lite_world.tasks import Task
from trainers.grpo.config import GRPOConfig
from trainers.grpo.rollout import (
    ChatTokens,
    SamplingRNG,
    TokenTrajectory,
    Turn,
    _advance,
    make_envs,
    rollout,
)
from trainers.grpo.trainer import GRPOTrainer, load_policy

from .conftest import ENDS, FRANCE, GOES_ON

MAX_NEW_TOKENS = 24


def _config(world, out=None, **changes):
    values = dict(
        world=str(world),
        action_format="tags",
        tasks_per_step=1,
        group_size=8,
        max_turns=1,
        max_new_tokens=MAX_NEW_TOKENS,
        temperature=1.0,
        plot=False,
        log_trajectories=0,
        output_dir=str(out or "runs/unused"),
    )
    values.update(changes)
    return GRPOConfig.from_flat(**values)


def test_rollout_trains_the_end_of_turn_token(branching_policy, tiny_world):
    """A turn the policy ends holds the EOT token last, mask 1, with its sampled log-prob, which
    equals a plain recompute (one full forward, log-softmax at the position before it)."""
    model, tokenizer = load_policy(str(branching_policy))
    model.eval()
    config = _config(tiny_world)
    task = Task.from_dict(FRANCE)
    trajs = rollout(
        model,
        tokenizer,
        make_envs(config, [task], 8),
        [task],
        group_size=8,
        config=config,
        rng=SamplingRNG(0, "cpu"),
        seed=0,
    )
    eot = tokenizer.eos_token_id
    ended = [t for t in trajs if t.length_clipped_turns == 0]
    assert 0 < len(ended) < len(trajs)  # both branches were sampled
    texts = {}
    for t in trajs:
        policy = [i for i, m in zip(t.input_ids, t.loss_mask, strict=True) if m]
        texts[id(t)] = tokenizer.decode(policy, skip_special_tokens=True)
        assert t.answered and t.turns == 1
        if t in ended:  # the policy wrote <|im_end|>: the turn's last token, trained
            assert t.input_ids[-1] == eot and t.loss_mask[-1] == 1 and policy.count(eot) == 1
        else:  # the token limit: no EOT anywhere
            assert eot not in policy and len(policy) == MAX_NEW_TOKENS
    # ending the turn after the answer is what the reward depends on (the env reads the last answer)
    assert any(texts[id(t)] == ENDS and t.reward == 1.0 for t in ended)
    assert any(GOES_ON in texts[id(t)] and t.reward == 0.0 for t in trajs if t not in ended)
    with torch.no_grad():
        for t in ended:
            logits = model(input_ids=torch.tensor([t.input_ids])).logits[0, -2].float()
            recomputed = torch.log_softmax(logits / config.temperature, -1)[eot]
            assert t.sampler_logprobs[-1] == pytest.approx(float(recomputed), abs=1e-4)
            assert t.sampler_logprobs[-1] < 0
    # the trainer's log-probs (the loss's) cover the EOT token too
    trainer = GRPOTrainer(config, model=model, tokenizer=tokenizer, tasks=[task])
    for t, behaviour in zip(ended, trainer.behaviour_logprobs(ended), strict=True):
        assert float(behaviour[-1]) == pytest.approx(t.sampler_logprobs[-1], abs=1e-4)


def test_a_hallucinated_result_is_cut_and_the_harness_closes_the_turn(smollm2, tiny_world):
    """A turn that writes ``<information>`` (the tags format's result) is cut before it; the EOT
    token that closes it then comes with the observation, mask 0 (the policy did not write it)."""
    _, tokenizer = smollm2
    config = _config(tiny_world, max_turns=2)
    task = Task.from_dict(FRANCE)
    env = make_envs(config, [task], 1)[0]
    _, info = env.reset(seed=0, options={"task": task.to_dict()})
    chat = ChatTokens(tokenizer)
    written = chat.encode("<search>capital of France</search>\n<information>Paris is made up")
    end = end_turn(tokenizer, written, [tokenizer.eos_token_id], info["stop"])
    assert (end.finish, end.text) == ("stop", "<search>capital of France</search>")
    traj = TokenTrajectory("france", 0, [], [], [])
    turn = Turn(
        token_ids=end.token_ids,
        logprobs=(-0.1,) * len(end.token_ids),
        entropy_sum=0.0,
        text=end.text,
        finish=end.finish,
    )
    _advance(traj, env, turn, chat, [tokenizer.eos_token_id], config)
    n = len(end.token_ids)
    assert traj.loss_mask[:n] == [1] * n and set(traj.loss_mask[n:]) == {0}
    assert traj.input_ids[n] == tokenizer.eos_token_id  # closed by the harness, mask 0
    observation = [m["content"] for m in traj.messages if m["role"] == "user"][-1]
    assert tokenizer.decode(traj.input_ids[n:]) == (
        f"<|im_end|>\n<|im_start|>user\n{observation}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "<information>" in observation and "made up" not in observation


@pytest.mark.slow
def test_grpo_checkpoint_ends_its_turns_when_served_with_stop_at_eos(
    branching_policy, tiny_world, tmp_path
):
    """Before training the policy ends about half its turns; after a few GRPO steps, served by
    ``TransformersAgent`` with no stop string at all (only its EOS), it ends every turn right
    after its answer. (A rollout that stops at ``</answer>`` scores both branches 1: no signal.)"""
    task = Task.from_dict(FRANCE)
    conversation = make_envs(_config(tiny_world), [task], 1)[0].reset(
        seed=0, options={"task": task.to_dict()}
    )[1]["messages"]

    def served(model_dir, n=16):
        agent = TransformersAgent(
            str(model_dir),
            config=GenerationConfig(
                max_new_tokens=MAX_NEW_TOKENS, temperature=0.7, seed=123, stop=()
            ),
        )
        completions = agent.complete_batch([conversation] * n)
        return [
            c.finish_reason == "stop"
            and c.stop_reason is None
            and c.completion_tokens < MAX_NEW_TOKENS
            for c in completions
        ], completions

    before, _ = served(branching_policy)
    assert 0 < sum(before) < len(before) - 2

    config = _config(
        tiny_world,
        tmp_path,
        model=str(branching_policy),
        steps=5,
        learning_rate=1e-3,
        save_every=0,
        save_total_limit=1,
    )
    history = GRPOTrainer(config, tasks=[task]).train()
    assert (
        history[0]["groups_zero_std"] == 0.0 and history[0]["grad_norm"] > 0
    )  # ending the turn is rewarded
    assert history[-1]["reward_mean"] > history[0]["reward_mean"]

    after, completions = served(tmp_path / "checkpoint-000005" / "model")
    assert all(after), [c.content for c in completions]
    assert sum(c.content == ENDS for c in completions) >= len(completions) - 2
