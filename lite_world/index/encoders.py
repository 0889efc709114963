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
  quantisation (``quantize_dynamic``: int8 weights, activations quantised per batch);
- ``openvino``: the transformer converted by OpenVINO (``openvino.convert_model``), run in
  ``float32`` or ``bfloat16`` (``dtype``), which OpenVINO executes with AVX512-BF16 / AMX where
  the CPU has them.

The default, ``auto``, is torch, in bfloat16 where the CPU has AVX512-BF16 / AMX, else float32.
OpenVINO (``pip install 'lite-world[fast]'``, then ``backend="openvino"`` or
``$LITE_WORLD_ENCODER_BACKEND=openvino``) is faster at batch 1 but opt-in: a default must not
change with what happens to be installed, or the same world would answer differently on two
machines. (It encodes correctly in a forked child after its parent encoded, checked by hand.)
Measured
on the 2-core dev machine (``benchmarks/bench_encoders.py``, 100 demo questions, 1 thread, CPU
ms per query at batch 1 / 64; gold recall@10, dense): torch fp32 15.2 / 11.1 (0.676), torch bf16
11.6 / 5.5 (0.676), ONNX fp32 7.7 / 9.5 (0.676), ONNX int8 3.7 / 3.9 (0.642: more than 1 point
lost, not a default), OpenVINO fp32 7.7 / 8.6 (0.676), OpenVINO bf16 7.0 / 4.8 (0.676).

Tokenisation, pooling and normalisation are the same code for every backend. The measured
agreement with torch fp32 (``tests/index/test_encoders.py``, :data:`TOLERANCE`): cosine >=
0.9999 for ONNX and OpenVINO fp32, >= 0.999 for bf16, >= 0.90 for int8 (0.92 was the least
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
import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lite_world._lazy import require
from lite_world.config import ConfigMixin, check_choice, check_int
from lite_world.errors import ConfigError, EmbedderMismatchError

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
TOLERANCE = {"torch/bfloat16": 0.999, "torch/float16": 0.999, "onnx": 0.9999, "onnx-int8": 0.90,
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
            "help": f"Forward pass: one of {BACKENDS} (runtime choice); 'auto' picks by "
            "benchmarks/bench_encoders.py: OpenVINO when installed, else torch."
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
    """``torch``: the same whatever else is installed (one thread in a forked child).

    OpenVINO is faster at batch 1 with fp32's recall (``benchmarks/bench_encoders.py``); it is
    opt-in (``backend="openvino"``) so that a world's answers do not depend on what is installed.
    """
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


def _cache_root() -> Path:
    root = os.environ.get("LITE_WORLD_CACHE") or Path.home() / ".cache" / "lite-world"
    return Path(root).expanduser() / "encoders"


class _Wrapped:
    """``(input_ids, attention_mask) -> last_hidden_state`` of a Hugging Face encoder."""

    def __init__(self, torch: Any, model: Any):
        class Forward(torch.nn.Module):
            def __init__(self, inner: Any):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask)
                return out.last_hidden_state

        self.module = Forward(model).eval()


class Encoder:
    """Texts to vectors under an :class:`EncoderConfig` (implements the ``Embedder`` protocol).

    ``encode`` encodes *queries* (with ``query_prefix``): it is what a world's searcher calls.
    ``encode_passages`` encodes page texts (with ``passage_prefix``): what the build calls.

    Args:
        config: the configuration.
        device: torch device for the ``torch`` backend (``None``: CUDA when available).
        num_threads: CPU threads during ``encode`` (1 keeps latency stable on busy machines;
            ``None`` leaves the libraries' defaults).
    """

    def __init__(
        self, config: EncoderConfig, *, device: str | None = None, num_threads: int | None = 1
    ):
        from lite_world.index.embedder import _BUNDLED, DEFAULT_EMBEDDER, _cached_embedder

        torch = require("torch")
        self.config = config
        self.num_threads = num_threads
        name = DEFAULT_EMBEDDER if config.model in _BUNDLED else config.model
        base = _cached_embedder(name, device, None)  # the sentence-transformers model, shared
        self.name, self.dim, self.device = base.name, base.dim, base.device
        self.tokenizer = base.model.tokenizer
        model = base.model[0].auto_model.eval()
        self._lock = threading.Lock()
        self._torch = torch
        self._pid = os.getpid()
        self._run = self._make_runner(model)

    # -- backends -----------------------------------------------------------------
    def _make_runner(self, model: Any) -> Any:
        c, torch = self.config, self._torch
        if c.backend == "torch":
            if c.dtype != "float32":
                model = copy.deepcopy(model).to(getattr(torch, c.dtype))

            def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    t_ids = torch.from_numpy(ids).to(self.device)
                    t_mask = torch.from_numpy(mask).to(self.device)
                    out = model(input_ids=t_ids, attention_mask=t_mask).last_hidden_state
                    return out.float().cpu().numpy()

            return run
        if c.backend.startswith("onnx"):
            return self._onnx_runner(model)
        return self._openvino_runner(model)

    def _example(self) -> dict[str, Any]:
        enc = self.tokenizer(["an example input", "a second, longer example input text"],
                             padding=True, return_tensors="pt")  # fmt: skip
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def _onnx_runner(self, model: Any) -> Any:
        ort = require("onnxruntime", extra="fast")
        torch = self._torch
        digest = hashlib.sha1(f"{self.name}|{self.dim}".encode()).hexdigest()[:12]
        folder = _cache_root() / digest
        folder.mkdir(parents=True, exist_ok=True)
        fp32 = folder / "model.onnx"
        if not fp32.is_file():
            ex = self._example()
            tmp = folder / f"model.onnx.{os.getpid()}.tmp"
            with torch.inference_mode():
                torch.onnx.export(
                    _Wrapped(torch, model).module,
                    (ex["input_ids"], ex["attention_mask"]),
                    str(tmp),
                    input_names=["input_ids", "attention_mask"],
                    output_names=["last_hidden_state"],
                    dynamic_axes={n: {0: "batch", 1: "tokens"}
                                  for n in ("input_ids", "attention_mask", "last_hidden_state")},
                    opset_version=17,
                    dynamo=False,
                )  # fmt: skip
            os.replace(tmp, fp32)
            logger.info("exported %s to %s", self.name, fp32)
        path = fp32
        if self.config.backend == "onnx-int8":
            path = folder / "model.int8.onnx"
            if not path.is_file():
                quantization = require("onnxruntime.quantization", extra="fast")
                tmp = folder / f"model.int8.onnx.{os.getpid()}.tmp"
                quantization.quantize_dynamic(
                    str(fp32), str(tmp), weight_type=quantization.QuantType.QInt8
                )
                os.replace(tmp, path)
        so = ort.SessionOptions()
        if self.num_threads is not None:
            so.intra_op_num_threads = self.num_threads
            so.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

        return run

    def _openvino_runner(self, model: Any) -> Any:
        ov = require("openvino", extra="fast")
        with self._torch.inference_mode():
            converted = ov.convert_model(_Wrapped(self._torch, model).module,
                                         example_input=self._example())  # fmt: skip
        props: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "bf16" if self.config.dtype != "float32" else "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        if self.num_threads is not None:
            props["INFERENCE_NUM_THREADS"] = self.num_threads
        compiled = ov.Core().compile_model(converted, "CPU", props)

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            return compiled({"input_ids": ids, "attention_mask": mask})[0]

        return run

    # -- encoding -------------------------------------------------------------------
    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hidden = hidden.astype(np.float32, copy=False)
        if self.config.pooling == "cls":
            vecs = hidden[:, 0]
        else:
            m = mask[..., None].astype(np.float32)
            vecs = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        if self.config.normalize:
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return vecs

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # little padding per batch
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        torch = self._torch
        if os.getpid() != self._pid:  # a forked child: torch's inherited thread pool deadlocks
            torch.set_num_threads(1)
            self._pid = os.getpid()
        previous = torch.get_num_threads()
        if self.num_threads is not None and self.config.backend == "torch":
            torch.set_num_threads(self.num_threads)
        try:
            starts = range(0, len(texts), max(1, batch_size))
            if show_progress:
                from tqdm.auto import tqdm

                starts = tqdm(starts, desc="encode", unit="batch")
            for start in starts:
                idx = order[start : start + batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.config.max_length,
                    return_tensors="np",
                )
                ids = enc["input_ids"].astype(np.int64)
                mask = enc["attention_mask"].astype(np.int64)
                with self._lock:
                    hidden = self._run(ids, mask)
                out[idx] = self._pool(hidden, mask)
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)
        return out

    def encode(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Query vectors, ``(len(texts), dim)`` float32 (``query_prefix`` prepended)."""
        p = self.config.query_prefix
        return self._encode([p + t for t in texts], batch_size, show_progress)

    def encode_passages(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Page / passage vectors (``passage_prefix`` prepended)."""
        p = self.config.passage_prefix
        return self._encode([p + t for t in texts], batch_size, show_progress)


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
        if device is not None or require("torch").cuda.is_available():
            config = config.replace(backend="torch")  # GPUs: torch on the device
    return _cached(config.resolved(), device, num_threads)


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
