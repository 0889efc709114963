"""The SFT trainer on the real SmolLM2: schedule, config, loss normalisation, full and LoRA runs, the CLI."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from lite_world.errors import ConfigError
from trainers.grpo.trainer import load_policy
from trainers.sft.__main__ import build_parser, config_from_args, main
from trainers.sft.config import SFTConfig
from trainers.sft.trainer import SFTTrainer, lr_at

SYSTEM = "You are a search agent. Call tools with <tool_call> and answer with <answer>."


def conversation(question: str, query: str, result: str, answer: str) -> dict:
    """A record in the lite_world.sft format: system, question, tool call, tool response, answer."""
    call = json.dumps({"name": "search", "arguments": {"query": [query]}})
    return {
        "id": question,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
            {
                "role": "assistant",
                "content": f"<think>I should search.</think>\n<tool_call>\n{call}\n</tool_call>",
            },
            {"role": "user", "content": f"<tool_response>\n{result}\n</tool_response>"},
            {
                "role": "assistant",
                "content": f"<think>Found it.</think>\n<answer>{answer}</answer>",
            },
        ],
    }


RECORDS = [
    conversation(
        "Who wrote Dune?", "Dune author", "Dune is a 1965 novel by Frank Herbert.", "Frank Herbert"
    ),
    conversation(
        "What is the capital of Peru?", "capital of Peru", "Lima is the capital of Peru.", "Lima"
    ),
    conversation(
        "Who painted the Mona Lisa?",
        "Mona Lisa painter",
        "The Mona Lisa was painted by Leonardo da Vinci.",
        "Leonardo da Vinci",
    ),
]
FAST = {"max_length": 256, "show_progress": False, "learning_rate": 1e-4}


@pytest.fixture(scope="module")
def smollm2():
    """The shared SmolLM2 (never trained: trainers get copies)."""
    from lite_world.agents.smollm import load_smollm2

    return load_smollm2()


# -- schedule and config --------------------------------------------------------------------------
def test_lr_schedule_warms_up_then_decays():
    cosine = [lr_at(s, 20, 2e-5, 0.1) for s in range(20)]
    assert cosine[:3] == pytest.approx(
        [2e-5 / 3, 4e-5 / 3, 2e-5]
    )  # ceil(0.1 * 20) = 2 warm-up steps
    assert all(a > b for a, b in zip(cosine[2:], cosine[3:], strict=False))  # then strictly falling
    assert cosine[-1] == pytest.approx(2e-5 * 0.5 * (1 + math.cos(math.pi * 17 / 18)))
    assert (
        cosine[-1] < 2e-7 and lr_at(25, 20, 2e-5, 0.1) == 0.0
    )  # reaches ~0; past the end stays at 0
    assert lr_at(11, 20, 1.0, 0.1) == pytest.approx(
        0.5
    )  # the cosine's midpoint, half-way after the warm-up
    assert [lr_at(s, 5, 1.0, 0.0, "linear") for s in range(5)] == pytest.approx(
        [1.0, 0.8, 0.6, 0.4, 0.2]
    )
    assert [lr_at(s, 4, 1.0, 0.25, "constant") for s in range(4)] == [0.5, 1.0, 1.0, 1.0]
    with pytest.raises(ConfigError, match="lr scheduler in"):
        lr_at(0, 10, 1.0, 0.0, "step")


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"learning_rate": 0.0}, "learning_rate > 0"),
        ({"warmup_ratio": 1.0}, r"warmup_ratio in \[0, 1\)"),
        ({"lr_scheduler": "step"}, "lr_scheduler in"),
        ({"truncation": "left"}, "truncation in"),
        ({"batch_size": 0}, "batch_size to be an int >= 1"),
        ({"gradient_accumulation_steps": 1.5}, "gradient_accumulation_steps to be an int"),
        ({"max_length": 1}, "max_length to be an int >= 2"),
        ({"max_steps": 0}, "max_steps to be an int >= 1"),
        ({"epochs": 0}, "epochs > 0"),
        ({"lora_r": 0}, "lora_r to be an int >= 1"),
        ({"lora_dropout": 1.0}, r"lora_dropout in \[0, 1\)"),
        ({"lora_target_modules": " , "}, "at least one SFTConfig.lora_target_modules"),
        ({"device": "tpu"}, "device 'auto'"),
        ({"dtype": "int8"}, "dtype in"),
        ({"seed": -1}, "seed to be an int >= 0"),
        ({"max_grad_norm": -1.0}, "max_grad_norm >= 0"),
        ({"output_dir": ""}, "output_dir to be a non-empty string"),
    ],
)
def test_config_validation(changes, match):
    with pytest.raises(ConfigError, match=match):
        SFTConfig(**changes)


def test_config_round_trip_steps_and_cli(tmp_path):
    c = SFTConfig(data="d", lora=True, lora_target_modules=["q_proj", "v_proj"], max_steps=7)
    assert c.lora_target_modules == ("q_proj", "v_proj") and SFTConfig.from_dict(c.to_dict()) == c
    assert SFTConfig.from_dict(json.loads(c.to_json())) == c
    with pytest.raises(ConfigError, match=r"unknown \['lr'\]"):
        SFTConfig.from_dict({"lr": 1.0})
    assert [
        SFTConfig(epochs=e, batch_size=b, gradient_accumulation_steps=g).total_steps(n)
        for e, b, g, n in ((1.0, 1, 1, 3), (2.0, 2, 1, 5), (0.5, 1, 2, 10), (3.0, 4, 4, 1))
    ] == [3, 5, 3, 1]

    path = tmp_path / "run.json"
    path.write_text('{"data": "from-file", "epochs": 3.0, "lora": true}')
    args = build_parser().parse_args(
        [
            "--config",
            str(path),
            "--max-steps",
            "4",
            "--no-lora",
            "--lora-alpha",
            "8",
            "--lora-target-modules",
            "q_proj,o_proj",
            "--num-threads",
            "1",
        ]
    )
    config, options = config_from_args(args)
    assert (config.data, config.epochs, config.max_steps) == ("from-file", 3.0, 4)
    assert (config.lora, config.lora_alpha) == (False, 8.0)
    assert config.lora_target_modules == ("q_proj", "o_proj") and options["num_threads"] == 1


def test_trainer_needs_data(tmp_path):
    with pytest.raises(ConfigError, match="data .* or records, actual: neither"):
        SFTTrainer(SFTConfig())
    with pytest.raises(ConfigError, match="does not exist"):
        SFTTrainer(SFTConfig(data=str(tmp_path / "nope.jsonl")))


# -- training ---------------------------------------------------------------------------------------
def test_accumulated_micro_batches_weigh_every_assistant_token_the_same(smollm2, tmp_path):
    """batch 2 x 1 micro-batch and batch 1 x 2 micro-batches: the same token-mean loss and gradient."""
    model, tokenizer = smollm2
    records = [
        RECORDS[0],
        {
            "messages": [
                {"role": "user", "content": "Capital of Peru?"},
                {"role": "assistant", "content": "<answer>Lima</answer>"},
            ]
        },
    ]
    stats = []
    for batch_size, accumulation in ((2, 1), (1, 2)):
        config = SFTConfig(
            max_steps=1,
            batch_size=batch_size,
            gradient_accumulation_steps=accumulation,
            shuffle=False,
            output_dir=str(tmp_path),
            **FAST,
        )
        trainer = SFTTrainer(config, records, model=copy.deepcopy(model), tokenizer=tokenizer)
        expected = trainer.evaluate_loss()
        stats.append(trainer.train_step())
        assert stats[-1]["loss"] == pytest.approx(expected, rel=1e-5)
    (a, b) = stats
    assert (
        a["assistant_tokens"]
        == b["assistant_tokens"]
        == sum(c.num_assistant_tokens for c in trainer.dataset.chats)
    )
    assert b["loss"] == pytest.approx(a["loss"], rel=1e-5) and b["grad_norm"] == pytest.approx(
        a["grad_norm"], rel=1e-4
    )
    assert a["tokens"] == b["tokens"] == sum(c.num_tokens for c in trainer.dataset.chats)


def test_full_fine_tuning_lowers_the_loss_and_saves_a_loadable_model(smollm2, tmp_path):
    out = tmp_path / "sft"
    config = SFTConfig(max_steps=6, save_every=2, save_total_limit=1, output_dir=str(out), **FAST)
    trainer = SFTTrainer(config, RECORDS)
    assert trainer.model is not smollm2[0] and trainer.total_steps == 6
    history = trainer.train()

    assert [m["step"] for m in history] == [1, 2, 3, 4, 5, 6]
    assert set(history[0]) == {
        "step",
        "loss",
        "lr",
        "tokens",
        "assistant_tokens",
        "grad_norm",
        "seconds",
        "epoch",
    }
    losses = [m["loss"] for m in history]
    assert (losses[-1] + losses[-2]) / 2 < losses[0] / 4, (
        losses
    )  # 3 conversations memorised: ~2.7 -> < 0.3
    assert history[0]["lr"] == pytest.approx(0.5e-4) and history[1]["lr"] == pytest.approx(
        1e-4
    )  # 1 warm-up step
    assert history[-1]["epoch"] == 2.0
    assert [
        json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
    ] == history
    assert json.loads((out / "config.json").read_text())["max_steps"] == 6
    assert (out / "loss.png").stat().st_size > 0
    assert sorted(p.name for p in out.glob("checkpoint-*")) == [
        "checkpoint-000004"
    ]  # 2 pruned; 6 is model/
    assert (out / "checkpoint-000004" / "model" / "model.safetensors").is_file()
    assert not (out / "adapter").exists()

    model, tokenizer = load_policy(out / "model")  # what GRPO, TransformersAgent and verl load
    assert (
        tokenizer.chat_template == smollm2[1].chat_template and tokenizer.eos_token == "<|im_end|>"
    )
    name = "model.layers.3.mlp.down_proj.weight"
    assert torch.equal(model.state_dict()[name], trainer.model.state_dict()[name])
    assert not torch.equal(model.state_dict()[name], smollm2[0].state_dict()[name])

    from lite_world.agents.base import GenerationConfig
    from lite_world.agents.hf import TransformersAgent

    agent = TransformersAgent(model=str(out / "model"), config=GenerationConfig(max_new_tokens=8))
    prompt = RECORDS[1]["messages"][:2]
    assert agent.generate_batch([prompt])[0].startswith(
        "<think>I should search."
    )  # the format was learned

    # same seed, same data order: a CLI run over the same records starts with the same loss
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    assert (
        main(
            [
                "--data",
                str(tmp_path / "data"),
                "--output-dir",
                str(tmp_path / "cli"),
                "--max-steps",
                "1",
                "--max-length",
                "256",
                "--learning-rate",
                "1e-4",
                "--no-show-progress",
                "--no-plot",
            ]
        )
        == 0
    )
    cli = [
        json.loads(line) for line in (tmp_path / "cli" / "metrics.jsonl").read_text().splitlines()
    ]
    assert cli[0]["loss"] == pytest.approx(history[0]["loss"], rel=1e-6)
    assert (tmp_path / "cli" / "model" / "chat_template.jinja").is_file()


def test_cli_prints_a_summary_and_reports_bad_data(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "missing.jsonl"), "--output-dir", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["--learning-rate", "0"]) == 2
    assert "learning_rate > 0" in capsys.readouterr().err


def test_lora_trains_only_the_adapter_and_saves_a_merged_model(smollm2, tmp_path):
    base_model, tokenizer = smollm2
    out = tmp_path / "lora"
    config = SFTConfig(
        max_steps=10, lora=True, lora_r=4, output_dir=str(out), **{**FAST, "learning_rate": 1e-3}
    )
    trainer = SFTTrainer(config, RECORDS)
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    frozen = {
        n: p.detach().clone() for n, p in trainer.model.named_parameters() if not p.requires_grad
    }

    first = [trainer.train_step() for _ in range(2)]
    assert first[1]["loss"] < first[0]["loss"]
    assert all(
        torch.equal(p, frozen[n]) for n, p in trainer.model.named_parameters() if n in frozen
    )
    assert any(
        p.abs().sum() > 0 for n, p in trainer.model.named_parameters() if ".lora_B." in n
    )  # B starts at 0

    history = trainer.train(time_limit_s=0)  # out of time after one more step: still saved
    assert [m["step"] for m in history] == [3] and trainer.step == 3 < trainer.total_steps
    assert {"adapter_model.safetensors", "adapter_config.json"} <= {
        p.name for p in (out / "adapter").iterdir()
    }
    assert json.loads((out / "adapter" / "adapter_config.json").read_text())["r"] == 4

    merged, merged_tokenizer = load_policy(out / "model")
    state, base = merged.state_dict(), base_model.state_dict()
    assert not any("lora" in k for k in state) and set(state) == set(base)
    changed = {k for k in state if not torch.equal(state[k], base[k])}
    assert changed and all(k.rsplit(".", 2)[-2] in config.lora_target_modules for k in changed)
    assert "model.embed_tokens.weight" not in changed and merged_tokenizer.chat_template
    with pytest.raises(ConfigError, match="already ended and merged"):
        trainer.train()
