"""``lite_search_agent``: a verl agent loop that runs one ``LiteSearch-v0`` episode per sample.

verl builds one :class:`LiteSearchAgentLoop` per trajectory (``hydra.utils.instantiate`` of the
``agent_loop_config_path`` entry) and awaits :meth:`LiteSearchAgentLoop.run` with the dataset
row. The loop

1. builds the env from the row's task (``extra_info.task``, with its ``mask_urls``) and the
   ``lite_world`` section of the trainer config
   (:class:`~trainers.verl.settings.LiteWorldSettings`);
   the world is opened in this process, or reached through the tool service when
   ``lite_world.world`` is an ``http://`` URL;
2. renders the env's opening messages with the chat template (verl's Continuous Token builder);
3. per turn: generates with verl's server manager (``max_tokens`` = the remaining response
   budget, capped by ``lite_world.max_turn_tokens``; ``stop`` = the env's ``info["stop"]``, a
   hallucinated ``<tool_response>``), applies :func:`lite_world.agents.turns.end_turn` (the
   rules every lite-world sampler shares), appends the kept tokens with ``response_mask`` 1,
   passes their decoding to ``env.step``, and appends the observation (a ``user`` message
   ``<tool_response>\\n…\\n</tool_response>``, as the env records it) with ``response_mask`` 0.
   The policy ends its turn with the end-of-turn token (``<|im_end|>``), which is then its last
   policy token (mask 1, its rollout log-prob kept); a turn cut at a hallucinated tool result or
   at the turn's token limit is closed by the loop with that token, mask 0;
4. stops at the answer (``terminated``), the turn limit (``truncated``; the env's ``max_turns``
   is ``rollout.multi_turn.max_assistant_turns``) or ``rollout.response_length``;
5. returns the env's reward as ``reward_score`` (verl then skips its reward function for this
   sample) and ``{score, acc, em, f1, answered}`` as ``reward_extra_info``.

Registration: ``actor_rollout_ref.rollout.agent.agent_loop_config_path=`` set to
``trainers/verl/config/agent_loops.yaml`` (the decorator below only registers in processes that
import this module).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from lite_world._lazy import require
from lite_world.agents.turns import end_of_turn_ids, end_turn
from lite_world.envs.factory import make_env
from lite_world.reward import RewardResult
from trainers.verl.data import task_from_extra_info
from trainers.verl.reward import score_dict
from trainers.verl.settings import LiteWorldSettings

require("verl", extra="verl")
from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register  # noqa: E402
from verl.utils.profiler import simple_timer  # noqa: E402

__all__ = ["AGENT_NAME", "DEFAULT_MAX_TURNS", "LiteSearchAgentLoop"]

logger = logging.getLogger(__name__)

AGENT_NAME = "lite_search_agent"
DEFAULT_MAX_TURNS = 32


def _seed(index: Any) -> int | None:
    """The row index (an int or a numpy integer) as the episode seed, else ``None``."""
    try:
        return int(index) if index is not None else None
    except (TypeError, ValueError):
        return None


def _section(config: Any, key: str) -> dict[str, Any]:
    node = config.get(key) if hasattr(config, "get") else None
    if node is None:
        return {}
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(node):
            return dict(OmegaConf.to_container(node, resolve=True))
    except ImportError:  # pragma: no cover - verl depends on omegaconf
        pass
    return dict(node)


@register(AGENT_NAME)
class LiteSearchAgentLoop(AgentLoopBase):
    """One LiteSearch-v0 episode with verl's server manager as the policy.

    Args:
        *args, **kwargs: What verl passes to every agent loop (trainer config, server manager,
            tokenizer, processor, dataset class, data config, ``tools``, and the YAML entry's
            ``name``); tools are not used, the env runs them.
        settings: Overrides of the trainer config's ``lite_world`` section (a dict), e.g. from
            extra keys of the ``agent_loop_config_path`` entry.
    """

    def __init__(self, *args: Any, settings: Mapping[str, Any] | None = None, **kwargs: Any):
        kwargs.pop("tools", None)
        kwargs.pop("name", None)
        super().__init__(*args, **kwargs)
        self.settings = LiteWorldSettings.from_mapping(
            {**_section(self.config, "lite_world"), **dict(settings or {})}
        )
        self.eos_ids = end_of_turn_ids(self.tokenizer)
        multi_turn = self.rollout_config.get("multi_turn") or {}
        if self.settings.turns_from_rollout:
            self.max_turns = int(multi_turn.get("max_assistant_turns") or DEFAULT_MAX_TURNS)
        else:
            self.max_turns = self.settings.env.max_turns
        self.response_length = int(self.rollout_config.response_length)

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        """Run one episode for the dataset row ``kwargs`` (``extra_info``, ``index``, ...)."""
        task = task_from_extra_info(kwargs.get("extra_info") or {})
        env = make_env(self.settings.env, tasks=[task.to_dict()], max_turns=self.max_turns)
        seed = _seed(kwargs.get("index"))
        timing: dict[str, float] = {}
        try:
            _, info = await asyncio.to_thread(
                env.reset, seed=seed, options={"task": task.to_dict()}
            )
            messages = [dict(m) for m in info["messages"]]
            stop_strings = list(info.get("stop") or [])
            prompt_ids = await self.ct_build_initial_tokens(
                messages
            )  # tools are listed in the system prompt
            runtime_ids = list(prompt_ids)
            mask: list[int] = []
            logprobs: list[float] = []
            request_id = uuid4().hex
            turns = tool_turns = 0
            result: RewardResult | None = None
            reward, stop = 0.0, "length"
            while len(mask) < self.response_length:
                budget = self.response_length - len(mask)
                params = dict(
                    sampling_params, max_tokens=min(budget, self.settings.max_turn_tokens or budget)
                )
                if stop_strings:
                    params["stop"] = stop_strings
                with simple_timer("generate_sequences", timing):
                    out = await self.server_manager.generate(
                        request_id=request_id, prompt_ids=runtime_ids, sampling_params=params
                    )
                end = end_turn(self.tokenizer, out.token_ids, self.eos_ids, stop_strings)
                kept = list(end.token_ids)
                merge, mask, aligned = await self.ct_merge_assistant_token(
                    runtime_ids,
                    kept,
                    mask,
                    logprobs if (logprobs or out.log_probs) else None,
                    assistant_logprobs=list(out.log_probs[: len(kept)]) if out.log_probs else None,
                )
                runtime_ids, logprobs = merge.token_ids, aligned or []
                turns += 1
                text = end.text
                with simple_timer("tool_calls", timing):
                    obs, r, terminated, truncated, step_info = await asyncio.to_thread(
                        env.step, text
                    )
                if terminated or truncated:
                    reward, stop = float(r), "answer" if terminated else "max_turns"
                    if terminated and step_info.get("reward_info"):
                        ri = step_info["reward_info"]
                        result = RewardResult(
                            reward,
                            ri["em"],
                            ri["f1"],
                            ri["judged"],
                            ri["source"],
                            ri["reason"],
                            step_info.get("answer"),
                        )
                    break
                messages.append({"role": "assistant", "content": text})
                previous = list(messages)
                messages.append({"role": "user", "content": obs})
                closed_ids, closed_mask, closed_logprobs = runtime_ids, mask, logprobs
                if (
                    not end.closed_by_policy
                ):  # the loop closes the turn: the end-of-turn token, mask 0
                    closed_ids = runtime_ids + [self.eos_ids[0]]
                    closed_mask = mask + [0]
                    closed_logprobs = logprobs + [0.0] if logprobs else logprobs
                merge, new_mask, aligned = await self.ct_merge_context_msg(
                    previous, messages, closed_ids, closed_mask, closed_logprobs or None
                )
                if len(new_mask) >= self.response_length:
                    break  # the observation does not fit: stop with the turns so far (reward 0)
                runtime_ids, mask, logprobs = merge.token_ids, new_mask, aligned or []
                tool_turns += 1
        finally:
            env.close()

        n = len(mask)
        response_ids = runtime_ids[len(runtime_ids) - n :]
        prompt_ids = runtime_ids[: len(runtime_ids) - n]
        scores = score_dict(result)
        scores["score"] = scores["acc"] = reward
        logger.debug(
            "task %s: %d assistant turns, stop=%s, reward=%s", task.id, turns, stop, reward
        )
        return AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids[: self.response_length],
            response_mask=mask[: self.response_length],
            response_logprobs=logprobs[: self.response_length] if logprobs else None,
            reward_score=reward,
            num_turns=1 + turns + tool_turns,
            metrics=timing,
            extra_fields={
                "reward_extra_info": scores,
                "lite_world_task_id": task.id,
                "lite_world_stop": stop,
            },
        )
