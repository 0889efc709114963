"""The documented command sequence on the tiny world, through `lite-world` itself."""

from __future__ import annotations

import json

from lite_world.cli import main


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_world_to_stage_files(tiny_world, junk_llm, tmp_path, capsys):
    w = str(tiny_world)
    junk_llm.set(lambda prompt: '[{"question": "Which junk?", "answer": "nothing"}]')
    cands = tmp_path / "cands.jsonl"
    rc = main(
        [
            "synth",
            "extract",
            w,
            "--out",
            str(cands),
            "--limit",
            "3",
            "--base-url",
            junk_llm.base_url,
            "--model",
            "junk",
            "--cache-path",
            str(tmp_path / "c.sqlite"),
            "-q",
        ]
    )
    assert rc == 0 and _rows(cands) == []
    assert json.loads((tmp_path / "cands.report.json").read_text())["dropped"] == {
        "answer_not_in_page": 3
    }

    multi = tmp_path / "multi.jsonl"
    assert main(["synth", "multihop", w, "--out", str(multi), "-n", "3", "--seed", "1", "-q"]) == 0
    assert len(_rows(multi)) >= 2
    audited = tmp_path / "multi_a.jsonl"
    assert (
        main(
            [
                "synth",
                "audit",
                str(multi),
                "--out",
                str(audited),
                "--world",
                w,
                "--search-mode",
                "sparse",
                "-q",
            ]
        )
        == 0
    )
    assert all("audit" in r["meta"] for r in _rows(audited))
    prof = tmp_path / "multi_p.jsonl"
    assert (
        main(
            [
                "curriculum",
                "profile",
                str(audited),
                "--out",
                str(prof),
                "-k",
                "2",
                "--world",
                w,
                "--max-turns",
                "4",
                "-q",
            ]
        )
        == 0
    )
    assert all(r["meta"]["profile"]["k"] == 2 for r in _rows(prof))
    assert (tmp_path / "multi_p.histogram.png").is_file()
    capsys.readouterr()
    assert (
        main(
            [
                "curriculum",
                "build",
                f"multi={prof}",
                "--out",
                str(tmp_path / "stages"),
                "--stage",
                "multi=1.0",
                "-k",
                "2",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    band = [r for r in _rows(prof) if r["meta"]["profile"]["correct"] == 1]
    assert out["report"]["kept"] == len(band)
    assert (tmp_path / "stages" / "curriculum.json").is_file()
