"""Check that the wheel and the sdist hold every tracked file of the packages.

Usage: ``python .ci/check_dist.py DIST_DIR`` (the folder with one ``*.whl`` and one ``*.tar.gz``,
as ``python -m build --outdir DIST_DIR`` writes them), run from the repository (it asks git which
files are tracked).

Fails (exit 1) when:

- a tracked file of ``lite_world/`` or ``trainers/`` (code or package data) is missing from the
  wheel or from the sdist;
- a tracked file the sdist needs to rebuild and test the package (``setup.cfg``, ``tests/``...)
  is missing from the sdist;
- a folder of tracked ``.py`` files in the packages has no ``__init__.py`` (such a folder is
  left out of a ``packages = find:`` build: ``lite_world/store`` was);
- either archive holds byte code, ``__pycache__`` or test caches.

Prints the sizes and file counts of both archives and, as information, the files they hold that
git does not track (work in progress in the tree).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

PACKAGES = ("lite_world", "trainers")
SDIST_ONLY = ("setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md", "Makefile", "tests", ".ci")
FORBIDDEN_PARTS = ("__pycache__", ".pytest_cache", ".hypothesis", ".ci-cache")
FORBIDDEN_SUFFIXES = (".pyc", ".pyo")


def tracked(repo: Path, *paths: str, ref: str | None = None) -> set[str]:
    """Files git tracks under ``paths`` (POSIX paths relative to the repository), in the work
    tree or, with ``ref``, in that commit."""
    cmd = ["git", "ls-tree", "-r", "-z", "--name-only", ref] if ref else ["git", "ls-files", "-z"]
    out = subprocess.run([*cmd, "--", *paths], cwd=repo, check=True, capture_output=True, text=True)
    files = {p for p in out.stdout.split("\0") if p}
    # A tracked file deleted in the work tree is not expected in a build of that tree.
    return files if ref else {p for p in files if (repo / p).is_file()}


def wheel_files(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as z:
        return {n for n in z.namelist() if not n.endswith("/") and ".dist-info/" not in n}


def sdist_files(path: Path) -> set[str]:
    with tarfile.open(path) as t:
        names = [m.name for m in t.getmembers() if m.isfile()]
    # Strip the "lite_world-X.Y.Z/" root folder.
    return {str(PurePosixPath(*PurePosixPath(n).parts[1:])) for n in names}


def missing_inits(files: set[str]) -> list[str]:
    """Package folders (holding tracked .py files) without an ``__init__.py``."""
    dirs = {str(PurePosixPath(f).parent) for f in files if f.endswith(".py")}
    return sorted(d for d in dirs if f"{d}/__init__.py" not in files)


def forbidden(files: set[str]) -> list[str]:
    return sorted(
        f
        for f in files
        if f.endswith(FORBIDDEN_SUFFIXES)
        or any(p in FORBIDDEN_PARTS for p in PurePosixPath(f).parts)
    )


def find_one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        sys.exit(f"Expects exactly one {pattern} in {dist}, actual: {[p.name for p in found]}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dist", type=Path, help="folder holding the built .whl and .tar.gz")
    ap.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--ref", default=None, help="compare with this commit (default: the work tree)")
    a = ap.parse_args(argv)

    whl, sdist = find_one(a.dist, "*.whl"), find_one(a.dist, "*.tar.gz")
    in_whl, in_sdist = wheel_files(whl), sdist_files(sdist)
    pkg_files = tracked(a.repo, *PACKAGES, ref=a.ref)
    sdist_extra = tracked(a.repo, *SDIST_ONLY, ref=a.ref)

    problems: list[str] = []
    for name, have, want in (
        ("wheel", in_whl, pkg_files),
        ("sdist", in_sdist, pkg_files | sdist_extra),
    ):
        for f in sorted(want - have):
            problems.append(f"{name} lacks tracked file {f}")
        for f in forbidden(have):
            problems.append(f"{name} holds build or cache debris {f}")
    for d in missing_inits(pkg_files):
        problems.append(f"package folder {d}/ has .py files but no tracked __init__.py")

    for name, path, have, want in (
        ("wheel", whl, in_whl, pkg_files),
        ("sdist", sdist, in_sdist, pkg_files | sdist_extra),
    ):
        size = path.stat().st_size
        print(f"{name}: {path.name}  {size / 1e6:.2f} MB  {len(have)} files")
        untracked = sorted(f for f in have - want if f.startswith(PACKAGES) and "egg-info" not in f)
        if untracked:
            print(f"  {len(untracked)} untracked file(s) in the {name} (work in progress?):")
            for f in untracked:
                print(f"    {f}")
    if problems:
        print(f"FAIL: {len(problems)} problem(s)")
        for p in problems:
            print(f"  {p}")
        return 1
    print(f"OK: all {len(pkg_files)} tracked package files are in the wheel and the sdist")
    return 0


if __name__ == "__main__":
    sys.exit(main())
