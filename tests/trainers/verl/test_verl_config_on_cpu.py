"""The stage-1/2 hydra configs, composed with run_grpo.sh's overrides, pass verl's validation."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("verl")

REPO = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO / "trainers" / "verl" / "config"
RUN_GRPO = REPO / "trainers" / "verl" / "run_grpo.sh"


def _script_overrides(tmp_path, **env) -> list[str]:
    """The hydra overrides run_grpo.sh passes to main_ppo (DRY_RUN=1 prints its command)."""
    train = tmp_path / "train.parquet"
    train.write_bytes(b"")
    full_env = {
        **os.environ,
        "DRY_RUN": "1",
        "MODEL_PATH": "Qwen/Qwen3-4B",
        "TRAIN_FILES": str(train),
        **env,
    }
    out = subprocess.run(
        ["bash", str(RUN_GRPO)], env=full_env, capture_output=True, text=True, check=True
    ).stdout
    args = out.splitlines()
    assert args[:3] == ["python3", "-m", "verl.trainer.main_ppo"]
    assert args[3] == f"--config-path={CONFIG_DIR}"
    assert args[4] == f"--config-name=lite_search_stage{env.get('STAGE', '1')}"
    return args[5:]


def _validate(cfg) -> None:
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    assert need_reference_policy(cfg) is False  # no KL anywhere: no reference model
    with pytest.warns(UserWarning, match="Disabled critic"):
        assert need_critic(cfg) is False
    validate_config(config=cfg, use_reference_policy=False, use_critic=False)
    rollout = omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)
    assert rollout.multi_turn.enable and rollout.agent.agent_loop_config_path.endswith(
        "agent_loops.yaml"
    )
    omega_conf_to_dataclass(cfg.algorithm)


@pytest.mark.parametrize(
    ("stage", "response", "turns", "turn_tokens", "temperature"),
    [(1, 32768, 40, 2048, 0.7), (2, 49152, 60, 4096, 1.0)],
)
def test_stage_config_validates_with_script_overrides(
    compose, tmp_path, stage, response, turns, turn_tokens, temperature
):
    overrides = _script_overrides(
        tmp_path, STAGE=str(stage), N_GPUS_PER_NODE="8", NNODES="2", WORLD="demo"
    )
    cfg = compose(stage, *overrides)
    _validate(cfg)

    actor, rollout = cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    # the paper's recipe
    assert (cfg.algorithm.adv_estimator, rollout.n, cfg.data.train_batch_size) == ("grpo", 8, 128)
    assert (actor.ppo_mini_batch_size, actor.ppo_epochs) == (
        128,
        1,
    )  # one update per batch: on-policy
    assert (actor.clip_ratio_low, actor.clip_ratio_high) == (0.2, 0.4)
    assert (
        actor.use_kl_loss,
        actor.kl_loss_coef,
        cfg.algorithm.use_kl_in_reward,
        actor.entropy_coeff,
    ) == (False, 0.0, False, 0)
    assert actor.optim.lr == pytest.approx(1e-6)
    assert (cfg.data.max_response_length, rollout.response_length) == (response, response)
    assert rollout.multi_turn.max_assistant_turns == turns
    assert rollout.temperature == temperature
    assert rollout.max_model_len == cfg.data.max_prompt_length + response
    assert (cfg.trainer.n_gpus_per_node, cfg.trainer.nnodes) == (8, 2)
    # lite-world wiring
    assert cfg.lite_world.max_turn_tokens == turn_tokens
    assert cfg.lite_world.reward == "em"  # no JUDGE_URL: the script falls back to exact match
    assert rollout.agent.agent_loop_config_path == str(CONFIG_DIR / "agent_loops.yaml")
    assert (
        rollout.multi_turn.tool_config_path is None
    )  # lite_search_agent runs the tools through the env
    assert cfg.ray_kwargs.ray_init.runtime_env.env_vars.LITE_WORLD == "demo"
    assert cfg.ray_kwargs.ray_init.runtime_env.env_vars.PYTHONPATH == str(REPO)
    assert (cfg.reward.custom_reward_function.path, cfg.reward.custom_reward_function.name) == (
        "pkg://trainers.verl.reward",
        "compute_score",
    )


def test_judge_and_tool_agent_overrides(compose, tmp_path):
    overrides = _script_overrides(
        tmp_path,
        JUDGE_URL="http://judge:8000/v1",
        JUDGE_MODEL="Qwen3-8B",
        AGENT="tool_agent",
        TOOL_SERVICE="http://tools:8765",
    )
    cfg = compose(1, *overrides)
    _validate(cfg)
    rollout = cfg.actor_rollout_ref.rollout
    assert rollout.agent.default_agent_loop == "tool_agent"
    assert rollout.multi_turn.tool_config_path == str(CONFIG_DIR / "tool_config.yaml")
    assert (cfg.lite_world.world, cfg.lite_world.reward) == ("http://tools:8765", "judge")
    kwargs = cfg.reward.custom_reward_function.reward_kwargs
    assert (kwargs.kind, kwargs.judge_url, kwargs.judge_model) == (
        "judge",
        "http://judge:8000/v1",
        "Qwen3-8B",
    )


def test_custom_reward_function_loads_through_verl(compose):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    fn = get_custom_reward_fn(compose(1, "actor_rollout_ref.model.path=/m", "lite_world.reward=em"))
    gt = {"target": ["G. Stanley Hall", "Stanley Hall"]}
    assert (
        fn(
            data_source="lite_world",
            solution_str="<answer>stanley hall</answer>",
            ground_truth=gt,
            extra_info={"question": "q"},
        )["score"]
        == 1.0
    )


def test_agent_loop_yaml_registers_lite_search_agent():
    from omegaconf import OmegaConf

    from trainers.verl.agent_loop import AGENT_NAME, LiteSearchAgentLoop

    entries = OmegaConf.load(CONFIG_DIR / "agent_loops.yaml")
    assert [e.name for e in entries] == [AGENT_NAME]
    assert (
        entries[0]._target_
        == f"{LiteSearchAgentLoop.__module__}.{LiteSearchAgentLoop.__qualname__}"
    )


def test_bad_stage_is_refused(tmp_path):
    env = {**os.environ, "DRY_RUN": "1", "STAGE": "3", "MODEL_PATH": "m", "TRAIN_FILES": "t"}
    res = subprocess.run(["bash", str(RUN_GRPO)], env=env, capture_output=True, text=True)
    assert res.returncode == 2 and "expects STAGE=1 or STAGE=2, actual: 3" in res.stderr


def test_the_composed_default_scores_by_exact_match_without_a_judge(compose):
    """The documented command (no JUDGE_URL, no reward override) composes, validates, and its reward
    function scores by exact match; with a judge URL the same config selects the judge."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    from trainers.verl.reward import _JUDGES, compute_score

    cfg = compose(1, "actor_rollout_ref.model.path=/m")
    _validate(cfg)
    kwargs = cfg.reward.custom_reward_function.reward_kwargs
    assert (cfg.lite_world.reward, kwargs.kind, kwargs.judge_url) == ("auto", "auto", None)
    fn = get_custom_reward_fn(cfg)
    gt = {"target": ["G. Stanley Hall"]}
    assert (
        fn(
            data_source="lite_world",
            solution_str="<answer>G. Stanley Hall</answer>",
            ground_truth=gt,
            extra_info={"question": "q"},
        )["score"]
        == 1.0
    )
    # a judge URL switches to the judge (one that cannot be reached: the exact-match fallback scores)
    judged = compose(
        1,
        "actor_rollout_ref.model.path=/m",
        "lite_world.judge_url=http://127.0.0.1:9/v1",
        "lite_world.judge_model=m",
        "lite_world.judge_timeout_s=0.5",
    )
    judge_kwargs = dict(judged.reward.custom_reward_function.reward_kwargs)
    assert judge_kwargs["kind"] == "auto" and judge_kwargs["judge_url"] == "http://127.0.0.1:9/v1"
    score = compute_score(
        "lite_world", "<answer>G. Stanley Hall</answer>", gt, {"question": "q"}, **judge_kwargs
    )
    assert score["score"] == 1.0
    assert any(
        key[0] == "http://127.0.0.1:9/v1" for key in _JUDGES
    )  # the judge was built and asked
