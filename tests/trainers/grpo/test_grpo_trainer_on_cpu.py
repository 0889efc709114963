"""The update, checkpoints, resume and the CLI of the GRPO trainer."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from lite_world.errors import ConfigError
from trainers.grpo.__main__ import main
from trainers.grpo.algorithm import group_advantages
from trainers.grpo.config import GRPOConfig
from trainers.grpo.rollout import ChatTokens, trajectory_from_messages
from trainers.grpo.trainer import GRPOTrainer

_TIMES = (
    "time_rollout_s",
    "time_generate_s",
    "time_tools_s",
    "time_old_logprobs_s",
    "time_update_s",
    "time_step_s",
    "generated_tokens_per_s",
)


@pytest.fixture
def tasks_file(tmp_path, one_hop_tasks):
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in one_hop_tasks))
    return path


def _answers(chat):
    """Two groups of two one-turn episodes: a right answer (reward 1) and a wrong one (reward 0)."""
    pairs = [
        ("What is the capital of France?", "Paris", "London"),
        ("Who wrote Hamlet?", "Shakespeare", "Dickens"),
    ]
    trajs = []
    for group, (question, right, wrong) in enumerate(pairs):
        for answer, reward in ((right, 1.0), (wrong, 0.0)):
            messages = [
                {"role": "user", "content": question},
                {"role": "assistant", "content": f"<answer>{answer}</answer>"},
            ]
            trajs.append(trajectory_from_messages(chat, messages, reward=reward, group=group))
    return trajs


def test_one_step_on_smollm2_changes_weights_and_lowers_the_loss(
    smollm2, tiny_world, one_hop_tasks, tmp_path
):
    model, tokenizer = smollm2
    policy = copy.deepcopy(model)  # the session's SmolLM2 is shared: train a copy
    # Adam's first step moves every weight by ~lr: 5e-6 is small for SmolLM2 (2e-5 is too big)
    # token-mean (not the default): every token weighs the same, so the hand formula below holds
    config = GRPOConfig.from_flat(
        world=str(tiny_world),
        tasks_per_step=2,
        group_size=2,
        learning_rate=5e-6,
        micro_batch_size=2,
        loss_aggregation="token-mean",
        output_dir=str(tmp_path),
    )
    trainer = GRPOTrainer(config, model=policy, tokenizer=tokenizer, tasks=one_hop_tasks)
    trajs = _answers(ChatTokens(tokenizer))
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), 2)
    assert advantages.tolist() == pytest.approx([0.7071, -0.7071, 0.7071, -0.7071], abs=1e-4)

    old = trainer.behaviour_logprobs(trajs)
    before = trainer.surrogate_loss(trajs, advantages, old)
    # at ratio 1 the token-mean loss is -sum(A_i * n_i) / sum(n_i)
    n = [t.response_tokens for t in trajs]
    assert before == pytest.approx(
        -sum(a * k for a, k in zip(advantages.tolist(), n, strict=True)) / sum(n), abs=1e-6
    )
    # and the default seq-mean-token-mean one is -mean(A_i): 0 for these groups
    seq_mean = GRPOTrainer(
        config.replace(loss_aggregation="seq-mean-token-mean"),
        model=policy,
        tokenizer=tokenizer,
        tasks=one_hop_tasks,
    )
    assert seq_mean.surrogate_loss(trajs, advantages, old) == pytest.approx(
        -sum(advantages.tolist()) / 4, abs=1e-6
    )
    weight = policy.model.layers[0].self_attn.q_proj.weight
    weight_before = weight.detach().clone()

    stats = trainer.update(trajs, advantages)  # two micro-batches of two, one optimizer step

    assert stats["clip_ratio"] == 0.0 and stats["ratio_mean"] == pytest.approx(1.0, abs=1e-6)
    assert stats["loss"] == pytest.approx(before, abs=1e-5) and stats["grad_norm"] > 0
    assert stats["trained_trajectories"] == 4 and stats["trained_tokens"] == sum(n)
    assert not torch.equal(weight.detach(), weight_before)
    after = trainer.surrogate_loss(trajs, advantages, old)
    assert after < before - 1e-3
    new = trainer.behaviour_logprobs(trajs)
    for right, wrong in (
        (0, 1),
        (2, 3),
    ):  # the first token where the answers differ: right up, wrong down
        j = next(
            i
            for i, (a, b) in enumerate(
                zip(trajs[right].input_ids, trajs[wrong].input_ids, strict=False)
            )
            if a != b
        )
        assert new[right][j] > old[right][j] and new[wrong][j] < old[wrong][j]
    assert torch.equal(
        model.model.layers[0].self_attn.q_proj.weight,
        smollm2[0].model.layers[0].self_attn.q_proj.weight,
    )


def test_zero_advantage_trajectories_are_skipped_with_the_same_update(
    smollm2, tiny_policy, tiny_world, one_hop_tasks, tmp_path
):
    """Skipping a solved group's forward/backward leaves the gradient (and the step) unchanged."""
    trajs = _answers(ChatTokens(smollm2[1]))
    trajs[2].reward = trajs[3].reward = 1.0  # group 2 all solved: advantage 0
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), 2)
    weights = []
    for skip in (True, False):
        config = GRPOConfig.from_flat(
            model=str(tiny_policy),
            world=str(tiny_world),
            tasks_per_step=2,
            group_size=2,
            learning_rate=1e-3,
            skip_zero_advantage=skip,
            output_dir=str(tmp_path),
        )
        trainer = GRPOTrainer(config, tasks=one_hop_tasks)
        for _ in range(2):  # the second step also checks Adam's state
            stats = trainer.update(trajs, advantages)
        assert stats["trained_trajectories"] == (2 if skip else 4) and stats["grad_norm"] > 0
        weights.append(_weights(trainer.model))
    assert all(torch.allclose(weights[0][k], weights[1][k], atol=1e-7) for k in weights[0])


def _config(tiny_policy, tiny_world, tasks_file, out, **changes):
    values = dict(
        model=str(tiny_policy),
        world=str(tiny_world),
        tasks=str(tasks_file),
        tasks_per_step=2,
        group_size=2,
        max_turns=2,
        max_new_tokens=8,
        steps=3,
        save_every=1,
        save_total_limit=0,
        learning_rate=1e-3,
        entropy_coef=0.01,
        output_dir=str(out),
        plot=False,
    )
    values.update(changes)
    return GRPOConfig.from_flat(**values)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_from_a_checkpoint_gives_the_same_next_steps(
    tiny_policy, tiny_world, tasks_file, tmp_path
):
    run_a = tmp_path / "a"
    trainer_a = GRPOTrainer(_config(tiny_policy, tiny_world, tasks_file, run_a))
    history_a = trainer_a.train()
    assert [m["step"] for m in history_a] == [1, 2, 3]
    assert sorted(p.name for p in run_a.glob("checkpoint-*")) == [
        "checkpoint-000001",
        "checkpoint-000002",
        "checkpoint-000003",
    ]
    ckpt = run_a / "checkpoint-000001"
    assert {p.name for p in ckpt.iterdir()} == {
        "model",
        "optimizer.pt",
        "rng.pt",
        "trainer_state.json",
    }
    assert json.loads((ckpt / "trainer_state.json").read_text())["step"] == 1

    run_b = tmp_path / "b"
    trainer_b = GRPOTrainer(
        _config(tiny_policy, tiny_world, tasks_file, run_b, resume_from=str(ckpt))
    )
    assert trainer_b.step == 1
    history_b = trainer_b.train()
    assert [m["step"] for m in history_b] == [2, 3]
    for m in history_a + history_b:  # the time split: rollout = generate + tools
        assert all(m[k] >= 0 for k in _TIMES) and m["time_tools_s"] > 0
        assert m["time_generate_s"] + m["time_tools_s"] == pytest.approx(m["time_rollout_s"])
        assert m["time_old_logprobs_s"] <= m["time_update_s"]
    for a, b in zip(history_a[1:], history_b, strict=True):
        assert {k: v for k, v in a.items() if k not in _TIMES} == {
            k: v for k, v in b.items() if k not in _TIMES
        }
    assert (
        history_a[1]["grad_norm"] > 0
    )  # the steps did train (the entropy bonus; rewards are 0 here)
    weights_a, weights_b = _weights(trainer_a.model), _weights(trainer_b.model)
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    steps_b = [json.loads(line) for line in (run_b / "trajectories.jsonl").read_text().splitlines()]
    steps_a = [json.loads(line) for line in (run_a / "trajectories.jsonl").read_text().splitlines()]
    assert steps_b == [r for r in steps_a if r["step"] >= 2]

    # "latest" finds checkpoint 3: nothing left to do; a longer run truncates nothing it keeps
    latest = GRPOTrainer(_config(tiny_policy, tiny_world, tasks_file, run_a, resume_from="latest"))
    assert latest.step == 3 and latest.train() == []
    assert len((run_a / "metrics.jsonl").read_text().splitlines()) == 3


def test_cli_trains_and_writes_metrics_plot_and_checkpoint(
    tiny_policy, tiny_world, tasks_file, tmp_path, capsys
):
    out = tmp_path / "run"
    code = main(
        [
            "--model",
            str(tiny_policy),
            "--world",
            str(tiny_world),
            "--tasks",
            str(tasks_file),
            "--action-format",
            "tags",
            "--steps",
            "2",
            "--tasks-per-step",
            "1",
            "--group-size",
            "2",
            "--max-turns",
            "1",
            "--max-new-tokens",
            "4",
            "--save-every",
            "1",
            "--save-total-limit",
            "1",
            "--output-dir",
            str(out),
            "--num-threads",
            "1",
        ]
    )
    assert code == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    for key in (
        "reward_mean",
        "response_length_mean",
        "turns_mean",
        "clip_ratio",
        "length_clip_ratio",
        "tool_calls_mean",
    ):
        assert key in records[0]
    assert records[0]["turns_mean"] == 1.0 and records[0]["length_clip_ratio"] <= 1.0
    assert (out / "metrics.png").stat().st_size > 10_000
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-000002"]  # save_total_limit 1
    assert json.loads((out / "config.json").read_text())["group_size"] == 2
    assert json.loads(capsys.readouterr().out)["step"] == 2

    assert main(["--group-size", "1", "--output-dir", str(out)]) == 2
    assert "Expects GRPOConfig.group_size >= 2" in capsys.readouterr().err


def test_mini_batches_move_the_ratio_and_clip(
    smollm2, tiny_policy, tiny_world, one_hop_tasks, tmp_path
):
    """updates_per_step = 2: the second mini-batch is trained after one update, off-policy by one
    step, so its ratios leave 1 and clipping can act (with one update they stay exactly 1)."""
    trajs = _answers(ChatTokens(smollm2[1]))
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), 2)
    stats = {}
    for updates in (1, 2):
        config = GRPOConfig.from_flat(
            model=str(tiny_policy),
            world=str(tiny_world),
            tasks_per_step=2,
            group_size=2,
            learning_rate=0.5,
            updates_per_step=updates,
            output_dir=str(tmp_path),
        )
        stats[updates] = GRPOTrainer(config, tasks=one_hop_tasks).update(trajs, advantages)
    assert (
        stats[1]["ratio_mean"] == 1.0
        and stats[1]["approx_kl"] == 0.0
        and stats[1]["clip_ratio"] == 0.0
    )
    assert stats[2]["ratio_mean"] != 1.0 and stats[2]["approx_kl"] != 0.0
    # a huge step on a random model: some tokens of the second mini-batch leave the clip range
    assert stats[2]["clip_ratio"] > 0.0
    assert stats[2]["clip_ratio"] == stats[2]["clip_ratio_low"] + stats[2]["clip_ratio_high"]


def test_a_model_and_a_checkpoint_together_are_refused(smollm2, tiny_world, tmp_path):
    ckpt = tmp_path / "checkpoint-000001"
    ckpt.mkdir()
    (ckpt / "trainer_state.json").write_text("{}")
    config = GRPOConfig.from_flat(
        world=str(tiny_world), resume_from=str(ckpt), output_dir=str(tmp_path)
    )
    with pytest.raises(ConfigError, match="either a model or a checkpoint"):
        GRPOTrainer(config, model=smollm2[0], tokenizer=smollm2[1])
    with pytest.raises(ConfigError, match="checkpoint directory with trainer_state.json"):
        GRPOTrainer(config.replace(resume_from=str(tmp_path / "nope")))


def _count_calls(module):
    """A forward hook counting the calls of ``module`` (checkpointed: twice per backward)."""
    calls = []
    handle = module.register_forward_hook(lambda *_: calls.append(1))
    return calls, handle


def test_gradient_checkpointing_recomputes_layers_and_gives_the_same_update(
    smollm2, tiny_policy, tiny_world, one_hop_tasks, tmp_path
):
    """With --gradient-checkpointing each decoder layer runs again in the backward pass
    (transformers checkpoints only layers in training mode, while the policy stays in eval mode:
    no dropout); the update is the same as without."""
    trajs = _answers(ChatTokens(smollm2[1]))
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), 2)
    calls, weights = {}, {}
    for checkpointing in (False, True):
        config = GRPOConfig.from_flat(
            model=str(tiny_policy),
            world=str(tiny_world),
            tasks_per_step=2,
            group_size=2,
            learning_rate=1e-3,
            micro_batch_size=2,
            gradient_checkpointing=checkpointing,
            output_dir=str(tmp_path),
        )
        trainer = GRPOTrainer(config, tasks=one_hop_tasks)
        count, handle = _count_calls(trainer.model.model.layers[0].self_attn)
        trainer.update(trajs, advantages)
        handle.remove()
        calls[checkpointing], weights[checkpointing] = len(count), _weights(trainer.model)
        assert not any(
            m.training for m in trainer.model.modules()
        )  # eval mode throughout and after
    # two micro-batches: a no-grad behaviour forward and a training forward each, plus, with
    # checkpointing, one recomputation per training forward in the backward pass
    assert (calls[False], calls[True]) == (4, 6)
    assert all(
        torch.allclose(weights[False][k], weights[True][k], atol=1e-6) for k in weights[False]
    )


def test_the_lm_head_runs_only_at_policy_positions(
    smollm2, tiny_policy, tiny_world, one_hop_tasks, tmp_path
):
    """The update never builds (batch, time, vocab) logits: the LM head gets one row per
    policy token."""
    trajs = _answers(ChatTokens(smollm2[1]))
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), 2)
    config = GRPOConfig.from_flat(
        model=str(tiny_policy),
        world=str(tiny_world),
        tasks_per_step=2,
        group_size=2,
        micro_batch_size=4,
        output_dir=str(tmp_path),
    )
    trainer = GRPOTrainer(config, tasks=one_hop_tasks)
    shapes = []
    handle = trainer.model.get_output_embeddings().register_forward_hook(
        lambda module, args, out: shapes.append((tuple(args[0].shape), tuple(out.shape)))
    )
    trainer.update(trajs, advantages)
    handle.remove()
    tokens = sum(t.response_tokens for t in trajs)
    vocab = trainer.model.config.vocab_size
    assert (
        shapes == [((tokens, 16), (tokens, vocab))] * 2
    )  # behaviour log-probs, then the training forward
    assert (
        max(len(t.input_ids) for t in trajs) * len(trajs) > 3 * tokens
    )  # a full forward would be 3x more rows
