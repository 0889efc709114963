"""The lite-world command line, driven through ``main([...])``."""

from __future__ import annotations

import json
import shutil

import pytest

from lite_world.cli import main
from lite_world.version import __version__

ROWS = [
    {
        "url": "https://en.wikipedia.org/wiki/Bubye_River",
        "title": "Bubye River",
        "text": "The Bubye River, also known as Bubi River, is a tributary of the Limpopo River in Zimbabwe.",
    },
    {
        "url": "https://en.wikipedia.org/wiki/Victoria_Falls",
        "title": "Victoria Falls",
        "text": "Victoria Falls is a waterfall on the Zambezi River at the border between Zambia and Zimbabwe.",
    },
    {
        "url": "https://en.wikipedia.org/wiki/Publix",
        "title": "Publix",
        "text": "Publix is an employee-owned American supermarket chain headquartered in Lakeland, Florida.",
    },
    {"url": "https://en.wikipedia.org/wiki/Stub", "title": "Stub", "text": "Too short."},
]


@pytest.fixture(scope="module")
def cli_world(tmp_path_factory):
    """A four-row JSONL built with ``lite-world build`` (one row below --min-chars)."""
    d = tmp_path_factory.mktemp("cli")
    src = d / "rows.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return d, src


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"lite-world {__version__}"


def test_build_info_search_browse(cli_world, capsys):
    d, src = cli_world
    out_dir = d / "world"
    code, out, _ = _run(capsys, "build", str(src), "--out", str(out_dir), "--min-chars", "20", "-q")
    assert code == 0
    report = json.loads(out)
    assert (report["world"], report["pages"], report["index"]) == (str(out_dir), 3, "Flat")
    assert report["embedder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert report["last_ingest"] == {
        "seen": 4,
        "added": 3,
        "too_short": 1,
        "duplicate": 0,
        "empty": 0,
    }

    code, out, _ = _run(capsys, "info", str(out_dir))
    assert code == 0
    info = json.loads(out)
    assert info["verified"] is True
    assert info["manifest"]["page_count"] == 3
    assert info["manifest"]["sources"] == ["rows.jsonl"]
    assert (info["store"]["pages"], info["store"]["rows"], info["store"]["compression"]) == (
        3,
        3,
        "zstd",
    )
    assert info["check"]["level"] == "full" and info["check"]["digests"] == "verified"
    assert info["check"]["files"][:2] == ["index/dense.faiss", "index/dense.json"]
    for flag in ("--quick", "--fast"):  # --fast is the old name
        quick = json.loads(_run(capsys, "info", str(out_dir), flag)[1])
        assert (quick["verified"], quick["check"]["level"], quick["check"]["digests"]) == (
            True,
            "quick",
            "skipped",
        )

    code, out, _ = _run(capsys, "search", str(out_dir), "waterfall Zambezi", "-k", "2")
    assert code == 0
    assert out.startswith(
        "A Google search for 'waterfall Zambezi' found 2 results:\n\n## Web Results\n"
        "1. [Victoria Falls](https://en.wikipedia.org/wiki/Victoria_Falls)\n\n"
        "Victoria Falls is a waterfall on the Zambezi River"
    )

    code, out, _ = _run(
        capsys, "search", str(out_dir), "Limpopo tributary", "-k", "1", "--mode", "sparse", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["queries"][0]["query"] == "Limpopo tributary"
    assert [(h["rank"], h["url"], h["title"]) for h in data["queries"][0]["results"]] == [
        (1, "https://en.wikipedia.org/wiki/Bubye_River", "Bubye River")
    ]

    code, out, _ = _run(
        capsys,
        "browse",
        str(out_dir),
        "en.wikipedia.org/wiki/Publix",
        "--goal",
        "Where is Publix headquartered?",
    )
    assert code == 0
    assert out == (
        "The useful information in en.wikipedia.org/wiki/Publix for user goal Where is Publix headquartered? as follows: "
        f"\n\nEvidence in page: \n{ROWS[2]['text']}\n\nSummary: \nPublix: {ROWS[2]['text']}\n"
    )

    code, out, _ = _run(
        capsys,
        "browse",
        str(out_dir),
        "https://en.wikipedia.org/wiki/Publix",
        "--goal",
        "HQ",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["pages"] == [
        {"url": "https://en.wikipedia.org/wiki/Publix", "found": True, "title": "Publix"}
    ]
    assert data["text"].startswith(
        "The useful information in https://en.wikipedia.org/wiki/Publix for user goal HQ"
    )

    code, out, _ = _run(
        capsys, "browse", str(out_dir), "https://en.wikipedia.org/wiki/Stub", "--goal", "x"
    )
    assert code == 1  # not in the world (it was too short): the standard failure text, exit 1
    assert "The provided webpage content could not be accessed." in out


def test_info_on_a_broken_world(tiny_world, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_world, broken)
    (broken / "index" / "dense.json").unlink()
    code, out, err = _run(capsys, "info", str(broken))
    assert code == 2
    assert out == ""
    assert err == (
        f"lite-world info: error: Expects the dense index parameters at {broken / 'index' / 'dense.json'}, "
        "actual: missing. Restore the world from a copy, or rebuild its indexes: re-run the lite-world "
        f"build command that made it (--out {broken}); it rebuilds them from the page store.\n"
    )


def test_info_on_a_world_built_before_digests(world_copy, capsys):
    manifest = json.loads((world_copy / "manifest.json").read_text())
    del manifest["files"], manifest["index_dir"]
    (world_copy / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}))
    code, out, _ = _run(capsys, "info", str(world_copy))
    assert code == 0
    check = json.loads(out)["check"]
    assert check["digests"] == "unavailable"
    assert check["note"].startswith(
        "sizes and headers only: this world was built before digests were recorded"
    )


def test_info_on_flipped_vectors(world_copy, capsys):
    """Before: 'verified' although search returned other pages."""
    path = world_copy / "index" / "dense.faiss"
    data = bytearray(path.read_bytes())
    data[4000:4016] = bytes(b ^ 0xFF for b in data[4000:4016])
    path.write_bytes(bytes(data))
    code, out, err = _run(capsys, "info", str(world_copy))
    assert (code, out) == (2, "")
    assert err.startswith(
        "lite-world info: error: Expects the dense index (FAISS) at index/dense.faiss to have the "
        "blake2b digest recorded at build time, actual: a different digest"
    )
    assert (
        _run(capsys, "info", str(world_copy), "--quick")[0] == 0
    )  # sizes and headers cannot see it


def test_info_on_a_missing_world(tmp_path, capsys):
    code, out, err = _run(capsys, "info", str(tmp_path / "nowhere"))
    assert (code, out) == (2, "")
    assert err == (
        f"lite-world info: error: Expects a world directory at {tmp_path / 'nowhere'}, actual: it does not "
        f"exist. Build one with: lite-world build INPUT... --out {tmp_path / 'nowhere'}\n"
    )


def test_search_on_a_tampered_world(world_copy, capsys):
    manifest = json.loads((world_copy / "manifest.json").read_text())
    (world_copy / "manifest.json").write_text(json.dumps({**manifest, "page_count": 5}))
    code, out, err = _run(capsys, "search", str(world_copy), "Publix", "--mode", "sparse")
    assert (code, out) == (2, "")
    assert err.startswith("lite-world search: error: Expects the dense index (FAISS) at ")
    assert "actual: 96 vectors of dim 384, the manifest says 5 of dim 384" in err


def test_build_with_nothing_kept(cli_world, capsys):
    d, src = cli_world
    code, out, err = _run(
        capsys, "build", str(src), "--out", str(d / "empty"), "-q"
    )  # default --min-chars 1000
    assert (code, out) == (2, "")
    assert err.startswith(
        "lite-world build: error: Expects at least one page to index, actual: none kept from 4 "
        "input pages (4 shorter than min_chars=1000, 0 empty)."
    )


def test_build_with_a_missing_input(tmp_path, capsys):
    code, _, err = _run(
        capsys, "build", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "w"), "-q"
    )
    assert code == 2
    assert err == (
        f"lite-world build: error: Expects an ingest input at {tmp_path / 'nope.jsonl'}, actual: "
        "it does not exist\n"
    )


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search"])
    assert exc.value.code == 2
    assert "the following arguments are required: world, query" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["browse", "w", "https://a.org"])
    assert "the following arguments are required: --goal" in capsys.readouterr().err
