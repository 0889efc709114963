"""An LLM agent that runs a Hugging Face transformers causal LM in this process.

Example:
    >>> from lite_world.agents import GenerationConfig, TransformersAgent
    >>> agent = TransformersAgent("smollm2", config=GenerationConfig(max_new_tokens=8))
    >>> messages = [{"role": "user", "content": "What is the capital of France?"}]
    >>> agent.act("", {"messages": messages})
    'The capital of France is Paris.'
    >>> agent.usage.completion_tokens
    8
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from lite_world._lazy import require
from lite_world.agents.adapters import SHIPPED_MODELS, adapter_dir, load_named_model
from lite_world.agents.base import ChatAgent, Completion, GenerationConfig, truncate_at_stop
from lite_world.agents.smollm import load_smollm2
from lite_world.errors import ConfigError

torch = require("torch")
transformers = require("transformers", extra="llm")

__all__ = ["TransformersAgent"]

logger = logging.getLogger(__name__)

Message = Mapping[str, Any]


class _StopOnStrings(transformers.StoppingCriteria):  # type: ignore[name-defined]
    """Stops each row once its generated text contains a stop string; records where."""

    def __init__(self, tokenizer: Any, stop: Sequence[str], prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.stop = tuple(stop)
        self.prompt_length = prompt_length
        # A stop string of L characters spans at most 4 L byte-level tokens; a few more cover
        # tokens that straddle its start.
        self.window = 4 * max(len(s) for s in self.stop) + 4
        self.stopped_at: dict[int, int] = {}

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        new = input_ids[:, self.prompt_length :]
        tails = self.tokenizer.batch_decode(new[:, -self.window :], skip_special_tokens=True)
        done = []
        for row, tail in enumerate(tails):
            hit = row in self.stopped_at or any(s in tail for s in self.stop)
            if hit and row not in self.stopped_at:
                self.stopped_at[row] = new.shape[1]
            done.append(hit)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class TransformersAgent(ChatAgent):
    """Generates assistant turns with a transformers causal LM (greedy by default).

    Args:
        model: ``"smollm2"`` for the embedded SmolLM2-135M-Instruct (see
            :func:`~lite_world.agents.smollm.load_smollm2`), a shipped fine-tuned model such as
            ``"smollm2-lite-world"`` or a directory holding a LoRA adapter on SmolLM2 (merged by
            :func:`~lite_world.agents.adapters.load_named_model`), a local model directory or a
            model id already in the Hugging Face cache (loaded offline), or a loaded
            ``PreTrainedModel``.
        tokenizer: The tokenizer; required with a loaded model, else loaded with the model.
        config: Sampling settings (default ``GenerationConfig()``); ``info["stop"]`` from the
            env overrides its stop strings.

    ``act`` renders ``info["messages"]`` with the tokenizer's chat template
    (``add_generation_prompt=True``) and generates until the model ends its turn with its
    end-of-sequence token (``<|im_end|>``), a stop string or ``max_new_tokens``. The env's stop
    strings are only a hallucinated ``<tool_response>``, cut with what follows (see
    :mod:`lite_world.agents.turns`); a closing-tag stop string a caller adds (``</tool_call>``)
    stays at the end of the returned text.
    ``generate_batch`` left-pads several conversations into one ``generate`` call.
    ``self.usage`` counts prompt and completion tokens (the end-of-sequence token included,
    padding excluded).

    Sampling (``temperature > 0``) seeds torch's global generator with ``config.seed`` inside
    ``torch.random.fork_rng``, which restores the previous RNG state afterwards: transformers'
    ``generate`` accepts no ``torch.Generator``, so the global generator is borrowed, never
    left changed. Greedy decoding touches no RNG. Calls from several threads (one agent shared
    by concurrent rollouts) run one at a time.

    Example:
        >>> agent = TransformersAgent(config=GenerationConfig(max_new_tokens=16, stop=("</b>",)))
        >>> ask = "Write the HTML tag <b>bold</b> around the word hello."
        >>> chat = [{"role": "user", "content": ask}]
        >>> agent.generate_batch([chat])  # the closing tag stops generation and is kept
        ['```html\\n<b>bold</b>']
    """

    def __init__(
        self,
        model: str | Any = "smollm2",
        tokenizer: Any | None = None,
        config: GenerationConfig | None = None,
    ) -> None:
        super().__init__(config)
        if isinstance(model, str):
            model, loaded_tokenizer = _load(model)
            tokenizer = tokenizer if tokenizer is not None else loaded_tokenizer
        elif not isinstance(model, transformers.PreTrainedModel) and not callable(
            getattr(model, "generate", None)
        ):  # a peft model (a LoRA policy being trained) generates like the model it wraps
            raise ConfigError(
                "Expects model to be 'smollm2', a shipped model name, a model id or directory, "
                "or a transformers PreTrainedModel (or a wrapper with generate(), such as a "
                f"peft model), actual: {type(model).__name__}"
            )
        elif tokenizer is None:
            raise ConfigError(
                "Expects a tokenizer with a loaded model, actual: None. Pass "
                "tokenizer=AutoTokenizer.from_pretrained(...)"
            )
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                "Expects a tokenizer with a chat template, actual: none. Set "
                "tokenizer.chat_template to the model's template"
            )
        self.model = model
        self.tokenizer = tokenizer
        eos = model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos_ids:
            eos_ids.append(tokenizer.eos_token_id)
        if not eos_ids:
            raise ConfigError("Expects the model or tokenizer to define an eos token, actual: none")
        self.eos_token_ids: tuple[int, ...] = tuple(eos_ids)
        pad = tokenizer.pad_token_id
        self.pad_token_id: int = pad if pad is not None else eos_ids[0]
        self._generate_lock = threading.Lock()

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of ``messages`` rendered with the chat template and the generation prompt.

        Example:
            >>> agent = TransformersAgent()
            >>> ids = agent.prompt_ids([{"role": "user", "content": "Hi"}])
            >>> agent.tokenizer.decode(ids[-4:])
            '<|im_start|>assistant\\n'
        """
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
        )
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def complete_batch(
        self, conversations: Sequence[Sequence[Message]], config: GenerationConfig | None = None
    ) -> list[Completion]:
        """Generate the next assistant turn of each conversation in one left-padded batch.

        Example:
            >>> agent = TransformersAgent(config=GenerationConfig(max_new_tokens=2))
            >>> [c] = agent.complete_batch([[{"role": "user", "content": "Count: 1, 2, 3,"}]])
            >>> c.finish_reason, c.completion_tokens
            ('length', 2)
        """
        config = config or self.config
        if not conversations:
            return []
        prompts = [self.prompt_ids(c) for c in conversations]
        width = max(len(p) for p in prompts)
        device = self.model.device
        input_ids = torch.full((len(prompts), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention_mask[row, width - len(prompt) :] = 1
        criteria = _StopOnStrings(self.tokenizer, config.stop, width) if config.stop else None
        with self._generate_lock:
            output = self._generate(
                input_ids.to(device), attention_mask.to(device), config, criteria
            ).cpu()

        completions = []
        for row, prompt in enumerate(prompts):
            new = output[row, width:].tolist()
            length, ended_on_eos = self._generated_length(new, criteria, row)
            kept = new[: length - 1] if ended_on_eos else new[:length]
            text = self.tokenizer.decode(kept, skip_special_tokens=True)
            content, stop_reason = truncate_at_stop(text, config.stop)
            stopped = stop_reason is not None or ended_on_eos
            completions.append(
                Completion(
                    content, "stop" if stopped else "length", stop_reason, len(prompt), length
                )
            )
        with self._generate_lock:
            for c in completions:
                self.usage.add(c.prompt_tokens, c.completion_tokens)
        return completions

    def _generate(
        self, input_ids: Any, attention_mask: Any, config: GenerationConfig, criteria: Any
    ) -> Any:
        settings: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "do_sample": config.do_sample,
            "eos_token_id": list(self.eos_token_ids),
            "pad_token_id": self.pad_token_id,
            "repetition_penalty": 1.0,  # OpenAI semantics: ignore the model's own defaults
        }
        if config.do_sample:
            settings.update(temperature=config.temperature, top_p=config.top_p, top_k=0)
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "generation_config": transformers.GenerationConfig(**settings),
        }
        if criteria is not None:
            kwargs["stopping_criteria"] = transformers.StoppingCriteriaList([criteria])
        with torch.inference_mode():
            if not config.do_sample:
                return self.model.generate(**kwargs)
            device = input_ids.device
            devices = [device] if device.type != "cpu" else []
            with torch.random.fork_rng(devices=devices, device_type=device.type):
                torch.manual_seed(config.seed)
                return self.model.generate(**kwargs)

    def _generated_length(
        self, new: list[int], criteria: _StopOnStrings | None, row: int
    ) -> tuple[int, bool]:
        """Tokens the row really generated (padding after it finished excluded), and whether
        its last one is an end-of-sequence token."""
        if criteria is not None and row in criteria.stopped_at:
            return criteria.stopped_at[row], False
        for index, token in enumerate(new):
            if token in self.eos_token_ids:
                return index + 1, True
            if token == self.pad_token_id:  # padding after the batch's other rows went on
                return index, False
        return len(new), False


def _load(name: str) -> tuple[Any, Any]:
    if name == "smollm2":
        return load_smollm2()
    if adapter_dir(name) is not None:  # a shipped model or a LoRA adapter directory
        return load_named_model(name)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name, local_files_only=True)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            name, dtype="auto", local_files_only=True
        )
    except OSError as exc:
        raise ConfigError(
            f"Expects model to be 'smollm2', a shipped model ({', '.join(SHIPPED_MODELS)}), a LoRA "
            f"adapter directory, a local model directory or a model id in the Hugging Face cache "
            f"(loading is offline), actual: {name!r} ({exc})"
        ) from exc
    model.eval()
    return model, tokenizer
