"""The trajectory viewer in a real headless browser (Debian ``chromium``): rows, expansion, filter,
escaping, screenshot. Skipped with the reason when chromium is not installed
(``apt-get install -y chromium``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from lite_world.eval.viewer import write_viewer

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian chromium: apt-get install -y chromium"
)

EVIL = '<img src=x onerror="document.title=\'pwned\'"><b id="pwn">x</b>'


def _episode(i: int, correct: bool) -> dict:
    call = json.dumps({"name": "search", "arguments": {"query": [f"q{i}"]}})
    return {
        "task_id": f"t{i}",
        "sample": 0,
        "question": f"Question {i} {EVIL if i == 1 else ''}",
        "answers": [f"gold{i}"],
        "answer": f"pred{i}",
        "judge": {"correct": correct, "source": "em"},
        "turns": 2,
        "totals": {"tool_calls": 1},
        "messages": [
            {"role": "system", "content": "You are a research assistant."},
            {"role": "user", "content": f"Question {i}"},
            {
                "role": "assistant",
                "content": f"<think>plan {i}</think>\n<tool_call>{call}</tool_call>",
            },
            {
                "role": "user",
                "content": f"<tool_response>\nA Google search for 'q{i}' found 1 results:\n"
                f"{EVIL}\n</tool_response>",
            },
            {"role": "assistant", "content": f"<think>done</think>\n<answer>pred{i}</answer>"},
        ],
    }


def _dom(page: Path, fragment: str = "") -> str:
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=3000",
                "--dump-dom",
                page.as_uri() + fragment,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return out.stdout


def _rows(dom: str, cls: str) -> list[str]:
    return re.findall(
        rf'<tr class="{cls}" data-(?:i|for)="\d+"[^>]*>', dom
    )  # not the script's template


def test_viewer_in_headless_chromium(tmp_path):
    episodes = [_episode(i, correct=i % 3 == 0) for i in range(6)]  # t0 and t3 correct
    page = write_viewer(
        tmp_path / "viewer.html",
        episodes,
        {"bench": "generic", "tools": "local", "accuracy": 1 / 3},
    )

    dom = _dom(page)
    items = _rows(dom, "item")
    assert len(items) == 6 and "6 of 6 shown" in dom
    assert all(" hidden" in d for d in _rows(dom, "detail"))
    assert '<b id="pwn">' not in dom and '&lt;b id="pwn"&gt;' in dom  # shown as text, never parsed
    assert "<title>lite-world evaluation</title>" in dom  # the onerror handler never ran
    assert "33.3%" in dom

    opened = _dom(page, "#open=1")  # clicks row 1 through its own handler
    detail = re.search(r'<tr class="detail" data-for="1"[^>]*>(.*?)</tr>', opened, re.S)
    assert detail and " hidden" not in detail.group(0)[:60]
    assert 'tool call</span>{"name": "search", "arguments": {"query": ["q1"]}}' in detail.group(1)
    assert "plan 1" in detail.group(1) and "tool response" in detail.group(1)
    assert '<b id="pwn">' not in opened and "<img" not in detail.group(1)

    filtered = _dom(page, "#filter=incorrect")
    shown = [r for r in _rows(filtered, "item") if " hidden" not in r]
    assert (
        len(shown) == 4
        and all('data-correct="0"' in r for r in shown)
        and "4 of 6 shown" in filtered
    )
    correct_only = _dom(page, "#filter=correct")
    assert "2 of 6 shown" in correct_only

    shot = tmp_path / "viewer.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--window-size=1280,800",
                "--virtual-time-budget=3000",
                f"--screenshot={shot}",
                page.as_uri() + "#open=0",
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
