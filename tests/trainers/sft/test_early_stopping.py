"""Held-out loss, token entropy, early stopping and restore-best of the SFT trainer, on the real
SmolLM2 with tiny real conversations.

The held-out conversations are prose, unlike the tool-call conversations trained on: at a
constant high learning rate the student memorises the training set within a few steps and its
held-out loss is lowest after the first step, then rises (measured: 2.92, 2.99, 3.01, 3.05 ...
at lr 1e-4), which is the case early stopping exists for.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from lite_world.errors import ConfigError
from tests.trainers.sft.test_trainer import RECORDS, conversation
from trainers.grpo.trainer import load_policy
from trainers.sft.__main__ import build_parser, config_from_args
from trainers.sft.config import SFTConfig
from trainers.sft.heldout import EarlyStopping, split_held_out
from trainers.sft.trainer import SFTTrainer

HELD_OUT = [
    {
        "id": "oslo",
        "messages": [
            {"role": "user", "content": "Tell me about the weather in Oslo today."},
            {
                "role": "assistant",
                "content": "It is cold and grey in Oslo, with light snow expected in the evening.",
            },
        ],
    },
    {
        "id": "sea",
        "messages": [
            {"role": "user", "content": "Write a short poem about the sea."},
            {
                "role": "assistant",
                "content": "The sea is wide, the sea is deep, it rocks the boats and sings to sleep.",
            },
        ],
    },
]
FAST = {
    "max_length": 256,
    "show_progress": False,
    "learning_rate": 1e-4,
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
}
EVAL_KEYS = {"eval_loss", "eval_token_entropy", "eval_tokens", "eval_seconds"}


@pytest.fixture(scope="module")
def smollm2():
    """The shared SmolLM2 (never trained: trainers get copies)."""
    from lite_world.agents.smollm import load_smollm2

    return load_smollm2()


def trainer_for(smollm2, config, records=RECORDS, **kwargs):
    model, tokenizer = smollm2
    return SFTTrainer(config, records, model=copy.deepcopy(model), tokenizer=tokenizer, **kwargs)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- config and split ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, match",
    [
        ({"eval_fraction": 1.0}, r"eval_fraction in \[0, 1\), actual: 1.0"),
        ({"eval_fraction": -0.1}, r"eval_fraction in \[0, 1\)"),
        ({"eval_fraction": "0.1"}, r"eval_fraction in \[0, 1\)"),
        ({"eval_every": -1}, "eval_every to be an int >= 0"),
        ({"eval_every": 2.5}, "eval_every to be an int >= 0"),
        ({"early_stopping_patience": -1}, "early_stopping_patience to be an int >= 0"),
        ({"early_stopping_min_delta": -0.1}, "early_stopping_min_delta >= 0"),
        ({"eval_data": ""}, "eval_data to be a path or None"),
        (
            {"eval_data": "held.jsonl", "eval_fraction": 0.1},
            "one held-out source, SFTConfig.eval_data or SFTConfig.eval_fraction, actual: both",
        ),
        (
            {"early_stopping_patience": 2},
            "eval_every >= 1 with early_stopping_patience > 0, actual: eval_every=0",
        ),
    ],
)
def test_config_validation(changes, match):
    with pytest.raises(ConfigError, match=match):
        SFTConfig(**changes)


def test_defaults_leave_held_out_evaluation_off_and_flags_reach_the_config():
    c = SFTConfig()
    assert (c.eval_data, c.eval_fraction, c.eval_every, c.early_stopping_patience) == (
        None,
        0.0,
        0,
        0,
    )
    assert c.early_stopping_min_delta == 0.0 and c.restore_best is True
    args = build_parser().parse_args(
        [
            "--eval-fraction",
            "0.2",
            "--eval-every",
            "5",
            "--early-stopping-patience",
            "3",
            "--early-stopping-min-delta",
            "0.01",
            "--no-restore-best",
        ]
    )
    config = config_from_args(args)[0]
    assert (config.eval_fraction, config.eval_every, config.early_stopping_patience) == (0.2, 5, 3)
    assert config.early_stopping_min_delta == 0.01 and config.restore_best is False
    assert config_from_args(build_parser().parse_args(["--eval-data", "h.jsonl"]))[0].eval_data == (
        "h.jsonl"
    )


def test_split_is_seeded_disjoint_and_keeps_one_on_each_side():
    records = [{"id": i} for i in range(20)]
    train, held_out = split_held_out(records, 0.1, seed=3)
    assert len(held_out) == 2 and len(train) == 18
    assert sorted(r["id"] for r in train + held_out) == list(range(20))
    assert split_held_out(records, 0.1, seed=3) == (train, held_out)
    assert len({tuple(r["id"] for r in split_held_out(records, 0.1, s)[1]) for s in range(6)}) > 1
    assert len(split_held_out(records[:3], 0.01, seed=0)[1]) == 1  # at least one held out
    with pytest.raises(
        ConfigError, match="leave at least one conversation to train on, actual: 2 of 2"
    ):
        split_held_out(records[:2], 0.6, seed=0)


def test_early_stopping_rule():
    s = EarlyStopping(patience=2)
    assert [s.update(step, loss) for step, loss in [(1, 3.0), (2, 2.0), (3, 2.5), (4, 1.9)]] == [
        True,
        True,
        False,
        True,
    ]
    assert (s.best_step, s.best_loss, s.bad_evals, s.should_stop) == (4, 1.9, 0, False)
    assert not s.update(5, 2.1) and not s.update(6, float("nan")) and s.should_stop
    assert s.state() == {"best_step": 4, "best_eval_loss": 1.9, "evaluations": 6}
    never = EarlyStopping(patience=0)
    assert not any(never.update(i, 1.0 + i) and never.should_stop for i in range(5))
    assert EarlyStopping().state()["best_eval_loss"] is None


def test_trainer_holds_out_a_seeded_share_and_refuses_bad_sources(smollm2, tmp_path):
    model, tokenizer = smollm2
    records = [
        *RECORDS,
        conversation("Where is Lima?", "Lima", "Lima is in Peru.", "Peru"),
    ]
    config = SFTConfig(eval_fraction=0.34, output_dir=str(tmp_path), **FAST)
    a = SFTTrainer(config, records, model=model, tokenizer=tokenizer)
    b = SFTTrainer(config, records, model=model, tokenizer=tokenizer)
    assert (len(a.dataset), len(a.eval_dataset)) == (2, 2)  # ceil(0.34 * 4) held out
    assert a.eval_dataset.chats == b.eval_dataset.chats and a.dataset.chats == b.dataset.chats
    assert not {tuple(c.input_ids) for c in a.dataset.chats} & {
        tuple(c.input_ids) for c in a.eval_dataset.chats
    }
    assert a.total_steps == 2  # one epoch over the 2 conversations left to train on

    with pytest.raises(ConfigError, match="leave at least one conversation to train on"):
        SFTTrainer(
            SFTConfig(eval_fraction=0.5, **FAST), RECORDS[:1], model=model, tokenizer=tokenizer
        )
    with pytest.raises(
        ConfigError, match="one held-out source, actual: eval_records and eval_fraction"
    ):
        SFTTrainer(config, records, model=model, tokenizer=tokenizer, eval_records=HELD_OUT)
    with pytest.raises(ConfigError, match="held-out conversations with SFTConfig.eval_every"):
        SFTTrainer(SFTConfig(eval_every=2, **FAST), RECORDS, model=model, tokenizer=tokenizer)
    plain = SFTTrainer(SFTConfig(**FAST), RECORDS, model=model, tokenizer=tokenizer)
    assert plain.eval_dataset is None
    with pytest.raises(ConfigError, match="held-out conversations .* or chats to evaluate"):
        plain.evaluate()
    (tmp_path / "held.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HELD_OUT))
    from_file = SFTTrainer(
        SFTConfig(eval_data=str(tmp_path / "held.jsonl"), **FAST),
        RECORDS,
        model=model,
        tokenizer=tokenizer,
    )
    assert (len(from_file.dataset), len(from_file.eval_dataset)) == (3, 2)
    assert from_file.evaluate() == from_file.evaluate(HELD_OUT)


# -- training -----------------------------------------------------------------------------------
def test_eval_loss_and_entropy_are_logged_at_the_evaluation_steps(smollm2, tmp_path):
    out = tmp_path / "sft"
    config = SFTConfig(max_steps=3, eval_every=2, restore_best=False, output_dir=str(out), **FAST)
    trainer = trainer_for(smollm2, config, eval_records=HELD_OUT)
    before = trainer.evaluate()
    assert before["tokens"] == sum(c.num_assistant_tokens for c in trainer.eval_dataset.chats)
    assert 0 < before["token_entropy"] < math.log(len(trainer.tokenizer))
    assert trainer.evaluate(HELD_OUT) == before  # records are encoded like the held-out set
    assert trainer.evaluate(trainer.dataset.chats)["loss"] == pytest.approx(
        trainer.evaluate_loss(), rel=1e-9
    )

    history = trainer.train()
    assert [m["step"] for m in history] == [1, 2, 3]
    assert [sorted(EVAL_KEYS & set(m)) for m in history] == [
        [],
        sorted(EVAL_KEYS),
        sorted(EVAL_KEYS),
    ]
    assert read_jsonl(out / "metrics.jsonl") == history
    for m in history[1:]:
        assert math.isfinite(m["eval_token_entropy"]) and m["eval_token_entropy"] > 0
        assert math.isfinite(m["eval_loss"]) and m["eval_tokens"] == before["tokens"]
    after = trainer.evaluate()  # no restore: the saved weights are those of the last step
    assert after["loss"] == pytest.approx(history[-1]["eval_loss"], abs=1e-6)
    assert after["token_entropy"] == pytest.approx(history[-1]["eval_token_entropy"], abs=1e-6)

    state = json.loads((out / "trainer_state.json").read_text())
    losses = {m["step"]: m["eval_loss"] for m in history if "eval_loss" in m}
    assert state["best_step"] == min(losses, key=losses.get)
    assert state["best_eval_loss"] == min(losses.values())
    assert (state["stopped_early"], state["restored_best"], state["evaluations"]) == (
        False,
        False,
        2,
    )
    assert state["eval_conversations"] == 2 and (out / "loss.png").stat().st_size > 0


def test_patience_stops_early_and_the_saved_model_is_the_best(smollm2, tmp_path):
    out = tmp_path / "sft"
    config = SFTConfig(
        max_steps=8, eval_every=1, early_stopping_patience=2, output_dir=str(out), **FAST
    )
    trainer = trainer_for(smollm2, config, eval_records=HELD_OUT)
    history = trainer.train()

    losses = [m["eval_loss"] for m in history]
    best_step = 1 + losses.index(min(losses))
    assert trainer.stopped_early and len(history) == best_step + 2 < 8, losses
    assert all(loss >= losses[best_step - 1] for loss in losses[best_step:])
    assert history[-1]["loss"] < history[0]["loss"] / 2  # training loss still falling
    state = json.loads((out / "trainer_state.json").read_text())
    assert (state["best_step"], state["stopped_early"], state["restored_best"]) == (
        best_step,
        True,
        True,
    )
    assert state["best_eval_loss"] == min(losses) and state["step"] == len(history)
    assert trainer.best_state is None  # restored, then released

    model, tokenizer = load_policy(out / "model")
    saved = SFTTrainer(
        SFTConfig(**FAST), RECORDS, model=model, tokenizer=tokenizer, eval_records=HELD_OUT
    ).evaluate()
    assert saved["loss"] == pytest.approx(state["best_eval_loss"], abs=1e-5)
    assert saved["loss"] < losses[-1] - 1e-3  # not the last step's weights
    assert trainer.evaluate()["loss"] == pytest.approx(saved["loss"], abs=1e-5)


def test_lora_keeps_only_the_adapter_of_the_best_step(smollm2, tmp_path):
    out = tmp_path / "lora"
    config = SFTConfig(
        max_steps=8,
        eval_every=1,
        early_stopping_patience=1,
        lora=True,
        lora_r=4,
        output_dir=str(out),
        plot=False,
        **{**FAST, "learning_rate": 5e-3},
    )
    trainer = trainer_for(smollm2, config, eval_records=HELD_OUT)
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    copies = []
    restore = trainer.restore_best

    def spy():
        copies.append(dict(trainer.best_state or {}))
        return restore()

    trainer.restore_best = spy
    history = trainer.train()
    assert trainer.stopped_early and [m["step"] for m in history] == [1, 2]
    assert history[1]["eval_loss"] > history[0]["eval_loss"]  # measured: 2.81 -> 3.04
    (best,) = copies
    assert set(best) == trainable and all(".lora_A." in n or ".lora_B." in n for n in best)
    assert sum(v.numel() for v in best.values()) < 5_000_000  # the adapter, not the 135M weights

    model, tokenizer = load_policy(out / "model")  # merged
    saved = SFTTrainer(
        SFTConfig(**FAST), RECORDS, model=model, tokenizer=tokenizer, eval_records=HELD_OUT
    ).evaluate()
    assert saved["loss"] == pytest.approx(history[0]["eval_loss"], abs=1e-4)
    assert not torch.equal(
        model.state_dict()["model.layers.0.self_attn.q_proj.weight"],
        smollm2[0].state_dict()["model.layers.0.self_attn.q_proj.weight"],
    )
