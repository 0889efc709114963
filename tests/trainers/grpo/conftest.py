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
    """``(model, tokenizer)`` of the embedded SmolLM2-135M-Instruct.

    The shared, cached copy: do not train it."""
    from lite_world.agents.smollm import load_smollm2

    return load_smollm2()


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory, smollm2):
    """Directory of a tiny random Llama (1 layer, width 16) with SmolLM2's tokenizer."""
    import torch
    import transformers

    _, tokenizer = smollm2
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
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
    """One-hop tasks: the first hops of the tiny world's MuSiQue questions (evidence in it)."""
    from lite_world.tasks import Task

    tasks = []
    for q in musique:
        hop = q["question_decomposition"][0]
        if "#" not in hop["question"] and hop["question"].endswith("?"):
            tasks.append(
                Task.from_dict(
                    {
                        "id": f"{q['id']}-hop1",
                        "question": hop["question"],
                        "answers": [hop["answer"]],
                        "difficulty": 1,
                    }
                )
            )
    return tasks


FRANCE = {"id": "france", "question": "What is the capital of France?", "answers": ["Paris"]}
"""The task of :func:`branching_policy`."""
ENDS = "<answer>Paris</answer>"
"""What the branching policy writes first; then it ends its turn, or goes on with wrong answers."""
GOES_ON = "<answer>London</answer>"


@pytest.fixture(scope="session")
def branching_policy(tmp_path_factory, smollm2):
    """Directory of a tiny Llama taught (plain cross-entropy, in this fixture) to answer
    :data:`FRANCE` in the Search-R1 ``tags`` format with one of two turns, about half the time
    each: ``<answer>Paris</answer><|im_end|>`` (it ends its turn: reward 1), or
    ``<answer>Paris</answer>`` followed by ``<answer>London</answer>`` over and over (it never
    ends its turn; the env reads the last answer, London: reward 0).

    Whether it ends its turn is the one thing that decides the reward, so a trainer that trains
    the end-of-turn token can learn it, and one that stops generation at ``</answer>`` cannot.
    """
    import torch
    import transformers

    from lite_world.tasks import Task
    from trainers.grpo.config import GRPOConfig
    from trainers.grpo.rollout import ChatTokens, make_envs
    from trainers.grpo.trainer import policy_position_logits

    _, tokenizer = smollm2
    task = Task.from_dict(FRANCE)
    env = make_envs(GRPOConfig.from_flat(action_format="tags", max_turns=1), [task], 1)[0]
    _, info = env.reset(seed=0, options={"task": task.to_dict()})
    chat = ChatTokens(tokenizer)
    prompt = chat.prompt_ids(info["messages"])
    turns = [chat.encode(ENDS) + [tokenizer.eos_token_id], chat.encode(ENDS + GOES_ON * 8)]
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    width = len(prompt) + max(len(t) for t in turns)
    ids = torch.full((2, width), 2)
    attention = torch.zeros((2, width), dtype=torch.long)
    labels = torch.zeros((2, width), dtype=torch.bool)
    for row, turn in enumerate(turns):
        ids[row, : len(prompt) + len(turn)] = torch.tensor(prompt + turn)
        attention[row, : len(prompt) + len(turn)] = 1
        labels[row, len(prompt) : len(prompt) + len(turn)] = True
    predict = torch.zeros_like(labels)
    predict[:, :-1] = labels[:, 1:]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        for _ in range(120):
            logits = policy_position_logits(model, ids, attention, predict)
            loss = torch.nn.functional.cross_entropy(logits, ids[labels])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert loss.item() < 0.1  # both turns learnt; which one follows "</answer>" is a coin flip
    path = tmp_path_factory.mktemp("policy") / "branching-llama"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
