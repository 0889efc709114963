"""The installed wheel, used as a user would: corpus, then an env episode (run by wheel_check.sh).

``python wheel_episode.py corpus OUT_DIR [--pages N]`` writes ``pages.jsonl`` (Wikipedia pages,
one per title, from the demo data bundled in the installed package: the first MuSiQue questions'
paragraphs, topped up with 2WikiMultihopQA pages to ``N``) and ``tasks.jsonl`` (those questions).

``python wheel_episode.py episode WORLD TASKS`` plays two episodes of
``gym.make("LiteSearch-v0", world=WORLD, tasks=TASKS)``: reset, search, visit, answer with the
gold answer (reward 1), then reset and a wrong answer (reward 0). Every check raises
``SystemExit`` with what was expected and what came back.

It must run from a folder outside the repository, with the wheel installed (not editable): it
checks that ``lite_world`` is imported from site-packages.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from importlib import resources
from pathlib import Path
from urllib.parse import quote

QUESTIONS = 8
_URL = re.compile(r"\]\((https?://[^)\s]+)\)")


def check(ok: bool, expected: str, actual: object) -> None:
    if not ok:
        raise SystemExit(f"wheel episode: Expects {expected}, actual: {actual!r}"[:2000])


def wiki_url(title: str) -> str:
    return "https://en.wikipedia.org/wiki/" + quote(title.replace(" ", "_"), safe="_()',-.")


def write_corpus(out: Path, n_pages: int) -> None:
    demo = resources.files("lite_world") / "data" / "demo"
    questions = json.loads((demo / "musique_train.json").read_text(encoding="utf-8"))[:QUESTIONS]
    pages: dict[str, list[str]] = {}
    for q in questions:
        for p in q["paragraphs"]:
            pages.setdefault(p["title"], []).append(p["paragraph_text"])
    for p in json.loads((demo / "2wikimultihopqa_corpus.json").read_text(encoding="utf-8")):
        if len(pages) >= n_pages:
            break
        pages.setdefault(p["title"], []).append(p["text"])
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "pages.jsonl", "w", encoding="utf-8") as f:
        for title, paras in pages.items():
            row = {"url": wiki_url(title), "title": title, "text": "\n\n".join(paras)}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(out / "tasks.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            task = {
                "id": q["id"],
                "question": q["question"],
                "answers": [q["answer"], *q["answer_aliases"]],
            }
            f.write(json.dumps(task, ensure_ascii=False) + "\n")
    print(f"corpus: {len(pages)} pages, {len(questions)} tasks -> {out}")


def tool_call(name: str, arguments: dict) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def play(world: str, tasks: str) -> None:
    import gymnasium as gym

    import lite_world

    where = Path(lite_world.__file__).resolve()
    check(
        "site-packages" in where.parts, "lite_world imported from the installed wheel", str(where)
    )
    rows = [json.loads(line) for line in Path(tasks).read_text(encoding="utf-8").splitlines()]
    by_id = {r["id"]: r for r in rows}

    t = time.perf_counter()
    env = gym.make("LiteSearch-v0", world=world, tasks=tasks)
    obs, info = env.reset(seed=0)
    t_reset = time.perf_counter() - t
    check(isinstance(obs, str) and len(obs) > 100, "a prompt string from reset", obs)
    task_id = info.get("task_id") or info.get("task", {}).get("id")
    check(task_id in by_id, f"info to name a task id among {sorted(by_id)}", info)
    question = by_id[task_id]["question"]
    check(question in obs, "the task's question in the first observation", obs[-500:])

    t = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(tool_call("search", {"query": [question]}))
    t_search = time.perf_counter() - t
    urls = _URL.findall(obs)
    check(
        not info.get("error") and "<tool_response>" in obs,
        "a search result without error",
        obs[:500],
    )
    check(len(urls) >= 3, "at least 3 result URLs from search", obs[:800])
    check(all(u.startswith("https://en.wikipedia.org/wiki/") for u in urls), "Wikipedia URLs", urls)
    check(
        (reward, terminated, truncated) == (0.0, False, False),
        "(0.0, False, False)",
        (reward, terminated, truncated),
    )

    t = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(
        tool_call("visit", {"url": urls[0], "goal": question})
    )
    t_visit = time.perf_counter() - t
    check(
        not info.get("error") and "<tool_response>" in obs,
        "a visit result without error",
        obs[:500],
    )
    check(len(obs) > 200, "the visited page's evidence (> 200 chars)", obs)
    check((reward, terminated) == (0.0, False), "(0.0, False) after visit", (reward, terminated))

    t = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(
        f"<answer>{by_id[task_id]['answers'][0]}</answer>"
    )
    t_answer = time.perf_counter() - t
    check(
        (reward, terminated, truncated) == (1.0, True, False),
        "(1.0, True, False) for the gold answer",
        (reward, terminated, truncated, info),
    )

    env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(
        "<answer>certainly not the answer xyzzy</answer>"
    )
    check(
        (reward, terminated) == (0.0, True),
        "(0.0, True) for a wrong answer",
        (reward, terminated, info),
    )
    env.close()
    print(
        f"episode: ok  make+reset {t_reset:.2f}s  search {t_search:.2f}s  "
        f"visit {t_visit * 1e3:.1f}ms  answer {t_answer * 1e3:.1f}ms  "
        f"({len(urls)} results, first {urls[0]})"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("out", type=Path)
    c.add_argument("--pages", type=int, default=300)
    e = sub.add_parser("episode")
    e.add_argument("world")
    e.add_argument("tasks")
    a = ap.parse_args(argv)
    if a.cmd == "corpus":
        write_corpus(a.out, a.pages)
    else:
        play(a.world, a.tasks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
