"""The bfloat16 sampler copy (``GRPOConfig.sampler_dtype="bfloat16"``): same function as the
policy in bfloat16, LoRA merged, refreshed after each update, used by the trainer's rollouts."""

from __future__ import annotations

import pytest
import torch

from lite_world.errors import ConfigError
from lite_world.tasks import Task
from trainers.grpo.config import GRPOConfig
from trainers.grpo.sampler import SamplerCopy
from trainers.grpo.trainer import GRPOTrainer, load_policy

from .conftest import FRANCE


def _config(tiny_policy, tiny_world, tmp_path, **kwargs):
    flat = dict(
        model=str(tiny_policy),
        world=str(tiny_world),
        tasks_per_step=1,
        group_size=2,
        max_new_tokens=8,
        max_turns=2,
        learning_rate=1e-2,
        sampler_dtype="bfloat16",
        output_dir=str(tmp_path / "run"),
        plot=False,
    )
    flat.update(kwargs)
    return GRPOConfig.from_flat(**flat)


def test_sampler_dtype_is_validated():
    assert GRPOConfig().sampler_dtype == "policy"
    with pytest.raises(ConfigError, match="Expects GRPOConfig.sampler_dtype in"):
        GRPOConfig(sampler_dtype="int8")
    with pytest.raises(ConfigError, match="Expects a sampler dtype in"):
        SamplerCopy("float16")


def test_lora_sampler_copy_is_the_merged_policy_in_bfloat16_and_follows_updates(
    tiny_policy, tiny_world, tmp_path
):
    config = _config(tiny_policy, tiny_world, tmp_path, lora=True, lora_r=2)
    trainer = GRPOTrainer(config, tasks=[Task.from_dict(FRANCE)])
    ids = torch.tensor([[1, 5, 9, 200, 31, 7]])
    with torch.no_grad():
        for p in trainer.model.parameters():  # move the adapter off its zero start
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
        copy = trainer.sampler.refresh(trainer.model)
        assert {p.dtype for p in copy.parameters()} == {torch.bfloat16}
        assert all(not p.requires_grad for p in copy.parameters())
        expected = trainer.model(input_ids=ids).logits
        assert torch.allclose(copy(input_ids=ids).logits.float(), expected, atol=0.05, rtol=0.05)
        assert not torch.equal(copy(input_ids=ids).logits.float(), expected)  # bf16, not fp32
        for p in trainer.model.parameters():
            if p.requires_grad:
                p.add_(0.5)
        stale = copy(input_ids=ids).logits.float()
        again = trainer.sampler.refresh(trainer.model)
        assert again is copy  # one copy, new weights
        moved = trainer.model(input_ids=ids).logits
        assert torch.allclose(again(input_ids=ids).logits.float(), moved, atol=0.05, rtol=0.05)
        assert not torch.allclose(stale, moved, atol=0.05, rtol=0.05)
    base, _ = load_policy(tiny_policy)
    with torch.no_grad():  # the adapter is in the copy's function, merged
        assert not torch.allclose(base(input_ids=ids).logits, moved, atol=0.05, rtol=0.05)
    assert all(layer.merged for layer in copy.modules() if hasattr(layer, "merged"))


def test_the_trainer_samples_with_the_copy_and_scores_with_the_policy(
    tiny_policy, tiny_world, tmp_path
):
    config = _config(tiny_policy, tiny_world, tmp_path, old_logprobs="recompute")
    trainer = GRPOTrainer(config, tasks=[Task.from_dict(FRANCE)])
    seen: list[torch.dtype] = []
    copy = trainer.sampler.refresh(trainer.model)  # built now, so it does not copy the hooks
    hooks = [
        m.get_input_embeddings().register_forward_pre_hook(lambda mod, a, d=d: seen.append(d))
        for m, d in ((trainer.model, torch.float32), (copy, torch.bfloat16))
    ]
    try:
        trajectories, metrics = trainer.sample_batch()
        sampled = list(seen)
        trainer.behaviour_logprobs(trajectories)  # the update's old log-probs: the policy's
    finally:
        for hook in hooks:
            hook.remove()
    assert sampled and set(sampled) == {torch.bfloat16}
    assert set(seen[len(sampled) :]) == {torch.float32}
    assert len(trajectories) == 2 and metrics["groups_sampled"] == 1
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
