"""The torch-free ONNX encoder: same tokens as Hugging Face, same vectors as torch, no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from lite_world.errors import ModelNotFoundError  # noqa: E402
from lite_world.index.encoders import EncoderConfig, get_encoder  # noqa: E402
from lite_world.index.onnx_model import (  # noqa: E402
    OnnxModel,
    ensure_exported,
    export_folder,
    model_path,
)

NAME = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def texts(musique):
    qs = [q["question"] for q in musique]
    paras = [p["paragraph_text"] for q in musique for p in q["paragraphs"]][:10]
    # one word, accents and CJK (BERT normaliser), and a text far past max_length
    return qs + paras + ["a", "Ünïcödé café 東京", "word " * 400]


@pytest.fixture(scope="module")
def model():
    return OnnxModel.load(NAME)


def test_tokens_equal_the_hugging_face_fast_tokenizer(model, texts):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(model_path(NAME)), local_files_only=True)
    for max_length in (128, 16):
        want = hf(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
        ids, mask = model.tokenize(texts, max_length)
        assert ids.dtype == np.int64 and ids.shape == want["input_ids"].shape
        assert (ids == want["input_ids"]).all()
        assert (mask == want["attention_mask"]).all()
    assert ids.shape[1] == 16  # the long text was cut


def test_export_folder_holds_the_model_and_tokenizer(model):
    folder = ensure_exported(NAME)
    assert folder == export_folder(NAME) == model.folder
    assert (folder / "model.onnx").stat().st_size > 80_000_000  # MiniLM's fp32 weights
    assert json.loads((folder / "tokenizer.json").read_text())["model"]["type"] == "WordPiece"
    assert model.dim == 384
    hidden = model.run(*model.tokenize(["who wrote hamlet"], 128))
    assert hidden.shape == (1, 5, 384) and hidden.dtype == np.float32  # [CLS] 3 words [SEP]


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_parallel_sub_batches_give_the_same_vectors(texts, backend):
    """Each thread runs its own sub-batch (onnx: one session; openvino: a request per thread)."""
    pytest.importorskip(backend if backend == "openvino" else "onnxruntime")
    enc = get_encoder(EncoderConfig(backend=backend, dtype="float32"))
    assert enc.thread_safe
    one = enc.encode(texts, batch_size=4)
    two = enc.encode(texts, batch_size=4, workers=2)
    assert np.array_equal(one, two)
    assert np.allclose(np.linalg.norm(one, axis=1), 1.0, atol=1e-5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_openvino_copies_encode_in_a_forked_child(texts):
    """The served batch path's two compiled copies (one per thread) survive fork.

    OpenVINO's own stream threads did not: a child forked after two-stream encoding hung.
    """
    pytest.importorskip("openvino")
    import signal

    enc = get_encoder(EncoderConfig(backend="openvino", dtype="float32"))
    want = enc.encode(texts, batch_size=4, workers=2)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a hung child is killed: test fails
            signal.alarm(120)
            two = enc.encode(texts, batch_size=4, workers=2)
            one = enc.encode(texts[:3])
            code = 0 if np.array_equal(two, want) and np.allclose(one, want[:3], atol=1e-5) else 3
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _openvino_and_bf16() -> bool:
    """OpenVINO installed and a CPU with bf16 instructions, read here, not from the code."""
    import importlib.util

    flags = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    bf16 = {"avx512_bf16", "amx_bf16"} & set(flags.split())
    return importlib.util.find_spec("openvino") is not None and bool(bf16)


def test_serving_encoder_never_imports_torch(tmp_path):
    """A fresh process with an empty cache: the export runs in a child, this one stays torch-free.

    The default embedder (what a served or opened world uses on CPU) is that encoder.
    """
    code = (
        "import sys\n"
        "from lite_world.index.embedder import get_embedder\n"
        "e = get_embedder(num_threads=1)\n"
        "v = e.encode(['who wrote hamlet'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules]\n"
        "print(type(e).__name__, e.config.key, v.shape, round(float((v * v).sum()), 4), heavy)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LITE_WORLD_CACHE": str(tmp_path)}
    env.pop("LITE_WORLD_ENCODER_BACKEND", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    default = "openvino/bfloat16" if _openvino_and_bf16() else "onnx"  # the documented rule
    assert out.stdout.strip().splitlines()[-1] == f"Encoder {default} (1, 384) 1.0 []"
    exported = sorted(p.name for p in (tmp_path / "encoders").glob("*/*"))
    assert exported == ["model.onnx", "tokenizer.json"]  # no temp file left behind


def test_openvino_runs_the_export_without_torch(tmp_path):
    """OpenVINO compiles the exported ONNX file: no torch in the serving process."""
    pytest.importorskip("openvino")
    code = (
        "import sys\n"
        "from lite_world.index.embedder import get_embedder\n"
        "e = get_embedder(num_threads=1)\n"
        "v = e.encode(['who wrote hamlet', 'a'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules]\n"
        "print(e.config.key, v.shape, round(float((v * v).sum()), 3), heavy)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LITE_WORLD_CACHE": str(tmp_path),
           "LITE_WORLD_ENCODER_BACKEND": "openvino/bfloat16"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "openvino/bfloat16 (2, 384) 2.0 []"


def test_missing_model_is_a_typed_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="Expects the embedder 'nobody/no-such-model-xyz'"):
        model_path("nobody/no-such-model-xyz")
    assert model_path(str(tmp_path)) == tmp_path  # a local directory is taken as it is


def test_int8_vectors_do_not_depend_on_the_batch(texts):
    """Per-run activation scales: int8 encodes one text per run, so batching changes nothing."""
    enc = get_encoder(EncoderConfig(backend="onnx-int8"))
    assert (ensure_exported(NAME, int8=True) / "model.int8-per-channel.onnx").is_file()
    together = enc.encode(texts, batch_size=16, workers=2)
    alone = np.stack([enc.encode([t])[0] for t in texts[:6]])
    assert np.array_equal(together[:6], alone)
    fp32 = get_encoder(EncoderConfig(backend="onnx")).encode(texts)
    cos = (together * fp32).sum(1)
    assert 0.98 <= cos.min() < 0.99999  # close to fp32, yet not the same vectors
