"""LLM access for the data engine: any OpenAI-compatible endpoint, or transformers in-process.

Example:
    >>> from lite_world.llm import LLMConfig, extract_json
    >>> LLMConfig().model, extract_json('ok {"x": 1}')
    ('smollm2', {'x': 1})
"""

from lite_world.llm.backends import Backend, OpenAIBackend, TransformersBackend
from lite_world.llm.client import LLMClient, LLMConfig, LLMReply, LLMUsage, make_client
from lite_world.llm.jsonx import extract_json

__all__ = [
    "Backend",
    "LLMClient",
    "LLMConfig",
    "LLMReply",
    "LLMUsage",
    "OpenAIBackend",
    "TransformersBackend",
    "extract_json",
    "make_client",
]
