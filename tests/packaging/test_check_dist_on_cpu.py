"""``.ci/check_dist.py`` catches what issue 10 found: a package folder without ``__init__.py``
(left out of every wheel by ``packages = find:``), a file missing from an archive, and debris.

The archives are written by hand from a small real git repository, so each test controls
exactly which file is missing.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FILES = {
    "lite_world/__init__.py": "",
    "lite_world/store/__init__.py": "",
    "lite_world/store/lmdb_store.py": "X = 1\n",
    "lite_world/data/demo/pages.json": "[]\n",
    "trainers/__init__.py": "",
    "trainers/verl/config/a.yaml": "a: 1\n",
    "setup.cfg": "[metadata]\n",
    "tests/test_a.py": "def test_a():\n    pass\n",
}


@pytest.fixture(scope="module")
def check_dist():
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / ".ci" / "check_dist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git_repo(path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "add", "."], check=True)
    return path


def write_dist(dist: Path, wheel: list[str], sdist: list[str]) -> Path:
    dist.mkdir()
    with zipfile.ZipFile(dist / "lite_world-0.1.0-py3-none-any.whl", "w") as z:
        for name in wheel:
            z.writestr(name, "x")
        z.writestr("lite_world-0.1.0.dist-info/METADATA", "Name: lite-world\n")
    with tarfile.open(dist / "lite_world-0.1.0.tar.gz", "w:gz") as t:
        for name in sdist:
            info = tarfile.TarInfo(f"lite_world-0.1.0/{name}")
            info.size = 1
            t.addfile(info, io.BytesIO(b"x"))
    return dist


def packaged(files) -> list[str]:
    return [f for f in files if f.startswith(("lite_world/", "trainers/"))]


def test_complete_archives_pass(check_dist, tmp_path, capsys):
    repo = git_repo(tmp_path / "repo", FILES)
    dist = write_dist(tmp_path / "dist", packaged(FILES), list(FILES))
    assert check_dist.main([str(dist), "--repo", str(repo)]) == 0
    assert "OK: all 6 tracked package files" in capsys.readouterr().out


def test_package_without_init_fails(check_dist, tmp_path, capsys):
    files = {k: v for k, v in FILES.items() if k != "lite_world/store/__init__.py"}
    repo = git_repo(tmp_path / "repo", files)
    # What `packages = find:` built: the store folder is not in the wheel at all.
    wheel = [f for f in packaged(files) if not f.startswith("lite_world/store/")]
    dist = write_dist(tmp_path / "dist", wheel, list(files))
    assert check_dist.main([str(dist), "--repo", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "package folder lite_world/store/ has .py files but no tracked __init__.py" in out
    assert "wheel lacks tracked file lite_world/store/lmdb_store.py" in out
    assert "sdist lacks" not in out


def test_missing_data_and_debris_fail(check_dist, tmp_path, capsys):
    repo = git_repo(tmp_path / "repo", FILES)
    wheel = [f for f in packaged(FILES) if not f.endswith(".yaml")]
    pyc = "lite_world/__pycache__/__init__.cpython-311.pyc"
    wheel.append(pyc)
    sdist = [f for f in FILES if f != "tests/test_a.py"]
    dist = write_dist(tmp_path / "dist", wheel, sdist)
    assert check_dist.main([str(dist), "--repo", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "wheel lacks tracked file trainers/verl/config/a.yaml" in out
    assert f"wheel holds build or cache debris {pyc}" in out
    assert "sdist lacks tracked file tests/test_a.py" in out
    assert "FAIL: 3 problem(s)" in out
