"""The ``lite-world`` command line.

Subcommands (these exact forms are stable; scripts call them)::

    lite-world build INPUT... --out WORLD [--min-chars N] [--embedder NAME_OR_PATH] [--index FACTORY]
    lite-world info WORLD [--quick]
    lite-world search WORLD "query" [-k K] [--json]
    lite-world browse WORLD URL --goal "..." [--json]
    lite-world demo-world                      # build (if needed) and print the demo world's path
    lite-world rollout --agent scripted|hf|openai ... --out DIR
    lite-world serve WORLD [--host H] [--port P] [--token-file F] [--ray --replicas N]
    lite-world sft-data TRAJECTORIES... --out DIR [--rules F1 ... F7] [--tokenizer smollm2]
    lite-world synth extract|filter|audit|expand|multihop IN --out OUT ...   # the data engine
    lite-world curriculum profile|build ...                                   # pass@K stage files
    lite-world eval --bench NAME --data PATH --agent scripted|hf|openai [--world WORLD]
                    --tools local|live [--limit N] --out DIR          # benchmarks, judged, reported
    lite-world eval-world --bench NAME --data PATH --out WORLD [--corpus C] [--dump D] [--fetch]
    lite-world compare --bench NAME --data PATH --agent ... --world WORLD [--standins] --out DIR

``WORLD`` may be ``demo`` for the bundled demo world.

Example:
    >>> main(["--version"])          # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from lite_world.errors import LiteWorldError
from lite_world.version import __version__
from lite_world.worlds import SEARCH_MODES

__all__ = ["main", "build_parser"]


def _world_path(arg: str) -> str:
    from lite_world.worlds import resolve_world_spec

    return str(resolve_world_spec(arg))


def _cmd_build(a: argparse.Namespace) -> int:
    from lite_world.build import BuildConfig, build_world

    cfg = BuildConfig(
        min_chars=a.min_chars,
        embedder=a.embedder,
        index_factory=a.index,
        compression=a.compression,
        device=a.device,
        show_progress=not a.quiet,
        corpus_group=a.corpus_group,
        adopt_index=a.adopt_index,
        encoder_config={
            k: v
            for k, v in (
                ("query_prefix", a.query_prefix),
                ("passage_prefix", a.passage_prefix),
                ("pooling", a.pooling),
                ("max_length", a.max_length),
            )
            if v is not None
        }
        or None,
    )
    m = build_world(a.inputs, a.out, cfg)
    print(
        json.dumps(
            {
                "world": a.out,
                "pages": m.page_count,
                "index": m.index_factory,
                "embedder": m.embedder,
                "build_seconds": m.build_seconds,
                "last_ingest": m.build_config.get("last_ingest"),
            },
            indent=2,
        )
    )
    return 0


def _cmd_info(a: argparse.Namespace) -> int:
    from lite_world.store.lmdb_store import PageStore
    from lite_world.verify import check_world

    path = _world_path(a.world)
    check = check_world(path, level="quick" if a.quick else "full")
    with PageStore(path) as store:
        stats = store.stats()
    notes = {
        "verified": "every file's size, header and blake2b digest, and the store's content digest",
        "skipped": "sizes and headers only (--quick); run without --quick to check the digests",
        "unavailable": "sizes and headers only: this world was built before digests were recorded; rebuild it "
        "to record them",
    }
    print(
        json.dumps(
            {
                "world": path,
                "verified": True,
                "check": {**check.to_dict(), "note": notes[check.digests]},
                "manifest": check.manifest.to_dict(),
                "store": stats,
            },
            indent=2,
        )
    )
    return 0


def _cmd_search(a: argparse.Namespace) -> int:
    from lite_world.tools.search import SearchTool
    from lite_world.worlds import open_world

    res = SearchTool(open_world(a.world, search_mode=a.mode), k=a.k)({"query": [a.query]})
    print(json.dumps(res.data, indent=2, ensure_ascii=False) if a.json else res.text)
    return 0 if res.error is None else 1


def _cmd_browse(a: argparse.Namespace) -> int:
    from lite_world.tools.summarize import ExtractiveSummarizer
    from lite_world.tools.visit import VisitTool
    from lite_world.worlds import open_world

    tool = VisitTool(
        open_world(a.world, search_mode="sparse"), ExtractiveSummarizer(max_chars=a.max_chars)
    )
    res = tool({"url": [a.url], "goal": a.goal})
    print(
        json.dumps({"text": res.text, **res.data}, indent=2, ensure_ascii=False)
        if a.json
        else res.text
    )
    return 0 if res.error is None else 1


def _cmd_demo_world(a: argparse.Namespace) -> int:
    from lite_world.demo import ensure_demo_world

    print(ensure_demo_world())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lite-world", description="A lite virtual world for RL of search agents."
    )
    p.add_argument("--version", action="version", version=f"lite-world {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser(
        "build", help="build or extend a world from JSONL/Parquet/HTML dirs/WARC/Wikipedia JSON"
    )
    b.add_argument("inputs", nargs="+", help="input files or directories")
    b.add_argument("--out", required=True, help="world directory")
    b.add_argument(
        "--min-chars", type=int, default=1000, help="drop pages shorter than this (default 1000)"
    )
    b.add_argument(
        "--embedder",
        default="sentence-transformers/all-MiniLM-L6-v2",
        help="sentence-transformers name or path",
    )
    b.add_argument("--index", default=None, help="FAISS factory string (default: by page count)")
    b.add_argument("--compression", default="zstd", choices=["zstd", "none"])
    b.add_argument("--device", default=None, help="encoder device (default: cuda if available)")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    b.add_argument(
        "--corpus-group",
        default="passage",
        choices=["passage", "title"],
        help="Search-R1 {id, contents} corpora: one page per passage row, or per title",
    )
    b.add_argument(
        "--adopt-index", default=None, help="adopt this FAISS index of the corpus (no re-embedding)"
    )
    b.add_argument("--query-prefix", default=None, help="encoder query prefix ('query: ' for e5)")
    b.add_argument(
        "--passage-prefix", default=None, help="encoder passage prefix ('passage: ' for e5)"
    )
    b.add_argument("--pooling", default=None, choices=["mean", "cls"], help="encoder pooling")
    b.add_argument("--max-length", type=int, default=None, help="encoder max tokens per text")
    b.set_defaults(fn=_cmd_build)

    i = sub.add_parser(
        "info", help="print and verify a world (sizes, headers and digests of every file)"
    )
    i.add_argument("world")
    i.add_argument(
        "--quick",
        "--fast",
        dest="quick",
        action="store_true",
        help="check sizes and headers only, not the digests (--fast is the old name)",
    )
    i.set_defaults(fn=_cmd_info)

    s = sub.add_parser("search", help="search a world")
    s.add_argument("world")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--mode", default="hybrid", choices=list(SEARCH_MODES))
    s.add_argument("--json", action="store_true", help="structured results")
    s.set_defaults(fn=_cmd_search)

    w = sub.add_parser("browse", help="visit a page of a world with a goal")
    w.add_argument("world")
    w.add_argument("url")
    w.add_argument("--goal", required=True)
    w.add_argument("--max-chars", type=int, default=3000)
    w.add_argument("--json", action="store_true")
    w.set_defaults(fn=_cmd_browse)

    d = sub.add_parser(
        "demo-world", help="build (if needed) the bundled demo world and print its path"
    )
    d.set_defaults(fn=_cmd_demo_world)

    from lite_world.rollout.cli import add_rollout_parser
    from lite_world.serve.cli import add_serve_parser

    add_rollout_parser(sub)
    add_serve_parser(sub)
    from lite_world.sft.cli import add_sft_parser

    add_sft_parser(sub)
    from lite_world.synth.cli import add_synth_parsers

    add_synth_parsers(sub)
    from lite_world.eval.cli import add_eval_parsers

    add_eval_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.fn(args) or 0)
    except LiteWorldError as exc:
        print(f"lite-world {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
