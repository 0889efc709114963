"""Faults: clients ride out a restart; ``lite-world serve`` starts, answers, stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from lite_world.serve import RemoteWorld, ServeConfig, ServerThread
from lite_world.serve.server import bind_socket

pytestmark = pytest.mark.timeout(120)

QUERIES = [
    "Victoria Falls",
    "Anglican Communion",
    "Avery County",
    "Journal of Psychotherapy Integration",
]


SEARCH = '<tool_call>{"name": "search", "arguments": {"query": ["Victoria Falls"]}}</tool_call>'
VISIT = (
    '<tool_call>{"name": "visit", "arguments": '
    '{"url": ["https://en.wikipedia.org/wiki/Victoria_Falls"], '
    '"goal": "where is it"}}</tool_call>'
)


def episode(env, task_id: str) -> list[str]:
    """One scripted episode (search, visit, answer); its observations."""
    obs = [env.reset(seed=0, options={"task_id": task_id})[0]]
    for action in (SEARCH, VISIT, "<answer>Victoria Falls</answer>"):
        o, _, terminated, truncated, info = env.step(action)
        assert info.get("error") in (None, "not_found"), info.get("error")
        obs.append(o)
    assert terminated and not truncated
    return obs


def test_clients_retry_across_a_restart(tiny_world, world, musique):
    """Calls and env episodes while the server goes down and comes back: none lost or crashed."""
    import gymnasium as gym

    import lite_world  # noqa: F401  (registers LiteSearch-v0)
    from lite_world.tasks import demo_tasks

    cfg = ServeConfig(port=0, torch_threads=None)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    first = ServerThread(str(tiny_world), cfg, sock=sock).start()
    remote = RemoteWorld(first.url, retry_deadline_s=30.0, backoff_s=0.02, max_backoff_s=0.2)
    expected = world.search(QUERIES, 3)
    assert remote.search(QUERIES, 3) == expected
    tasks = [t.to_dict() for t in demo_tasks()[: len(musique)]]
    local_env = gym.make("LiteSearch-v0", world=str(tiny_world), tasks=tasks)
    expected_episode = episode(local_env, tasks[3]["id"])
    local_env.close()

    stop = threading.Event()
    errors: list[BaseException] = []
    issued, answered = [0] * 6, [0] * 6
    episodes = {"done": 0, "crashed": 0}

    def rollout(i: int) -> None:  # a client that keeps calling, as a rollout worker does
        while not stop.is_set():
            try:
                issued[i] += 1
                q = [QUERIES[(i + answered[i]) % 4]]
                assert remote.search(q, 3) == [expected[QUERIES.index(q[0])]]
                url = expected[0][0].url
                assert remote.get_page(url) == world.get_page(url)
                answered[i] += 1
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    def episodes_loop() -> None:  # an env on the served world, as a rollout worker runs it
        env = gym.make("LiteSearch-v0", world=first.url, tasks=tasks)
        try:
            while not stop.is_set():
                try:
                    assert episode(env, tasks[3]["id"]) == expected_episode
                    episodes["done"] += 1
                except BaseException as exc:  # noqa: BLE001
                    episodes["crashed"] += 1
                    errors.append(exc)
                    return
        finally:
            env.close()

    threads = [threading.Thread(target=rollout, args=(i,)) for i in range(6)]
    threads += [threading.Thread(target=episodes_loop) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    first.stop()
    time.sleep(1.0)  # down for a second: clients back off and retry
    second = ServerThread(str(tiny_world), cfg.replace(port=port)).start()
    before, done_before = sum(answered), episodes["done"]
    while (
        sum(answered) == before or episodes["done"] == done_before
    ) and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    recovery_s = time.monotonic() - t0
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    second.stop()
    assert not errors, errors[0]
    assert issued == answered, "lost calls"  # every call a client made got its right answer
    assert episodes["crashed"] == 0 and episodes["done"] > done_before
    assert sum(answered) > before and remote.retries > 0 and recovery_s < 30


def test_cli_serve_subprocess(tiny_world, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("cli-token-abcdefgh\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("LITE_WORLD_TOKEN", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lite_world.cli",
            "serve",
            str(tiny_world),
            "--port",
            "0",
            "--search-mode",
            "sparse",
            "--token-file",
            str(token_file),
            "--max-k",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert m, line
        w = RemoteWorld(m.group(0), token="cli-token-abcdefgh", retry_deadline_s=60.0)
        assert w.health()["search_mode"] == "sparse" and w.health()["limits"]["max_k"] == 5
        assert w.search(["Victoria Falls"], 2)[0][0].title == "Victoria Falls"
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    # uvicorn shuts down gracefully, then re-raises the signal, as a process stopped by SIGTERM
    assert proc.returncode in (0, -signal.SIGTERM) and "Traceback" not in out, out
