"""Grouped-query attention without key/value copies (:mod:`lite_world.agents.attention`): the
embedded SmolLM2 uses it, and it gives transformers' ``sdpa`` outputs -- in a padded batched
prefill, in cached decoding steps, in float32 (exactly) and in bfloat16."""

from __future__ import annotations

import copy

import pytest
import torch

from lite_world.agents.attention import GQA_ATTENTION, use_gqa_attention


def _prefill_and_decode(model, ids, mask, steps=3):
    """Logits of a padded prefill and of ``steps`` greedy decoding steps with the KV cache."""
    out = model(input_ids=ids, attention_mask=mask, use_cache=True)
    logits = [out.logits[:, -1]]
    cache = out.past_key_values
    for _ in range(steps):
        token = logits[-1].argmax(-1, keepdim=True)
        mask = torch.cat([mask, torch.ones_like(token)], dim=1)
        out = model(input_ids=token, attention_mask=mask, past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        logits.append(out.logits[:, -1])
    return torch.stack(logits).float()


@pytest.fixture(scope="module")
def plain_sdpa(smollm2):
    model = copy.deepcopy(smollm2[0])
    model.set_attn_implementation("sdpa")
    return model


@pytest.fixture(scope="module")
def batch():
    ids = torch.randint(10, 5000, (3, 40), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[0, :11] = 0  # left padding, ragged
    mask[2, :3] = 0
    return ids, mask


def test_the_embedded_smollm2_uses_it(smollm2):
    model = smollm2[0]
    assert model.config._attn_implementation == GQA_ATTENTION
    assert model.config.num_key_value_heads < model.config.num_attention_heads
    assert use_gqa_attention(model)  # idempotent


def test_float32_equals_sdpa_in_prefill_and_decoding(smollm2, plain_sdpa, batch):
    with torch.no_grad():
        ours = _prefill_and_decode(smollm2[0], *batch)
        theirs = _prefill_and_decode(plain_sdpa, *batch)
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0)


def test_bfloat16_decoding_matches_sdpa(smollm2, plain_sdpa, batch):
    ours = copy.deepcopy(smollm2[0]).to(torch.bfloat16)
    theirs = copy.deepcopy(plain_sdpa).to(torch.bfloat16)
    with torch.no_grad():
        a = _prefill_and_decode(ours, *batch)
        b = _prefill_and_decode(theirs, *batch)
    assert a.argmax(-1).tolist() == b.argmax(-1).tolist()
    scale = b.abs().max()
    assert (a - b).abs().max() <= 0.02 * scale  # bf16 rounding, not a different function


def test_models_it_does_not_help_are_left_alone(plain_sdpa):
    eager = copy.deepcopy(plain_sdpa)
    eager.set_attn_implementation("eager")
    assert not use_gqa_attention(eager)
    assert eager.config._attn_implementation == "eager"
    assert not use_gqa_attention(torch.nn.Linear(2, 2))
