"""``import lite_world`` stays light, and building the env opens nothing.

Each check runs in a fresh interpreter (``sys.modules`` of the pytest process already holds torch
and faiss). Heavy modules are imported only when a world is opened (encoder, FAISS) or a report
is drawn (matplotlib). The last test steps the env in the same subprocess, which proves that the
probe sees an opened world: the same check that passes after ``gym.make`` fails after a search.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "faiss", "sentence_transformers", "matplotlib", "transformers")

# Prints the heavy modules loaded so far and the world files this process holds open.
_PROBE = """
import json, os, sys
def probe(world=None):
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    heavy = sorted(m for m in __HEAVY__ if m in sys.modules)
    opened = sorted(f for f in fds if world and f.startswith(world))
    return {"heavy": heavy, "opened": opened}
""".replace("__HEAVY__", repr(HEAVY))


def run_python(code: str, timeout: float = 300) -> list[dict]:
    """Run ``code`` in a fresh interpreter; return the JSON lines it printed."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE + code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("module", ["lite_world", "lite_world.envs"])
def test_import_loads_no_heavy_module(module):
    (out,) = run_python(f"import {module}\nprint(json.dumps(probe()))")
    assert out["heavy"] == [], f"import {module} pulled in {out['heavy']}"


def test_make_opens_no_world_and_stepping_does(tiny_world, musique, tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    rows = [{"id": q["id"], "question": q["question"], "answers": [q["answer"]]} for q in musique]
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    world = str(Path(tiny_world).resolve())
    code = f"""
import gymnasium as gym
import lite_world
env = gym.make("LiteSearch-v0", world={world!r}, tasks={str(tasks)!r})
print(json.dumps(probe({world!r})))
env.reset(seed=0)
call = {{"name": "search", "arguments": {{"query": ["Journal of Psychotherapy Integration"]}}}}
obs, *_ = env.step("<tool_call>" + json.dumps(call) + "</tool_call>")
assert "<tool_response>" in obs, obs[:500]
print(json.dumps(probe({world!r})))
"""
    made, stepped = run_python(code)
    assert made == {"heavy": [], "opened": []}
    # The probe does see an open world: the hybrid search loaded FAISS and the encoder (on CPU
    # the torch-free ONNX Runtime one) and holds the world's files (LMDB, index) open.
    assert "faiss" in stepped["heavy"] and "torch" not in stepped["heavy"], stepped["heavy"]
    assert any("pages.lmdb" in f for f in stepped["opened"]), stepped["opened"]


# Makes the optional stacks unimportable, as in an install without extras.
_BLOCK = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked (not installed in a core-only install)")
        return None
sys.meta_path.insert(0, _Block())
"""


def test_core_install_steps_a_sparse_world(tiny_world, musique, tmp_path):
    """Core dependencies alone (no torch, faiss, encoder, ingest or plot extras) open a world in
    sparse mode and play an episode: what setup.cfg promises for `pip install lite-world`."""
    blocked = (*HEAVY, "pyarrow", "trafilatura", "warcio")
    q = musique[0]
    task = {"id": q["id"], "question": q["question"], "answers": [q["answer"]]}
    code = f"""
BLOCKED = {blocked!r}
{_BLOCK}
import gymnasium as gym
import lite_world
env = gym.make("LiteSearch-v0", world={str(tiny_world)!r}, tasks=[{task!r}], search_mode="sparse")
env.reset(seed=0)
call = {{"name": "search", "arguments": {{"query": ["Journal of Psychotherapy Integration"]}}}}
obs, r1, *_ , info1 = env.step("<tool_call>" + json.dumps(call) + "</tool_call>")
obs2, r2, term, trunc, info2 = env.step("<answer>" + {q["answer"]!r} + "</answer>")
try:
    import faiss
    blocked = False
except ImportError:
    blocked = True
print(json.dumps({{"obs": obs, "error": info1.get("error"), "reward": r2, "terminated": term,
                  "blocked": blocked}}))
"""
    (out,) = run_python(code)
    assert out["error"] is None and "<tool_response>" in out["obs"], out["obs"][:500]
    assert "Journal of Psychotherapy Integration" in out["obs"]
    assert (out["reward"], out["terminated"]) == (1.0, True)
    assert out["blocked"] is True  # the block works: faiss is installed in the test venv
