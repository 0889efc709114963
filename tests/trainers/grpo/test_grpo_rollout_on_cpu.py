"""Token trajectories: which tokens are the policy's (mask 1); sampling through the env."""

from __future__ import annotations

import torch

from lite_world.agents.scripted import ScriptedAgent
from lite_world.envs.factory import make_env
from trainers.grpo.config import GRPOConfig
from trainers.grpo.rollout import (
    ChatTokens,
    SamplingRNG,
    make_envs,
    rollout,
    trajectory_from_messages,
)
from trainers.grpo.trainer import GRPOTrainer


def _segments(traj):
    """Maximal runs of equal mask: [(mask, token ids), ...]."""
    out = []
    for token, m in zip(traj.input_ids, traj.loss_mask, strict=True):
        if out and out[-1][0] == m:
            out[-1][1].append(token)
        else:
            out.append((m, [token]))
    return out


def test_scripted_episode_masks_tool_responses(smollm2, tiny_world, one_hop_tasks):
    """A real multi-turn episode (search, visit, answer): only the assistant turns and the
    end-of-turn token that closes each are mask 1, and the trajectory is exactly the chat
    template's rendering of the conversation."""
    _, tokenizer = smollm2
    env = make_env(world=str(tiny_world), max_turns=6)
    obs, info = env.reset(seed=0, options={"task": one_hop_tasks[0].to_dict()})
    agent = ScriptedAgent()
    agent.reset(info["task"])
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        done = terminated or truncated
    messages = info["messages"]
    assistant = [m["content"] for m in messages if m["role"] == "assistant"]
    observations = [m["content"] for m in messages[2:] if m["role"] == "user"]
    assert len(assistant) >= 2 and all(o.startswith("<tool_response>") for o in observations)

    chat = ChatTokens(tokenizer)
    traj = trajectory_from_messages(chat, messages, reward=reward)
    segments = _segments(traj)
    policy = [tokenizer.decode(ids) for m, ids in segments if m == 1]
    context = [tokenizer.decode(ids) for m, ids in segments if m == 0]
    assert policy == [
        a + "<|im_end|>" for a in assistant
    ]  # each turn, exactly, ended by the policy
    assert context[0] == tokenizer.apply_chat_template(
        messages[:2], add_generation_prompt=True, tokenize=False
    )
    for text, observation in zip(context[1:], observations, strict=True):
        assert text == f"\n<|im_start|>user\n{observation}<|im_end|>\n<|im_start|>assistant\n"
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    assert tokenizer.decode(traj.input_ids) + "\n" == full
    assert not any("<tool_response>" in p for p in policy)


def test_rollout_with_smollm2_through_the_env(smollm2, tiny_world, one_hop_tasks):
    """K=2 episodes of a task, two turns of <= 16 tokens, batched; tokens, env and log-probs agree.

    Search-R1 tags: the short system prompt keeps this fast (the scripted test has tool_call)."""
    model, tokenizer = smollm2
    config = GRPOConfig.from_flat(
        world=str(tiny_world),
        action_format="tags",
        tasks_per_step=1,
        group_size=2,
        max_turns=2,
        max_new_tokens=16,
    )
    envs = make_envs(config, one_hop_tasks, 2)
    before = torch.get_rng_state()
    trajs = rollout(
        model,
        tokenizer,
        envs,
        one_hop_tasks[:1],
        group_size=2,
        config=config,
        rng=SamplingRNG(0, "cpu"),
        seed=0,
    )
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is left alone
    assert [t.group for t in trajs] == [0, 0] and all(t.done for t in trajs)
    for t in trajs:
        assert len(t.input_ids) == len(t.loss_mask) == len(t.sampler_logprobs)
        assert 1 <= t.turns <= 2 and t.response_tokens <= 16 * t.turns
        assert t.answered or t.truncated or t.context_truncated
        segments = _segments(t)
        assert [m for m, _ in segments][:2] == [0, 1]  # prompt, then the first turn
        policy = [ids for m, ids in segments if m == 1]
        assert len(policy) == t.turns and all(len(ids) <= 16 for ids in policy)
        # the env got each turn's text: exactly the decoded policy tokens, which end with the
        # end-of-turn token when the policy ended the turn (else the token limit cut it)
        sent = [m["content"] for m in t.messages if m["role"] == "assistant"]
        for ids, text in zip(policy, sent, strict=False):
            assert tokenizer.decode(ids, skip_special_tokens=True) == text
            assert ids[-1] == tokenizer.eos_token_id or len(ids) == 16
        # observations (mask 0) are the env's tool responses
        for (_, ids), obs in zip(
            [s for s in segments[2:] if s[0] == 0],
            [m["content"] for m in t.messages[3::2]],
            strict=False,
        ):
            assert obs in tokenizer.decode(ids)
        assert t.length_clipped_turns <= t.turns
    assert trajs[0].input_ids != trajs[1].input_ids  # sampled, not greedy

    # the sampler's log-probs are the policy's: the trainer's forward agrees (ratio 1 at the start)
    trainer = GRPOTrainer(config, model=model, tokenizer=tokenizer, tasks=one_hop_tasks)
    for t, recomputed in zip(trajs, trainer.behaviour_logprobs(trajs), strict=True):
        mask = torch.tensor(t.loss_mask, dtype=torch.bool)
        sampled = torch.tensor(t.sampler_logprobs)
        assert (recomputed[~mask] == 0).all()
        assert torch.allclose(sampled[mask], recomputed[mask], atol=1e-3)
        assert (sampled[mask] <= 0).all()
