"""Browse backend side by side: our LMDB page store vs the paper's PostgreSQL browse service.

The same pages go into both: a lite-world :class:`PageStore` (LMDB, zstd + trained dictionary,
read-only memory map) and a PostgreSQL 15 table keyed by URL (``url text PRIMARY KEY``: a
B-tree), loaded with ``COPY``. Three levels are compared, the like-for-like one first:

1. **Through the same HTTP service (like-for-like).** ``lite-world serve``'s own app
   (:class:`~lite_world.serve.app.WorldService` under uvicorn: the same routes, body parsing,
   ``/browse`` handler and JSON), run in a spawned process, with its pages read either from the
   LMDB store (as ``World.get_page`` reads them: normalise, get, decompress, JSON →
   :class:`Page`) or from PostgreSQL (normalise, one prepared ``SELECT ... WHERE url = $1`` on the
   server's connection → :class:`Page`). The client is :class:`RemoteWorld` (``get_page``: one
   ``POST /browse``, a decoded :class:`Page` out), so both stores pay the same HTTP round trip
   and the same encoding; only the store differs. The server reads pages on its event-loop
   thread, as ``/browse`` without a goal does, so PostgreSQL gets one connection there.
2. **Decoded Page, in-process vs TCP (not like-for-like).** ``PageStore.get(url)`` in this
   process (a memory-mapped read) against the same prepared SELECT over a loopback TCP
   connection with psycopg 3, one connection per thread.
3. **Raw record, in-process vs TCP (not like-for-like).** The stored bytes from one LMDB read
   transaction against the row tuple from PostgreSQL (what the notes' 15x referred to). Levels 2
   and 3 compare a memory read with a network round trip; they say what a store costs when it
   sits inside the process that needs the page, not which store serves pages faster.

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
LEVELS = {  # what each compared fetch is; only "http" is like-for-like
    "raw": "raw record, in-process vs TCP (not like-for-like)",
    "page": "decoded Page, in-process vs TCP (not like-for-like)",
    "http": "decoded Page through the same HTTP service (like-for-like)",
}


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


# -- like-for-like: the same HTTP service in front of either store ---------------------------
class LmdbPages:
    """Pages from the LMDB store, as ``World.get_page`` reads them (normalise, get, decode)."""

    def __init__(self, store_dir: str):
        from lite_world.store.lmdb_store import PageStore

        self.store = PageStore(store_dir)

    def get_page(self, url: str) -> Any:
        return self.store.get(url)

    def close(self) -> None:
        self.store.close()


class PgPages:
    """Pages from PostgreSQL: the URL normalised as the store does, then one prepared SELECT
    on this thread's connection (the service reads pages on its event-loop thread)."""

    def __init__(self, dsn: str):
        self.dsn, self.local, self.opened = dsn, threading.local(), []

    def get_page(self, url: str) -> Any:
        from lite_world.store.urls import normalize_url

        f = getattr(self.local, "fetcher", None)
        if f is None:
            f = self.local.fetcher = PgFetcher(self.dsn)
            self.opened.append(f)
        return f.get(normalize_url(url))

    def close(self) -> None:
        for f in self.opened:
            f.close()


class _PagesOnlyWorld:
    """What the service's ``/browse`` needs of a world: ``get_page`` (no indexes, no encoder)."""

    def __init__(self, pages: Any, n: int, path: str):
        self.pages, self.n, self.path = pages, n, path

    def get_page(self, url: str, *, exclude: Any = ()) -> Any:
        return None if url in exclude else self.pages.get_page(url)

    def __len__(self) -> int:
        return self.n

    def close(self) -> None:
        self.pages.close()


def _page_server(store: str, source: str, n: int, ready: Any, stop: Any) -> None:
    """A spawned process: ``WorldService`` (``lite-world serve``'s app, uvicorn, the same routes,
    parsing and JSON) whose backend reads pages from ``store`` ("lmdb" or "postgres")."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lite_world.serve import ServeConfig, ServerThread
    from lite_world.serve.app import WorldService
    from lite_world.serve.backend import WorldBackend

    class PagesBackend(WorldBackend):
        def __init__(self, world: Any, config: ServeConfig):  # no World: pages only
            self.config, self.world, self._visit = config, world, None
            self.manifest_json = b"{}"

        def warmup(self) -> float:
            return 0.0

    pages = LmdbPages(source) if store == "lmdb" else PgPages(source)
    cfg = ServeConfig(port=0, warmup=False, max_queue=4096)
    service = WorldService(PagesBackend(_PagesOnlyWorld(pages, n, source), cfg), cfg)
    with ServerThread(service, cfg) as srv:
        ready.put(srv.url)
        stop.wait()


class PageServer:
    """:func:`_page_server` in a spawned process (clients and server do not share a GIL)."""

    def __init__(self, store: str, source: str, n: int):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.ready, self.stop_ev = ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(
            target=_page_server, args=(store, source, n, self.ready, self.stop_ev), daemon=True
        )

    def __enter__(self) -> str:
        self.proc.start()
        return self.ready.get(timeout=120)

    def __exit__(self, *exc: object) -> None:
        self.stop_ev.set()
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(10)


def bench_http(
    tag: str,
    pages: list[Any],
    lmdb_dir: Path,
    dsn: str,
    urls: list[str],
    seconds: float,
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """Decoded pages through the same HTTP service (``POST /browse``, :class:`RemoteWorld`).

    Both servers run at once and are measured alternately (latency: each URL from one then the
    other, the order flipping; throughput: A B B A, the two runs averaged), so a change in the
    shared machine's load falls on both stores alike.
    """
    from lite_world.serve.client import RemoteWorld

    backends = {"lmdb": "LMDB (lite-world)", "postgres": "PostgreSQL (paper)"}
    with (
        PageServer("lmdb", str(lmdb_dir), len(pages)) as lmdb_url,
        PageServer("postgres", dsn, len(pages)) as pg_url,
    ):
        makers: dict[str, Any] = {}
        for store, url in (("lmdb", lmdb_url), ("postgres", pg_url)):

            def client(url: str = url) -> Any:
                remote = RemoteWorld(url, retry_deadline_s=10.0, pool_size=4)
                return remote.get_page, remote.close

            makers[store] = client
        gets = {store: make() for store, make in makers.items()}
        got = {store: [g(u) for u in urls[:300]] for store, (g, _) in gets.items()}  # + warm-up
        assert got["lmdb"] == got["postgres"] and None not in got["lmdb"], f"{tag}: pages differ"
        lat: dict[str, list[float]] = {store: [] for store in gets}
        for i, u in enumerate(urls):
            for store in sorted(gets, reverse=bool(i % 2)):
                lat[store] += time_each(gets[store][0], [u])
        for _, close in gets.values():
            close()
        tput: dict[tuple[str, int], list[float]] = {}
        for threads in (1, 16):
            for store in ("lmdb", "postgres", "postgres", "lmdb"):
                run = throughput(makers[store], urls, threads, seconds)
                tput.setdefault((store, threads), []).append(run)
    rows = []
    for store, backend in backends.items():
        s = summarize(lat[store])
        row = {
            **common,
            "fetch": LEVELS["http"],
            "backend": backend,
            "p50_us": round(s["p50_ms"] * 1e3, 1),
            "p99_us": round(s["p99_ms"] * 1e3, 1),
            "fetch_per_s_1_thread": round(float(np.mean(tput[store, 1]))),
            "fetch_per_s_16_threads": round(float(np.mean(tput[store, 16]))),
            "fetch_per_s_runs": {
                f"{t}_threads": [round(x) for x in tput[store, t]] for t in (1, 16)
            },
        }
        print(row, flush=True)
        rows.append(row)
    _ratios(*rows)
    return rows


def _ratios(lm: dict[str, Any], pq: dict[str, Any]) -> None:
    """LMDB / PostgreSQL ratios, stored on the LMDB row (higher is better for LMDB)."""
    for key in ("fetch_per_s_1_thread", "fetch_per_s_16_threads"):
        lm[f"x_{key}"] = round(lm[key] / pq[key], 1)
    lm["x_p50_latency"] = round(pq["p50_us"] / lm["p50_us"], 1)


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

    common = {"dataset": tag, "pages": len(pages), "avg_page_kb": avg_kb}
    rows = bench_http(tag, pages, lmdb_dir, dsn, urls, seconds, common)  # like-for-like first
    rows[-1]["load_s"] = round(load_s, 2)
    for level, pair in (
        (LEVELS["raw"], (("LMDB (lite-world)", lmdb_raw), ("PostgreSQL (paper)", pg_raw))),
        (LEVELS["page"], (("LMDB (lite-world)", lmdb_page), ("PostgreSQL (paper)", pg_page))),
    ):
        pair_rows = []
        for backend, maker in pair:
            get, close = maker()
            time_each(get, urls[:500])
            s = summarize(time_each(get, urls))
            close()
            row = {
                **common,
                "fetch": level,
                "backend": backend,
                "p50_us": round(s["p50_ms"] * 1e3, 1),
                "p99_us": round(s["p99_ms"] * 1e3, 1),
                "fetch_per_s_1_thread": round(throughput(maker, urls, 1, seconds)),
                "fetch_per_s_16_threads": round(throughput(maker, urls, 16, seconds)),
            }
            print(row, flush=True)
            pair_rows.append(row)
        _ratios(*pair_rows)
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
        "command": "python -m benchmarks.bench_browse_postgres " + " ".join(argv or sys.argv[1:]),
        "rows": rows,
        "postgres": str(pg.bindir),
        "psycopg": psycopg.__version__,
        "levels": LEVELS,
        "note": "2-core machine shared with other work: noisy. x_* = LMDB / PostgreSQL (higher is "
        "better for LMDB). Only the 'same HTTP service' rows are like-for-like; the in-process vs "
        "TCP rows compare a memory-mapped read with a network round trip.",
    }
    print(f"wrote {write_result(NAME, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
