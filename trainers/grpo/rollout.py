"""Batched multi-turn sampling through ``LiteSearch-v0``: episodes in, token trajectories out.

Each episode is kept as ONE token sequence, built token-in/token-out so that what the policy
is trained on is exactly what it conditioned on when it sampled:

* the prompt: the env's ``info["messages"]`` (system + question) through the chat template
  with the generation prompt (mask 0);
* for each turn, the sampled tokens (mask 1), as sampled, with the log-prob and entropy of each
  token under the sampling distribution ``softmax(logits / temperature)``. The policy ends its
  turn itself: when it writes the end-of-turn token (``<|im_end|>``), that token is the turn's
  last policy token, trained like the others (as in verl and vLLM rollouts);
* then, unless the episode ended, the env's observation rendered as the next user message with
  the generation prompt (mask 0: tool outputs are not trained), preceded by the end-of-turn
  token when the policy did not write it (mask 0): the turn was cut at a hallucinated
  ``<tool_response>`` (the env's only stop string) or at ``max_new_tokens``.

The turn-ending rules are :func:`lite_world.agents.turns.end_turn`, shared with the env's agents
and the verl loop. The env receives the decoding of the kept tokens, so the env and the trainer
agree on the actions while the tokens stay the model's own.

All active episodes advance together: one left-padded ``generate`` call per turn (in chunks of
``generation_batch_size``), then one ``env.step`` per episode; with ``generation="kv_cache"``
(the default) each chunk keeps its KV cache across turns instead (:mod:`trainers.grpo.generation`).

Example (needs a world; see ``tests/trainers/grpo`` for a run on a tiny one):
    >>> from lite_world.agents.smollm import load_smollm2
    >>> from lite_world.tasks import demo_tasks
    >>> model, tokenizer = load_smollm2()
    >>> from lite_world.envs.config import LiteSearchConfig
    >>> env = LiteSearchConfig(max_turns=2, action_format="tags")
    >>> config = GRPOConfig(env=env, max_new_tokens=16)
    >>> tasks = demo_tasks()[:1]
    >>> trajs = rollout(model, tokenizer, make_envs(config, tasks, 2), tasks, group_size=2,
    ...                 config=config, rng=SamplingRNG(0, "cpu"), seed=0)   # doctest: +SKIP
    >>> [t.turns for t in trajs], sum(trajs[0].loss_mask) == trajs[0].response_tokens
    ... # doctest: +SKIP
    ([2, 2], True)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lite_world._lazy import require
from lite_world.agents.turns import end_of_turn_ids, end_turn
from lite_world.envs.factory import make_env
from lite_world.errors import ConfigError
from lite_world.tasks import Task
from trainers.grpo.config import GRPOConfig

torch = require("torch")
transformers = require("transformers", extra="llm")

__all__ = [
    "ChatTokens",
    "SamplingRNG",
    "TokenTrajectory",
    "Turn",
    "eos_token_ids",
    "generate_turns",
    "make_envs",
    "rollout",
    "trajectory_from_messages",
]

logger = logging.getLogger(__name__)

_SENTINEL = "\u2063LITE-WORLD-TURN\u2063"  # an assistant content that no template rewrites


# ----------------------------------------------------------------------------- tokens


class ChatTokens:
    """The chat template as token segments: a prompt, and an observation appended after a turn.

    Example:
        >>> from lite_world.agents.smollm import load_smollm2
        >>> chat = ChatTokens(load_smollm2()[1])
        >>> tok = chat.tokenizer
        >>> tok.decode(chat.prompt_ids([{"role": "user", "content": "Hi"}]))[-35:]
        'Hi<|im_end|>\\n<|im_start|>assistant\\n'
        >>> tok.decode(chat.observation_ids("<information>x</information>", after_eos=False))
        '<|im_end|>\\n<|im_start|>user\\n<information>x</information><|im_end|>\\n<|im_start|>assistant\\n'
        >>> tok.decode(chat.observation_ids("obs", after_eos=True))  # the policy wrote <|im_end|>
        '\\n<|im_start|>user\\nobs<|im_end|>\\n<|im_start|>assistant\\n'
        >>> tok.decode(chat.turn_ids("<answer>A</answer>"))  # a turn, as the policy ends it
        '<answer>A</answer><|im_end|>'
    """

    def __init__(self, tokenizer: Any) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                "Expects a tokenizer with a chat template, actual: none. "
                "Set tokenizer.chat_template"
            )
        self.tokenizer = tokenizer
        self.eos_text = tokenizer.eos_token or ""

    def _render(self, messages: Sequence[Mapping[str, Any]], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=generation_prompt, tokenize=False
        )

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, messages: Sequence[Mapping[str, Any]]) -> list[int]:
        """``messages`` through the chat template, ending with the assistant generation prompt."""
        return self.encode(self._render(messages, True))

    def observation_text(self, observation: str, after_eos: bool) -> str:
        """What follows an assistant turn: its closing, ``observation`` as a user message, the
        generation prompt. ``after_eos``: the turn already ended with the eos token, which is
        then not repeated."""
        history = [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": _SENTINEL},
            {"role": "user", "content": observation},
        ]
        rendered = self._render(history, True)
        text = rendered[rendered.index(_SENTINEL) + len(_SENTINEL) :]
        if after_eos and self.eos_text and text.startswith(self.eos_text):
            text = text[len(self.eos_text) :]
        return text

    def observation_ids(self, observation: str, after_eos: bool) -> list[int]:
        """Token ids of :meth:`observation_text` (mask 0 in a trajectory)."""
        return self.encode(self.observation_text(observation, after_eos))

    def turn_ids(self, content: str) -> list[int]:
        """Token ids of a finished assistant turn: ``content`` then the end-of-turn token, when the
        template closes a turn with the eos token (ChatML's ``<|im_end|>``), as the policy
        writes it."""
        ids = self.encode(content)
        eos_id = self.tokenizer.eos_token_id
        if eos_id is not None and self.observation_text("x", after_eos=False).startswith(
            self.eos_text
        ):
            ids.append(int(eos_id))
        return ids


@dataclass
class TokenTrajectory:
    """One episode as one token sequence, with what the trainer and the metrics need.

    ``loss_mask[i]`` is 1 when token ``i`` was sampled by the policy; ``sampler_logprobs[i]`` is
    its log-prob under the sampling distribution (0.0 on mask-0 tokens). ``steps`` holds the
    env's ``action_kind`` and ``error`` of each turn; ``last_turn_clipped`` whether the last turn
    was cut by ``max_new_tokens``; ``env_seconds`` the wall time spent in the env's ``step``
    (the tools: search, parsing, reward), plus an even share of each turn's batched searches.
    """

    task_id: str
    group: int
    input_ids: list[int]
    loss_mask: list[int]
    sampler_logprobs: list[float]
    reward: float = 0.0
    turns: int = 0
    tool_calls: int = 0
    action_errors: int = 0
    length_clipped_turns: int = 0
    answered: bool = False
    truncated: bool = False
    context_truncated: bool = False
    done: bool = False
    answer: str | None = None
    em: float = 0.0
    f1: float = 0.0
    entropy_sum: float = 0.0
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    last_turn_clipped: bool = False
    env_seconds: float = 0.0

    @property
    def overlong(self) -> bool:
        """Cut by a token limit, not ended by the agent: the next turn would not fit in
        ``max_seq_len``, or the episode hit the turn limit on a turn cut by ``max_new_tokens``.

        Example:
            >>> t = TokenTrajectory("q", 0, [1], [0], [0.0], truncated=True)
            >>> t.overlong, TokenTrajectory("q", 0, [1], [0], [0.0], context_truncated=True).overlong
            (False, True)
            >>> t.last_turn_clipped = True
            >>> t.overlong
            True
        """
        return self.context_truncated or (self.truncated and self.last_turn_clipped)

    @property
    def response_tokens(self) -> int:
        """Tokens the policy generated over all turns."""
        return sum(self.loss_mask)

    def add_policy(self, token_ids: Sequence[int], logprobs: Sequence[float]) -> None:
        """Append sampled tokens (mask 1)."""
        if len(token_ids) != len(logprobs):
            raise ConfigError(
                f"Expects one log-prob per token, actual: {len(logprobs)} for "
                f"{len(token_ids)} tokens"
            )
        self.input_ids.extend(int(t) for t in token_ids)
        self.loss_mask.extend([1] * len(token_ids))
        self.sampler_logprobs.extend(float(x) for x in logprobs)

    def add_context(self, token_ids: Sequence[int]) -> None:
        """Append tokens the policy did not write (mask 0): template text and tool responses."""
        self.input_ids.extend(int(t) for t in token_ids)
        self.loss_mask.extend([0] * len(token_ids))
        self.sampler_logprobs.extend([0.0] * len(token_ids))


def trajectory_from_messages(
    chat: ChatTokens,
    messages: Sequence[Mapping[str, Any]],
    *,
    reward: float = 0.0,
    task_id: str = "",
    group: int = 0,
) -> TokenTrajectory:
    """A trajectory from a finished conversation, its assistant texts tokenised as policy tokens.

    ``messages`` is the env's ``info["messages"]``: the prompt messages (up to the first
    assistant message), then alternating assistant turns and observations (user messages). Each
    assistant turn is its text and the end-of-turn token (mask 1, as a sampled turn that the
    policy ended itself). Used for tests and offline data; sampled trajectories come from
    :func:`rollout`. Log-probs are 0.

    Example:
        >>> from lite_world.agents.smollm import load_smollm2
        >>> chat = ChatTokens(load_smollm2()[1])
        >>> msgs = [{"role": "user", "content": "Q?"},
        ...         {"role": "assistant", "content": "<search>q</search>"},
        ...         {"role": "user", "content": "<information>r</information>"},
        ...         {"role": "assistant", "content": "<answer>A</answer>"}]
        >>> t = trajectory_from_messages(chat, msgs, reward=1.0)
        >>> ids = t.input_ids
        >>> chat.tokenizer.decode([i for i, m in zip(ids, t.loss_mask) if m])
        '<search>q</search><|im_end|><answer>A</answer><|im_end|>'
    """
    first = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), len(messages))
    prompt = chat.prompt_ids(messages[:first])
    traj = TokenTrajectory(
        task_id=task_id, group=group, input_ids=[], loss_mask=[], sampler_logprobs=[], reward=reward
    )
    traj.add_context(prompt)
    for m in messages[first:]:
        if m["role"] == "assistant":
            ids = chat.turn_ids(m["content"])
            traj.add_policy(ids, [0.0] * len(ids))
            traj.turns += 1
        else:
            closed = bool(traj.input_ids) and traj.input_ids[-1] == chat.tokenizer.eos_token_id
            traj.add_context(chat.observation_ids(m["content"], after_eos=closed))
    traj.messages = [dict(m) for m in messages]
    traj.done = True
    return traj


# ----------------------------------------------------------------------------- sampling


class SamplingRNG:
    """A private torch random stream for sampling, saved in checkpoints.

    ``generate`` draws from torch's global generator and accepts no ``torch.Generator``, so
    :meth:`active` lends it this stream's state inside ``torch.random.fork_rng`` and takes the
    advanced state back: the global RNG is left as it was, and a resumed run samples exactly
    what the uninterrupted run would have.

    Example:
        >>> rng = SamplingRNG(0, "cpu")
        >>> with rng.active():
        ...     a = torch.rand(2)
        >>> with SamplingRNG(0, "cpu").active():
        ...     b = torch.rand(2)
        >>> torch.equal(a, b)
        True
        >>> with rng.active():  # the stream goes on where it stopped
        ...     torch.equal(torch.rand(2), a)
        False
    """

    def __init__(self, seed: int, device: Any) -> None:
        self.device = torch.device(device)
        self._cuda = self.device.type == "cuda"
        with torch.random.fork_rng(devices=self._devices()):
            torch.manual_seed(seed)
            self._capture()

    def _devices(self) -> list[Any]:
        return [self.device] if self._cuda else []

    def _capture(self) -> None:
        self.cpu_state = torch.get_rng_state()
        self.cuda_state = torch.cuda.get_rng_state(self.device) if self._cuda else None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Make this stream torch's global RNG inside the block."""
        with torch.random.fork_rng(devices=self._devices()):
            torch.set_rng_state(self.cpu_state)
            if self._cuda:
                torch.cuda.set_rng_state(self.cuda_state, self.device)
            yield
            self._capture()

    def state_dict(self) -> dict[str, Any]:
        """The stream's state (byte tensors), for ``torch.save``."""
        return {"cpu": self.cpu_state, "cuda": self.cuda_state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.cpu_state = state["cpu"]
        if self._cuda and state.get("cuda") is not None:
            self.cuda_state = state["cuda"]


class _StopOnStrings(transformers.StoppingCriteria):
    """Stops each row once its generated text contains a stop string; records the length then."""

    def __init__(self, tokenizer: Any, stop: Sequence[str], prompt_width: int) -> None:
        self.tokenizer, self.stop, self.prompt_width = tokenizer, tuple(stop), prompt_width
        self.window = 4 * max(len(s) for s in self.stop) + 4  # tokens that can hold a stop string
        self.stopped_at: dict[int, int] = {}

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        new = input_ids[:, self.prompt_width :]
        tails = self.tokenizer.batch_decode(new[:, -self.window :], skip_special_tokens=True)
        done = []
        for row, tail in enumerate(tails):
            if row not in self.stopped_at and any(s in tail for s in self.stop):
                self.stopped_at[row] = new.shape[1]
            done.append(row in self.stopped_at)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _RecordLogprobs(transformers.LogitsProcessor):
    """Records the log-prob and entropy of every sampled token; changes no score.

    It runs before ``generate``'s temperature and top-p warpers, so it sees the raw logits; the
    token sampled at a step is only known at the next call (or, for the last step, from the
    output), so each step's log-probs are kept until then.
    """

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature
        self.pending: Any = None
        self.logprobs: list[Any] = []
        self.entropies: list[Any] = []

    def _take(self, tokens: Any) -> None:
        self.logprobs.append(self.pending.gather(1, tokens[:, None]).squeeze(1))
        self.pending = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.pending is not None:
            self._take(input_ids[:, -1])
        logp = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        self.entropies.append(-(logp.exp() * logp).sum(-1))
        self.pending = logp
        return scores

    def finish(self, sequences: Any) -> tuple[Any, Any]:
        """``(logprobs, entropies)``, each ``(B, generated)``."""
        if self.pending is not None:
            self._take(sequences[:, -1])
        return torch.stack(self.logprobs, 1).cpu(), torch.stack(self.entropies, 1).cpu()


@dataclass(frozen=True)
class Turn:
    """One sampled assistant turn.

    ``token_ids`` are the policy tokens of the turn (the end-of-turn token last when the policy
    wrote it); ``text`` is the action given to the env (their decoding); ``finish`` is ``"eos"``
    (the policy ended the turn), ``"stop"`` (cut before a hallucinated tool result) or
    ``"length"`` (cut by ``max_new_tokens``); see :mod:`lite_world.agents.turns`.
    """

    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    entropy_sum: float
    text: str
    finish: str


def generate_turns(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    *,
    stop: Sequence[str],
    max_new_tokens: int,
    temperature: float,
    top_p: float = 1.0,
    eos_token_ids: Sequence[int],
    pad_token_id: int,
) -> list[Turn]:
    """Sample the next assistant turn of each prompt (token ids) in one left-padded batch.

    Uses torch's global RNG (wrap the call in :meth:`SamplingRNG.active`). Each turn keeps the
    tokens up to and including the end-of-turn token, or up to ``max_new_tokens``; a turn that
    writes a stop string (a hallucinated tool result) is cut before it
    (:func:`lite_world.agents.turns.end_turn`).

    Example:
        >>> from lite_world.agents.smollm import load_smollm2
        >>> model, tokenizer = load_smollm2()
        >>> prompt = ChatTokens(tokenizer).prompt_ids([{"role": "user", "content": "Say hi."}])
        >>> with SamplingRNG(0, "cpu").active():
        ...     [turn] = generate_turns(model, tokenizer, [prompt], stop=["<tool_response>"],
        ...                             max_new_tokens=32,
        ...                             temperature=1.0, eos_token_ids=[2], pad_token_id=2)
        >>> turn.finish, turn.token_ids[-1], len(turn.token_ids) == len(turn.logprobs) < 32  # ended
        ('eos', 2, True)
        >>> all(lp <= 0 for lp in turn.logprobs)
        True
    """
    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - len(prompt) :] = torch.tensor(list(prompt), dtype=torch.long)
        attention_mask[row, width - len(prompt) :] = 1
    criteria = _StopOnStrings(tokenizer, stop, width) if stop else None
    recorder = _RecordLogprobs(temperature)
    settings = transformers.GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=True,
        temperature=temperature,
        top_p=top_p,
        top_k=0,
        eos_token_id=list(eos_token_ids),
        pad_token_id=pad_token_id,
        repetition_penalty=1.0,
    )
    kwargs: dict[str, Any] = {"logits_processor": transformers.LogitsProcessorList([recorder])}
    if criteria is not None:
        kwargs["stopping_criteria"] = transformers.StoppingCriteriaList([criteria])
    device = model.device
    with torch.no_grad():
        output = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            generation_config=settings,
            **kwargs,
        )
    logprobs, entropies = recorder.finish(output)
    new_tokens = output[:, width:].cpu()
    turns = []
    for row in range(len(prompts)):
        new = new_tokens[row].tolist()
        if criteria is not None and row in criteria.stopped_at:
            new = new[: criteria.stopped_at[row]]  # the rest of the row is padding
        end = end_turn(tokenizer, new, eos_token_ids, stop)
        length = len(end.token_ids)
        turns.append(
            Turn(
                token_ids=end.token_ids,
                logprobs=tuple(logprobs[row, :length].tolist()),
                entropy_sum=float(entropies[row, :length].sum()),
                text=end.text,
                finish=end.finish,
            )
        )
    return turns


# ----------------------------------------------------------------------------- episodes


def make_envs(config: GRPOConfig, tasks: Sequence[Task], n: int) -> list[Any]:
    """``n`` ``LiteSearch-v0`` envs (``TimeLimit`` included) from ``config``, sharing the world.

    Example:
        >>> from lite_world.tasks import demo_tasks
        >>> from lite_world.envs.config import LiteSearchConfig
        >>> config = GRPOConfig(env=LiteSearchConfig(max_turns=3, action_format="tags"))
        >>> envs = make_envs(config, demo_tasks()[:2], 4)
        >>> env = envs[0]  # no world opened yet
        >>> len(envs), env.unwrapped.config.action_format, env.spec.max_episode_steps
        (4, 'tags', 3)
    """
    env_config = config.env.replace(tasks=tuple(t.to_dict() for t in tasks))
    return [make_env(env_config) for _ in range(n)]


def rollout(
    model: Any,
    tokenizer: Any,
    envs: Sequence[Any],
    tasks: Sequence[Task],
    *,
    group_size: int,
    config: GRPOConfig,
    rng: SamplingRNG,
    seed: int,
    eos_ids: Sequence[int] | None = None,
    autocast: Any = None,
) -> list[TokenTrajectory]:
    """Play ``group_size`` episodes of each task with the current policy; one trajectory each.

    Episode ``i`` (``i = task_index * group_size + k``) runs in ``envs[i]``, reset with seed
    ``seed + i``. Turns are sampled in batches (all active episodes at once, in chunks of
    ``config.generation_batch_size``; with ``config.generation="kv_cache"`` each chunk keeps its
    KV cache across turns, :mod:`trainers.grpo.generation`) until every episode has answered,
    hit ``max_turns`` (``TimeLimit``) or run out of ``config.max_seq_len``.

    Returns:
        Trajectories in group order: those of task 0, then task 1, ...
    """
    if len(envs) < len(tasks) * group_size:
        raise ConfigError(f"Expects at least {len(tasks) * group_size} envs, actual: {len(envs)}")
    chat = ChatTokens(tokenizer)
    eos_ids = tuple(eos_ids) if eos_ids else eos_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    trajs: list[TokenTrajectory] = []
    stop: Sequence[str] = ()
    for g, task in enumerate(tasks):
        for k in range(group_size):
            i = g * group_size + k
            _, info = envs[i].reset(seed=seed + i, options={"task": task.to_dict()})
            stop = info["stop"]
            prompt = chat.prompt_ids(info["messages"])
            if len(prompt) + config.max_new_tokens > config.max_seq_len:
                raise ConfigError(
                    "Expects max_seq_len >= prompt + max_new_tokens = "
                    f"{len(prompt) + config.max_new_tokens} "
                    f"(task {task.id!r}), actual: {config.max_seq_len}"
                )
            traj = TokenTrajectory(
                task_id=task.id, group=g, input_ids=[], loss_mask=[], sampler_logprobs=[]
            )
            traj.add_context(prompt)
            traj.messages = list(info["messages"])
            trajs.append(traj)
    amp = autocast if autocast is not None else contextlib.nullcontext
    if config.generation == "kv_cache":
        from trainers.grpo.generation import rollout_kv_cache  # imports this module

        rollout_kv_cache(
            model,
            tokenizer,
            envs,
            trajs,
            chat=chat,
            stop=stop,
            eos_ids=eos_ids,
            pad_id=pad_id,
            config=config,
            rng=rng,
            autocast=autocast,
        )
        return trajs

    active = list(range(len(trajs)))
    while active:
        for start in range(0, len(active), config.generation_batch_size):
            chunk = active[start : start + config.generation_batch_size]
            with rng.active(), amp():
                turns = generate_turns(
                    model,
                    tokenizer,
                    [trajs[i].input_ids for i in chunk],
                    stop=stop,
                    max_new_tokens=config.max_new_tokens,
                    temperature=config.temperature,
                    top_p=config.top_p,
                    eos_token_ids=eos_ids,
                    pad_token_id=pad_id,
                )
            for i, turn in zip(chunk, turns, strict=True):
                _advance(trajs[i], envs[i], turn, chat, eos_ids, config)
        active = [i for i in active if not trajs[i].done]
    return trajs


def _advance(
    traj: TokenTrajectory,
    env: Any,
    turn: Turn,
    chat: ChatTokens,
    eos_ids: Sequence[int],
    config: GRPOConfig,
) -> None:
    """Record ``turn`` in ``traj``, step the env with its text, append the observation."""
    traj.add_policy(turn.token_ids, turn.logprobs)
    traj.entropy_sum += turn.entropy_sum
    traj.turns += 1
    traj.length_clipped_turns += turn.finish == "length"
    traj.last_turn_clipped = turn.finish == "length"
    start = time.perf_counter()
    observation, reward, terminated, truncated, info = env.step(turn.text)
    traj.env_seconds += time.perf_counter() - start
    traj.steps.append({"action_kind": info.get("action_kind"), "error": info.get("error")})
    traj.action_errors += info.get("error") is not None
    traj.tool_calls = int(info.get("totals", {}).get("tool_calls", traj.tool_calls))
    traj.messages = list(info.get("messages", traj.messages))
    if terminated or truncated:
        traj.done, traj.reward, traj.answered, traj.truncated = (
            True,
            float(reward),
            bool(terminated),
            bool(truncated),
        )
        traj.answer = info.get("answer")
        reward_info = info.get("reward_info") or {}
        traj.em, traj.f1 = float(reward_info.get("em", 0.0)), float(reward_info.get("f1", 0.0))
        return
    # the policy closed its turn with the end-of-turn token (mask 1, above), or the template's
    # closing comes with the observation (mask 0)
    ids = chat.observation_ids(observation, after_eos=turn.finish == "eos")
    if len(traj.input_ids) + len(ids) + config.max_new_tokens > config.max_seq_len:
        traj.done, traj.context_truncated = True, True  # the next turn would not fit: reward 0
        return
    traj.add_context(ids)


def eos_token_ids(model: Any, tokenizer: Any) -> tuple[int, ...]:
    """The end-of-turn token ids (:func:`lite_world.agents.turns.end_of_turn_ids`)."""
    return end_of_turn_ids(tokenizer, model)
