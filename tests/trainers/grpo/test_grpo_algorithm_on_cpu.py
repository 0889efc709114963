"""GRPO's advantages and loss against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from lite_world.errors import ConfigError
from trainers.grpo.algorithm import (
    aggregate,
    group_advantages,
    kl_k3,
    masked_mean,
    policy_loss,
    token_logprobs,
)


def test_group_advantages_by_hand():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    # group 1: mean 1/4, unbiased std sqrt((9/16 + 3 * 1/16) / 3) = 0.5
    adv = group_advantages(rewards, 4)  # eps = 1e-6 is added to the std
    assert adv[:4].tolist() == pytest.approx([1.5, -0.5, -0.5, -0.5], rel=1e-5)
    assert adv[4:].tolist() == [
        0.0,
        0.0,
        0.0,
        0.0,
    ]  # all solved: no signal, and no division by zero
    assert group_advantages(rewards, 4, scale="none").tolist() == pytest.approx(
        [0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0]
    )
    batch_std = float(
        torch.tensor([1.0, 0, 0, 0, 1, 1, 1, 1]).std()
    )  # mean 5/8: sqrt((5 * 9/64 + 3 * 25/64) / 7)
    assert group_advantages(rewards, 4, scale="batch", eps=0.0)[0].item() == pytest.approx(
        0.75 / batch_std
    )
    assert batch_std == pytest.approx(math.sqrt(15 / 56))


def test_group_advantages_errors():
    with pytest.raises(ConfigError, match="multiple of group_size 3"):
        group_advantages(torch.zeros(4), 3)
    with pytest.raises(ConfigError, match="scale in"):
        group_advantages(torch.zeros(4), 2, scale="mean")


def test_policy_loss_by_hand_clip_higher():
    # ratios 1.5, 0.5 for A = +2; 0.5, 1.3 for A = -1; epsilon_low 0.2, epsilon_high 0.4
    logp = torch.log(torch.tensor([[1.5, 0.5], [0.5, 1.3]]))
    adv = torch.tensor([2.0, -1.0])
    loss, stats = policy_loss(logp, torch.zeros(2, 2), adv, torch.ones(2, 2))
    # per token: max(-2*1.5, -2*1.4) = -2.8 (clipped high); max(-1.0, -1.6) = -1.0;
    #            max(0.5, 0.8) = 0.8 (clipped low);      max(1.3, 1.3) = 1.3
    assert loss.item() == pytest.approx((-2.8 - 1.0 + 0.8 + 1.3) / 4)
    assert {k: v.item() for k, v in stats.items()} == pytest.approx(
        {"tokens": 4, "clipped_low": 1, "clipped_high": 1, "ratio": 3.8}
    )
    # DAPO's 0.28: the first token is clipped at 1.28
    loss_dapo, _ = policy_loss(logp, torch.zeros(2, 2), adv, torch.ones(2, 2), epsilon_high=0.28)
    assert loss_dapo.item() == pytest.approx((-2.56 - 1.0 + 0.8 + 1.3) / 4)


def test_policy_loss_gradient_is_the_policy_gradient_at_ratio_one():
    logp = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -0.7, -0.9]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    adv = torch.tensor([0.5, -1.5])
    loss, stats = policy_loss(logp, logp.detach(), adv, mask)
    loss.backward()
    # d loss / d logp = -A * ratio / n_tokens = -A / 3 on policy tokens, 0 elsewhere
    assert logp.grad.flatten().tolist() == pytest.approx(
        [-0.5 / 3, -0.5 / 3, 0.0, 1.5 / 3, 0.0, 0.0]
    )
    assert stats["clipped_low"].item() == stats["clipped_high"].item() == 0.0


def test_clipped_tokens_have_no_gradient():
    logp = torch.log(torch.tensor([[2.0, 0.5]])).requires_grad_(True)
    loss, _ = policy_loss(logp, torch.zeros(1, 2), torch.tensor([1.0]), torch.ones(1, 2))
    loss.backward()
    assert logp.grad[0, 0].item() == 0.0  # ratio 2 > 1.4 with A > 0: clipped
    assert logp.grad[0, 1].item() == pytest.approx(-0.5 / 2)  # ratio 0.5, A > 0: not clipped


def test_masked_tokens_do_not_count():
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    logp = torch.tensor([[-1.0, -1.0, -1.0]])
    other = logp.clone()
    other[0, 1] = 5.0  # a tool-response position: anything there changes nothing
    a, _ = policy_loss(logp, torch.zeros(1, 3), torch.tensor([1.0]), mask)
    b, stats = policy_loss(other, torch.zeros(1, 3), torch.tensor([1.0]), mask)
    assert a.item() == b.item() == pytest.approx(-math.exp(-1.0))
    assert stats["tokens"].item() == 2


def test_accumulated_micro_batches_equal_one_batch():
    torch.manual_seed(0)
    logp, old = torch.randn(4, 5) * 0.3 - 1, torch.randn(4, 5) * 0.3 - 1
    mask = (torch.rand(4, 5) > 0.3).float()
    adv = torch.tensor([1.0, -1.0, 0.5, 2.0])
    for mode in ("token-mean", "seq-mean-token-mean"):
        full, _ = policy_loss(logp, old, adv, mask, aggregation=mode)
        norm = mask.sum().item() if mode == "token-mean" else float((mask.sum(-1) > 0).sum())
        parts = [
            policy_loss(logp[s], old[s], adv[s], mask[s], aggregation=mode, normalizer=norm)[0]
            for s in (slice(0, 1), slice(1, 4))
        ]
        assert sum(p.item() for p in parts) == pytest.approx(full.item(), abs=1e-6)


def test_aggregate_seq_mean_by_hand():
    v = torch.tensor([[2.0, 4.0, 0.0], [3.0, 0.0, 0.0], [9.0, 9.0, 9.0]])
    m = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert aggregate(v, m, "seq-mean-token-mean").item() == pytest.approx((3.0 + 3.0) / 2)
    assert aggregate(v, m, "token-mean").item() == pytest.approx(9.0 / 3)
    with pytest.raises(ConfigError, match="Expects mode in"):
        aggregate(v, m, "sum")


def test_token_logprobs_kl_and_masked_mean():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    expected = 2.0 - math.log(math.exp(1) + math.exp(2) + math.exp(3))
    assert token_logprobs(logits, torch.tensor([1])).item() == pytest.approx(expected)
    assert kl_k3(torch.tensor([-2.0]), torch.tensor([-1.0])).item() == pytest.approx(math.e - 2)
    assert kl_k3(torch.tensor([-1.0]), torch.tensor([-1.0])).item() == 0.0
    assert masked_mean(torch.tensor([1.0, 3.0]), torch.tensor([0, 0])).item() == 0.0
