"""Search-R1 / FlashRAG corpora: ``{"id", "contents"}`` JSONL rows (gz or plain) as pages.

A row is one passage, ``contents = '"Title"\\npassage text'`` (wiki-18 has about 21M of them).
Two ways to turn them into pages, chosen by ``group``:

- ``"passage"`` (default): one page per row, so a ``/retrieve`` hit is the row Search-R1 would
  return. Its URL is the title's Wikipedia URL with the row id as a query parameter
  (``https://en.wikipedia.org/wiki/Title?passage=ID``), stable across rebuilds. The page's
  summary (what the dense index embeds) is the row's ``contents`` as is, so our vectors are the
  ones Search-R1's ``index_builder.py`` computes with the same encoder, and short passages are
  kept whatever ``--min-chars`` says (a corpus row is the unit of retrieval).
- ``"title"``: the rows of one title become one page, its passages in corpus order; the
  passage-level vectors of an adopted index are kept beside it (see
  :mod:`lite_world.index.adopt`).

Example:
    >>> split_contents('"Paris"\\nParis is the capital of France.')
    ('Paris', 'Paris is the capital of France.')
    >>> passage_url("Paris", "17")
    'https://en.wikipedia.org/wiki/Paris?passage=17'
    >>> passage_id(passage_url("Hello Love (album)", "3")), passage_id("https://x.org/a")
    ('3', None)
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from lite_world.errors import IngestError
from lite_world.store.ingest.sources import RawPage
from lite_world.store.urls import normalize_url, wikipedia_url

__all__ = [
    "GROUPS",
    "CorpusRow",
    "split_contents",
    "join_contents",
    "passage_url",
    "passage_id",
    "is_searchr1_corpus",
    "iter_corpus_rows",
    "iter_searchr1",
]

GROUPS = ("passage", "title")
_PARAM = "passage"


def split_contents(contents: str) -> tuple[str, str]:
    """``(title, text)`` of a Search-R1 ``contents`` string (title: first line, quotes stripped).

    A row without a newline has no title: ``("", contents)``.

    Example:
        >>> split_contents('"A \\"B\\""\\ntext'), split_contents("no title")
        (('A "B"', 'text'), ('', 'no title'))
    """
    first, sep, rest = contents.partition("\n")
    if not sep:
        return "", contents.strip()
    title = first.strip()
    if len(title) >= 2 and title[0] == title[-1] == '"':
        title = title[1:-1]
    return title.replace('\\"', '"').strip(), rest.strip()


def join_contents(title: str, text: str) -> str:
    """The Search-R1 ``contents`` of a title and a text (the inverse of :func:`split_contents`).

    Example:
        >>> join_contents("Paris", "Capital.")
        '"Paris"\\nCapital.'
    """
    return f'"{title}"\n{text}' if title else text


def passage_url(title: str, row_id: str) -> str:
    """The stable page URL of corpus row ``row_id`` (title-based, the row id as a parameter)."""
    base = wikipedia_url(title) if title else "https://corpus.lite-world/row"
    return normalize_url(f"{base}?{_PARAM}={quote(str(row_id), safe='')}")


def passage_id(url: str) -> str | None:
    """The corpus row id a :func:`passage_url` carries, else ``None``."""
    values = parse_qs(urlsplit(url).query).get(_PARAM)
    return values[0] if values else None


def _open(path: str | os.PathLike[str]) -> Any:
    if str(path).lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def is_searchr1_corpus(path: str | os.PathLike[str]) -> bool:
    """Whether the first non-empty line of a JSONL file is a ``{"id", "contents"}`` row.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "c.jsonl"
        >>> _ = p.write_text('{"id": "0", "contents": "\\\\"T\\\\"\\\\nx"}\\n')
        >>> is_searchr1_corpus(p)
        True
    """
    if not str(path).lower().endswith((".jsonl", ".jsonl.gz", ".ndjson")) or not os.path.isfile(
        path
    ):
        return False
    try:
        with _open(path) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    return isinstance(row, dict) and "contents" in row and "url" not in row
    except (OSError, ValueError):
        return False
    return False


class CorpusRow(tuple):
    """``(position, id, title, text, contents)`` of one corpus line (position = FAISS row)."""

    __slots__ = ()

    position = property(lambda self: self[0])
    id = property(lambda self: self[1])
    title = property(lambda self: self[2])
    text = property(lambda self: self[3])
    contents = property(lambda self: self[4])


def iter_corpus_rows(path: str | os.PathLike[str]) -> Iterator[CorpusRow]:
    """Every row of a corpus file in order; position ``i`` is line ``i`` (blank lines skipped).

    Raises:
        IngestError: a line is not JSON or has no string ``contents``.
    """
    position = 0
    with _open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IngestError(
                    f"Expects one JSON object per line in {path}, actual: line {lineno}: {exc}"
                ) from exc
            contents = row.get("contents") if isinstance(row, dict) else None
            if not isinstance(contents, str):
                raise IngestError(
                    f'Expects a {{"id", "contents"}} row with a string "contents" at {path} line '
                    f"{lineno}, actual: {str(row)[:120]}. Search-R1 corpora have one per line."
                )
            row_id = str(row.get("id", position))
            title, text = split_contents(contents)
            yield CorpusRow((position, row_id, title, text, contents))
            position += 1


def iter_searchr1(path: str | os.PathLike[str], *, group: str = "passage") -> Iterator[RawPage]:
    """Raw pages from a Search-R1 corpus, one per row (``group="passage"``) or per title.

    Raises:
        IngestError: ``group`` is unknown, or a row is malformed.
    """
    if group not in GROUPS:
        raise IngestError(f"Expects group in {GROUPS}, actual: {group!r}")
    source = Path(path).name
    if group == "passage":
        for r in iter_corpus_rows(path):
            if not r.text and not r.title:
                continue
            yield RawPage(
                url=passage_url(r.title, r.id),
                title=r.title,
                markdown=r.text or r.title,
                source=source,
                summary=r.contents,
                keep_short=True,
            )
        return
    groups: dict[str, list[str]] = {}
    for r in iter_corpus_rows(path):
        if r.text:
            groups.setdefault(r.title, []).append(r.text)
    for title, texts in groups.items():
        url = wikipedia_url(title) if title else "https://corpus.lite-world/untitled"
        md = (f"# {title}\n\n" if title else "") + "\n\n".join(texts)
        yield RawPage(url=url, title=title, markdown=md, source=source, keep_short=True)
