"""``ServeConfig.batch_threads``: a micro-batch's sub-batches on two threads, same answers."""

from __future__ import annotations

import numpy as np
import pytest

from lite_world.errors import ConfigError
from lite_world.serve.backend import SearchRequest, WorldBackend, _SubBatchedEmbedder
from lite_world.serve.config import ServeConfig


def test_batch_threads_is_validated():
    assert ServeConfig().batch_threads == 2
    with pytest.raises(ConfigError, match="Expects batch_threads to be an int >= 1, actual: 0"):
        ServeConfig(batch_threads=0)


def test_two_batch_threads_answer_like_one(tiny_world, musique):
    pytest.importorskip("onnxruntime")
    from lite_world.index.encoders import EncoderConfig, get_encoder

    encoder = get_encoder(EncoderConfig(backend="onnx"))
    backends = {}
    for threads in (1, 2):
        b = WorldBackend(tiny_world, ServeConfig(batch_threads=threads, encode_batch_size=4))
        b.world.searcher.embedder = encoder  # the torch-free encoder the server uses by default
        backends[threads] = b
        wrapped = b.searcher.embedder
        assert isinstance(wrapped, _SubBatchedEmbedder) and wrapped.workers == threads
    queries = [q["question"] for q in musique][:24]  # 6 sub-batches of 4
    v1 = backends[1].searcher.embedder.encode(queries)
    v2 = backends[2].searcher.embedder.encode(queries)
    assert np.array_equal(v1, v2)
    reqs = [SearchRequest((q,), 5) for q in queries]
    one, two = backends[1].search_batch(reqs), backends[2].search_batch(reqs)
    assert [s for s, _ in one] == [200] * len(reqs)
    assert one == two
    for b in backends.values():
        b.close()


def test_a_non_encoder_embedder_keeps_one_thread():
    class Plain:
        name, dim = "plain", 3

        def encode(self, texts, *, batch_size=64, show_progress=False):
            return np.zeros((len(texts), 3), dtype=np.float32)

    wrapped = _SubBatchedEmbedder(Plain(), 16, batch_threads=2)
    assert wrapped.workers == 1  # no ``workers`` argument for embedders that do not take it
    assert wrapped.encode(["a", "b"]).shape == (2, 3)
