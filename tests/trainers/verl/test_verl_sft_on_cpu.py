"""verl's SFT trainer config (lite_search_sft.yaml) composes, validates and reads our SFT parquet."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("verl")

from lite_world.sft.export import write_records  # noqa: E402
from lite_world.sft.records import make_record  # noqa: E402
from lite_world.tools.prompts import episode_messages  # noqa: E402

from .conftest import CONFIG_DIR  # noqa: E402

CALL = {
    "name": "search",
    "arguments": {"query": ["Journal of Psychotherapy Integration publisher"]},
}


def _compose(*overrides: str):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        return compose(config_name="lite_search_sft", overrides=list(overrides))


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    messages = episode_messages("What company published Journal of Psychotherapy Integration?") + [
        {
            "role": "assistant",
            "content": f"<think>Search it.</think>\n<tool_call>\n{json.dumps(CALL)}\n</tool_call>",
        },
        {
            "role": "user",
            "content": "<tool_response>\nPublished by the American Psychological Association.\n</tool_response>",
        },
        {
            "role": "assistant",
            "content": "<think>Found.</think>\n<answer>American Psychological Association</answer>",
        },
    ]
    out = tmp_path_factory.mktemp("verl_sft")
    return write_records([make_record("jpi", messages)], out)["verl_parquet"]


def test_config_holds_the_papers_recipe_and_validates(parquet):
    from verl.utils.config import omega_conf_to_dataclass

    config = _compose(f"data.train_files={parquet}", "model.path=/models/any")
    assert config.optim.lr == 2e-5 and config.optim.lr_warmup_steps_ratio == 0.1
    assert config.optim.lr_scheduler_type == "cosine" and config.trainer.total_epochs == 1
    assert "hf_model" in config.checkpoint.save_contents
    optim = omega_conf_to_dataclass(config.optim)  # verl's own validation of the optimiser section
    assert optim.lr == 2e-5
    assert omega_conf_to_dataclass(config.checkpoint).save_contents[-1] == "hf_model"


def test_verl_builds_its_sft_dataset_from_our_parquet(parquet):
    from verl.trainer.sft_trainer import create_sft_dataset

    from lite_world.agents.smollm import load_smollm2

    tokenizer = load_smollm2()[1]
    config = _compose(
        f"data.train_files={parquet}",
        "model.path=/models/any",
        "data.max_length=2048",
        "data.pad_mode=right",
    )
    ds = create_sft_dataset([str(parquet)], config.data, tokenizer, None)
    item = ds[0]
    trained = tokenizer.decode(item["input_ids"][item["loss_mask"].bool()])
    assert (
        trained.startswith("<think>Search it.</think>")
        and "American Psychological Association</answer>" in trained
    )
    assert "<tool_response>" not in trained and trained.count("<|im_end|>") == 2


def test_run_sft_script_overrides_compose(parquet):
    import os
    import subprocess

    from .conftest import REPO

    env = {
        **os.environ,
        "DRY_RUN": "1",
        "MODEL_PATH": "/models/m",
        "TRAIN_FILES": str(parquet),
        "LORA_RANK": "16",
    }
    res = subprocess.run(
        ["bash", str(REPO / "trainers" / "verl" / "run_sft.sh"), "trainer.total_epochs=2"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    args = res.stdout.splitlines()
    assert args[:6] == [
        "torchrun",
        "--standalone",
        "--nnodes=1",
        "--nproc_per_node=8",
        "-m",
        "verl.trainer.sft_trainer",
    ]
    overrides = args[args.index("--config-name=lite_search_sft") + 1 :]
    config = _compose(*overrides)  # every override names a real key of verl's SFT config
    assert config.model.path == "/models/m" and config.data.train_files == str(parquet)
    assert (config.model.lora_rank, config.model.lora_alpha, config.trainer.total_epochs) == (
        16,
        32,
        2,
    )
    missing = subprocess.run(
        ["bash", str(REPO / "trainers" / "verl" / "run_sft.sh")],
        capture_output=True,
        text=True,
        env={k: v for k, v in env.items() if k != "MODEL_PATH"},
    )
    assert missing.returncode != 0 and "set MODEL_PATH" in missing.stderr
