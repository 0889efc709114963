"""End to end on CPU: teacher episodes -> LoRA SFT (held-out loss) -> LoRA GRPO -> one exported
adapter that loads by directory, equals the trained policy and acts in the env."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_sft_then_grpo_then_exported_adapter(tmp_path, tiny_world, one_hop_tasks):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from lite_world.agents.adapters import load_named_model
    from lite_world.agents.teacher import DiverseTeacher
    from lite_world.envs.factory import make_env
    from lite_world.envs.profiles import profile_config
    from trainers._lora import export_lora_delta, merge_lora
    from trainers.grpo.config import GRPOConfig
    from trainers.grpo.trainer import GRPOTrainer, load_policy
    from trainers.sft.config import SFTConfig
    from trainers.sft.trainer import SFTTrainer

    tasks = [t.to_dict() for t in one_hop_tasks]
    env_config = profile_config("small", world=str(tiny_world), tasks=tasks)
    env = make_env(env_config)
    teacher = DiverseTeacher(seed=0)
    data = tmp_path / "sft.jsonl"
    with open(data, "w", encoding="utf-8") as f:
        for i, task in enumerate(tasks * 2):
            obs, info = env.reset(seed=i, options={"task": task})
            teacher.reset(task)
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(teacher.act(obs, info))
                done = terminated or truncated
            f.write(json.dumps({"messages": info["messages"]}) + "\n")

    sft = SFTTrainer(
        SFTConfig(
            data=str(data),
            lora=True,
            lora_r=2,
            learning_rate=1e-3,
            max_steps=2,
            batch_size=2,
            max_length=512,
            eval_fraction=0.25,
            eval_every=1,
            output_dir=str(tmp_path / "sft"),
            show_progress=False,
            plot=False,
        )
    )
    history = sft.train()
    assert [m["step"] for m in history] == [1, 2]
    assert all(m["eval_loss"] > 0 for m in history)
    del sft

    config = GRPOConfig(
        model=str(tmp_path / "sft" / "model"),
        env=env_config,
        lora=True,
        lora_r=2,
        tasks_per_step=1,
        group_size=2,
        max_new_tokens=12,
        max_seq_len=1024,
        learning_rate=1e-3,
        steps=1,
        output_dir=str(tmp_path / "grpo"),
        plot=False,
    )
    trainer = GRPOTrainer(config)
    metrics = trainer.train()
    assert len(metrics) == 1 and metrics[0]["groups_sampled"] >= 1
    tuned = merge_lora(trainer.model, in_place=True)

    base, _ = load_policy("smollm2")
    out = tmp_path / "adapter"
    info = export_lora_delta(base, tuned, out, rank=4, dtype="float32")
    assert info["modules"] == 7 * base.config.num_hidden_layers
    # two rank-2 stages: rank <= 4, so the SVD is exact up to the float32 rounding of the merged
    # weights (about 1e-4 of a change this small)
    assert info["relative_max_error"] < 1e-3
    loaded, tokenizer = load_named_model(out)
    diff = max(
        float((p - q).abs().max())
        for p, q in zip(loaded.state_dict().values(), tuned.state_dict().values(), strict=True)
    )
    assert diff < 1e-5
    sft_weight = load_policy(str(tmp_path / "sft" / "model"))[0].model.layers[0].self_attn.q_proj
    assert not torch.equal(sft_weight.weight, base.model.layers[0].self_attn.q_proj.weight)

    from lite_world.agents import GenerationConfig, TransformersAgent

    agent = TransformersAgent(loaded, tokenizer, GenerationConfig(max_new_tokens=12))
    obs, info = env.reset(seed=0, options={"task": tasks[0]})
    action = agent.act(obs, info)
    _, reward, _, _, step_info = env.step(action)
    assert isinstance(action, str) and reward in (0.0, 1.0)
    assert step_info["turn"] == 1
