"""Encoder backends agree with torch fp32 within the stated cosine tolerance (real MiniLM)."""

from __future__ import annotations

import numpy as np
import pytest

from lite_world.errors import ConfigError, EmbedderMismatchError
from lite_world.index.encoders import TOLERANCE, EncoderConfig, check_semantics, get_encoder


@pytest.fixture(scope="module")
def texts(musique):
    qs = [q["question"] for q in musique]
    paras = [p["paragraph_text"] for q in musique for p in q["paragraphs"]][:20]
    return qs + paras + ["a", "Green Day"]  # lengths from 1 token to 128 (truncated)


@pytest.fixture(scope="module")
def reference(texts):
    return get_encoder(EncoderConfig(backend="torch", dtype="float32")).encode(texts, batch_size=8)


def test_torch_fp32_is_the_sentence_transformers_vector(texts, reference):
    """Mean pooling + normalisation over MiniLM = the model's own sentence-transformers pipeline."""
    from lite_world.index.embedder import DEFAULT_EMBEDDER, _cached_embedder

    cos = (reference * _cached_embedder(DEFAULT_EMBEDDER, None, None).encode(texts)).sum(1)
    assert cos.min() > 0.99999
    assert np.allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "backend, dtype",
    [
        ("torch", "bfloat16"),
        ("onnx", "float32"),
        ("onnx-int8", "float32"),
        ("openvino", "float32"),
        ("openvino", "bfloat16"),
    ],  # fmt: skip
)
def test_backend_agrees_with_fp32(texts, reference, backend, dtype):
    if backend.startswith("onnx"):
        pytest.importorskip("onnxruntime")
    if backend == "openvino":
        pytest.importorskip("openvino")
    cfg = EncoderConfig(backend=backend, dtype=dtype)
    vecs = get_encoder(cfg).encode(texts, batch_size=8)
    assert vecs.shape == reference.shape and vecs.dtype == np.float32
    cos = (vecs * reference).sum(1)
    assert cos.min() >= TOLERANCE[cfg.key], (cfg.key, float(cos.min()))
    # batch 1 and batch 8 agree: padding does not leak into the pooling (int8 quantises
    # activations per batch, so its vectors move with the batch within its tolerance)
    one = get_encoder(cfg).encode([texts[3]], batch_size=1)[0]
    assert float(one @ vecs[3]) > min(0.999, TOLERANCE[cfg.key])


def test_prefixes_and_cls_pooling(texts):
    plain = get_encoder(EncoderConfig())
    e5 = get_encoder(EncoderConfig(query_prefix="query: ", passage_prefix="passage: "))
    q = e5.encode(texts[:3])
    assert np.allclose(q, plain.encode(["query: " + t for t in texts[:3]]), atol=1e-5)
    passages = plain.encode(["passage: " + t for t in texts[:3]])
    assert np.allclose(e5.encode_passages(texts[:3]), passages, atol=1e-5)
    cls = get_encoder(EncoderConfig(pooling="cls")).encode(texts[:3])
    assert (cls * plain.encode(texts[:3])).sum(1).max() < 0.999  # a different vector


def test_auto_resolves_to_an_installed_backend(monkeypatch):
    from lite_world.index import encoders

    monkeypatch.setattr(encoders, "auto_backend", lambda: "torch")
    monkeypatch.setattr(encoders, "cpu_has_bf16", lambda: False)
    assert EncoderConfig().resolved().key == "torch"
    monkeypatch.setattr(encoders, "cpu_has_bf16", lambda: True)
    assert EncoderConfig().resolved().key == "torch/bfloat16"
    assert EncoderConfig(dtype="float32").resolved().key == "torch"
    monkeypatch.setenv("LITE_WORLD_ENCODER_BACKEND", "onnx-int8")
    pytest.importorskip("onnxruntime")
    assert get_encoder({}).config.key == "onnx-int8"


def test_config_errors():
    with pytest.raises(ConfigError, match="Expects EncoderConfig.backend in"):
        EncoderConfig(backend="tensorrt")
    with pytest.raises(ConfigError, match="Expects dtype 'float32' with the onnx backend"):
        EncoderConfig(backend="onnx", dtype="bfloat16")
    with pytest.raises(ConfigError, match="max_length to be an int"):
        EncoderConfig(max_length=0)
    with pytest.raises(EmbedderMismatchError, match="Expects pooling='cls' like the index"):
        check_semantics({"pooling": "cls"}, EncoderConfig())
    check_semantics(EncoderConfig(backend="onnx-int8").semantics(), EncoderConfig())  # runtime only


def _overlap(obj, name, monkeypatch, calls):
    """Wrap ``obj.name`` (the real forward pass) to record how many calls run at once."""
    import threading
    import time

    real, lock, state = getattr(obj, name), threading.Lock(), {"running": 0, "most": 0}

    def wrapped(*args, **kwargs):
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
        time.sleep(0.1)
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                state["running"] -= 1

    monkeypatch.setattr(obj, name, wrapped)
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        call()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return state["most"]


@pytest.mark.parametrize("backend", ["torch", "sentence-transformers", "openvino"])
def test_threads_share_an_encoder_only_where_it_runs_concurrently(backend, texts, monkeypatch):
    """Search workers and threaded rollouts call one encoder from several threads: torch and
    sentence-transformers run one call at a time (a shared Hugging Face fast tokenizer raises
    "Already borrowed"); the exported encoders run them at once."""
    from lite_world.index.embedder import DEFAULT_EMBEDDER, _cached_embedder

    if backend == "openvino":
        pytest.importorskip("openvino")
    if backend == "sentence-transformers":
        enc = _cached_embedder(DEFAULT_EMBEDDER, "cpu", None)
        obj, name = enc.model, "encode"
    else:
        enc = get_encoder(EncoderConfig(backend=backend, dtype="float32"), device="cpu")
        obj, name = enc, "_run"
    calls = [lambda i=i: enc.encode(texts[i : i + 2]) for i in range(3)]
    most = _overlap(obj, name, monkeypatch, calls)
    assert most >= 2 if backend == "openvino" else most == 1
