"""Page-store codec benchmark: none vs zstd vs zstd + trained dictionary (the data behind ``store/codec.py``).

For each dataset (the demo pages, and synthetic ~4 KB pages) and each codec, pages are written
into a fresh :class:`~lite_world.store.lmdb_store.PageStore` in 1,000-page transactions (as
``build_world`` does), then read back. Reported: disk bytes (``data.mdb``) per page and in all,
the size of a compacting copy (live pages only: ``data.mdb`` also keeps pages freed by
copy-on-write), value size and compression ratio, write rate (pages/s, including JSON + compression + the
dictionary training of the first batch), hot read latency of ``PageStore.get(url)`` (random
URLs, page cache warm: the store was just written), ``get_many_by_id`` of 10 random rows (the
search path), and the codec alone: encode / decode µs per page and JSON parsing alone.

"zstd" without a dictionary is produced through the public API by writing the first 63 pages
on their own: a ``PageStore`` trains its dictionary only from a first batch of >= 64 pages.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_store_codec                 # demo + 20k synthetic 4 KB pages
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_store_codec --quick         # 5k synthetic pages, fewer reads
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_store_codec --synthetic-pages 50000 --reads 5000
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import (
    CACHE_DIR,
    Deadline,
    plot_bar_panels,
    summarize,
    table,
    time_each,
    write_result,
)

NAME = "bench_store_codec"
CODECS = ("none", "zstd", "zstd+dict")


def demo_pages() -> list[Any]:
    """The demo world's pages as :class:`Page` objects (same conversion and ``min_chars`` as the demo build)."""
    from lite_world.demo import DEMO_DATA, DEMO_MIN_CHARS, DEMO_SOURCES
    from lite_world.store.ingest.sources import iter_source
    from lite_world.store.page import Page

    out, seen = [], set()
    for s in DEMO_SOURCES:
        for raw in iter_source(DEMO_DATA / s):
            md = (raw.markdown or raw.text or "").strip()
            if len(md) < DEMO_MIN_CHARS:
                continue
            p = Page.create(raw.url, raw.title or raw.url, md, source=raw.source)
            if p.url not in seen:
                seen.add(p.url)
                out.append(p)
    return out


def synthetic_pages(n: int, seed: int = 0) -> list[Any]:
    """``n`` synthetic pages of ~3.5–4.5 KB of Markdown."""
    from benchmarks._synthetic import PageGenerator
    from lite_world.store.page import Page

    gen = PageGenerator(seed=seed)
    return [
        Page.create(r["url"], r["title"], r["text"], source="synthetic")
        for r in gen.rows(n, min_chars=3500, max_chars=4500, seed=seed + 5)
    ]


def _compacted(lmdb_dir: Any, n: int) -> dict[str, Any]:
    """Size of a compacting copy (``mdb_env_copy2`` with MDB_CP_COMPACT): live pages only.

    ``data.mdb`` also holds pages freed by copy-on-write during the build; a compacting copy
    drops them and shows what the records themselves cost.
    """
    import tempfile

    import lmdb

    env = lmdb.open(str(lmdb_dir), readonly=True, lock=False, max_dbs=4, subdir=True)
    try:
        with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
            env.copy(tmp, compact=True)
            size = (Path(tmp) / "data.mdb").stat().st_size
    finally:
        env.close()
    return {"compact_bytes": size, "compact_bytes_per_page": round(size / n)}


def bench_one(
    pages: list[Any], codec: str, reads: int, budget_s: float, tag: str
) -> dict[str, Any]:
    """Write ``pages`` with ``codec`` into a fresh store, then time reads and the codec itself."""
    from lite_world.store.codec import train_dictionary
    from lite_world.store.lmdb_store import PageStore

    d = CACHE_DIR / "codec" / f"{tag}-{codec.replace('+', '-')}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    compression = "none" if codec == "none" else "zstd"
    t = time.perf_counter()
    with PageStore(d, readonly=False, compression=compression) as st:
        start = 0
        if codec == "zstd":
            st.put_many(pages[:63])  # < 64 pages: no dictionary is ever trained for this store
            start = 63
        for i in range(start, len(pages), 1000):
            st.put_many(pages[i : i + 1000])
        st.sync()
        write_s = time.perf_counter() - t
        stats = st.stats()
    assert stats["zstd_dictionary"] == (codec == "zstd+dict"), stats
    out: dict[str, Any] = {
        "pages": len(pages),
        "write_s": round(write_s, 3),
        "write_pages_per_s": round(len(pages) / write_s),
        "disk_bytes": stats["bytes_on_disk"],
        "disk_bytes_per_page": round(stats["bytes_on_disk"] / len(pages)),
    }
    out.update(_compacted(d / "pages.lmdb", len(pages)))
    if codec == "zstd+dict":
        samples = [
            json.dumps(p.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
            for p in pages[:1000]
        ]
        t = time.perf_counter()
        dct = train_dictionary(samples)
        out["dict_train_s"] = round(time.perf_counter() - t, 3)
        out["dict_bytes"] = len(dct or b"")

    deadline = Deadline(budget_s)
    rng = np.random.default_rng(0)
    with PageStore(d) as st:
        sample = rng.choice(len(pages), size=min(reads, len(pages)), replace=False)
        urls = [pages[i].url for i in sample]
        for u in urls[:200]:  # warm the process (first transactions, decompressor objects)
            st.get(u)
        get = time_each(st.get, urls, max_seconds=deadline.left() / 3)
        get_dict = time_each(st.get_dict, urls, max_seconds=deadline.left() / 3)
        groups = [
            rng.choice(st.next_id, size=10, replace=False).tolist() for _ in range(min(reads, 1000))
        ]
        many = time_each(st.get_many_by_id, groups, max_seconds=max(1.0, deadline.left() / 2))
        # the codec alone, on the stored values
        values = [st.codec.encode({**pages[i].to_dict(), "id": int(i)}) for i in sample[:2000]]
        dicts = [{**pages[i].to_dict(), "id": int(i)} for i in sample[:2000]]
        enc = time_each(st.codec.encode, dicts, max_seconds=max(1.0, deadline.left() / 2))
        dec = time_each(st.codec.decode, values, max_seconds=max(1.0, deadline.left()))
    raws = [json.dumps(x, ensure_ascii=False, separators=(",", ":")).encode() for x in dicts]
    parse = time_each(json.loads, raws)
    raw_bytes, val_bytes = sum(map(len, raws)), sum(map(len, values))
    us = lambda s: round(s["p50_ms"] * 1e3, 2)  # noqa: E731
    out.update(
        raw_json_bytes_per_page=round(raw_bytes / len(raws)),
        value_bytes_per_page=round(val_bytes / len(values)),
        ratio=round(raw_bytes / val_bytes, 2),
        get=summarize(get),
        get_dict=summarize(get_dict),
        get_many_by_id_10=summarize(many),
        encode=summarize(enc),
        decode=summarize(dec),
        json_loads=summarize(parse),
        get_p50_us=us(summarize(get)),
        get_dict_p50_us=us(summarize(get_dict)),
        get10_p50_us=us(summarize(many)),
        encode_p50_us=us(summarize(enc)),
        decode_p50_us=us(summarize(dec)),
        json_p50_us=us(summarize(parse)),
    )
    shutil.rmtree(d, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_store_codec", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--synthetic-pages", type=int, default=20_000, help="synthetic ~4 KB pages")
    ap.add_argument("--reads", type=int, default=5_000, help="random reads per series")
    ap.add_argument(
        "--budget", type=float, default=30.0, help="seconds of reading per (dataset, codec)"
    )
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument(
        "--quick", action="store_true", help="5k synthetic pages, 2k reads, 10 s budget"
    )
    args = ap.parse_args(argv)
    name = NAME + ("_quick" if args.quick else "")  # quick runs never overwrite the full results
    if args.quick:
        args.synthetic_pages, args.reads, args.budget = (
            min(args.synthetic_pages, 5_000),
            2_000,
            10.0,
        )

    datasets: dict[str, list[Any]] = {}
    t = time.perf_counter()
    if not args.skip_demo:
        datasets["demo"] = demo_pages()
    datasets[f"synthetic-4KB-{args.synthetic_pages // 1000}k"] = synthetic_pages(
        args.synthetic_pages
    )
    prep_s = round(time.perf_counter() - t, 1)

    res: dict[str, Any] = {"config": vars(args), "prepare_s": prep_s, "results": {}}
    rows = []
    for ds, pages in datasets.items():
        md = np.array([len(p.markdown) for p in pages])
        res["results"][ds] = {
            "pages": len(pages),
            "markdown_chars_mean": round(float(md.mean())),
            "markdown_chars_p50": int(np.median(md)),
        }
        for codec in CODECS:
            r = bench_one(pages, codec, args.reads, args.budget, ds)
            res["results"][ds][codec] = r
            rows.append(
                {
                    "dataset": ds,
                    "codec": codec,
                    "B/page disk": r["disk_bytes_per_page"],
                    "B/page compact": r["compact_bytes_per_page"],
                    "MB disk": r["disk_bytes"] / 2**20,
                    "ratio": r["ratio"],
                    "write p/s": r["write_pages_per_s"],
                    "get p50 µs": r["get_p50_us"],
                    "get10 p50 µs": r["get10_p50_us"],
                    "enc µs": r["encode_p50_us"],
                    "dec µs": r["decode_p50_us"],
                    "json µs": r["json_p50_us"],
                }
            )
            print(f"{ds:>22} {codec:>9}: done", flush=True)
    cols = [
        "dataset",
        "codec",
        "B/page disk",
        "B/page compact",
        "MB disk",
        "ratio",
        "write p/s",
        "get p50 µs",
        "get10 p50 µs",
        "enc µs",
        "dec µs",
        "json µs",
    ]
    print(table(rows, cols))
    for ds in datasets:
        r = res["results"][ds]
        print(
            f"{ds}: {r['pages']} pages, markdown mean {r['markdown_chars_mean']} chars; "
            f"dictionary {r['zstd+dict'].get('dict_bytes')} B trained in {r['zstd+dict'].get('dict_train_s')} s"
        )
    path = write_result(name, res)
    panels = {
        "disk bytes per page (data.mdb)": {
            ds: {c: res["results"][ds][c]["disk_bytes_per_page"] for c in CODECS} for ds in datasets
        },
        "bytes per page, compacted copy": {
            ds: {c: res["results"][ds][c]["compact_bytes_per_page"] for c in CODECS}
            for ds in datasets
        },
        "PageStore.get(url) p50 (µs, hot)": {
            ds: {c: res["results"][ds][c]["get_p50_us"] for c in CODECS} for ds in datasets
        },
        "codec decode p50 (µs)": {
            ds: {c: res["results"][ds][c]["decode_p50_us"] for c in CODECS} for ds in datasets
        },
        "write rate (pages/s)": {
            ds: {c: res["results"][ds][c]["write_pages_per_s"] for c in CODECS} for ds in datasets
        },
    }
    png = plot_bar_panels(
        name, panels, title="Page store codecs (LMDB, 2 shared CPU cores; medians)"
    )
    print(f"\nwrote {path} and {png}")
    return res


if __name__ == "__main__":
    main()
