"""Loaders for the benchmark files users bring: each becomes a list of
:class:`~lite_world.tasks.Task`.

Every loader reads its benchmark's published layout, checks the columns it needs (a missing
one raises :class:`~lite_world.errors.TaskError` naming it), decrypts encrypted cells in memory
(:mod:`lite_world.eval.crypto`) and records what the runner and the world builder need in
``task.meta``: ``bench``, ``evidence_urls`` (pages that hold the evidence), ``relevant_docids``
(BrowseComp-Plus), ``language`` and ``judge`` (``"xbench"`` for the Chinese three-field judge).
Items the text-only harness cannot run (GAIA attachments, HLE images) are skipped and counted.

Example:
    >>> import tempfile, pathlib, json
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "q.jsonl"
    >>> _ = p.write_text(json.dumps({"question": "Capital of France?", "answer": "Paris"}) + "\\n")
    >>> data = load_benchmark("generic", p)
    >>> data.tasks[0].answers, data.tasks[0].meta["bench"], data.skipped
    (('Paris',), 'generic', {})
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lite_world.errors import TaskError
from lite_world.eval.crypto import browsecomp_decrypt, xor_decrypt
from lite_world.eval.rows import columns_of, first_present, read_rows, require_columns
from lite_world.tasks import Task

__all__ = ["BENCHES", "BenchData", "load_benchmark", "detect_bench"]

logger = logging.getLogger(__name__)

BENCHES = (
    "gaia",
    "xbench",
    "browsecomp",
    "browsecomp-plus",
    "frames",
    "webwalker",
    "seal",
    "hle",
    "fanoutqa",
    "generic",
)
"""Benchmark names accepted by ``--bench``."""

Row = dict[str, Any]
_URL = re.compile(r"https?://[^\s'\"<>\]]+")


@dataclass(frozen=True)
class BenchData:
    """The tasks of one benchmark file and what was left out."""

    bench: str
    tasks: list[Task]
    skipped: dict[str, int] = field(default_factory=dict)


def load_benchmark(
    bench: str, path: str | os.PathLike[str], *, limit: int | None = None
) -> BenchData:
    """Load ``path`` as benchmark ``bench`` (one of :data:`BENCHES`, or ``"auto"`` to detect it)."""
    rows = read_rows(path)
    if bench == "auto":
        bench = detect_bench(rows)
    if bench not in _LOADERS:
        raise TaskError(f"Expects --bench in {BENCHES} (or 'auto'), actual: {bench!r}.")
    tasks, skipped = _LOADERS[bench](rows, path)
    for reason, n in skipped.items():
        logger.info("%s: skipped %d items (%s)", bench, n, reason)
    if not tasks:
        raise TaskError(
            f"Expects at least one runnable {bench} item in {os.fspath(path)}, actual: none "
            f"(skipped {skipped})."
        )
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise TaskError(
            f"Expects unique item ids in the {bench} file, actual: {len(ids) - len(set(ids))} "
            "duplicates."
        )
    return BenchData(bench, tasks[:limit] if limit else tasks, skipped)


def detect_bench(rows: Sequence[Mapping[str, Any]]) -> str:
    """Guess the benchmark from the columns of its rows.

    Example:
        >>> detect_bench([{"problem": "x", "answer": "y", "canary": "c"}])
        'browsecomp'
        >>> detect_bench([{"Prompt": "x", "Answer": "y", "wiki_links": "[]"}])
        'frames'
    """
    cols = set(columns_of(rows[:50]))
    checks = [
        ("gaia", {"Question", "Final answer"}),
        ("xbench", {"prompt", "answer", "canary"}),
        ("browsecomp", {"problem", "answer", "canary"}),
        ("browsecomp-plus", {"query_id", "query"}),
        ("frames", {"Prompt", "Answer"}),
        ("webwalker", {"question", "root_url"}),
        ("fanoutqa", {"question", "decomposition"}),
        ("hle", {"question", "answer_type"}),
    ]
    for name, need in checks:
        if need <= cols:
            return name
    if "question" in cols and ({"answer", "answers"} & cols):
        return "generic"
    raise TaskError(
        f"Expects the columns of a known benchmark ({BENCHES}), actual: {sorted(cols)}. Pass "
        "--bench NAME."
    )


# -- helpers -------------------------------------------------------------------------------
def _answers(value: Any) -> list[str]:
    if isinstance(value, str):
        v = value.strip()
        if v.startswith("[") and v.endswith("]"):
            try:
                parsed = json.loads(v)
                if isinstance(parsed, list) and parsed:
                    return _answers(parsed)
            except ValueError:
                pass
        return [v] if v else []
    if isinstance(value, bool) or value is None:
        return [str(value)] if value is not None else []
    if isinstance(value, (int, float)):
        return [f"{value:g}" if isinstance(value, float) else str(value)]
    if isinstance(value, Mapping):
        return ["; ".join(f"{k}: {v}" for k, v in value.items())] if value else []
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _answers(v)]
    return [str(value)]


def _list(value: Any) -> list[Any]:
    """A list from a list, a JSON / Python list literal, or a single value."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "tolist"):
        return list(value.tolist())
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in "[{":
            for parse in (json.loads, ast.literal_eval):
                try:
                    out = parse(s)
                    return out if isinstance(out, list) else [out]
                except (ValueError, SyntaxError):
                    continue
        return [s]
    return [value]


def _urls(value: Any) -> list[str]:
    """URLs in a list / list literal / free text; parentheses inside a URL are kept when balanced.

    Example:
        >>> _urls("['https://en.wikipedia.org/wiki/Hello_Love_(song)', 'https://a.org/x).']")
        ['https://en.wikipedia.org/wiki/Hello_Love_(song)', 'https://a.org/x']
    """
    out: list[str] = []
    for v in _list(value):
        if isinstance(v, Mapping):
            v = v.get("url") or v.get("link") or ""
        for u in _URL.findall(str(v)):
            u = u.rstrip(".,;:")
            while u.endswith(")") and u.count(")") > u.count("("):
                u = u[:-1].rstrip(".,;:")
            out.append(u)
    return list(dict.fromkeys(out))


def _task(bench: str, rid: Any, question: Any, answer: Any, n: int, **meta: Any) -> Task | None:
    answers = _answers(answer)
    if not isinstance(question, str) or not question.strip() or not answers:
        return None
    meta = {
        "bench": bench,
        "evidence_urls": [],
        "language": "en",
        **{k: v for k, v in meta.items() if v is not None},
    }
    tid = str(rid) if rid not in (None, "") else f"{bench}-{n}"
    return Task.from_dict(
        {
            "id": tid,
            "question": question,
            "answers": answers,
            "meta": meta,
            "difficulty": meta.pop("difficulty", None),
            "capability": bench,
        }
    )


def _collect(
    bench: str, rows: list[Row], make: Callable[[Row, int], Task | str | None]
) -> tuple[list[Task], dict[str, int]]:
    tasks: list[Task] = []
    skipped: dict[str, int] = {}
    for n, row in enumerate(rows):
        t = make(row, n)
        if isinstance(t, Task):
            tasks.append(t)
        else:
            reason = t or "empty question or answer"
            skipped[reason] = skipped.get(reason, 0) + 1
    return tasks, skipped


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# -- one loader per benchmark --------------------------------------------------------------
def _gaia(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    q = first_present(rows, ("Question", "question"), bench="gaia", path=path)
    a = first_present(rows, ("Final answer", "final_answer", "answer"), bench="gaia", path=path)

    def make(r: Row, n: int) -> Task | str | None:
        if str(r.get("file_name") or "").strip():
            return "has an attachment (text-only harness)"
        level = r.get("Level")
        return _task(
            "gaia",
            r.get("task_id"),
            r.get(q),
            r.get(a),
            n,
            difficulty=int(str(level)) if str(level or "").strip().isdigit() else None,
        )

    return _collect("gaia", rows, make)


def _xbench(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    require_columns(rows, ("prompt", "answer", "canary"), bench="xbench", path=path)

    def make(r: Row, n: int) -> Task | None:
        canary = str(r["canary"])
        question, answer = (
            xor_decrypt(str(r["prompt"]), canary),
            xor_decrypt(str(r["answer"]), canary),
        )
        return _task("xbench", r.get("id"), question, answer, n, language="zh", judge="xbench")

    return _collect("xbench", rows, make)


def _browsecomp(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    require_columns(rows, ("problem", "answer", "canary"), bench="browsecomp", path=path)

    def make(r: Row, n: int) -> Task | None:
        canary = str(r["canary"])
        question = browsecomp_decrypt(str(r["problem"]), canary)
        return _task(
            "browsecomp",
            r.get("id"),
            question,
            browsecomp_decrypt(str(r["answer"]), canary),
            n,
            topic=r.get("problem_topic"),
        )

    return _collect("browsecomp", rows, make)


def _docids(value: Any) -> tuple[list[str], list[str]]:
    ids, urls = [], []
    for d in _list(value):
        if isinstance(d, Mapping):
            if d.get("docid") is not None:
                ids.append(str(d["docid"]))
            if d.get("url"):
                urls.append(str(d["url"]))
        elif d not in (None, ""):
            ids.append(str(d))
    return ids, urls


def _browsecomp_plus(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    q = first_present(rows, ("query", "question"), bench="browsecomp-plus", path=path)
    require_columns(rows, ("answer",), bench="browsecomp-plus", path=path)
    ev_col = next((c for c in ("evidence_docs", "gold_docs") if c in columns_of(rows[:50])), None)

    def make(r: Row, n: int) -> Task | None:
        question, answer = r.get(q), r.get("answer")
        if r.get("canary"):
            question, answer = (
                browsecomp_decrypt(str(question), str(r["canary"])),
                browsecomp_decrypt(str(answer), str(r["canary"])),
            )
        ids, urls = _docids(r.get(ev_col)) if ev_col else ([], [])
        gold, _ = _docids(r.get("gold_docs"))
        return _task(
            "browsecomp-plus",
            r.get("query_id", r.get("id")),
            question,
            answer,
            n,
            relevant_docids=ids,
            gold_docids=gold,
            evidence_urls=urls,
        )

    return _collect("browsecomp-plus", rows, make)


def _frames(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    q = first_present(rows, ("Prompt", "prompt", "question"), bench="frames", path=path)
    a = first_present(rows, ("Answer", "answer"), bench="frames", path=path)
    cols = columns_of(rows[:50])
    link_cols = [c for c in cols if c == "wiki_links" or c.startswith("wikipedia_link")]
    if not link_cols:
        raise TaskError(
            "Expects column 'wiki_links' (or wikipedia_link_N) in the frames file, actual: "
            f"columns {cols}."
        )

    def make(r: Row, n: int) -> Task | None:
        urls = list(dict.fromkeys(u for c in link_cols for u in _urls(r.get(c))))
        rid = r.get("Unnamed: 0", r.get("id", r.get("")))
        return _task(
            "frames",
            rid,
            r.get(q),
            r.get(a),
            n,
            evidence_urls=urls,
            reasoning=r.get("reasoning_types"),
        )

    return _collect("frames", rows, make)


def _webwalker(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    require_columns(rows, ("question", "answer", "root_url"), bench="webwalker", path=path)

    def make(r: Row, n: int) -> Task | None:
        info = r.get("info") or {}
        if isinstance(info, str):
            try:
                info = json.loads(info)
            except ValueError:
                info = {}
        urls = _urls(info.get("golden_path")) or []
        lang = info.get("lang") or ("zh" if _has_cjk(str(r["question"])) else "en")
        return _task(
            "webwalker",
            r.get("id"),
            r.get("question"),
            r.get("answer"),
            n,
            evidence_urls=list(dict.fromkeys([*urls, str(r["root_url"])])),
            root_url=str(r["root_url"]),
            language=lang,
            level=info.get("difficulty_level"),
        )

    return _collect("webwalker", rows, make)


def _seal(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    require_columns(rows, ("question", "answer"), bench="seal", path=path)

    def make(r: Row, n: int) -> Task | None:
        return _task(
            "seal",
            r.get("id"),
            r.get("question"),
            r.get("answer"),
            n,
            evidence_urls=_urls(r.get("urls")),
            topic=r.get("topic"),
        )

    return _collect("seal", rows, make)


def _hle(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    require_columns(rows, ("question", "answer"), bench="hle", path=path)

    def make(r: Row, n: int) -> Task | str | None:
        if str(r.get("image") or "").strip():
            return "has an image (text-only harness)"
        return _task(
            "hle",
            r.get("id"),
            r.get("question"),
            r.get("answer"),
            n,
            answer_type=r.get("answer_type"),
            topic=r.get("category"),
        )

    return _collect("hle", rows, make)


def _fanout_urls(decomp: Any) -> list[str]:
    out: list[str] = []
    for d in _list(decomp):
        if isinstance(d, Mapping):
            ev = d.get("evidence")
            if isinstance(ev, Mapping) and ev.get("url"):
                out.append(str(ev["url"]))
            out.extend(_fanout_urls(d.get("decomposition")))
    return list(dict.fromkeys(out))


def _fanoutqa(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    require_columns(rows, ("question", "answer", "decomposition"), bench="fanoutqa", path=path)

    def make(r: Row, n: int) -> Task | None:
        return _task(
            "fanoutqa",
            r.get("id"),
            r.get("question"),
            r.get("answer"),
            n,
            evidence_urls=_fanout_urls(r.get("decomposition")),
        )

    return _collect("fanoutqa", rows, make)


def _generic(rows: list[Row], path: Any) -> tuple[list[Task], dict[str, int]]:
    require_columns(rows, ("question",), bench="generic", path=path)
    a = first_present(rows, ("answer", "answers"), bench="generic", path=path)

    def make(r: Row, n: int) -> Task | None:
        ev = r.get("evidence_urls") or (r.get("meta") or {}).get("supporting_urls")
        return _task(
            "generic", r.get("id"), r.get("question"), r.get(a), n, evidence_urls=_urls(ev)
        )

    return _collect("generic", rows, make)


_LOADERS: dict[str, Callable[[list[Row], Any], tuple[list[Task], dict[str, int]]]] = {
    "gaia": _gaia,
    "xbench": _xbench,
    "browsecomp": _browsecomp,
    "browsecomp-plus": _browsecomp_plus,
    "frames": _frames,
    "webwalker": _webwalker,
    "seal": _seal,
    "hle": _hle,
    "fanoutqa": _fanoutqa,
    "generic": _generic,
}
