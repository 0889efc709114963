"""The live web, for build steps only: Serper search, page fetching and an offline stand-in.

The world stays closed at training time: these clients are used by corpus expansion
(``lite-world synth expand``) and by evaluation harnesses, never as a live fallback of the env.

Example:
    >>> from lite_world.web import PageFetcher, SearchProvider, SerperClient
    >>> PageFetcher().max_bytes
    5000000
"""

from lite_world.web.fetch import PageFetcher
from lite_world.web.provider import PageSource, SearchProvider
from lite_world.web.serper import SerperClient

__all__ = ["PageFetcher", "PageSource", "SearchProvider", "SerperClient"]
