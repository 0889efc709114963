"""The bundled demo world: MuSiQue + 2WikiMultihopQA Wikipedia pages, built on first use.

The data ships inside the package (see ``lite_world/data/demo/ATTRIBUTION.md``); the world is
built into ``$LITE_WORLD_CACHE`` (default ``~/.cache/lite-world``) the first time it is needed,
under a file lock so parallel workers build it once.

Example:
    >>> path = ensure_demo_world()          # doctest: +SKIP
    >>> (path / "manifest.json").is_file()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from lite_world.build import BuildConfig, build_world
from lite_world.layout import MANIFEST_NAME

__all__ = [
    "DEMO_DATA",
    "DEMO_SOURCES",
    "DEMO_MIN_CHARS",
    "cache_dir",
    "demo_world_path",
    "ensure_demo_world",
]

DEMO_DATA = Path(__file__).parent / "data" / "demo"
DEMO_SOURCES = ("musique_train_corpus.json", "2wikimultihopqa_corpus.json")
DEMO_MIN_CHARS = 50  # Wikipedia paragraphs are short; the paper's 1000 is for crawled pages.
_DEMO_VERSION = "demo-v1"


def cache_dir() -> Path:
    """``$LITE_WORLD_CACHE`` or ``~/.cache/lite-world``."""
    return Path(
        os.environ.get("LITE_WORLD_CACHE") or Path.home() / ".cache" / "lite-world"
    ).expanduser()


def demo_world_path() -> Path:
    return cache_dir() / _DEMO_VERSION


def ensure_demo_world(*, show_progress: bool = True) -> Path:
    """Build the demo world if it is not built yet; return its path."""
    path = demo_world_path()
    if (path / MANIFEST_NAME).is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{_DEMO_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (path / MANIFEST_NAME).is_file():
                build_world(
                    [DEMO_DATA / s for s in DEMO_SOURCES],
                    path,
                    BuildConfig(min_chars=DEMO_MIN_CHARS, show_progress=show_progress),
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path
