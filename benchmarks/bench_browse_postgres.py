"""Browse backend side by side: our LMDB page store vs the paper's PostgreSQL browse service.

The same pages go into both: a lite-world :class:`PageStore` (LMDB, zstd + trained dictionary,
read-only memory map) and a PostgreSQL 15 table keyed by URL (``url text PRIMARY KEY``: a
B-tree), loaded with ``COPY``. A fetch is "URL in, page record out" on both sides:
``PageStore.get(url)`` (read + decompress + JSON → :class:`Page`) against a prepared
``SELECT title, markdown, summary, domain, source, date, hash FROM pages WHERE url = $1``
(→ :class:`Page`) over a loopback TCP connection with psycopg 3, one connection per thread.
The "raw record" level stops earlier on both sides: the stored bytes from one LMDB read
transaction against the row tuple from PostgreSQL (what the notes' 15x referred to).

Datasets: the demo world's pages (Wikipedia paragraphs, ~0.5 KB) and synthetic ~4 KB pages
(crawled-page size). Reported per backend: single-thread latency p50/p99 over random URLs
(page cache warm) and throughput with 1 and 16 threads for a fixed time, and the ratios.

PostgreSQL runs as a private cluster on 127.0.0.1 in a temporary directory (as the
``postgres`` user when run as root: it refuses root), started and stopped by this script; the
Debian package is installed with apt-get when missing and ``--install`` is given.
Figures are noisy: the machine (2 cores) is shared with other work.

Usage:
    HF_HUB_OFFLINE=1 LITE_WORLD_CACHE=/tmp/lwcache python -m benchmarks.bench_browse_postgres
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_browse_postgres --synthetic-pages 50000 --seconds 10 --install
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import CACHE_DIR, summarize, table, time_each, write_result

NAME = "bench_browse_postgres"
COLUMNS = ("url", "title", "markdown", "summary", "domain", "source", "date", "hash")


# -- PostgreSQL, private and on loopback ---------------------------------------------------
def pg_bindir(install: bool) -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and install:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postgresql"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit(
            "PostgreSQL is not installed: apt-get install -y postgresql (or pass --install)"
        )
    return Path(found[-1]).parent


class PrivatePostgres:
    """initdb + pg_ctl start on 127.0.0.1:``port`` in a temporary directory; :meth:`stop` removes it."""

    def __init__(self, bindir: Path, port: int):
        self.bindir, self.port = bindir, port
        self.dir = Path(tempfile.mkdtemp(prefix="lwpg", dir="/tmp"))  # short: holds the socket
        self.data = self.dir / "data"
        self.as_postgres = os.geteuid() == 0
        self.user = "postgres" if self.as_postgres else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["su", "postgres", "-c", " ".join(f"'{c}'" for c in cmd)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self) -> None:
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c shared_buffers=512MB",
            "start",
        )

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the two backends ----------------------------------------------------------------
def load_postgres(dsn: str, pages: list[Any]) -> float:
    import psycopg

    t = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS pages")
        conn.execute(
            "CREATE TABLE pages (url text PRIMARY KEY, title text, markdown text, summary text, "
            "domain text, source text, date text, hash text)"
        )
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY pages ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for p in pages:
                copy.write_row([getattr(p, c) for c in COLUMNS])
        conn.execute("VACUUM ANALYZE pages")
    return time.perf_counter() - t


class PgFetcher:
    """One connection (per thread), a prepared single-row SELECT by URL."""

    SQL = f"SELECT {', '.join(COLUMNS[1:])} FROM pages WHERE url = %s"

    def __init__(self, dsn: str):
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=0)
        self.cur = self.conn.cursor()

    def get(self, url: str) -> Any:
        from lite_world.store.page import Page

        self.cur.execute(self.SQL, (url,))
        row = self.cur.fetchone()
        return Page(url, *row) if row is not None else None

    def close(self) -> None:
        self.conn.close()


def build_lmdb(pages: list[Any], tag: str) -> Path:
    from lite_world.store.lmdb_store import PageStore

    d = CACHE_DIR / "browse_pg" / tag
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    with PageStore(d, readonly=False) as st:
        for i in range(0, len(pages), 1000):
            st.put_many(pages[i : i + 1000])
        st.sync()
    return d


def throughput(make_get: Any, urls: list[str], threads: int, seconds: float) -> float:
    """Fetches per second from ``threads`` threads, each with its own ``make_get()`` for ``seconds``."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = time.perf_counter() + seconds + 0.5

    def run(i: int) -> None:
        get, close = make_get()
        rng = np.random.default_rng(i)
        idx = rng.integers(len(urls), size=200_000)
        start.wait()
        n, j = 0, 0
        while time.perf_counter() < stop:
            for _ in range(50):
                assert get(urls[idx[j % len(idx)]]) is not None
                j += 1
            n += 50
        counts[i] = n
        close()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


class LmdbRaw:
    """The store's LMDB file opened directly: one read transaction and ``get`` per fetch, bytes out."""

    def __init__(self, world_dir: Path):
        import lmdb

        from lite_world.store.lmdb_store import STORE_DIRNAME

        self.env = lmdb.open(
            str(world_dir / STORE_DIRNAME), readonly=True, lock=False, max_dbs=4, readahead=False
        )
        self.db = self.env.open_db(b"pages", create=False)

    def get(self, url: str) -> bytes | None:
        with self.env.begin(db=self.db, buffers=False) as txn:
            return txn.get(url.encode())

    def close(self) -> None:
        self.env.close()


class PgRaw(PgFetcher):
    def get(self, url: str) -> Any:  # the row tuple, no Page
        self.cur.execute(self.SQL, (url,))
        return self.cur.fetchone()


def bench_dataset(
    tag: str, pages: list[Any], dsn: str, reads: int, seconds: float
) -> list[dict[str, Any]]:
    from lite_world.store.lmdb_store import PageStore

    lmdb_dir = build_lmdb(pages, tag)
    load_s = load_postgres(dsn, pages)
    rng = np.random.default_rng(0)
    urls = [
        pages[i].url for i in rng.choice(len(pages), size=min(reads, len(pages)), replace=False)
    ]
    avg_kb = round(sum(len(p.markdown) for p in pages) / len(pages) / 1024, 2)
    check, store = PgFetcher(dsn), PageStore(lmdb_dir)
    for u in urls[:500]:  # same records on both sides
        assert store.get(u) == check.get(u)
    check.close()
    store.close()
    opened: dict[
        str, Any
    ] = {}  # py-lmdb opens one environment once per process: one level at a time

    def lmdb_page() -> Any:
        if "store" not in opened:
            opened["store"] = PageStore(lmdb_dir)
        return opened["store"].get, lambda: None

    def lmdb_raw() -> Any:
        if "raw" not in opened:
            opened["raw"] = LmdbRaw(lmdb_dir)
        return opened["raw"].get, lambda: None

    def pg_page() -> Any:
        f = PgFetcher(dsn)
        return f.get, f.close

    def pg_raw() -> Any:
        f = PgRaw(dsn)
        return f.get, f.close

    rows = []
    for level, pair in (
        ("raw record", (("LMDB (lite-world)", lmdb_raw), ("PostgreSQL (paper)", pg_raw))),
        ("Page object", (("LMDB (lite-world)", lmdb_page), ("PostgreSQL (paper)", pg_page))),
    ):
        pair_rows = []
        for backend, maker in pair:
            get, close = maker()
            time_each(get, urls[:500])
            s = summarize(time_each(get, urls))
            close()
            row = {
                "dataset": tag,
                "pages": len(pages),
                "avg_page_kb": avg_kb,
                "fetch": level,
                "backend": backend,
                "p50_us": round(s["p50_ms"] * 1e3, 1),
                "p99_us": round(s["p99_ms"] * 1e3, 1),
                "fetch_per_s_1_thread": round(throughput(maker, urls, 1, seconds)),
                "fetch_per_s_16_threads": round(throughput(maker, urls, 16, seconds)),
            }
            if backend.startswith("PostgreSQL"):
                row["load_s"] = round(load_s, 2)
            print(row, flush=True)
            pair_rows.append(row)
        lm, pq = pair_rows
        for key in ("fetch_per_s_1_thread", "fetch_per_s_16_threads"):
            lm[f"x_{key}"] = round(lm[key] / pq[key], 1)
        lm["x_p50_latency"] = round(pq["p50_us"] / lm["p50_us"], 1)
        rows += pair_rows
        for h in opened.values():
            h.close()
        opened.clear()
    shutil.rmtree(lmdb_dir, ignore_errors=True)
    return rows


def demo_world_pages() -> list[Any]:
    from lite_world.demo import ensure_demo_world
    from lite_world.store.lmdb_store import PageStore
    from lite_world.store.page import Page

    with PageStore(ensure_demo_world()) as st:
        return [Page.from_dict(r) for r in st.iter_records()]


def synthetic_pages(n: int) -> list[Any]:
    from benchmarks._synthetic import PageGenerator
    from lite_world.store.page import Page

    return [
        Page.create(r["url"], r["title"], r["text"], source="synthetic")
        for r in PageGenerator(seed=0).rows(n, min_chars=3500, max_chars=4500, seed=5)
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--synthetic-pages", type=int, default=20_000, help="~4 KB synthetic pages (0: skip)"
    )
    p.add_argument("--reads", type=int, default=5000, help="random URLs timed one by one")
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    p.add_argument("--install", action="store_true", help="apt-get install postgresql when missing")
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pg = PrivatePostgres(pg_bindir(a.install), free_port())
    pg.start()
    rows: list[dict[str, Any]] = []
    try:
        rows += bench_dataset("demo", demo_world_pages(), pg.dsn, a.reads, a.seconds)
        if a.synthetic_pages:
            rows += bench_dataset(
                "synthetic-4KB", synthetic_pages(a.synthetic_pages), pg.dsn, a.reads, a.seconds
            )
    finally:
        pg.stop()
    import psycopg

    cols = [
        "dataset",
        "pages",
        "avg_page_kb",
        "fetch",
        "backend",
        "p50_us",
        "p99_us",
        "fetch_per_s_1_thread",
        "fetch_per_s_16_threads",
        "x_p50_latency",
        "x_fetch_per_s_1_thread",
        "x_fetch_per_s_16_threads",
        "load_s",
    ]
    print(table(rows, cols))
    out = {
        "rows": rows,
        "postgres": str(pg.bindir),
        "psycopg": psycopg.__version__,
        "note": "2-core machine shared with other work: noisy. x_* = LMDB / PostgreSQL (higher is better for LMDB).",
    }
    print(f"wrote {write_result(NAME, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
