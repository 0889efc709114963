"""Fixtures for the verl adapter tests (``trainers/verl``).

Every test module starts with ``pytest.importorskip("verl")``: the default test environment may
not have the ``verl`` extra, and then these tests skip. Nothing here imports verl at module level.

The world is the session's tiny world (``tests/conftest.py``); tasks are its five MuSiQue
questions, the first one with a masked source page so per-sample masking is exercised.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO / "trainers" / "verl" / "config"

# Task 0 hides this page (one of its supporting pages) from search and visit.
MASKED_URL = "https://en.wikipedia.org/wiki/Journal_of_Psychotherapy_Integration"


@pytest.fixture(scope="session")
def _bm25s_builtin_json():
    """Make bm25s save with the standard json module while the tiny world is built.

    verl pulls in ``orjson`` (through tensordict); bm25s then serialises its vocabulary with
    orjson, which refuses the int keys of an index built from token ids (``TypeError: Dict key
    must be str`` in ``BM25Index.save``). Without orjson bm25s uses ``json``, as here.
    """
    try:
        from bm25s.utils import json_functions
    except ImportError:
        yield
        return
    original = json_functions.dumps
    json_functions.dumps = json_functions.dumps_with_builtin
    yield
    json_functions.dumps = original


@pytest.fixture(scope="session")
def tiny_world(_bm25s_builtin_json, tiny_world):
    """The session's tiny world (``tests/conftest.py``), built with bm25s on the json module."""
    return tiny_world


@pytest.fixture(scope="session")
def verl_tasks() -> list[dict]:
    """The tiny world's five tasks as dicts; task 0 masks :data:`MASKED_URL`."""
    from lite_world.tasks import demo_tasks

    tasks = [t.to_dict() for t in demo_tasks()[:5]]
    tasks[0]["mask_urls"] = [MASKED_URL]
    return tasks


@pytest.fixture(scope="session")
def compose():
    """``compose(stage, *overrides)``: a training config composed the way ``main_ppo`` does."""

    def _compose(stage: int = 1, *overrides: str):
        from hydra import compose as hydra_compose
        from hydra import initialize_config_dir

        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            return hydra_compose(config_name=f"lite_search_stage{stage}", overrides=list(overrides))

    return _compose


@pytest.fixture(scope="session")
def smollm2_verl():
    """``(model, tokenizer)`` of the embedded SmolLM2-135M-Instruct, loaded once (offline)."""
    pytest.importorskip("torch")
    from lite_world.agents.smollm import load_smollm2

    return load_smollm2()


@pytest.fixture(scope="session")
def verl_parquet(tmp_path_factory, verl_tasks) -> Path:
    """The tasks written by ``python -m trainers.verl.data`` (in process) as a Parquet file."""
    import json

    from trainers.verl.data import main

    tmp = tmp_path_factory.mktemp("verl_data")
    tasks_file = tmp / "tasks.jsonl"
    tasks_file.write_text("".join(json.dumps(t) + "\n" for t in verl_tasks))
    out = tmp / "train.parquet"
    assert main([str(tasks_file), str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def verl_dataset(verl_parquet, smollm2_verl, compose):
    """The Parquet file loaded by verl's ``RLHFDataset`` with SmolLM2's tokenizer (prompts <= 1024 tokens)."""
    from verl.utils.dataset.rl_dataset import RLHFDataset

    cfg = compose(
        1,
        "actor_rollout_ref.model.path=/m",
        "lite_world.reward=em",
        "data.max_prompt_length=1024",
        f"+data.cache_dir={verl_parquet.parent / 'cache'}",
    )
    return RLHFDataset(data_files=[str(verl_parquet)], tokenizer=smollm2_verl[1], config=cfg.data)


os.environ.setdefault("HF_HUB_OFFLINE", "1")
