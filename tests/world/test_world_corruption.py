"""The corruption matrix: every file of a world x (truncation, zero length, flips, deletion).

For each case, on a damaged copy of the session's tiny world:

- ``lite-world info`` (run in a forked child, so a signal cannot take pytest down) exits with a
  typed-error message, never a signal, an untyped traceback or a hang; only the LMDB lock file,
  which readers never read, may be damaged without ``info`` noticing;
- opening and using the world (``World(...)``, ``World.search``, ``World.get_page``) in a clean
  worker process raises a typed :class:`~lite_world.errors.LiteWorldError` or gives exactly the
  results of the intact world; different results are only allowed where ``info`` fails (flipped
  bytes that the cheap open checks cannot see, which the digests catch). The worker is a fresh
  interpreter (restarted after a crash or a hang), not a fork of pytest: late in the full suite
  pytest's process holds other tests' threads, and a forked child that searches could deadlock
  on a lock one of them held at the fork.

``LITE_WORLD_MATRIX_REPORT=path.json`` writes the outcome table (used for the issue's figures).
"""

from __future__ import annotations

import inspect
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import traceback
from pathlib import Path

import pytest

from lite_world.layout import MANIFEST_NAME, STORE_FILES, index_files

FILES = [*(f.path for f in STORE_FILES), *(f.path for f in index_files("index")), MANIFEST_NAME]
DAMAGES = ["truncate", "zero", "flip", "delete"]
QUERIES = [
    "Bubye River tributary of the Limpopo",
    "Publix supermarket",
    "Carl Rogers psychotherapy",
]
URLS = [
    "https://en.wikipedia.org/wiki/Adolescence",
    "https://en.wikipedia.org/wiki/Publix",
    "https://en.wikipedia.org/wiki/Bubye_River",
]
HANG_SECONDS = 60
_REPORT: dict[str, dict[str, str]] = {}


def damage(path: Path, how: str) -> None:
    """Damage one file in place."""
    size = path.stat().st_size
    if how == "truncate":
        os.truncate(path, size // 2)
    elif how == "zero":
        os.truncate(path, 0)
    elif how == "flip":
        data = bytearray(path.read_bytes())
        start = size // 2
        for i in range(start, min(size, start + 64)):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "delete":
        path.unlink()
    else:  # pragma: no cover
        raise ValueError(how)


def use_world(path: Path) -> dict:
    """What a user sees: search hits (url, title, snippet, score) and pages (title, text)."""
    from lite_world.world import World

    w = World(path)
    try:
        hits = [
            [(h.url, h.title, h.snippet, round(h.score, 5)) for h in q]
            for q in w.search(QUERIES, k=5)
        ]
        pages = [(p.title, p.markdown) if (p := w.get_page(u)) is not None else None for u in URLS]
        return {"hits": hits, "pages": pages}
    finally:
        w.close()


_WORKER = """
import json, os, sys, traceback
from pathlib import Path
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import torch
torch.set_num_threads(1)
QUERIES, URLS = {queries!r}, {urls!r}
{use_world}
print("ready", flush=True)
for line in sys.stdin:
    try:
        result = {{"value": use_world(line.strip())}}
    except BaseException as exc:
        from lite_world.errors import LiteWorldError
        result = {{"error": type(exc).__name__, "typed": isinstance(exc, LiteWorldError),
                  "message": str(exc)[:2000], "traceback": traceback.format_exc()[-3000:]}}
    print(json.dumps(result), flush=True)
"""


class CleanWorker:
    """A fresh interpreter that runs :func:`use_world` on request; a crash or hang is reported."""

    def __init__(self) -> None:
        self.source = _WORKER.format(
            queries=QUERIES, urls=URLS, use_world=textwrap.dedent(inspect.getsource(use_world))
        )
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.source],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc, self.lines), daemon=True).start()
        assert self.lines.get(timeout=300) == "ready"

    @staticmethod
    def _pump(proc: subprocess.Popen, lines: queue.Queue) -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    def run(self, world: Path) -> tuple[str, dict]:
        """``("ok"|"raised"|"signal"|"hang", details)`` of ``use_world(world)``."""
        self.proc.stdin.write(f"{world}\n")
        self.proc.stdin.flush()
        try:
            line = self.lines.get(timeout=HANG_SECONDS)
        except queue.Empty:
            self.proc.kill()
            self.proc.wait()
            self._start()
            return "hang", {"seconds": HANG_SECONDS}
        if line is None:  # the worker died
            code = self.proc.wait()
            self._start()
            name = signal.Signals(-code).name if code < 0 else f"exit {code}"
            return "signal", {"signal": name}
        result = json.loads(line)
        return ("ok" if "value" in result else "raised"), result

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def worker():
    w = CleanWorker()
    yield w
    w.close()


def in_child(fn, out: Path) -> tuple[str, dict]:
    """Run ``fn() -> dict`` in a forked child; ``("ok"|"raised"|"signal"|"hang", details)``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a hang is killed and reported as one
            signal.alarm(HANG_SECONDS)
            result = {"value": fn()}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            from lite_world.errors import LiteWorldError

            result = {
                "error": type(exc).__name__,
                "typed": isinstance(exc, LiteWorldError),
                "message": str(exc)[:2000],
                "traceback": traceback.format_exc()[-3000:],
            }
            code = 3
        try:
            out.write_text(json.dumps(result))
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return ("hang" if sig == signal.SIGALRM else "signal"), {"signal": signal.Signals(sig).name}
    result = json.loads(out.read_text())
    return ("ok" if "value" in result else "raised"), result


def run_info(world: Path, tmp: Path) -> dict:
    """``lite-world info WORLD`` through the CLI entry point, in the child; exit code and output."""
    from lite_world.cli import main

    out, err = tmp / "info.out", tmp / "info.err"
    with open(out, "w") as fo, open(err, "w") as fe:
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(fo.fileno(), 1)
        os.dup2(fe.fileno(), 2)
        sys.stdout, sys.stderr = os.fdopen(1, "w", closefd=False), os.fdopen(2, "w", closefd=False)
        code = main(["info", str(world)])
        sys.stdout.flush(), sys.stderr.flush()
    return {"code": code, "stdout": out.read_text()[-500:], "stderr": err.read_text()[-2000:]}


@pytest.fixture(scope="module")
def intact(tiny_world, worker) -> dict:
    """The intact world's answers, from the same clean worker that uses the damaged copies."""
    state, result = worker.run(tiny_world)
    assert state == "ok", result
    return result["value"]


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    path = os.environ.get("LITE_WORLD_MATRIX_REPORT")
    if path:
        Path(path).write_text(json.dumps(_REPORT, indent=2, sort_keys=True))


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("rel", FILES)
def test_corruption_matrix(tiny_world, intact, worker, tmp_path, rel, how):
    world = tmp_path / "world"
    shutil.copytree(tiny_world, world)
    damage(world / rel, how)

    info_state, info = in_child(lambda: run_info(world, tmp_path), tmp_path / "info.json")
    assert info_state == "ok", (
        info_state,
        info,
    )  # never a signal, a hang or an exception out of main()
    code, stderr = info["value"]["code"], info["value"]["stderr"]
    info_failed = code != 0
    if rel.endswith(
        "lock.mdb"
    ):  # readers never read the lock file: nothing to detect, nothing changes
        assert code == 0, stderr
    else:
        assert code == 2, info["value"]
        assert stderr.startswith("lite-world info: error: Expects "), stderr
        assert "Traceback" not in stderr

    world_state, used = worker.run(world)
    assert world_state in ("ok", "raised"), (world_state, used)  # no signal, no hang
    if world_state == "raised":
        assert used["typed"], used["traceback"]
        assert used["message"].startswith("Expects "), used["message"]
        outcome = f"typed {used['error']}"
    elif used["value"] == intact:
        outcome = "identical results"
    else:
        assert info_failed, "different results although info passed"
        outcome = "different results (info fails)"
    _REPORT[f"{rel} / {how}"] = {
        "info": "exit 0"
        if code == 0
        else stderr.split("\n")[0][len("lite-world info: error: ") :][:160],
        "world": outcome,
    }


_SUBPROCESS_INFO = [sys.executable, "-m", "lite_world", "info"]


def test_truncated_store_through_the_console_script(tiny_world, tmp_path):
    """The issue's reproduction in a subprocess: truncate pages.lmdb/data.mdb; lite-world info X."""
    world = tmp_path / "world"
    shutil.copytree(tiny_world, world)
    damage(world / "pages.lmdb" / "data.mdb", "truncate")
    for args in (
        [],
        ["--quick"],
    ):  # --quick hashes nothing: the LMDB size check alone must catch it
        proc = subprocess.run(
            [*_SUBPROCESS_INFO, str(world), *args],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            check=False,
        )
        assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])  # before: -7 (SIGBUS)
        assert proc.stderr.startswith("lite-world info: error: Expects "), proc.stderr
        if args:
            assert (
                "(truncated). The store is damaged: restore the world from a copy, or rebuild it"
                in proc.stderr
            )
