"""Fixtures of the GRPO trainer tests: SmolLM2 once per session, a tiny random policy, tasks.

The tiny policy is a 1-layer Llama with random weights and SmolLM2's tokenizer and chat
template, saved to a directory: it makes the loop, checkpoint and CLI tests fast while going
through the same loading path as any local model.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread: on a busy 2-core machine two OpenMP threads run ~5x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def smollm2():
    """``(model, tokenizer)`` of the embedded SmolLM2-135M-Instruct (the shared, cached copy: do not train it)."""
    from lite_world.agents.smollm import load_smollm2

    return load_smollm2()


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory, smollm2):
    """Directory of a tiny random Llama (1 layer, width 16) with SmolLM2's tokenizer."""
    import torch
    import transformers

    _, tokenizer = smollm2
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=4096,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("policy") / "tiny-llama"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def one_hop_tasks(musique):
    """One-hop tasks from the first hops of the tiny world's MuSiQue questions (their evidence is in it)."""
    from lite_world.tasks import Task

    tasks = []
    for q in musique:
        hop = q["question_decomposition"][0]
        if "#" not in hop["question"] and hop["question"].endswith("?"):
            tasks.append(Task.from_dict({"id": f"{q['id']}-hop1", "question": hop["question"],
                                         "answers": [hop["answer"]], "difficulty": 1}))
    return tasks
