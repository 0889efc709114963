"""``lite_search_agent`` runs LiteSearch-v0 episodes end to end on CPU, built the way verl builds it.

The loop is hydra-instantiated from ``config/agent_loops.yaml`` with the composed stage-1 config,
as ``AgentLoopWorker`` does, and fed a row of verl's ``RLHFDataset``. The policy is behind the
interface of verl's server manager (``async generate(request_id, *, prompt_ids, sampling_params)
-> TokenOutput``): SmolLM2-135M through transformers (greedy, <= 16 new tokens a turn), or a
script of turns tokenised with SmolLM2's tokenizer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("verl")

CONFIG_DIR = Path(__file__).resolve().parents[3] / "trainers" / "verl" / "config"
MASKED_URL = "https://en.wikipedia.org/wiki/Journal_of_Psychotherapy_Integration"
SEARCH_TURN = (
    '<think>Find who publishes the journal.</think>\n<tool_call>\n{"name": "search", "arguments": '
    '{"query": ["Journal of Psychotherapy Integration publisher"]}}\n</tool_call>'
)


class TransformersServer:
    """verl's ``LLMServerClient.generate`` over a transformers causal LM (greedy), recording calls."""

    def __init__(self, model, tokenizer, max_new_tokens: int = 16):
        self.model, self.max_new_tokens = model, max_new_tokens
        self.eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.calls: list[dict] = []

    async def generate(
        self, request_id, *, prompt_ids, sampling_params, image_data=None, video_data=None, **kw
    ):
        import torch
        from verl.workers.rollout.replica import TokenOutput

        limit = min(self.max_new_tokens, int(sampling_params["max_tokens"]))
        ids = torch.tensor([list(prompt_ids)])
        with torch.no_grad():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=limit,
                do_sample=False,
                eos_token_id=self.eos,
                pad_token_id=self.eos,
                output_scores=True,
                return_dict_in_generate=True,
            )
        new = out.sequences[0, ids.shape[1] :].tolist()
        logprobs = [
            float(torch.log_softmax(s[0].float(), -1)[t])
            for s, t in zip(out.scores, new, strict=True)
        ]
        self.calls.append(
            {
                "request_id": request_id,
                "prompt_ids": list(prompt_ids),
                "token_ids": new,
                "sampling_params": dict(sampling_params),
            }
        )
        return TokenOutput(
            token_ids=new,
            log_probs=logprobs if sampling_params.get("logprobs") else None,
            stop_reason="completed",
        )


class ScriptedServer:
    """The same interface, answering with scripted turns (each closed by ``<|im_end|>``)."""

    def __init__(self, tokenizer, turns: list[str]):
        self.tokenizer, self.turns = tokenizer, list(turns)
        self.eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.calls: list[dict] = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kw):
        from verl.workers.rollout.replica import TokenOutput

        tokens = self.tokenizer.encode(self.turns.pop(0), add_special_tokens=False) + [self.eos]
        tokens = tokens[: int(sampling_params["max_tokens"])]
        self.calls.append(
            {
                "request_id": request_id,
                "prompt_ids": list(prompt_ids),
                "token_ids": tokens,
                "sampling_params": dict(sampling_params),
            }
        )
        return TokenOutput(
            token_ids=tokens, log_probs=[-0.5] * len(tokens), stop_reason="completed"
        )


@pytest.fixture
def run_episode(compose, tiny_world, smollm2_verl, verl_dataset):
    """``run_episode(server, row_index, *overrides, settings=None)`` -> (AgentLoopOutput, the row).

    ``settings`` is added to the YAML entry (``settings: {...}``), as a user would to override
    the config's ``lite_world`` section for one agent name.
    """

    def run(
        server,
        index: int = 0,
        *overrides: str,
        settings: dict | None = None,
        reward: str | None = "em",
    ):
        import hydra
        from omegaconf import OmegaConf
        from verl.experimental.agent_loop.agent_loop import (
            DictConfigWrap,
            ToolListWrap,
            _agent_loop_registry,
        )
        from verl.utils.dataset.rl_dataset import RLHFDataset

        cfg = compose(
            1,
            "actor_rollout_ref.model.path=/m",
            f"lite_world.world={tiny_world}",
            *([f"lite_world.reward={reward}"] if reward else []),
            f"actor_rollout_ref.rollout.agent.agent_loop_config_path={CONFIG_DIR / 'agent_loops.yaml'}",
            *overrides,
        )
        row = verl_dataset[index]

        async def go():  # AgentLoopWorker: load the YAML registry, instantiate per sample, await run()
            for entry in OmegaConf.load(cfg.actor_rollout_ref.rollout.agent.agent_loop_config_path):
                if settings:
                    entry = OmegaConf.merge(entry, {"settings": settings})
                _agent_loop_registry[entry.name] = entry
            loop = hydra.utils.instantiate(
                config=_agent_loop_registry[row["agent_name"]],
                trainer_config=DictConfigWrap(config=cfg),
                server_manager=server,
                tokenizer=smollm2_verl[1],
                processor=None,
                hf_model_type="llama",
                dataset_cls=RLHFDataset,
                data_config=DictConfigWrap(cfg.data),
                tools=ToolListWrap([]),
            )
            params = {
                "temperature": 0.0,
                "top_p": 1.0,
                "top_k": -1,
                "repetition_penalty": 1.0,
                "logprobs": True,
            }
            return await loop.run(params, **row)

        return asyncio.run(go()), row

    return run


def _replay(tiny_world, task, turns):
    """The same episode stepped directly: the observations and the final reward."""
    import gymnasium as gym

    import lite_world  # noqa: F401

    env = gym.make(
        "LiteSearch-v0", world=str(tiny_world), tasks=[task], max_episode_steps=len(turns)
    )
    _, info = env.reset(options={"task": task})
    observations, reward = [], None
    for text in turns:
        obs, reward, terminated, truncated, _ = env.step(text)
        observations.append(obs)
        if terminated or truncated:
            break
    env.close()
    return info["messages"], observations, reward


def _segments(mask):
    """Runs of equal mask values as (value, length)."""
    runs: list[list[int]] = []
    for m in mask:
        if runs and runs[-1][0] == m:
            runs[-1][1] += 1
        else:
            runs.append([m, 1])
    return [tuple(r) for r in runs]


def test_smollm2_episode_masks_tool_tokens_and_returns_the_env_reward(
    run_episode, smollm2_verl, tiny_world, verl_tasks
):
    from verl.utils.tokenizer.tokenizer import normalize_token_ids

    model, tokenizer = smollm2_verl
    server = TransformersServer(model, tokenizer, max_new_tokens=16)
    out, row = run_episode(
        server,
        1,
        "actor_rollout_ref.rollout.multi_turn.max_assistant_turns=2",
        "lite_world.max_turn_tokens=16",
        "data.max_response_length=2048",
    )

    assert (
        len(server.calls) == 2 and len({c["request_id"] for c in server.calls}) == 1
    )  # sticky session
    assert all(
        c["sampling_params"]["max_tokens"] == 16 for c in server.calls
    )  # lite_world.max_turn_tokens
    # the env's stop strings: only a hallucinated tool result; the model ends its turn with <|im_end|>
    assert all(
        c["sampling_params"]["stop"] == ["\n<tool_response>", "<tool_response>"]
        for c in server.calls
    )
    gen1, gen2 = (c["token_ids"] for c in server.calls)
    texts = [tokenizer.decode(g, skip_special_tokens=True) for g in (gen1, gen2)]
    messages, observations, reward = _replay(tiny_world, verl_tasks[1], texts)

    # prompt = the env's opening conversation through the chat template
    assert out.prompt_ids == normalize_token_ids(
        tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    )
    assert server.calls[0]["prompt_ids"] == out.prompt_ids
    # response = turn 1 (mask 1) | the env's observation as a user turn (mask 0) | turn 2 (mask 1)
    n_obs = len(out.response_ids) - len(gen1) - len(gen2)
    assert _segments(out.response_mask) == [(1, len(gen1)), (0, n_obs), (1, len(gen2))]
    assert out.response_ids[: len(gen1)] == gen1 and out.response_ids[len(gen1) + n_obs :] == gen2
    tool_text = tokenizer.decode(
        out.response_ids[len(gen1) : len(gen1) + n_obs], skip_special_tokens=False
    )
    # a turn the policy did not end (16 tokens, the turn limit) is closed by the loop: <|im_end|>, mask 0
    closing = "" if gen1[-1] == server.eos else "<|im_end|>"
    assert (
        tool_text
        == f"{closing}<|im_start|>user\n{observations[0]}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert observations[0].startswith("<tool_response>\n")
    assert server.calls[1]["prompt_ids"] == out.prompt_ids + out.response_ids[: len(gen1) + n_obs]
    # log-probs: the model's for its tokens, 0 for the observation
    assert len(out.response_logprobs) == len(out.response_ids)
    assert out.response_logprobs[len(gen1) : len(gen1) + n_obs] == [0.0] * n_obs
    assert all(lp < 0 for lp in out.response_logprobs[: len(gen1)])
    # the env's reward (two turns of 16 tokens do not answer: truncated, 0)
    assert out.reward_score == reward == 0.0
    assert out.num_turns == 4
    assert out.extra_fields["reward_extra_info"] == {
        "score": 0.0,
        "acc": 0.0,
        "em": 0.0,
        "f1": 0.0,
        "answered": 0.0,
    }
    assert out.extra_fields["lite_world_task_id"] == row["extra_info"]["task_id"]
    assert out.extra_fields["lite_world_stop"] == "max_turns"


@pytest.mark.parametrize(
    ("answer", "reward"),
    [
        ("G. Stanley Hall", 1.0),
        ("stanley hall", 1.0),
        ("Sigmund Freud", 0.0),
        ("G. Stanley Hall or Sigmund Freud", 0.0),
    ],
)
def test_scripted_episode_search_then_answer(
    run_episode, smollm2_verl, tiny_world, verl_tasks, answer, reward
):
    from trainers.verl.reward import compute_score

    tokenizer = smollm2_verl[1]
    turns = [
        SEARCH_TURN,
        f"<think>The APA; its first president.</think>\n<answer>{answer}</answer>",
    ]
    server = ScriptedServer(tokenizer, turns)
    out, row = run_episode(server, 0)  # task 0 masks MASKED_URL

    _, observations, env_reward = _replay(tiny_world, verl_tasks[0], turns)
    assert out.reward_score == env_reward == reward
    gen1, gen2 = (c["token_ids"] for c in server.calls)
    n_obs = len(out.response_ids) - len(gen1) - len(gen2)
    assert _segments(out.response_mask) == [(1, len(gen1)), (0, n_obs), (1, len(gen2))]
    tool_text = tokenizer.decode(
        out.response_ids[len(gen1) : len(gen1) + n_obs], skip_special_tokens=False
    )
    assert tool_text == f"<|im_start|>user\n{observations[0]}<|im_end|>\n<|im_start|>assistant\n"
    # the policy ended both turns: <|im_end|> is its last token, mask 1, with its rollout log-prob
    assert gen1[-1] == gen2[-1] == server.eos and out.response_ids[-1] == server.eos
    assert (
        out.response_mask[len(gen1) - 1] == out.response_mask[-1] == 1
        and out.response_logprobs[-1] == -0.5
    )
    assert "A Google search for 'Journal of Psychotherapy Integration publisher' found" in tool_text
    assert MASKED_URL not in tool_text  # the row's mask reached the env
    assert out.extra_fields["lite_world_stop"] == "answer"
    assert out.extra_fields["reward_extra_info"]["score"] == reward
    assert out.extra_fields["reward_extra_info"]["answered"] == 1.0
    # the reward function on the decoded response (what verl's reward manager would score) agrees
    decoded = tokenizer.decode(out.response_ids, skip_special_tokens=True)
    score = compute_score(
        row["data_source"], decoded, row["reward_model"]["ground_truth"], row["extra_info"]
    )
    assert score == out.extra_fields["reward_extra_info"]


def test_episode_stops_at_the_response_length(run_episode, smollm2_verl):
    tokenizer = smollm2_verl[1]
    server = ScriptedServer(tokenizer, [SEARCH_TURN, "<answer>never reached</answer>"])
    out, _ = run_episode(server, 0, "data.max_response_length=64")

    assert (
        len(server.calls) == 1 and server.calls[0]["sampling_params"]["max_tokens"] == 64
    )  # < max_turn_tokens
    gen1 = server.calls[0]["token_ids"]
    assert out.response_ids == gen1 and out.response_mask == [1] * len(
        gen1
    )  # the observation did not fit
    assert out.reward_score == 0.0 and out.extra_fields["lite_world_stop"] == "length"


def test_yaml_entry_settings_override_the_config_section(run_episode, smollm2_verl):
    server = ScriptedServer(smollm2_verl[1], [SEARCH_TURN, "<answer>G. Stanley Hall</answer>"])
    out, _ = run_episode(server, 0, settings={"max_turns": 1})  # config: max_assistant_turns=40

    assert len(server.calls) == 1 and out.response_mask == [1] * len(server.calls[0]["token_ids"])
    assert out.reward_score == 0.0 and out.extra_fields["lite_world_stop"] == "max_turns"


def test_a_hallucinated_tool_response_is_cut_and_the_loop_closes_the_turn(
    run_episode, smollm2_verl, tiny_world, verl_tasks
):
    """A turn that writes its own ``<tool_response>`` is cut before it (mask 1 up to there, the
    rollout log-probs of those tokens kept); the loop closes it with ``<|im_end|>``, mask 0."""
    tokenizer = smollm2_verl[1]
    hallucinated = SEARCH_TURN + "\n<tool_response>\nThe publisher is made up.\n</tool_response>"
    server = ScriptedServer(tokenizer, [hallucinated, "<answer>G. Stanley Hall</answer>"])
    out, _ = run_episode(server, 0)

    _, observations, env_reward = _replay(
        tiny_world, verl_tasks[0], [SEARCH_TURN, "<answer>G. Stanley Hall</answer>"]
    )
    kept = tokenizer.encode(SEARCH_TURN, add_special_tokens=False)
    assert server.calls[0]["token_ids"][: len(kept)] == kept
    assert out.response_ids[: len(kept)] == kept and out.response_mask[: len(kept)] == [1] * len(
        kept
    )
    assert (
        out.response_ids[len(kept)] == server.eos and out.response_mask[len(kept)] == 0
    )  # closed by the loop
    assert out.response_logprobs[len(kept)] == 0.0
    rest = tokenizer.decode(out.response_ids[len(kept) :], skip_special_tokens=False)
    assert rest.startswith(f"<|im_end|><|im_start|>user\n{observations[0]}<|im_end|>")
    assert "made up" not in tokenizer.decode(out.response_ids)
    assert out.reward_score == env_reward == 1.0


def test_the_default_config_runs_without_a_judge(run_episode, smollm2_verl, compose):
    """``lite_world.reward`` defaults to ``auto``: exact match without a judge URL (the documented
    ``main_ppo`` command then runs), the judge when one is given."""
    from omegaconf import OmegaConf

    from trainers.verl.settings import LiteWorldSettings

    server = ScriptedServer(smollm2_verl[1], [SEARCH_TURN, "<answer>G. Stanley Hall</answer>"])
    out, _ = run_episode(server, 0, reward=None)
    assert out.reward_score == 1.0 and out.extra_fields["lite_world_stop"] == "answer"

    section = OmegaConf.to_container(
        compose(1, "actor_rollout_ref.model.path=/m").lite_world, resolve=True
    )
    assert (
        section["reward"] == "auto" and LiteWorldSettings.from_mapping(section).env.reward == "em"
    )
    judged = compose(
        1,
        "actor_rollout_ref.model.path=/m",
        "lite_world.judge_url=http://judge:8000/v1",
        "lite_world.judge_model=Qwen3-8B",
    )
    settings = LiteWorldSettings.from_mapping(
        OmegaConf.to_container(judged.lite_world, resolve=True)
    )
    assert (settings.env.reward, settings.env.judge_url) == ("judge", "http://judge:8000/v1")
