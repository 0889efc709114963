"""GRPO that uses every step: dynamic sampling, overlong filtering, the format term, LoRA."""

from __future__ import annotations

import json

import pytest
import torch

from lite_world.errors import ConfigError
from lite_world.tasks import Task
from trainers.grpo.__main__ import build_parser, config_from_args
from trainers.grpo.algorithm import format_score, group_advantages
from trainers.grpo.config import GRPOConfig
from trainers.grpo.rollout import ChatTokens, make_envs, trajectory_from_messages
from trainers.grpo.trainer import GRPOTrainer, episode_rewards, load_policy

from .conftest import FRANCE

NEVER = {**FRANCE, "id": "never", "answers": ["Atlantis-on-Thames"]}
"""The branching policy's question with an answer it never gives: every group is all-zero."""


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


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _branching_config(world, out, policy=None, **changes):
    values = dict(
        model=str(policy) if policy is not None else "smollm2",
        world=str(world),
        action_format="tags",
        tasks_per_step=2,
        group_size=4,
        max_turns=1,
        max_new_tokens=24,
        learning_rate=1e-3,
        steps=1,
        plot=False,
        log_trajectories=0,
        output_dir=str(out),
    )
    values.update(changes)
    return GRPOConfig.from_flat(**values)


# -- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"max_resample_rounds": -1}, "max_resample_rounds >= 0, actual: -1"),
        ({"format_reward": -0.1}, r"format_reward >= 0 \(0: off\), actual: -0.1"),
        ({"format_reward": float("nan")}, "format_reward >= 0"),
        ({"dynamic_sampling": "yes"}, "dynamic_sampling to be a bool"),
        ({"lora_r": 0}, "lora_r >= 1"),
        ({"lora_alpha": 0.0}, "lora_alpha > 0"),
        ({"lora_dropout": 1.0}, r"lora_dropout in \[0, 1\)"),
        ({"lora_target_modules": " , "}, "at least one GRPOConfig.lora_target_modules"),
    ],
)
def test_new_fields_are_validated(changes, match):
    with pytest.raises(ConfigError, match=match):
        GRPOConfig(**changes)


def test_new_fields_are_flags_with_help_and_round_trip():
    args = build_parser().parse_args(
        [
            "--dynamic-sampling",
            "--max-resample-rounds",
            "2",
            "--overlong-filtering",
            "--format-reward",
            "0.1",
            "--lora",
            "--lora-r",
            "4",
            "--lora-target-modules",
            "q_proj,v_proj",
        ]
    )
    config, _ = config_from_args(args)
    assert (config.dynamic_sampling, config.max_resample_rounds, config.overlong_filtering) == (
        True,
        2,
        True,
    )
    assert (config.format_reward, config.lora, config.lora_r) == (0.1, True, 4)
    assert config.lora_target_modules == ("q_proj", "v_proj")
    assert GRPOConfig.from_dict(json.loads(config.to_json())) == config
    defaults = GRPOConfig()
    assert (defaults.dynamic_sampling, defaults.overlong_filtering, defaults.format_reward) == (
        False,
        False,
        0.0,
    )
    assert not defaults.lora
    help_text = build_parser().format_help()
    for flag in ("--dynamic-sampling", "--overlong-filtering", "--format-reward", "--lora-alpha"):
        assert flag in help_text


# -- dynamic sampling ----------------------------------------------------------------------------


def test_dynamic_sampling_refills_only_with_groups_that_have_signal(
    branching_policy, tiny_world, tmp_path
):
    """Two tasks: 'france' (the branching policy is right about half the time: most groups of 4
    have signal) and 'never' (always 0: never any signal). With dynamic sampling every trained
    group has signal, so only 'france' groups are trained; without it 'never' is trained too. The
    share of groups with signal is logged either way."""
    tasks = [Task.from_dict(FRANCE), Task.from_dict(NEVER)]
    histories = {}
    batches = {}
    for dynamic in (True, False):
        config = _branching_config(
            tiny_world,
            tmp_path / str(dynamic),
            branching_policy,
            dynamic_sampling=dynamic,
            max_resample_rounds=6,
        )
        trainer = GRPOTrainer(config, tasks=tasks)
        metrics, trajectories = trainer.train_step()
        histories[dynamic], batches[dynamic] = metrics, trajectories

    on, off = histories[True], histories[False]
    trained = batches[True]
    groups = [trained[i : i + 4] for i in range(0, len(trained), 4)]
    assert on["groups_trained"] == len(groups) == 2  # refilled to tasks_per_step
    for group in groups:
        rewards = [t.reward for t in group]
        assert {t.task_id for t in group} == {"france"} and max(rewards) != min(rewards)
    assert on["groups_zero_std"] == 0.0 and on["advantage_abs_mean"] > 0
    # the first round had 'never' (no signal), so at least one refill round ran
    assert on["resample_rounds"] >= 1 and on["groups_sampled"] > 2
    assert on["groups_sampled"] > on["groups_with_signal"] >= 2
    assert on["groups_with_signal_share"] == pytest.approx(
        on["groups_with_signal"] / on["groups_sampled"]
    )
    assert on["trained_trajectories"] == 8 and on["grad_norm"] > 0

    # without dynamic sampling: one round of both tasks, 'never' trained (advantage 0)
    assert (off["groups_sampled"], off["groups_trained"], off["resample_rounds"]) == (2, 2, 0)
    assert {t.task_id for t in batches[False]} == {"france", "never"}
    assert off["groups_with_signal"] <= 1
    assert off["groups_with_signal_share"] == off["groups_with_signal"] / 2
    assert off["groups_zero_std"] == 1 - off["groups_with_signal"] / 2


def test_dynamic_sampling_without_any_signal_trains_on_the_last_round(
    branching_policy, tiny_world, tmp_path, caplog
):
    """Only the 'never' task: no group ever has signal; after the rounds run out the step goes
    on with the last round's groups (advantage 0), and says so."""
    config = _branching_config(
        tiny_world,
        tmp_path,
        branching_policy,
        dynamic_sampling=True,
        max_resample_rounds=2,
        tasks_per_step=1,
        group_size=2,
    )
    trainer = GRPOTrainer(config, tasks=[Task.from_dict(NEVER)])
    with caplog.at_level("WARNING", logger="trainers.grpo.trainer"):
        metrics, trajectories = trainer.train_step()
    assert (metrics["groups_sampled"], metrics["groups_with_signal"]) == (3, 0)
    assert (metrics["resample_rounds"], metrics["groups_trained"], len(trajectories)) == (2, 1, 2)
    assert metrics["groups_with_signal_share"] == 0.0 and metrics["advantage_abs_mean"] == 0.0
    assert "no group with signal in 3 rounds" in caplog.text


# -- overlong filtering --------------------------------------------------------------------------


def test_overlong_trajectories_get_zero_loss_weight(smollm2, tiny_policy, tiny_world, tmp_path):
    """Excluding a trajectory gives exactly the update of the batch without it (it is neither
    trained nor counted in the loss's denominator); keeping it gives another update."""
    trajs = _answers(ChatTokens(smollm2[1]))
    trajs[3].context_truncated = True  # cut by max_seq_len: the agent did not end it
    assert [t.overlong for t in trajs] == [False, False, False, True]
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), 2)
    assert float(advantages[3]) < 0  # without filtering it would be pushed down

    def run(batch, adv, include=None):
        config = GRPOConfig.from_flat(
            model=str(tiny_policy),
            world=str(tiny_world),
            tasks_per_step=2,
            group_size=2,
            learning_rate=1e-3,
            loss_aggregation="token-mean",
            output_dir=str(tmp_path),
        )
        trainer = GRPOTrainer(config, tasks=[Task.from_dict(FRANCE)])
        stats = trainer.update(batch, adv, include=include)
        return stats, _weights(trainer.model)

    include = [not t.overlong for t in trajs]
    filtered, w_filtered = run(trajs, advantages, include)
    without, w_without = run(trajs[:3], advantages[:3])
    kept, w_kept = run(trajs, advantages)
    assert (filtered["filtered_trajectories"], filtered["trained_trajectories"]) == (1, 3)
    assert filtered["trained_tokens"] == sum(t.response_tokens for t in trajs[:3])
    assert filtered["loss"] == pytest.approx(without["loss"], abs=1e-7)
    assert all(torch.allclose(w_filtered[k], w_without[k], atol=1e-7) for k in w_filtered)
    assert any(not torch.allclose(w_filtered[k], w_kept[k], atol=1e-7) for k in w_filtered)
    assert kept["filtered_trajectories"] == 0 and kept["trained_trajectories"] == 4
    with pytest.raises(ConfigError, match="one include flag per trajectory"):
        run(trajs, advantages, [True])


def test_a_step_filters_episodes_cut_by_max_seq_len(smollm2, tiny_policy, tiny_world, tmp_path):
    """A max_seq_len that leaves no room for a second turn: every episode that does not answer in
    its first turn ends context-truncated, is overlong, and gets no loss weight."""
    task = Task.from_dict(FRANCE)
    probe = _branching_config(tiny_world, tmp_path)
    env = make_envs(probe, [task], 1)[0]
    _, info = env.reset(seed=0, options={"task": task.to_dict()})
    prompt = len(ChatTokens(smollm2[1]).prompt_ids(info["messages"]))
    config = _branching_config(
        tiny_world,
        tmp_path,
        model=str(tiny_policy),
        tasks_per_step=1,
        group_size=2,
        max_turns=3,
        max_new_tokens=8,
        max_seq_len=prompt + 8 + 4,
        overlong_filtering=True,
        entropy_coef=0.01,  # a loss even at reward 0, so filtering is what stops training
    )
    metrics, trajectories = GRPOTrainer(config, tasks=[task]).train_step()
    assert all(t.context_truncated and not t.answered for t in trajectories)
    assert metrics["overlong"] == 1.0
    assert (metrics["filtered_trajectories"], metrics["trained_trajectories"]) == (2, 0)
    assert metrics["trained_tokens"] == 0.0 and metrics["grad_norm"] == 0.0


# -- the format / tool-use term ------------------------------------------------------------------


def test_format_score_of_real_env_steps(tiny_world):
    """format_score reads the env's own per-step info: a search call, a malformed turn, an
    answer."""
    task = Task.from_dict(FRANCE)
    env = make_envs(_branching_config(tiny_world, "runs/unused"), [task], 1)[0].unwrapped
    env.reset(seed=0, options={"task": task.to_dict()})
    steps = []
    for action in ("<search>capital of France</search>", "I think", "<answer>Paris</answer>"):
        info = env.step(action)[4]
        steps.append({"action_kind": info["action_kind"], "error": info["error"]})
    assert steps == [
        {"action_kind": "tool", "error": None},
        {"action_kind": "none", "error": "no_action"},
        {"action_kind": "answer", "error": None},
    ]
    assert format_score(steps) == pytest.approx(0.5 * 2 / 3 + 0.5)
    assert format_score(steps[1:]) == pytest.approx(0.25)  # no tool call: only the share


def test_format_reward_gives_signal_to_groups_with_equal_env_rewards():
    """Two wrong answers: one after a valid search, one with no tool call. The env rewards are
    equal (no signal); with format_reward the searching episode gets the positive advantage."""
    from trainers.grpo.rollout import TokenTrajectory

    searched = TokenTrajectory(
        "t",
        0,
        [1],
        [0],
        [0.0],
        steps=[{"action_kind": "tool", "error": None}, {"action_kind": "answer", "error": None}],
    )
    guessed = TokenTrajectory(
        "t", 0, [1], [0], [0.0], steps=[{"action_kind": "answer", "error": None}]
    )
    off = group_advantages(torch.tensor(episode_rewards([searched, guessed], 0.0)), 2)
    on = group_advantages(torch.tensor(episode_rewards([searched, guessed], 0.1)), 2)
    assert off.tolist() == [0.0, 0.0]
    assert episode_rewards([searched, guessed], 0.1) == pytest.approx([0.1, 0.05])
    assert on[0] > 0 > on[1]


# -- LoRA ----------------------------------------------------------------------------------------


def test_lora_trains_only_the_adapter_and_its_merged_checkpoint_reloads(
    smollm2, tiny_policy, tiny_world, tmp_path
):
    trajs = _answers(ChatTokens(smollm2[1]))
    advantages = group_advantages(torch.tensor([t.reward for t in trajs]), 2)
    config = GRPOConfig.from_flat(
        model=str(tiny_policy),
        world=str(tiny_world),
        tasks_per_step=2,
        group_size=2,
        learning_rate=1e-2,
        lora=True,
        lora_r=2,
        lora_target_modules="q_proj,v_proj",
        output_dir=str(tmp_path / "run"),
        plot=False,
    )
    trainer = GRPOTrainer(config, tasks=[Task.from_dict(FRANCE)])
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    assert {p for g in trainer.optimizer.param_groups for p in g["params"]} == {
        p for p in trainer.model.parameters() if p.requires_grad
    }
    before = _weights(trainer.model)
    stats = trainer.update(trajs, advantages)
    after = _weights(trainer.model)
    assert stats["grad_norm"] > 0
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("lora_" in k for k in changed)
    assert any("lora_B" in k for k in changed)  # B starts at 0: the model's function moved

    trainer.step = 1
    ckpt = trainer.save_checkpoint()
    assert {p.name for p in ckpt.iterdir()} == {
        "adapter",
        "model",
        "optimizer.pt",
        "rng.pt",
        "trainer_state.json",
    }
    assert (ckpt / "adapter" / "adapter_config.json").is_file()
    merged, _ = load_policy(ckpt / "model")
    base, _ = load_policy(tiny_policy)
    ids = torch.tensor([trajs[0].input_ids])
    with torch.no_grad():
        expected = trainer.model(input_ids=ids).logits
        assert torch.allclose(merged(input_ids=ids).logits, expected, atol=1e-5)
        assert not torch.allclose(base(input_ids=ids).logits, expected, atol=1e-5)
    assert not any("lora" in k for k in merged.state_dict())

    resumed = GRPOTrainer(config.replace(resume_from=str(ckpt)), tasks=[Task.from_dict(FRANCE)])
    assert resumed.step == 1
    again = _weights(resumed.model)
    assert set(again) == set(after) and all(torch.equal(again[k], after[k]) for k in after)
