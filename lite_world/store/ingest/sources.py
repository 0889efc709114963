"""Readers for every ingest input. Each yields :class:`RawPage` records lazily.

Supported inputs (``detect_kind`` picks by path):

- ``*.jsonl`` / ``*.jsonl.gz`` / ``*.parquet``: rows with ``url, title, text|markdown|html, date``;
- Search-R1 / FlashRAG ``{"id", "contents"}`` JSONL (gz or plain), told by its first row: see
  :mod:`lite_world.store.ingest.searchr1`;
- a directory of ``*.html`` / ``*.htm`` files (URL from ``<link rel=canonical>`` / ``og:url``, else
  ``https://<relative path>`` when the first folder looks like a host, else ``https://local.lite-world/<path>``);
- ``*.warc`` / ``*.warc.gz``: HTML response records (warcio);
- ``*.json``: a list of ``{title, text}`` Wikipedia paragraphs (MuSiQue / 2Wiki corpora), grouped by
  title into one page each at ``https://en.wikipedia.org/wiki/Title_with_underscores``, or a list
  of row dicts.

Example:
    >>> detect_kind("a.jsonl"), detect_kind("b.warc.gz"), detect_kind("c.parquet")
    ('rows', 'warc', 'rows')
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lite_world.errors import IngestError
from lite_world.store.urls import wikipedia_url

__all__ = [
    "RawPage",
    "detect_kind",
    "iter_source",
    "iter_rows",
    "iter_html_dir",
    "iter_warc",
    "iter_wiki_paragraphs",
]

_CANON = re.compile(r"""<link[^>]+rel=["']?canonical["']?[^>]*>""", re.I)
_OGURL = re.compile(r"""<meta[^>]+property=["']og:url["'][^>]*>""", re.I)
_HREF = re.compile(r"""(?:href|content)=["']([^"']+)["']""", re.I)


@dataclass
class RawPage:
    """A page before conversion: the first of ``markdown``/``text``/``html`` that is set is used."""

    url: str
    title: str = ""
    markdown: str | None = None
    text: str | None = None
    html: str | None = None
    date: str | None = None
    source: str = ""
    summary: str | None = None  # what the dense index embeds (default: title + lead text)
    keep_short: bool = False  # kept whatever min_chars says (a corpus passage is a unit)


def detect_kind(path: str | os.PathLike[str]) -> str:
    """``rows``, ``html_dir``, ``warc`` or ``json``."""
    p = str(path).lower()
    if os.path.isdir(path):
        return "html_dir"
    if p.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".parquet")):
        return "rows"
    if p.endswith((".warc", ".warc.gz")):
        return "warc"
    if p.endswith((".json", ".json.gz")):
        return "json"
    raise IngestError(
        "Expects a .jsonl/.parquet/.warc(.gz)/.json file or a directory of HTML files, actual: "
        f"{path}"
    )


def iter_source(path: str | os.PathLike[str], *, group: str = "passage") -> Iterator[RawPage]:
    """Raw pages from any supported input (``group``: how a Search-R1 corpus becomes pages)."""
    if not os.path.exists(path):
        raise IngestError(f"Expects an ingest input at {path}, actual: it does not exist")
    kind = detect_kind(path)
    from lite_world.store.ingest import searchr1

    if kind == "rows" and searchr1.is_searchr1_corpus(path):
        return searchr1.iter_searchr1(path, group=group)
    if kind == "rows":
        return iter_rows(path)
    if kind == "html_dir":
        return iter_html_dir(path)
    if kind == "warc":
        return iter_warc(path)
    return _iter_json(path)


def _open_text(path: str | os.PathLike[str]):
    return (
        gzip.open(path, "rt", encoding="utf-8")
        if str(path).endswith(".gz")
        else open(path, encoding="utf-8")
    )


def _row_to_raw(row: dict[str, Any], source: str) -> RawPage | None:
    url = row.get("url")
    if not isinstance(url, str) or not url.strip():
        return None

    def s(key: str) -> str | None:
        v = row.get(key)
        return v if isinstance(v, str) and v else None

    date = row.get("date")
    return RawPage(
        url,
        s("title") or "",
        s("markdown"),
        s("text"),
        s("html"),
        str(date) if date else None,
        source,
    )


def iter_rows(path: str | os.PathLike[str]) -> Iterator[RawPage]:
    """Rows from JSONL (optionally gzipped) or Parquet."""
    source = Path(path).name
    if str(path).lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                raw = _row_to_raw(row, source)
                if raw:
                    yield raw
        return
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IngestError(
                    f"Expects one JSON object per line in {path}, actual: line {lineno}: {exc}"
                ) from exc
            raw = _row_to_raw(row, source) if isinstance(row, dict) else None
            if raw:
                yield raw


def _url_from_html(html: str) -> str | None:
    head = html[:20000]
    for pat in (_CANON, _OGURL):
        m = pat.search(head)
        if m:
            h = _HREF.search(m.group(0))
            if h and h.group(1).startswith(("http://", "https://")):
                return h.group(1)
    return None


def iter_html_dir(path: str | os.PathLike[str]) -> Iterator[RawPage]:
    """Every ``.html``/``.htm`` file under a directory, in sorted order."""
    root = Path(path)
    for f in sorted(
        p for p in root.rglob("*") if p.suffix.lower() in (".html", ".htm") and p.is_file()
    ):
        html = f.read_bytes().decode("utf-8", "replace")
        rel = f.relative_to(root).as_posix()
        url = _url_from_html(html)
        if url is None:
            first = rel.split("/", 1)[0]
            url = (
                f"https://{rel}"
                if "." in first and "/" in rel
                else f"https://local.lite-world/{rel}"
            )
        yield RawPage(url=url, html=html, source=root.name)


def iter_warc(path: str | os.PathLike[str]) -> Iterator[RawPage]:
    """HTML ``response`` records of a WARC file."""
    from warcio.archiveiterator import ArchiveIterator

    source = Path(path).name
    with open(path, "rb") as f:
        try:
            for rec in ArchiveIterator(f):
                if rec.rec_type != "response" or rec.http_headers is None:
                    continue
                ctype = (rec.http_headers.get_header("Content-Type") or "").lower()
                status = rec.http_headers.get_statuscode()
                if "html" not in ctype or (status and not str(status).startswith("2")):
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI")
                date = rec.rec_headers.get_header("WARC-Date")
                body = rec.content_stream().read()
                if url:
                    yield RawPage(
                        url=url,
                        html=body.decode("utf-8", "replace"),
                        date=(date or "")[:10] or None,
                        source=source,
                    )
        except Exception as exc:  # warcio raises several types on damaged archives
            raise IngestError(f"Expects a readable WARC file at {path}, actual: {exc}") from exc


def iter_wiki_paragraphs(items: list[dict[str, Any]], source: str) -> Iterator[RawPage]:
    """Group ``{title, text}`` paragraphs by title into one Wikipedia page each, in order."""
    groups: dict[str, list[str]] = {}
    for it in items:
        title = str(it.get("title", "")).strip()
        text = str(it.get("text", it.get("paragraph_text", ""))).strip()
        if title and text:
            paras = groups.setdefault(title, [])
            if text not in paras:
                paras.append(text)
    for title, paras in groups.items():
        md = f"# {title}\n\n" + "\n\n".join(paras)
        yield RawPage(url=wikipedia_url(title), title=title, markdown=md, source=source)


def _iter_json(path: str | os.PathLike[str]) -> Iterator[RawPage]:
    with _open_text(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise IngestError(f"Expects a JSON list in {path}, actual: {exc}") from exc
    if not isinstance(data, list):
        raise IngestError(
            f"Expects a JSON list of {{title, text}} paragraphs or row objects in {path}, actual: "
            f"{type(data).__name__}"
        )
    source = Path(path).name
    if data and isinstance(data[0], dict) and "url" in data[0]:
        return (r for r in (_row_to_raw(row, source) for row in data if isinstance(row, dict)) if r)
    return iter_wiki_paragraphs(data, source)
