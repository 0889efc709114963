"""An LLM agent over the OpenAI protocol in the evaluation runner: a scripted chat model served by
``lite_world.agents.openai_server`` sees the managed (compressed) conversation, and its token usage
reaches the summary."""

from __future__ import annotations

import json

from lite_world.agents.base import ChatAgent, Completion, GenerationConfig
from lite_world.agents.openai import OpenAIAgent
from lite_world.agents.openai_server import create_openai_app, serve_in_thread
from lite_world.eval.context import count_messages
from lite_world.eval.runner import EvalConfig, read_results, run_eval

QUERIES = [
    "psychotherapy journal",
    "Tennessee",
    "Publix",
    "canon law",
    "Victoria Falls",
    "Hank Snow",
    "tavern",
    "river",
    "album",
    "county",
]


class SearchingChat(ChatAgent):
    """A chat "model" that searches ten queries, then answers; it records every prompt's size."""

    def __init__(self) -> None:
        super().__init__(GenerationConfig())
        self.prompts: list[int] = []

    def complete_batch(self, conversations, config=None):
        conv = conversations[0]
        self.prompts.append(count_messages(conv))
        done = sum(1 for m in conv if m["role"] == "assistant")
        if done < len(QUERIES):
            call = json.dumps({"name": "search", "arguments": {"query": [QUERIES[done]]}})
            text = f"<think>look</think><tool_call>{call}</tool_call>"
            return [Completion(text, "stop", None, count_messages(conv), 20)]
        text = "<think>enough</think><answer>Stanley Hall</answer>"
        return [Completion(text, "stop", None, count_messages(conv), 10)]


def test_openai_agent_sees_the_managed_context(tiny_world, generic_file, tmp_path):
    model = SearchingChat()
    with serve_in_thread(create_openai_app(model, "searching-chat")) as (base_url, _stop):
        cfg = EvalConfig(
            bench="generic",
            data=str(generic_file),
            world=str(tiny_world),
            limit=1,
            max_turns=16,
            show_progress=False,
            search_mode="sparse",
            context_mode="memory",
            context_budget=2000,
        )
        s = run_eval(
            lambda: OpenAIAgent(base_url, "searching-chat"), cfg, out_dir=tmp_path, report=False
        )
    ep = read_results(tmp_path / "results.jsonl")[0]
    assert ep["answered"] and ep["answer"] == "Stanley Hall" and ep["turns"] == 11
    assert max(ep["context"]["raw_tokens"]) > 2000 >= max(model.prompts)
    assert ep["context"]["compressed_steps"] > 0 and not ep["context"]["forced"]
    assert ep["tokens"]["completion_tokens"] == 10 * 20 + 10
    assert s["mean_prompt_tokens"] == sum(model.prompts)
