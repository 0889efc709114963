"""Encoder backends behind one explicit embedder configuration.

An :class:`EncoderConfig` says everything that decides a vector: the model, the query and
passage prefixes (``query: `` / ``passage: `` for e5, an instruction for bge queries), the
pooling over the last hidden state (``mean`` with the attention mask, or ``cls``), L2
normalisation and the maximum length in tokens. The build records these *semantic* fields in
the manifest and the world encodes its queries with the same ones. How the forward pass runs is
a runtime choice that does not change what is computed, only how exactly:

- ``torch`` with ``dtype`` ``float32`` (the reference), ``bfloat16`` or ``float16``;
- ``onnx``: the transformer exported to ONNX once (cached under ``$LITE_WORLD_CACHE/encoders``)
  and run by ONNX Runtime; ``onnx-int8`` the same graph with ONNX Runtime's dynamic int8
  quantisation (``quantize_dynamic``, per channel: int8 weights with a scale per row,
  activations quantised per run, so it encodes one text per run: a text's vector never depends
  on its batch);
- ``openvino``: the same exported ONNX file compiled by OpenVINO (torch-free too), run in
  ``float32`` or ``bfloat16`` (``dtype``), which OpenVINO executes with AVX512-BF16 / AMX where
  the CPU has them.

The default, ``auto``, on CPUs: ``openvino`` in bfloat16 where the CPU has AVX512-BF16 / AMX
and OpenVINO is installed, else ``onnx`` (fp32) when ONNX Runtime is installed (all three come
with the ``dense`` extra), else torch; GPUs use torch. A world's *page* vectors are always
computed in fp32 (:mod:`lite_world.build`); bf16 is for queries. The ``onnx`` and ``openvino``
backends never import torch (:mod:`lite_world.index.onnx_model`), which is most of a served
world's memory and startup: ``lite-world serve`` on the demo world takes 343 MB and 1.5 s to
its first answer with ONNX Runtime instead of 780 MB and 10 s with sentence-transformers
(``benchmarks/bench_vs_searchr1.py``). Both encode correctly in a forked child after the
parent encoded, OpenVINO also after its batch path made two compiled copies
(``tests/index/test_onnx_model.py``).

Measured on the 2-core dev machine (``benchmarks/bench_encoders.py``, 100 demo questions, 1
thread, CPU ms per query at batch 1 / 64; gold recall@10, dense): torch fp32 15.2 / 11.1
(0.676), torch bf16 11.6 / 5.5 (0.676), ONNX fp32 7.7 / 9.5 (0.676), OpenVINO fp32 7.7 / 8.6
(0.676), OpenVINO bf16 7.0 / 4.8 (0.676). ONNX int8 was 3.7 / 3.9 with one scale per weight
tensor (0.642: more than 1 point lost); per channel, as now, 3.3 ms CPU per query against fp32's
7.1 in the same run, recall@10 dense 0.677 / hybrid 0.689 against fp32's 0.676 / 0.694 (by
hand, load average 5.6). It stays opt-in: its vectors are not torch's to 1e-6, so rankings on
near-ties differ from a world built and tested in fp32.

Pooling and normalisation are the same code for every backend; the exported backends tokenise
with the ``tokenizers`` library, the same ids as the model's Hugging Face tokenizer, and
OpenVINO compiles the same exported file (it used to convert the torch module at every start:
torch in memory and 7-13 s to load). The measured agreement with torch fp32
(``tests/index/test_encoders.py``, :data:`TOLERANCE`): cosine >=
0.9999 for ONNX and OpenVINO fp32, >= 0.999 for bf16, >= 0.98 for int8 (0.991 was the least
measured, on a one-word text). Recall and speed: ``benchmarks/bench_encoders.py``.

Example:
    >>> cfg = EncoderConfig(query_prefix="query: ", passage_prefix="passage: ")
    >>> cfg.semantics()["query_prefix"], cfg.backend
    ('query: ', 'auto')
    >>> EncoderConfig(backend="torch", dtype="float32").resolved().key
    'torch'
    >>> EncoderConfig(pooling="max")
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects EncoderConfig.pooling in ('mean', 'cls'), actual: 'max'
    >>> enc = get_encoder(cfg)                                   # doctest: +SKIP
    >>> enc.encode(["who wrote hamlet"]).shape                   # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lite_world._lazy import require
from lite_world.config import ConfigMixin, check_choice, check_int
from lite_world.errors import ConfigError, EmbedderMismatchError
from lite_world.index.onnx_model import OnnxModel, OpenVinoModel

__all__ = [
    "BACKENDS",
    "DTYPES",
    "POOLINGS",
    "SEMANTIC_FIELDS",
    "TOLERANCE",
    "EncoderConfig",
    "Encoder",
    "get_encoder",
    "check_semantics",
    "from_manifest",
]

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx", "onnx-int8", "openvino")
DTYPES = ("float32", "bfloat16", "float16")
POOLINGS = ("mean", "cls")
SEMANTIC_FIELDS = ("model", "query_prefix", "passage_prefix", "pooling", "normalize", "max_length")
# least cosine to torch fp32 each backend is tested to keep (tests/index/test_encoders.py)
TOLERANCE = {"torch/bfloat16": 0.999, "torch/float16": 0.999, "onnx": 0.9999, "onnx-int8": 0.98,
             "openvino": 0.9999, "openvino/bfloat16": 0.999}  # fmt: skip
_DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_ENV_BACKEND = "LITE_WORLD_ENCODER_BACKEND"


@dataclass(frozen=True)
class EncoderConfig(ConfigMixin):
    """How texts become vectors, at build time and at query time."""

    model: str = field(
        default=_DEFAULT_MODEL,
        metadata={"help": "sentence-transformers / Hugging Face model name or local path."},
    )
    query_prefix: str = field(
        default="", metadata={"help": "Prepended to every query ('query: ' for e5)."}
    )
    passage_prefix: str = field(
        default="", metadata={"help": "Prepended to every page text ('passage: ' for e5)."}
    )
    pooling: str = field(
        default="mean", metadata={"help": "'mean' over tokens (attention mask) or 'cls'."}
    )
    normalize: bool = field(default=True, metadata={"help": "L2-normalise the vectors."})
    max_length: int = field(default=128, metadata={"help": "Tokens kept per text (truncation)."})
    backend: str = field(
        default="auto",
        metadata={
            "help": f"Forward pass: one of {BACKENDS} (runtime choice); 'auto': onnx (fp32, "
            "torch-free) on CPU when onnxruntime is installed, else torch (GPUs: torch)."
        },
    )
    dtype: str = field(
        default="auto",
        metadata={
            "help": f"torch / openvino precision: one of {DTYPES} or 'auto' (bfloat16 where "
            "the CPU has AVX512-BF16 or AMX, else float32)."
        },
    )

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(
                f"Expects EncoderConfig.model to be a name or path, actual: {self.model!r}"
            )
        for name in ("query_prefix", "passage_prefix"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(
                    f"Expects EncoderConfig.{name} to be a string, actual: {getattr(self, name)!r}"
                )
        check_choice("EncoderConfig.pooling", self.pooling, POOLINGS)
        check_choice("EncoderConfig.backend", self.backend, BACKENDS)
        check_choice("EncoderConfig.dtype", self.dtype, (*DTYPES, "auto"))
        if not isinstance(self.normalize, bool):
            raise ConfigError(
                f"Expects EncoderConfig.normalize to be a bool, actual: {self.normalize!r}"
            )
        check_int("EncoderConfig.max_length", self.max_length, low=1, high=8192)
        if self.backend.startswith("onnx") and self.dtype not in ("float32", "auto"):
            raise ConfigError(
                f"Expects dtype 'float32' with the {self.backend} backend, actual: {self.dtype!r}. "
                "Use backend 'onnx-int8' for int8, or 'torch' / 'openvino' for bfloat16."
            )

    def semantics(self) -> dict[str, Any]:
        """The fields that decide the vectors (what the manifest records and opening checks)."""
        return {k: getattr(self, k) for k in SEMANTIC_FIELDS}

    def resolved(self) -> EncoderConfig:
        """``auto`` backend and dtype made concrete for this machine (see :func:`auto_backend`)."""
        backend = auto_backend() if self.backend == "auto" else self.backend
        dtype = self.dtype
        if dtype == "auto":
            dtype = "bfloat16" if backend in ("torch", "openvino") and cpu_has_bf16() else "float32"
        return self.replace(backend=backend, dtype=dtype)

    @property
    def key(self) -> str:
        """``backend`` or ``backend/dtype`` (the :data:`TOLERANCE` key)."""
        return self.backend if self.dtype == "float32" else f"{self.backend}/{self.dtype}"


def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX; Linux ``/proc/cpuinfo``).

    On CPUs without them bf16 is emulated and slower than fp32 (perf-baseline notes).
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def auto_backend() -> str:
    """The CPU query encoder: ``openvino`` (bf16) on CPUs with bf16 instructions when OpenVINO
    is installed, else ``onnx`` (fp32, ONNX Runtime) when installed, else ``torch``.

    Both exported backends are torch-free (:mod:`lite_world.index.onnx_model`). Chosen by
    ``benchmarks/bench_encoders.py``, ``bench_scale_100k.py`` and ``bench_vs_searchr1.py``: the
    same recall@10 as torch fp32 (OpenVINO bf16's vectors agree with fp32 to a cosine of
    0.999, :data:`TOLERANCE`); single queries faster (100k-page hybrid search p50 7.3 ms
    against 11.3 ms with ONNX Runtime). Both run a served micro-batch's sub-batches on two
    threads at once: ONNX Runtime on one session, OpenVINO on one compiled copy per thread
    (about 70 MB each). Both come with the ``dense`` extra, so a default install answers the
    same on the same CPU.
    """
    from importlib.util import find_spec

    if find_spec("tokenizers") is None:
        return "torch"
    if find_spec("openvino") is not None and cpu_has_bf16():
        return "openvino"
    if find_spec("onnxruntime") is not None:
        return "onnx"
    return "torch"


def check_semantics(recorded: dict[str, Any], config: EncoderConfig) -> None:
    """Raise unless ``config`` computes the vectors the world's index was built with.

    Example:
        >>> check_semantics({"query_prefix": "query: "}, EncoderConfig())
        Traceback (most recent call last):
        ...
        lite_world.errors.EmbedderMismatchError: Expects query_prefix='query: ' like the index (manifest), actual: ''. Drop the override, or rebuild the world with this encoder configuration.
    """  # noqa: E501
    mine = config.semantics()
    for key, want in recorded.items():
        if key in mine and mine[key] != want:
            raise EmbedderMismatchError(
                f"Expects {key}={want!r} like the index (manifest), actual: {mine[key]!r}. Drop "
                "the override, or rebuild the world with this encoder configuration."
            )


class Encoder:
    """Texts to vectors under an :class:`EncoderConfig` (implements the ``Embedder`` protocol).

    ``encode`` encodes *queries* (with ``query_prefix``): it is what a world's searcher calls.
    ``encode_passages`` encodes page texts (with ``passage_prefix``): what the build calls.

    The ``onnx`` and ``openvino`` backends never import torch
    (:mod:`lite_world.index.onnx_model`): ONNX Runtime or OpenVINO runs an exported file,
    ``tokenizers`` tokenises. They are ``thread_safe``: ``encode(..., workers=2)`` runs two
    sub-batches at once, each on one thread (ONNX Runtime: one session; OpenVINO: a compiled
    copy per thread, made on the first such call).

    Args:
        config: the configuration.
        device: torch device for the ``torch`` backend (``None``: CUDA when available).
        num_threads: CPU threads during ``encode`` (1 keeps latency stable on busy machines;
            ``None`` leaves the libraries' defaults).
    """

    def __init__(
        self, config: EncoderConfig, *, device: str | None = None, num_threads: int | None = 1
    ):
        from lite_world.index.embedder import _BUNDLED, DEFAULT_EMBEDDER

        self.config = config
        self.num_threads = num_threads
        self.thread_safe = config.backend != "torch"
        self._pool: Any = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        name = DEFAULT_EMBEDDER if config.model in _BUNDLED else config.model
        if self.thread_safe:  # torch-free: the exported file (lite_world.index.onnx_model)
            exported: OnnxModel | OpenVinoModel
            if config.backend == "openvino":
                exported = OpenVinoModel.load(name, dtype=config.dtype, num_threads=num_threads)
            else:
                int8 = config.backend == "onnx-int8"
                exported = OnnxModel.load(name, int8=int8, num_threads=num_threads)
            self.name, self.dim, self.device = name, exported.dim, "cpu"
            self._torch: Any = None
            self._tokenize: Any = exported.tokenize
            self._run = exported.run
            self._exported: OnnxModel | OpenVinoModel | None = exported
            return
        self._exported = None
        from lite_world.index.embedder import _cached_embedder

        torch = require("torch")
        base = _cached_embedder(name, device, None)  # the sentence-transformers model, shared
        self.name, self.dim, self.device = base.name, base.dim, base.device
        self.tokenizer = base.model.tokenizer
        model = base.model[0].auto_model.eval()
        if config.dtype != "float32":
            model = copy.deepcopy(model).to(getattr(torch, config.dtype))
        self._torch = torch
        self._tokenize = self._hf_tokenize
        self._run = self._torch_runner(model)

    # -- backends -----------------------------------------------------------------
    def _hf_tokenize(self, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="np"
        )
        return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)

    def _torch_runner(self, model: Any) -> Any:
        torch = self._torch

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                t_ids = torch.from_numpy(ids).to(self.device)
                t_mask = torch.from_numpy(mask).to(self.device)
                out = model(input_ids=t_ids, attention_mask=t_mask).last_hidden_state
                return out.float().cpu().numpy()

        return run

    # -- encoding -------------------------------------------------------------------
    def _pool_vectors(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hidden = hidden.astype(np.float32, copy=False)
        if self.config.pooling == "cls":
            vecs = hidden[:, 0]
        else:
            m = mask[..., None].astype(np.float32)
            vecs = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        if self.config.normalize:
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return vecs

    def _one_batch(self, texts: list[str]) -> np.ndarray:
        ids, mask = self._tokenize(texts, self.config.max_length)
        return self._pool_vectors(self._run(ids, mask), mask)

    def _encode(
        self, texts: list[str], batch_size: int, show_progress: bool, workers: int = 1
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.config.backend == "onnx-int8":
            # activations are quantised per run: one text per run keeps a text's vector
            # independent of what it is batched with (batching gains int8 nothing on CPU)
            batch_size = 1
        order = np.argsort([-len(t) for t in texts], kind="stable")  # little padding per batch
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        chunks = [
            order[s : s + max(1, batch_size)] for s in range(0, len(texts), max(1, batch_size))
        ]
        if self._torch is None:  # onnx: threads are the session's (or the workers below)
            if os.getpid() != self._pid:  # a forked child has none of its parent's threads
                self._pool, self._pid = None, os.getpid()
            if workers > 1 and len(chunks) > 1 and not show_progress:
                assert self._exported is not None  # the exported backends are the thread-safe ones
                self._exported.replicate(workers)  # OpenVINO: a compiled copy per thread
                for idx, vecs in zip(
                    chunks,
                    self._workers(workers).map(
                        lambda ix: self._one_batch([texts[i] for i in ix]), chunks
                    ),
                    strict=True,
                ):
                    out[idx] = vecs
                return out
            for idx in _progress(chunks, show_progress):
                out[idx] = self._one_batch([texts[i] for i in idx])
            return out
        # torch: one call at a time (a Hugging Face fast tokenizer raises "Already borrowed" when
        # two threads share it, and the thread count set below is process-wide)
        with self._lock:
            return self._encode_torch(texts, chunks, out, show_progress, workers)

    def _encode_torch(
        self,
        texts: list[str],
        chunks: list[np.ndarray],
        out: np.ndarray,
        show_progress: bool,
        workers: int,
    ) -> np.ndarray:
        torch = self._torch
        if os.getpid() != self._pid:  # a forked child: torch's inherited thread pool deadlocks
            torch.set_num_threads(1)
            self._pid = os.getpid()
        previous = torch.get_num_threads()
        threads = self.num_threads
        if threads is not None and workers > 1 and len(chunks) > 1:
            threads = max(threads, workers)  # torch: the batch path's threads are intra-op
        if threads is not None and self.config.backend == "torch":
            torch.set_num_threads(threads)
        try:
            for idx in _progress(chunks, show_progress):
                out[idx] = self._one_batch([texts[i] for i in idx])
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)
        return out

    def _workers(self, n: int) -> Any:
        if self._pool is None or self._pool._max_workers != n:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(n, thread_name_prefix="lite-world-encode")
        return self._pool

    def encode(
        self,
        texts: list[str],
        *,
        batch_size: int = 64,
        show_progress: bool = False,
        workers: int = 1,
    ) -> np.ndarray:
        """Query vectors, ``(len(texts), dim)`` float32 (``query_prefix`` prepended).

        ``workers`` > 1: a call of several sub-batches uses that many threads (onnx, openvino:
        sub-batches run at once, one thread each; torch: intra-op threads for this call).
        """
        p = self.config.query_prefix
        return self._encode([p + t for t in texts], batch_size, show_progress, workers)

    def encode_passages(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Page / passage vectors (``passage_prefix`` prepended)."""
        p = self.config.passage_prefix
        return self._encode([p + t for t in texts], batch_size, show_progress)


def _progress(chunks: list[np.ndarray], show: bool) -> Any:
    if not show:
        return chunks
    from tqdm.auto import tqdm

    return tqdm(chunks, desc="encode", unit="batch")


def get_encoder(
    config: EncoderConfig | dict[str, Any],
    device: str | None = None,
    num_threads: int | None = 1,
) -> Encoder:
    """A process-wide cached :class:`Encoder` (loading and exporting take seconds).

    A dict is read as an :class:`EncoderConfig`; ``$LITE_WORLD_ENCODER_BACKEND`` (e.g.
    ``onnx-int8`` or ``torch/bfloat16``) overrides the backend and dtype of a config that leaves
    the backend at ``auto``, never the semantic fields.
    """
    if isinstance(config, dict):
        config = EncoderConfig.from_dict(config)
    override = os.environ.get(_ENV_BACKEND)
    if override and config.backend == "auto":
        backend, _, dtype = override.partition("/")
        config = config.replace(backend=backend, dtype=dtype or "float32")
    if config.backend == "auto" and device != "cpu":
        if device is not None or _cuda_available():
            config = config.replace(backend="torch")  # GPUs: torch on the device
    return _cached(config.resolved(), device, num_threads)


def _cuda_available() -> bool:
    """Whether torch sees a GPU, without importing torch on a machine with no NVIDIA driver."""
    if "torch" not in sys.modules and not os.path.exists("/proc/driver/nvidia/version"):
        return False
    return bool(require("torch").cuda.is_available())


@functools.lru_cache(maxsize=8)
def _cached(config: EncoderConfig, device: str | None, num_threads: int | None) -> Encoder:
    return Encoder(config, device=device, num_threads=num_threads)


def from_manifest(recorded: dict[str, Any], embedder: str | None = None) -> EncoderConfig:
    """The :class:`EncoderConfig` a world's manifest records (its semantic fields).

    Raises:
        WorldCorruptedError: the recorded fields are not a valid configuration, or name another
            model than the manifest's ``embedder``.

    Example:
        >>> from_manifest({"query_prefix": "query: ", "pooling": "mean"}).query_prefix
        'query: '
        >>> from_manifest({"pooling": "max"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.WorldCorruptedError: Expects a valid embedder_config in the manifest, ...
    """
    from lite_world.errors import WorldCorruptedError

    fields = {k: v for k, v in recorded.items() if k in SEMANTIC_FIELDS}
    try:
        config = EncoderConfig.from_dict(fields)
    except ConfigError as exc:
        raise WorldCorruptedError(
            f"Expects a valid embedder_config in the manifest, actual: {exc}. Restore "
            "manifest.json from a copy of the world, or rebuild the world."
        ) from exc
    if embedder is not None and "model" in fields and fields["model"] != embedder:
        from lite_world.index.embedder import _BUNDLED, DEFAULT_EMBEDDER

        same = {fields["model"], embedder} <= _BUNDLED | {DEFAULT_EMBEDDER}
        if not same:
            raise EmbedderMismatchError(
                f"Expects the query encoder {fields['model']!r} recorded with the index, actual: "
                f"{embedder!r}. Leave the embedder unset (the world's own is used)."
            )
    return config
