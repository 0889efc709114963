"""GRPOConfig: the paper's defaults, validation messages, round trips, and the CLI's parsing.

(The modules' doctests run with the project's ``--doctest-modules`` over ``trainers/``.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lite_world.errors import ConfigError
from trainers.grpo.__main__ import build_parser, config_from_args
from trainers.grpo.config import GRPOConfig


def test_paper_defaults():
    c = GRPOConfig()
    assert (c.epsilon_low, c.epsilon_high, c.group_size, c.episodes_per_step, c.learning_rate) == (
        0.2,
        0.4,
        8,
        128,
        1e-6,
    )
    assert (c.kl_coef, c.entropy_coef, c.updates_per_step, c.scale_rewards) == (
        0.0,
        0.0,
        1,
        "group",
    )
    # as LiteResearcher's verl config and ours
    yaml = pytest.importorskip("yaml")
    common = yaml.safe_load(
        (Path(__file__).parents[3] / "trainers/verl/config/lite_search_common.yaml").read_text()
    )
    assert (
        c.loss_aggregation
        == common["actor_rollout_ref"]["actor"]["loss_agg_mode"]
        == "seq-mean-token-mean"
    )


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"temperature": 0.0}, "temperature > 0"),
        ({"top_p": 1.5}, r"top_p in \(0, 1\]"),
        ({"tasks_per_step": 0}, "tasks_per_step >= 1"),
        ({"max_new_tokens": 2.5}, "max_new_tokens to be an int"),
        ({"scale_rewards": "std"}, "scale_rewards in"),
        ({"loss_aggregation": "sum"}, "loss_aggregation in"),
        (
            {"updates_per_step": 9, "tasks_per_step": 1, "group_size": 8},
            "updates_per_step <= tasks_per_step",
        ),
        (
            {"env": {"max_turns": 3}},
            r"Expects GRPOConfig.env to be a LiteSearchConfig, actual: dict",
        ),
        ({"epsilon_low": 1.0}, "epsilon_low < 1"),
        ({"device": "tpu"}, "device 'auto'"),
        ({"learning_rate": 0.0}, "learning_rate > 0"),
    ],
)
def test_config_validation(changes, match):
    with pytest.raises(ConfigError, match=match):
        GRPOConfig(**changes)


def test_env_options_are_checked_by_the_env_config():
    with pytest.raises(
        ConfigError,
        match=r"Expects LiteSearchConfig.reward in \('em', 'f1', 'judge'\), actual: 'bleu'",
    ):
        GRPOConfig.from_flat(reward="bleu")
    with pytest.raises(
        ConfigError, match="Expects LiteSearchConfig fields, actual: unknown \\['serch_k'\\]"
    ):
        GRPOConfig.from_dict({"env": {"serch_k": 3}})


def test_config_round_trip():
    c = GRPOConfig.from_flat(search_k=3, max_turns=5, steps=7)
    assert (c.env.search_k, c.env.max_turns) == (3, 5)
    assert GRPOConfig.from_dict(c.to_dict()) == c
    assert GRPOConfig.from_dict(c.to_dict()).to_dict()["env"]["search_k"] == 3
    with pytest.raises(ConfigError, match="unknown"):
        GRPOConfig.from_dict({"lr": 1.0})


def test_cli_flags_override_a_config_file(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"group_size": 4, "steps": 9, "env": {"search_k": 3, "max_turns": 6}}')
    args = build_parser().parse_args(
        [
            "--config",
            str(path),
            "--steps",
            "2",
            "--no-skip-zero-advantage",
            "--num-threads",
            "1",
            "--max-turns",
            "4",
        ]
    )
    config, options = config_from_args(args)
    assert (config.group_size, config.steps, config.skip_zero_advantage) == (4, 2, False)
    assert (config.env.search_k, config.env.max_turns) == (3, 4) and options["num_threads"] == 1
