"""Memory of the GRPO trainer: freed activations and KV caches go back to the OS.

Each check runs in a fresh Python process: the test session's own heap (every model and world
the other tests loaded) would hide what one step leaves resident.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trainers.grpo.trainer import trim_heap

ROOT = Path(__file__).resolve().parents[3]

_RSS = """
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(key + ":"))
"""

pytestmark = pytest.mark.skipif(
    not trim_heap(), reason="malloc_trim is glibc's: nothing to give back elsewhere"
)


def _run(script: str, tmp_path: Path) -> dict:
    path = tmp_path / "probe.py"
    path.write_text(textwrap.dedent(_RSS) + textwrap.dedent(script))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_trim_heap_returns_freed_heap_pages(tmp_path):
    # 4 MB tensors below the mmap threshold come from the heap, each pinned by a small tensor
    # allocated after it, so free() cannot shrink the heap: only a trim gives the pages back
    out = _run(
        """
        import ctypes, json
        import torch
        from trainers.grpo.trainer import trim_heap
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: free() never trims by itself
        big, pins = [], []
        for _ in range(100):
            big.append(torch.ones(1 << 20))  # 4 MiB each
            pins.append(torch.ones(16))
        held = status("VmRSS")
        del big
        freed = status("VmRSS")
        trimmed = trim_heap()
        print(json.dumps({"held": held, "freed": freed, "trimmed": trimmed,
                          "after": status("VmRSS")}))
        """,
        tmp_path,
    )
    assert out["trimmed"] is True
    assert out["freed"] > out["held"] - 50  # free() alone kept the 400 MiB resident
    assert out["after"] < out["freed"] - 300  # the trim gave them back


def test_a_training_step_leaves_its_peak_behind(tiny_world, one_hop_tasks, tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in one_hop_tasks))
    out = _run(
        f"""
        import json
        import torch
        from trainers.grpo.config import GRPOConfig
        from trainers.grpo.trainer import GRPOTrainer
        torch.set_num_threads(1)
        config = GRPOConfig.from_flat(
            world={str(tiny_world)!r}, tasks={str(tasks)!r}, max_turns=2, search_k=2,
            max_observation_chars=600, tasks_per_step=1, group_size=2, max_new_tokens=16,
            micro_batch_size=2, skip_zero_advantage=False,
            learning_rate=1e-6, output_dir={str(tmp_path / "run")!r}, plot=False,
            log_trajectories=0, steps=2,
        )
        trainer = GRPOTrainer(config)
        trainer.train_step()  # opens the world and the encoder, warms the caches
        before = status("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS
        metrics, trajectories = trainer.train_step()
        print(json.dumps({{"before": before, "peak": status("VmHWM"), "after": status("VmRSS"),
                          "tokens": sum(len(t.input_ids) for t in trajectories)}}))
        """,
        tmp_path,
    )
    grew = out["peak"] - out["before"]
    assert grew > 150, out  # the update's activations: ~0.2-1 MB per token
    assert out["after"] < out["before"] + 0.1 * grew, out  # and they are not kept after it
