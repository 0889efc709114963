"""LoRA adapters for the trainers (SFT and GRPO): wrap, load, merge, parse target modules.

A LoRA policy is a ``peft`` model whose only trainable parameters are the adapter's low-rank
matrices; what a run ships is a plain Hugging Face directory with the adapter merged into the
weights (loadable by :func:`trainers.grpo.trainer.load_policy`, ``TransformersAgent``, verl),
plus the adapter alone (a few MB) for resuming and for sharing.

Importing this module does not import torch or peft; the functions load them on first use.

Example:
    >>> target_modules("q_proj, v_proj", owner="GRPOConfig")
    ('q_proj', 'v_proj')
    >>> target_modules(" , ", owner="GRPOConfig")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects at least one GRPOConfig.lora_target_modules name, ...
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lite_world._lazy import require
from lite_world.errors import ConfigError

__all__ = [
    "LINEAR_PROJECTIONS",
    "apply_lora",
    "export_lora_delta",
    "load_lora",
    "merge_lora",
    "save_adapter",
    "target_modules",
]

LINEAR_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The linear layers of a Llama/Qwen-style block: the default LoRA targets."""


def target_modules(value: Any, owner: str) -> tuple[str, ...]:
    """LoRA target module names from a comma-separated string or a sequence of names.

    Each item may itself be comma-separated (the CLI's one-value flag gives ``("q_proj,o_proj",)``).
    ``owner`` names the config class in error messages.

    Example:
        >>> target_modules(["q_proj,o_proj", "up_proj"], owner="SFTConfig")
        ('q_proj', 'o_proj', 'up_proj')
    """
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"Expects {owner}.lora_target_modules to be module names, actual: {value!r}"
        )
    out = tuple(p.strip() for n in names for p in n.split(",") if p.strip())
    if not out:
        raise ConfigError(
            f"Expects at least one {owner}.lora_target_modules name, actual: {value!r}"
        )
    return out


@contextlib.contextmanager
def _seeded(model: Any, seed: int | None) -> Iterator[None]:
    """Seed torch's RNGs (CPU and the model's CUDA devices) inside the block, then restore them."""
    if seed is None:
        yield
        return
    torch = require("torch")
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def apply_lora(
    model: Any,
    *,
    r: int,
    alpha: float,
    dropout: float,
    modules: Sequence[str],
    seed: int | None = None,
) -> Any:
    """Wrap ``model`` in a trainable LoRA adapter (``peft``); only the adapter requires grad.

    The adapter's A matrices are drawn from torch's RNG, seeded with ``seed`` when given (the
    caller's RNG state is restored after); B starts at 0, so the wrapped model computes exactly
    what ``model`` did.

    Example:
        >>> import torch, transformers
        >>> config = transformers.LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=8)
        >>> torch.manual_seed(0) and None
        >>> base = transformers.LlamaForCausalLM(config).eval()
        >>> ids = torch.tensor([[3, 4, 5]])
        >>> before = base(input_ids=ids).logits
        >>> lora = apply_lora(base, r=2, alpha=4.0, dropout=0.0, modules=["q_proj"], seed=0)
        >>> sorted({n.split(".")[-3] for n, p in lora.named_parameters() if p.requires_grad})
        ['lora_A', 'lora_B']
        >>> torch.equal(lora(input_ids=ids).logits, before)
        True
    """
    peft = require("peft", extra="sft")
    config = peft.LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(modules),
        task_type="CAUSAL_LM",
    )
    with _seeded(model, seed):
        return peft.get_peft_model(model, config)


def load_lora(model: Any, adapter_dir: str | os.PathLike[str]) -> Any:
    """Wrap ``model`` (the base weights) in the adapter saved in ``adapter_dir``, trainable."""
    peft = require("peft", extra="sft")
    try:
        return peft.PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "Expects a LoRA adapter directory (adapter_config.json and weights, as written by "
            f"save_adapter), actual: {str(adapter_dir)!r} ({exc})"
        ) from exc


def save_adapter(model: Any, directory: str | os.PathLike[str]) -> None:
    """Write the adapter alone (its config and low-rank weights, no base weights)."""
    model.save_pretrained(str(directory), save_embedding_layers=False)


def merge_lora(model: Any, *, in_place: bool = False) -> Any:
    """A plain transformers model with the adapter of the peft ``model`` merged into its weights.

    ``in_place=False`` merges a copy (the adapter keeps training); ``in_place=True`` merges the
    model itself (no second copy in memory; ``model`` is then no longer a LoRA model).
    """
    return (model if in_place else copy.deepcopy(model)).merge_and_unload()


def export_lora_delta(
    base: Any,
    tuned: Any,
    directory: str | os.PathLike[str],
    *,
    rank: int,
    modules: Sequence[str] = LINEAR_PROJECTIONS,
    dtype: str = "float16",
    base_name: str = "HuggingFaceTB/SmolLM2-135M-Instruct",
) -> dict[str, Any]:
    """Write ``tuned - base`` over the ``modules`` linear layers as ONE peft LoRA adapter.

    A policy trained by LoRA stages (SFT, then GRPO on the merged SFT model) differs from its
    base by a sum of low-rank updates: two rank-r stages give a change of rank <= 2r, which a
    truncated SVD at ``rank = 2r`` recovers up to float error. ``tuned`` must differ from
    ``base`` only in those layers (LoRA never touches the others; this is checked). The
    factors are saved in ``dtype`` (float16 halves the file; the merge adds them in float32)
    with ``lora_alpha = r`` (scale 1), so :func:`lite_world.agents.adapters.load_named_model`
    and peft both load it.

    Returns:
        ``{"rank", "modules", "relative_max_error", "bytes"}``: the worst per-layer max-abs
        reconstruction error relative to that layer's largest change, after the cast.

    Example (the tests run it on SmolLM2 after a tiny SFT -> GRPO run):
        >>> export_lora_delta(base, tuned, "out/adapter", rank=16)  # doctest: +SKIP
        {'rank': 16, 'modules': 210, 'relative_max_error': 0.0004, 'bytes': 9839312}
    """
    torch = require("torch")
    safetensors_torch = require("safetensors.torch", extra="llm")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ConfigError(f"Expects rank to be an int >= 1, actual: {rank!r}")
    if dtype not in ("float16", "bfloat16", "float32"):
        raise ConfigError(f"Expects dtype 'float16', 'bfloat16' or 'float32', actual: {dtype!r}")
    targets = set(modules)
    base_params = dict(base.named_parameters())
    tensors: dict[str, Any] = {}
    worst = 0.0
    with torch.no_grad():
        for name, param in tuned.named_parameters():
            if name not in base_params or base_params[name].shape != param.shape:
                raise ConfigError(
                    f"Expects tuned and base to be the same architecture, actual: {name} "
                    "differs in name or shape. Pass the base model the policy was trained from"
                )
            module, _, leaf = name.rpartition(".")
            if module.rpartition(".")[2] in targets and leaf == "weight" and param.dim() == 2:
                continue
            if not torch.equal(param, base_params[name]):
                raise ConfigError(
                    f"Expects only the {sorted(targets)} layers to differ (what LoRA trains), "
                    f"actual: {name} differs too. A LoRA adapter cannot carry that change"
                )
        for name, mod in tuned.named_modules():
            if name.rpartition(".")[2] not in targets or not isinstance(mod, torch.nn.Linear):
                continue
            delta = mod.weight.double() - base_params[f"{name}.weight"].double()
            u, s, vh = torch.linalg.svd(delta, full_matrices=False)
            b = (u[:, :rank] * s[:rank]).to(getattr(torch, dtype))
            a = vh[:rank].to(getattr(torch, dtype))
            err = float((b.double() @ a.double() - delta).abs().max())
            worst = max(worst, err / max(float(delta.abs().max()), 1e-12))
            tensors[f"base_model.model.{name}.lora_A.weight"] = a.contiguous()
            tensors[f"base_model.model.{name}.lora_B.weight"] = b.contiguous()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    safetensors_torch.save_file(tensors, str(out / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_name,
        "r": rank,
        "lora_alpha": rank,
        "lora_dropout": 0.0,
        "bias": "none",
        "target_modules": sorted(targets),
        "fan_in_fan_out": False,
        "inference_mode": True,
        "use_rslora": False,
    }
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    size = sum(f.stat().st_size for f in out.iterdir() if f.name.startswith("adapter_"))
    return {
        "rank": rank,
        "modules": len(tensors) // 2,
        "relative_max_error": worst,
        "bytes": size,
    }
