"""Ray Serve scale-out on local Ray: 2 replicas, same answers, a killed replica is survived.

Slow (Ray start-up plus two replicas loading the encoder: ~40 s on 2 cores), so marked ``slow``.
Ray runs on loopback with its own temp dir and auth-token file, and is shut down by the test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

QUERIES = [
    "Victoria Falls",
    "Anglican Communion",
    "Avery County",
    "Journal of Psychotherapy Integration",
]
TOKEN = "ray-token-0123456789"


@pytest.fixture()
def ray_serve(tiny_world, monkeypatch):
    pytest.importorskip("ray.serve")
    import ray
    from ray import serve

    from lite_world.serve import ServeConfig
    from lite_world.serve.ray_app import start_ray_serve

    tmp = tempfile.mkdtemp(prefix="lwray", dir="/tmp")  # Ray's socket paths must stay short
    token_path = os.path.join(tmp, "auth_token")
    with open(token_path, "w") as f:
        f.write(secrets.token_hex(16))
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", token_path)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start_ray_serve(
        str(tiny_world),
        ServeConfig(port=port, token=TOKEN),
        replicas=2,
        replica_cpus=0.5,
        temp_dir=os.path.join(tmp, "r"),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def test_ray_replicas_serve_the_same_world_and_survive_a_kill(ray_serve, world):
    from lite_world.serve import RemoteWorld

    remote = RemoteWorld(
        ray_serve, token=TOKEN, retry_deadline_s=60.0, backoff_s=0.05, max_backoff_s=0.5
    )
    expected = world.search(QUERIES, 3)
    assert remote.search(QUERIES, 3) == expected
    url = expected[0][0].url
    assert remote.get_page(url) == world.get_page(url)
    pids = {remote.health()["pid"] for _ in range(40)}
    assert len(pids) == 2  # both replicas answer

    stop, errors, calls = threading.Event(), [], [0]

    def rollout(i: int) -> None:
        while not stop.is_set():
            try:
                q = QUERIES[(i + calls[0]) % 4]
                assert remote.search([q], 3) == [expected[QUERIES.index(q)]]
                calls[0] += 1
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    threads = [threading.Thread(target=rollout, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.kill(sorted(pids)[0], signal.SIGKILL)  # a replica process this test started, through Ray
    time.sleep(8.0)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert calls[0] > 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ({remote.health()["pid"] for _ in range(10)} - pids):
        time.sleep(0.5)
    assert {remote.health()["pid"] for _ in range(40)} - pids, (
        "Ray never replaced the killed replica"
    )
