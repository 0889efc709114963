"""Shared fixtures: ONE tiny world built from real MuSiQue paragraphs, and the MiniLM encoder.

The world holds every paragraph of the first five MuSiQue questions (supporting pages plus
their distractors), grouped by title into 96 Wikipedia pages. It is built once per session
with the real LMDB store, MiniLM encoder, FAISS and bm25s; tests that change a world work on
a copy (``world_copy``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

# Nothing reaches the network. The bundled demo world is built once into LITE_WORLD_CACHE
# (CI sets it; by default the user cache, shared with `make demo`); every other world a test
# builds lives in tmp_path.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_configure(config):  # noqa: D103
    # One torch thread: on a loaded 2-core machine two threads run encoders and the SmolLM2
    # policy up to 5x slower (see ../shared/notes/perf-baseline.md).
    import torch

    torch.set_num_threads(1)


import pytest  # noqa: E402

from lite_world.demo import DEMO_DATA  # noqa: E402

N_QUESTIONS = 5


@pytest.fixture(scope="session")
def musique() -> list[dict]:
    """The first five MuSiQue questions (with their paragraphs)."""
    return json.loads((DEMO_DATA / "musique_train.json").read_text())[:N_QUESTIONS]


@pytest.fixture(scope="session")
def tiny_titles(musique) -> list[str]:
    """Page titles of the tiny world in row order (96 distinct titles among 100 paragraphs)."""
    return list(dict.fromkeys(p["title"] for q in musique for p in q["paragraphs"]))


@pytest.fixture(scope="session")
def embedder():
    """The bundled MiniLM encoder, loaded once (same cache key as ``World`` uses)."""
    from lite_world.index.embedder import DEFAULT_EMBEDDER, get_embedder

    return get_embedder(DEFAULT_EMBEDDER, None, None)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory, musique) -> Path:
    """``[{title, text}]`` paragraphs of the first five questions, as a Wikipedia-corpus JSON."""
    paras = [
        {"title": p["title"], "text": p["paragraph_text"]} for q in musique for p in q["paragraphs"]
    ]
    path = tmp_path_factory.mktemp("corpus") / "tiny_musique.json"
    path.write_text(json.dumps(paras, ensure_ascii=False))
    return path


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory, tiny_corpus, embedder) -> Path:
    """Path of the session's tiny world (read-only: copy it with ``world_copy`` to change it)."""
    from lite_world.build import BuildConfig, build_world

    out = tmp_path_factory.mktemp("worlds") / "tiny"
    build_world(
        [tiny_corpus], out, BuildConfig(min_chars=20, show_progress=False), embedder=embedder
    )
    return out


@pytest.fixture(scope="session")
def world(tiny_world):
    """The tiny world with hybrid search (dense + BM25, RRF)."""
    from lite_world.world import World

    w = World(tiny_world)
    yield w
    w.close()


@pytest.fixture(scope="session")
def sparse_world(tiny_world):
    """The tiny world searched with BM25 only (deterministic and encoder-free)."""
    from lite_world.index.searcher import SearchConfig
    from lite_world.world import World

    w = World(tiny_world, search=SearchConfig(mode="sparse"))
    yield w
    w.close()


@pytest.fixture()
def world_copy(tiny_world, tmp_path) -> Path:
    """A private copy of the tiny world that a test may damage."""
    dst = tmp_path / "world"
    shutil.copytree(tiny_world, dst)
    return dst
