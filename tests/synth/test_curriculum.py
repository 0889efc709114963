"""The pass@K profiler (resumable) and the stage files the trainers read."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from lite_world.synth.curriculum import build_curriculum
from lite_world.synth.profile import ProfileConfig, profile_tasks
from lite_world.tasks import load_tasks


class CoinAgent:
    """Answers right with probability 1/2 (its own seeded RNG), in one turn."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def reset(self, task):
        self.answer = task["answers"][0]

    def act(self, observation, info):
        return f"<answer>{self.answer if self.rng.random() < 0.5 else 'wrong guess'}</answer>"


def test_profile_counts_and_resumes(tiny_world, tmp_path):
    made = itertools.count()

    def factory():
        return CoinAgent(next(made))

    tasks = [
        {"id": f"t{i}", "question": f"Question number {i} about the world?", "answers": [f"ans{i}"]}
        for i in range(3)
    ]
    cfg = ProfileConfig(k=4, world=str(tiny_world), max_turns=2, chunk_tasks=2, show_progress=False)
    out = tmp_path / "profiled.jsonl"
    prof, rep = profile_tasks(tasks, factory, cfg, out)
    assert next(made) == 12  # 3 tasks x K=4 episodes (+ this call)
    for t in prof:
        p = t["meta"]["profile"]
        assert (
            p["k"] == 4
            and len(p["rewards"]) == 4
            and p["correct"] == sum(r == 1.0 for r in p["rewards"])
        )
    assert sum(rep.extra["histogram"].values()) == 3
    assert (tmp_path / "profiled.runs" / "chunk-0001" / "trajectories.jsonl").is_file()
    prof2, rep2 = profile_tasks(tasks, factory, cfg, out)  # resume: nothing left to run
    assert rep2.extra["resumed"] == 3 and next(made) == 13 and prof2 == prof


def _profiled(prefix, n, k=8):
    return [
        {
            "id": f"{prefix}{i}",
            "question": f"{prefix} question {i} about something?",
            "answers": ["a"],
            "mask_urls": [f"https://x.org/{prefix}{i}"],
            "meta": {"profile": {"k": k, "correct": i % (k + 1)}},
        }
        for i in range(n)
    ]


def test_stage_files_keep_the_band_and_load_in_trainers(tmp_path):
    groups = {"single": _profiled("s", 90), "multi": _profiled("m", 45), "hard": _profiled("h", 27)}
    manifests, rep = build_curriculum(
        groups,
        tmp_path,
        stages=[{"single": 0.73, "multi": 0.27}, {"single": 0.5, "multi": 0.3, "hard": 0.2}],
        k=8,
    )
    assert [m["stage"] for m in manifests] == [1, 2]
    seen = set()
    for m in manifests:
        path = tmp_path / m["file"]
        tasks = load_tasks(str(path))
        assert len(tasks) == m["tasks"] > 0
        assert all(1 <= t.meta["profile"]["correct"] <= 7 for t in tasks)
        assert all(t.mask_urls for t in tasks)
        ids = {t.id for t in tasks}
        assert not ids & seen  # no task reused across stages
        seen |= ids
        on_disk = json.loads((tmp_path / f"stage{m['stage']}.manifest.json").read_text())
        assert on_disk["band"] == [1, 7] and on_disk["by_group"] == m["by_group"]
    assert (
        manifests[0]["max_response_length"] == 32768
        and manifests[1]["max_response_length"] == 49152
    )
    s1 = manifests[0]["by_group"]
    assert abs(s1["single"] / (s1["single"] + s1["multi"]) - 0.73) < 0.03
    # exactly the band: 0 and 8 correct never get in
    assert rep.dropped["all_wrong"] + rep.dropped["all_right"] == sum(
        1 for g in groups.values() for t in g if t["meta"]["profile"]["correct"] in (0, 8)
    )
    # the verl adapter converts them
    data = pytest.importorskip("trainers.verl.data")
    rows = data.tasks_to_rows(load_tasks(str(tmp_path / "stage1.jsonl")))
    assert len(rows) == manifests[0]["tasks"]
    assert rows[0]["extra_info"]["mask_urls"]
