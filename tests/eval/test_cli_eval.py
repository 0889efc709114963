"""``lite-world eval``, ``eval-world`` and ``compare`` end to end through ``main`` (offline: the
live
side of ``compare`` is the local Serper / Jina Reader protocol stand-ins)."""

from __future__ import annotations

import json

from lite_world.cli import main


def test_eval_command(tiny_world, generic_file, tmp_path, capsys):
    out = tmp_path / "eval"
    rc = main(
        [
            "eval",
            "--bench",
            "generic",
            "--data",
            str(generic_file),
            "--agent",
            "scripted",
            "--world",
            str(tiny_world),
            "--tools",
            "local",
            "--limit",
            "3",
            "--out",
            str(out),
            "--search-mode",
            "sparse",
            "--max-turns",
            "6",
            "--context",
            "memory",
            "--context-budget",
            "4096",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    brief = json.loads(printed[: printed.rindex("}") + 1])
    assert brief["items"] == 3 and brief["context"]["mode"] == "memory"
    assert brief["context"]["max_context_tokens"] <= 4096
    assert all(
        (out / f).stat().st_size > 0
        for f in ("summary.json", "report.md", "viewer.html", "results.jsonl")
    )


def test_bad_inputs_exit_2_with_the_reason(tmp_path, capsys):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "q"}\n')
    rc = main(
        [
            "eval",
            "--bench",
            "generic",
            "--data",
            str(bad),
            "--agent",
            "scripted",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2 and "Expects one of the columns ['answer', 'answers']" in capsys.readouterr().err


def test_compare_with_protocol_standins(tiny_world, generic_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(
        [
            "compare",
            "--bench",
            "generic",
            "--data",
            str(generic_file),
            "--agent",
            "scripted",
            "--world",
            str(tiny_world),
            "--standins",
            "--limit",
            "3",
            "--out",
            str(out),
            "--search-mode",
            "sparse",
            "--max-turns",
            "6",
        ]
    )
    assert rc == 0
    result = json.loads((out / "compare.json").read_text())
    assert result["standins"] and sum(result["outcomes"].values()) == 3
    assert result["local"]["mean_turns"] > 0 and result["live"]["mean_tool_calls"] > 0
    assert result["live_cost_usd_estimate"] > 0
    md = (out / "compare.md").read_text()
    assert "| accuracy |" in md and "| metric | local | live |" in md
    for f in ("plots/accuracy.png", "local/viewer.html", "live/viewer.html", "live/summary.json"):
        assert (out / f).stat().st_size > 0, f
