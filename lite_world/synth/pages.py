"""Seed pages for synthesis: sampled from a world, or read from a JSONL page dump.

Example:
    >>> rows = [{"url": "https://x.org/a", "title": "A", "text": "A is a letter."}]
    >>> import tempfile, pathlib, json
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pages.jsonl"
    >>> _ = p.write_text("\\n".join(json.dumps(r) for r in rows))
    >>> [(d["url"], d["markdown"]) for d in load_pages(p, min_chars=5)]
    [('https://x.org/a', 'A is a letter.')]
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from lite_world.errors import ConfigError
from lite_world.store.urls import normalize_url
from lite_world.synth.records import read_jsonl

__all__ = ["is_world", "load_pages", "world_dir"]


def is_world(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a world directory (has a ``manifest.json``) or ``demo``."""
    return str(path) == "demo" or (Path(path) / "manifest.json").is_file()


def world_dir(source: str | os.PathLike[str]) -> str:
    """The directory of a world spec: ``demo`` → the bundled demo world (built on first use)."""
    from lite_world.worlds import resolve_world_spec

    return str(resolve_world_spec(os.fspath(source)))


def load_pages(
    source: str | os.PathLike[str], *, limit: int | None = None, seed: int = 0, min_chars: int = 200
) -> list[dict[str, Any]]:
    """Pages ``{url, title, markdown}`` from a world (a seeded sample of ``limit`` rows) or a JSONL
    dump (``url, title, markdown|text``; the first ``limit`` rows); pages shorter than
    ``min_chars`` are skipped."""
    if limit is not None and limit < 1:
        raise ConfigError(f"Expects limit >= 1 or None, actual: {limit}")
    out: list[dict[str, Any]] = []
    if is_world(source):
        from lite_world.store.lmdb_store import PageStore

        path = world_dir(source)
        with PageStore(Path(path)) as store:
            ids = list(range(store.next_id))
            random.Random(seed).shuffle(ids)
            for rec in store.get_many_by_id(ids):
                if rec is None or len(rec["markdown"]) < min_chars:
                    continue
                out.append({"url": rec["url"], "title": rec["title"], "markdown": rec["markdown"]})
                if limit is not None and len(out) >= limit:
                    break
        return out
    for row in read_jsonl(source):
        md = row.get("markdown") or row.get("text")
        if not isinstance(row.get("url"), str) or not isinstance(md, str) or len(md) < min_chars:
            continue
        out.append(
            {"url": normalize_url(row["url"]), "title": str(row.get("title") or ""), "markdown": md}
        )
        if limit is not None and len(out) >= limit:
            break
    return out
