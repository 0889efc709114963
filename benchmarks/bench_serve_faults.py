"""Benchmark: the world service under faults (issue 11): what hangs, what leaks, what is lost.

Runs ``lite-world serve WORLD`` in a subprocess (the real CLI, default deadlines unless given)
on 127.0.0.1 with a token, then:

* ``stalled``: hundreds of connections that stop mid-body, mid-headers, or never send a byte.
  Figure: how many the server closed, and how long after they stalled (before the fix, 500
  stalled uploads were all still open after 95 s).
* ``headers``: an 8 MiB header block. Figure: bytes the server took before closing, its RSS.
* ``hostile``: generated hostile requests (deep JSON, huge numbers, lone surrogates, bad fields,
  raw bytes, bad auth, bad routes, malformed HTTP). Figures: statuses, the share of 4xx with a
  JSON error body (target 100%), 5xx (target 0).
* ``disconnect``: clients that leave mid-upload. Figure: counted as disconnects, not as errors.
* ``parser``: the price of the guards: sequential keep-alive calls to an in-process server with
  the guarded h11 protocol, and with uvicorn's httptools protocol and no guards.
* ``restart``: RemoteWorld clients and LiteSearch-v0 episodes under load while the server is
  SIGKILLed and restarted on the same port. Figures: calls lost (target 0), wrong answers,
  crashed episodes (target 0), retries, time down.

Usage::

    python -m benchmarks.bench_serve_faults [--world demo] [--quick]

Results: ``benchmarks/results/bench_serve_faults.json``. Every connection goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import selectors
import signal
import socket
import threading
import time
from typing import Any

from benchmarks._common import summarize, table, write_result
from benchmarks.bench_serve_load import ServerProc, free_port, wait_healthy
from lite_world.serve.probe import Answer, exchange, is_json_error, request_bytes


def metrics(url: str, token: str) -> dict[str, float]:
    """Every sample of ``/metrics`` as ``{name{labels}: value}``."""
    port = int(url.rsplit(":", 1)[1])
    a = exchange(
        "127.0.0.1",
        port,
        request_bytes("GET", "/metrics", token=token, headers={"Connection": "close"}),
    )
    out = {}
    for line in a.body.decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def total(m: dict[str, float], prefix: str, where: str = "") -> float:
    return sum(v for k, v in m.items() if k.startswith(prefix) and where in k)


# ------------------------------------------------------------------------------------- stalled


def phase_stalled(
    port: int, token: str, n_body: int, n_head: int, n_silent: int, wait_s: float, probe_url: str
) -> dict[str, Any]:
    """Open stalled connections, then watch when the server closes each."""
    kinds = (["body"] * n_body) + (["headers"] * n_head) + (["silent"] * n_silent)
    sel = selectors.DefaultSelector()
    state: list[dict[str, Any]] = []
    t0 = time.monotonic()
    for kind in kinds:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if kind == "body":
            s.sendall(
                request_bytes(
                    "POST", "/search", b'{"queries": ["x', token=token, content_length=1000
                )
            )
        elif kind == "headers":
            s.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        s.setblocking(False)
        st = {"kind": kind, "sock": s, "data": b"", "closed_s": None, "t0": time.monotonic()}
        state.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    opened_s = time.monotonic() - t0
    # while they stall, an honest client is still served
    from lite_world.serve import RemoteWorld

    w = RemoteWorld(probe_url, token=token, retry_deadline_s=30)
    t1 = time.perf_counter()
    w.search(["Victoria Falls"], 3)
    honest_ms = (time.perf_counter() - t1) * 1e3
    w.close()
    open_left = len(state)
    while open_left and time.monotonic() - t0 < wait_s:
        for key, _ in sel.select(timeout=0.5):
            st = key.data
            try:
                chunk = st["sock"].recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if chunk:
                st["data"] += chunk
            else:
                st["closed_s"] = time.monotonic() - st["t0"]
                sel.unregister(st["sock"])
                st["sock"].close()
                open_left -= 1
    rows = []
    for kind in ("body", "headers", "silent"):
        mine = [s for s in state if s["kind"] == kind]
        if not mine:
            continue
        closed = [s["closed_s"] for s in mine if s["closed_s"] is not None]
        answered = [Answer(s["data"], s["closed_s"]) for s in mine if s["data"]]
        rows.append(
            {
                "phase": "stalled",
                "kind": kind,
                "connections": len(mine),
                "closed": len(closed),
                "still_open_after_s": None if len(closed) == len(mine) else round(wait_s, 1),
                "closed_p50_s": round(sorted(closed)[len(closed) // 2], 2) if closed else None,
                "closed_max_s": round(max(closed), 2) if closed else None,
                "answered": len(answered),
                "answered_json_4xx": sum(is_json_error(a) for a in answered),
                "statuses": sorted({a.status for a in answered if a.status}),
            }
        )
    for s in state:
        if s["closed_s"] is None:
            sel.unregister(s["sock"])
            s["sock"].close()
    return {
        "rows": rows,
        "open_s": round(opened_s, 2),
        "honest_search_ms_during_stall": round(honest_ms, 1),
    }


# ------------------------------------------------------------------------------------- headers


def phase_headers(port: int, srv: ServerProc, size: int) -> dict[str, Any]:
    before = srv.rss()
    sent = 0
    t0 = time.monotonic()
    status = None
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
        try:
            s.sendall(head)
            chunk = b"a" * 65536
            while sent < size:
                s.sendall(chunk)
                sent += len(chunk)
            s.sendall(b"\r\n\r\n")
        except OSError:
            pass
        try:
            s.settimeout(10)
            data = s.recv(65536)
            status = Answer(data, None).status
        except OSError:
            pass
    return {
        "phase": "headers",
        "header_bytes_tried": size,
        "bytes_sent_before_close": sent,
        "closed_after_s": round(time.monotonic() - t0, 3),
        "status": status,
        "server_rss_mb_before": before.get("server_rss_mb"),
        "server_rss_mb_after": srv.rss().get("server_rss_mb"),
    }


# ------------------------------------------------------------------------------------- hostile


def hostile_requests(n: int, token: str, seed: int = 0) -> list[tuple[str, bytes]]:
    """``n`` hostile requests (category, raw bytes), drawn from a seeded generator."""
    rng = random.Random(seed)

    def text() -> str:
        pick = rng.random()
        if pick < 0.2:
            return chr(rng.randint(0xD800, 0xDFFF)) * rng.randint(1, 3)
        if pick < 0.4:
            return "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 20)))
        if pick < 0.5:
            return "x" * rng.choice([2001, 4097, 50_000])
        return rng.choice(
            ["", "Victoria Falls", "https://en.wikipedia.org/wiki/Victoria_Falls", "\x00", " "]
        )

    def value(depth: int = 0) -> Any:
        r = rng.random()
        if depth > 3 or r < 0.4:
            return rng.choice(
                [None, True, False, 0, -1, 10**40, 1.5, float("nan"), float("inf"), text()]
            )
        if r < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 5))]
        return {text()[:20]: value(depth + 1) for _ in range(rng.randint(0, 4))}

    def dump(v: Any) -> bytes:
        return json.dumps(v, ensure_ascii=True).encode()

    makers = {
        "deep_json": lambda: (
            rng.choice(["/search", "/browse"]),
            b"[" * (d := rng.choice([1000, 10_000, 200_000])) + b"]" * d,
        ),
        "any_json": lambda: (rng.choice(["/search", "/browse"]), dump(value())),
        "search_fields": lambda: (
            "/search",
            dump(
                {
                    "queries": rng.choice([[text() for _ in range(rng.randint(0, 40))], value()]),
                    "k": rng.choice([1, 10, 0, 101, -5, "3", True, None, 2**70]),
                    **({"exclude": value()} if rng.random() < 0.3 else {}),
                    **({text()[:10]: 1} if rng.random() < 0.1 else {}),
                }
            ),
        ),
        "browse_fields": lambda: (
            "/browse",
            dump(
                {
                    "urls": rng.choice([[text() for _ in range(rng.randint(0, 20))], value()]),
                    **({"goal": rng.choice([text(), value()])} if rng.random() < 0.7 else {}),
                }
            ),
        ),
        "huge_number": lambda: (
            "/search",
            b'{"queries": ["a"], "k": ' + b"9" * rng.choice([5000, 100_000]) + b"}",
        ),
        "raw_bytes": lambda: (
            rng.choice(["/search", "/browse"]),
            rng.randbytes(rng.randint(0, 500)),
        ),
    }
    out: list[tuple[str, bytes]] = []
    for _ in range(n):
        cat = rng.choice([*makers, "bad_auth", "bad_route", "bad_http"])
        if cat == "bad_auth":
            auth = rng.choice(["Basic x", "Bearer wrong-token-123", "", "bearer", token])
            out.append(
                (
                    cat,
                    request_bytes(
                        "POST",
                        "/search",
                        b'{"queries": ["x"]}',
                        headers={"Authorization": auth, "Connection": "close"},
                    ),
                )
            )
        elif cat == "bad_route":
            path = rng.choice(["/", "/nope", "/search/x", "/%ff", "/" + "a" * 9000, "/health/.."])
            out.append(
                (
                    cat,
                    request_bytes(
                        rng.choice(["GET", "PUT", "DELETE", "PATCH"]),
                        path,
                        token=token,
                        headers={"Connection": "close"},
                    ),
                )
            )
        elif cat == "bad_http":
            out.append(
                (
                    cat,
                    rng.choice(
                        [
                            b"GARBAGE\r\n\r\n",
                            b"GET / HTTP/1.1\r\n\r\n",
                            rng.randbytes(100) + b"\r\n\r\n",
                            b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                            b"POST /search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                            b"chunked\r\n\r\nzz\r\n",
                        ]
                    ),
                )
            )
        else:
            path, body = makers[cat]()
            out.append(
                (
                    cat,
                    request_bytes("POST", path, body, token=token, headers={"Connection": "close"}),
                )
            )
    return out


def phase_hostile(port: int, token: str, n: int) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    by_cat: dict[str, dict[str, int]] = {}
    four, four_json, five, no_answer = 0, 0, 0, 0
    seconds = []
    for cat, raw in hostile_requests(n, token):
        t0 = time.perf_counter()
        a = exchange("127.0.0.1", port, raw, deadline_s=30)
        seconds.append(time.perf_counter() - t0)
        st = a.status
        by_status[str(st)] = by_status.get(str(st), 0) + 1
        c = by_cat.setdefault(cat, {})
        c[str(st)] = c.get(str(st), 0) + 1
        if st is None:
            no_answer += 1
        elif 400 <= st < 500:
            four += 1
            four_json += is_json_error(a)
        elif st >= 500:
            five += 1
    return {
        "phase": "hostile",
        "requests": n,
        "by_status": dict(sorted(by_status.items())),
        "by_category": by_cat,
        "4xx": four,
        "4xx_json": four_json,
        "4xx_json_share": round(four_json / four, 4) if four else None,
        "5xx": five,
        "no_answer": no_answer,
        "latency_ms": summarize(seconds),
    }


# ---------------------------------------------------------------------------------- disconnect


def phase_disconnect(port: int, url: str, token: str, n: int) -> dict[str, Any]:
    before = metrics(url, token)
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                request_bytes("POST", "/search", b'{"queries": [', token=token, content_length=100)
            )
    time.sleep(1.0)
    after = metrics(url, token)
    return {
        "phase": "disconnect",
        "clients": n,
        "counted_disconnects": total(after, "lite_world_client_disconnects_total")
        - total(before, "lite_world_client_disconnects_total"),
        "counted_errors": total(after, "lite_world_request_errors_total")
        - total(before, "lite_world_request_errors_total"),
        "counted_500": total(after, "lite_world_requests_total", 'code="500"')
        - total(before, "lite_world_requests_total", 'code="500"'),
    }


# ------------------------------------------------------------------------------------- restart


def phase_restart(
    srv: ServerProc,
    token: str,
    world: str,
    clients: int,
    episode_workers: int,
    duration: float,
    kill_at: float,
) -> dict[str, Any]:
    import gymnasium as gym

    import lite_world  # noqa: F401  (registers LiteSearch-v0)
    from lite_world.serve import RemoteWorld
    from lite_world.tasks import demo_tasks

    os.environ["LITE_WORLD_TOKEN"] = token
    remote = RemoteWorld(
        srv.url, token=token, retry_deadline_s=120, backoff_s=0.05, max_backoff_s=1.0
    )
    tasks = [t.to_dict() for t in demo_tasks()[:50]]
    queries = [t["question"] for t in tasks[:20]]
    expected = remote.search(queries, 5)
    urls = [row[0].url for row in expected if row]
    pages = {u: remote.get_page(u) for u in urls}
    stop = threading.Event()
    issued, answered, wrong = [0] * clients, [0] * clients, [0] * clients
    errors: list[str] = []
    eps = {"done": 0, "crashed": 0}
    lock = threading.Lock()

    def client(i: int) -> None:
        rng = random.Random(i)
        while not stop.is_set():
            j = rng.randrange(len(queries))
            issued[i] += 1
            try:
                if rng.random() < 0.6:
                    ok = remote.search([queries[j]], 5) == [expected[j]]
                else:
                    u = urls[j % len(urls)]
                    ok = remote.get_page(u) == pages[u]
            except Exception as exc:  # noqa: BLE001 - a lost call is the figure
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                return
            answered[i] += 1
            wrong[i] += not ok

    def episodes(i: int) -> None:
        env = gym.make("LiteSearch-v0", world=srv.url, tasks=tasks)
        rng = random.Random(100 + i)
        try:
            while not stop.is_set():
                t = tasks[rng.randrange(len(tasks))]
                try:
                    env.reset(seed=0, options={"task_id": t["id"]})
                    q = json.dumps({"name": "search", "arguments": {"query": [t["question"]]}})
                    obs, *_ = env.step(f"<tool_call>{q}</tool_call>")
                    m = re.search(r"\]\((https?://[^)\s]+)\)", obs)
                    v = json.dumps(
                        {
                            "name": "visit",
                            "arguments": {
                                "url": [m.group(1) if m else "https://x.org"],
                                "goal": t["question"],
                            },
                        }
                    )
                    env.step(f"<tool_call>{v}</tool_call>")
                    _, _, terminated, _, _ = env.step("<answer>x</answer>")
                    with lock:
                        eps["done"] += int(bool(terminated))
                except Exception as exc:  # noqa: BLE001 - a crashed episode is the figure
                    with lock:
                        eps["crashed"] += 1
                    errors.append(f"episode: {type(exc).__name__}: {exc}"[:300])
        finally:
            env.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threads += [threading.Thread(target=episodes, args=(i,)) for i in range(episode_workers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(kill_at)
    srv.stop(signal.SIGKILL)  # a crash, not a graceful stop
    killed = time.monotonic()
    srv.start()
    down_s = time.monotonic() - killed
    time.sleep(max(0.0, duration - (time.monotonic() - t0)))
    stop.set()
    for t in threads:
        t.join(180)
    return {
        "phase": "restart",
        "clients": clients,
        "episode_workers": episode_workers,
        "calls_issued": sum(issued),
        "calls_answered": sum(answered),
        "calls_lost": sum(issued) - sum(answered),
        "wrong_answers": sum(wrong),
        "episodes_done": eps["done"],
        "episodes_crashed": eps["crashed"],
        "client_retries": remote.retries,
        "server_down_s": round(down_s, 1),
        "errors": errors[:5],
    }


def phase_parser(world: str, token: str, n: int) -> list[dict[str, Any]]:
    """The guarded h11 protocol against uvicorn's httptools: one keep-alive client, in process."""
    import urllib3

    from lite_world.serve import ServeConfig, ServerThread
    from lite_world.serve.server import uvicorn_config

    rows = []
    hdrs = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    for name in ("guarded h11 (ours)", "httptools, unguarded"):
        srv = ServerThread(world, ServeConfig(port=0, warmup=False, token=token))
        if name.startswith("httptools"):
            import uvicorn

            ucfg = uvicorn_config(srv.app, srv.config)
            ucfg.http = "httptools"
            srv.server = uvicorn.Server(ucfg)
            srv._thread = threading.Thread(
                target=srv.server.run, kwargs={"sockets": [srv.sock]}, daemon=True
            )
        srv.start()
        pool = urllib3.HTTPConnectionPool("127.0.0.1", srv.port, maxsize=1)
        urls = [
            u
            for u in (
                pool.request(
                    "POST",
                    "/search",
                    body=json.dumps({"queries": ["Victoria Falls"], "k": 10}),
                    headers=hdrs,
                ).json()["results"][0]
            )
        ]
        body = json.dumps({"urls": [urls[0]["url"]]}).encode()
        for path, data in (("/health", None), ("/browse", body)):
            seconds = []
            for _ in range(n):
                t0 = time.perf_counter()
                r = pool.request(
                    "GET" if data is None else "POST",
                    path,
                    body=data,
                    headers=hdrs,
                )
                seconds.append(time.perf_counter() - t0)
                assert r.status == 200
            rows.append(
                {
                    "phase": "parser",
                    "server": name,
                    "path": path,
                    **summarize(seconds),
                    "calls_per_s": round(n / sum(seconds), 1),
                }
            )
        pool.close()
        srv.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--world", default="demo")
    p.add_argument(
        "--stalled",
        type=int,
        default=500,
        help="stalled uploads (plus 1/5 as many stalled heads and silent)",
    )
    p.add_argument("--hostile", type=int, default=2000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--episode-workers", type=int, default=4)
    p.add_argument("--restart-duration", type=float, default=40.0)
    p.add_argument("--kill-at", type=float, default=8.0)
    p.add_argument("--phases", default="stalled,headers,hostile,disconnect,restart,parser")
    p.add_argument(
        "--quick", action="store_true", help="fewer connections and requests (about a minute)"
    )
    p.add_argument(
        "--serve-args", default="", help="extra 'lite-world serve' flags, e.g. '--body-timeout-s 5'"
    )
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if a.quick:
        a.stalled, a.hostile, a.clients, a.episode_workers, a.restart_duration, a.kill_at = (
            100,
            300,
            8,
            2,
            25.0,
            5.0,
        )
    from lite_world.serve import ServeConfig
    from lite_world.worlds import resolve_world_spec

    world = str(resolve_world_spec(a.world))
    token = secrets.token_hex(16)
    port = free_port()
    srv = ServerProc(world, port, extra=a.serve_args.split(), env={"LITE_WORLD_TOKEN": token})
    cfg = ServeConfig(token=token)
    wait = max(cfg.header_timeout_s, cfg.body_timeout_s, cfg.keep_alive_s) + 30
    phases = set(a.phases.split(","))
    out: dict[str, Any] = {
        "world": world,
        "serve_args": a.serve_args,
        "deadlines_s": {
            "header": cfg.header_timeout_s,
            "body": cfg.body_timeout_s,
            "keep_alive": cfg.keep_alive_s,
        },
    }
    print(f"starting lite-world serve {world} on :{port} ...", flush=True)
    out["start_s"] = round(srv.start(), 1)
    try:
        if "stalled" in phases:
            out["stalled"] = phase_stalled(
                port, token, a.stalled, a.stalled // 5, a.stalled // 5, wait, srv.url
            )
            print(
                table(
                    out["stalled"]["rows"],
                    [
                        "kind",
                        "connections",
                        "closed",
                        "closed_p50_s",
                        "closed_max_s",
                        "answered_json_4xx",
                        "statuses",
                    ],
                ),
                flush=True,
            )
        if "headers" in phases:
            out["headers"] = phase_headers(port, srv, 8 << 20)
            print(out["headers"], flush=True)
        if "hostile" in phases:
            out["hostile"] = phase_hostile(port, token, a.hostile)
            print(
                {
                    k: out["hostile"][k]
                    for k in ("requests", "by_status", "4xx_json_share", "5xx", "no_answer")
                },
                flush=True,
            )
        if "disconnect" in phases:
            out["disconnect"] = phase_disconnect(port, srv.url, token, 200 if not a.quick else 50)
            print(out["disconnect"], flush=True)
        m = metrics(srv.url, token)
        out["server_counts_before_restart"] = {
            "500s": total(m, "lite_world_requests_total", 'code="500"'),
            "4xx": total(m, "lite_world_request_errors_total", 'code="4'),
            "client_disconnects": total(m, "lite_world_client_disconnects_total"),
        }
        if "restart" in phases:
            out["restart"] = phase_restart(
                srv, token, world, a.clients, a.episode_workers, a.restart_duration, a.kill_at
            )
            print(out["restart"], flush=True)
        if "parser" in phases:
            out["parser"] = phase_parser(world, token, 300 if a.quick else 2000)
            print(
                table(out["parser"], ["server", "path", "p50_ms", "p99_ms", "calls_per_s"]),
                flush=True,
            )
        wait_healthy(srv.url)
        out["server_500s_total"] = total(
            metrics(srv.url, token), "lite_world_requests_total", 'code="500"'
        )
    finally:
        srv.stop()
    path = write_result("bench_serve_faults" + ("_quick" if a.quick else ""), out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
