"""TransformersAgent on the real SmolLM2-135M-Instruct (greedy, a few tokens per call)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from lite_world.errors import ConfigError

torch = pytest.importorskip("torch")


def test_greedy_act_is_deterministic_and_exact(make_agent, france):
    agent = make_agent(max_new_tokens=16)
    info = {"messages": france}
    # two calls from two threads (a shared agent in concurrent rollouts): serialized, same text
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: agent.act("What is the capital?", info), range(2))
    assert first == second == "The capital of France is Paris."
    # 8 tokens each: 7 of text plus <|im_end|>; prompt tokens counted once per call
    prompt = len(agent.prompt_ids(france))
    assert (agent.usage.requests, agent.usage.prompt_tokens, agent.usage.completion_tokens) == (
        2,
        2 * prompt,
        16,
    )


def test_act_respects_max_new_tokens(make_agent, smollm2, france):
    _, tokenizer = smollm2
    agent = make_agent(max_new_tokens=4)
    text = agent.act("What is the capital of France?", {"messages": france})
    assert isinstance(text, str)
    assert text == "The capital of France"  # the greedy answer, cut at 4 tokens
    assert agent.usage.completion_tokens == 4
    assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 4


def test_stop_strings_on_generated_text(make_agent, html):
    agent = make_agent(max_new_tokens=10, stop=())
    full = agent.act("", {"messages": html})
    assert "<b>bold</b>" in full
    # a closing tag ends generation early and is kept
    [completion] = agent.complete_batch(
        [html], agent.config.replace(stop=("</b>", "<tool_response>"))
    )
    assert (completion.finish_reason, completion.stop_reason) == ("stop", "</b>")
    assert completion.text == full[: full.index("</b>") + len("</b>")] == "```html\n<b>bold</b>"
    assert completion.content == "```html\n<b>bold"
    assert completion.completion_tokens <= 10
    # any other stop string is cut together with what follows; info["stop"] overrides the config
    assert agent.act("", {"messages": html, "stop": ["<b>", "</b>"]}) == "```html\n"


def test_generate_batch_matches_act(make_agent, html, france):
    agent = make_agent(max_new_tokens=10, stop=("</b>",))
    conversations = [html, france]  # different lengths: the shorter one is left-padded
    singles = [agent.act("", {"messages": c}) for c in conversations]
    assert singles == ["```html\n<b>bold</b>", "The capital of France is Paris."]
    single_usage = (agent.usage.prompt_tokens, agent.usage.completion_tokens)
    assert agent.generate_batch(conversations) == singles
    # padding is counted in neither prompt nor completion tokens
    assert (agent.usage.prompt_tokens, agent.usage.completion_tokens) == tuple(
        2 * n for n in single_usage
    )


def test_sampling_is_seeded_and_leaves_global_rng_alone(make_agent, html):
    agent = make_agent(max_new_tokens=4, temperature=1.5, stop=())
    state = torch.get_rng_state()
    texts = [agent.complete_batch([html], agent.config.replace(seed=s))[0].text for s in (0, 1, 0)]
    assert torch.equal(torch.get_rng_state(), state)
    assert texts[0] == texts[2]
    assert texts[0] != texts[1]


def test_loaded_model_needs_a_tokenizer(smollm2):
    from lite_world.agents import TransformersAgent

    model, _ = smollm2
    with pytest.raises(ConfigError, match="Expects a tokenizer with a loaded model, actual: None"):
        TransformersAgent(model)
    with pytest.raises(ConfigError, match="actual: list"):
        TransformersAgent([model])


def test_unknown_model_is_a_config_error(tmp_path):
    from lite_world.agents import TransformersAgent

    with pytest.raises(ConfigError, match="loading is offline"):
        TransformersAgent(str(tmp_path / "no-such-model"))


def test_a_peft_lora_policy_acts_like_its_merged_model(smollm2, france):
    """A LoRA policy under training (a peft model) is evaluated in place: greedy turns equal
    those of the same adapter merged into the weights."""
    pytest.importorskip("peft")
    import copy

    import torch

    from lite_world.agents import GenerationConfig, TransformersAgent
    from trainers._lora import apply_lora, merge_lora

    model, tokenizer = smollm2
    policy = apply_lora(
        copy.deepcopy(model), r=2, alpha=4.0, dropout=0.0, modules=("v_proj", "o_proj"), seed=0
    )
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
    config = GenerationConfig(max_new_tokens=12)
    in_place = TransformersAgent(policy, tokenizer, config).generate_batch([france])
    merged = TransformersAgent(merge_lora(policy), tokenizer, config).generate_batch([france])
    plain = TransformersAgent(model, tokenizer, config).generate_batch([france])
    assert in_place == merged
    assert in_place != plain  # the adapter acts
