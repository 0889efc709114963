"""manifest.json: round trip, atomic write, and every kind of damage named with a typed error."""

from __future__ import annotations

import json

import pytest

from lite_world.errors import WorldCorruptedError, WorldNotFoundError
from lite_world.store.manifest import MANIFEST_NAME, Manifest, read_manifest, write_manifest

FIX = r"Restore manifest\.json from a copy of the world, or rebuild the world\."


def _manifest(**kw) -> Manifest:
    return Manifest(
        **{
            "page_count": 2,
            "store_digest": "ab",
            "embedder": "e",
            "embedding_dim": 8,
            "index_factory": "Flat",
            "index_params": {"efSearch": 64},
            "sources": ["x.jsonl"],
            **kw,
        }
    )


def test_manifest_round_trip_and_atomic_write(tmp_path):
    m = _manifest(
        files={"index/dense.faiss": {"bytes": 3, "blake2b": "00"}}, index_dir="index.next"
    )
    path = write_manifest(tmp_path, m)
    assert path == tmp_path / MANIFEST_NAME
    assert not (tmp_path / "manifest.json.tmp").exists()
    assert read_manifest(tmp_path) == m
    assert Manifest.from_dict({**m.to_dict(), "unknown_future_field": 1}) == m
    assert m.format_version == 2


def test_a_manifest_from_before_digests_still_reads(tmp_path):
    old = _manifest().to_dict()
    del old["files"], old["index_dir"]
    old["format_version"] = 1
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(old))
    m = read_manifest(tmp_path)
    assert (m.files, m.index_dir, m.format_version) == ({}, "index", 1)


def test_garbage_manifest(tmp_path):
    (tmp_path / MANIFEST_NAME).write_bytes(b"\x00\xffnot json{")
    with pytest.raises(
        WorldCorruptedError, match=rf"Expects valid JSON in .*manifest\.json, actual: .*{FIX}"
    ):
        read_manifest(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", r"Expects the manifest to be a JSON object, actual: list\. "),
        ("null", r"Expects the manifest to be a JSON object, actual: NoneType\. "),
        (
            "{}",
            r"Expects the manifest fields \['page_count', .*\], actual: missing \['page_count', ",
        ),
        ('{"page_count": 3}', r"actual: missing \['store_digest', 'embedder', "),
    ],
)
def test_manifest_json_that_is_not_a_manifest(tmp_path, content, message):
    """Before: a valid-JSON list was reported as invalid JSON."""
    (tmp_path / MANIFEST_NAME).write_text(content)
    with pytest.raises(WorldCorruptedError, match=message + ".*" + FIX):
        read_manifest(tmp_path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "page_count",
            "7807",
            r"Expects manifest field 'page_count' to be int, actual: str '7807'\. ",
        ),
        (
            "page_count",
            True,
            r"Expects manifest field 'page_count' to be int, actual: bool True\. ",
        ),
        (
            "embedding_dim",
            384.0,
            r"Expects manifest field 'embedding_dim' to be int, actual: float 384\.0\. ",
        ),
        ("files", [], r"Expects manifest field 'files' to be dict, actual: list \[\]\. "),
        (
            "index_dir",
            "../elsewhere",
            r"Expects manifest field 'index_dir' in \('index', 'index\.next'\), actual: ",
        ),
        (
            "page_count",
            -1,
            r"Expects page_count >= 0 and embedding_dim >= 1 in the manifest, actual: -1 and 8\. ",
        ),
    ],
)
def test_manifest_fields_of_the_wrong_type(tmp_path, field, value, message):
    """Before: a string page_count gave 'Expects 7807 pages (manifest), actual: 7807'."""
    write_manifest(tmp_path, _manifest())
    d = json.loads((tmp_path / MANIFEST_NAME).read_text())
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({**d, field: value}))
    with pytest.raises(WorldCorruptedError, match=message):
        read_manifest(tmp_path)


def test_missing_manifest_means_unfinished_build(tmp_path):
    with pytest.raises(
        WorldNotFoundError,
        match=r"manifest\.json, actual: missing — the build did not finish\. "
        r"Re-run the same lite-world build command",
    ):
        read_manifest(tmp_path)


def test_missing_world_directory(tmp_path):
    with pytest.raises(
        WorldNotFoundError,
        match=r"Expects a world directory at .*nowhere, actual: it does not exist\. "
        r"Build one with: lite-world build INPUT\.\.\. --out",
    ):
        read_manifest(tmp_path / "nowhere")


def test_store_does_not_import_the_index_layer():
    """The store is below the index and world layers (issue 10, section 3)."""
    import ast
    from pathlib import Path

    import lite_world.store as store

    offenders = []
    for path in Path(store.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith(("lite_world.index", "lite_world.world", "lite_world.verify"))
            ]
    assert offenders == []
