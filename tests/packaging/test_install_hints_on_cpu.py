"""Install hints name extras that exist, and a missing optional stack says which one to install."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

import pytest

from lite_world._lazy import _HINTS, require
from lite_world.errors import MissingDependencyError

ROOT = Path(__file__).resolve().parents[2]


def extras() -> set[str]:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg")
    return set(cfg["options.extras_require"])


def test_every_hinted_extra_exists():
    hinted = {
        extra
        for hint in _HINTS.values()
        for group in re.findall(r"lite-world\[([a-z,]+)\]", hint)
        for extra in group.split(",")
    }
    assert {"cpu", "gpu", "ingest", "plot", "serve", "llm", "sft", "verl"} <= hinted
    assert hinted <= extras()


def test_cpu_and_gpu_include_the_build_demo_and_report_sets():
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg")
    section = cfg["options.extras_require"]
    for machine in ("cpu", "gpu"):
        assert "lite-world[dense,ingest,plot]" in section[machine].split()
    core = cfg["options"]["install_requires"]
    for heavy in ("torch", "faiss", "sentence-transformers", "matplotlib", "trafilatura"):
        assert heavy not in core


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("sentence_transformers", "lite-world[cpu]"),
        ("faiss", "lite-world[cpu]"),
        ("trafilatura", "lite-world[ingest]"),
        ("pyarrow.parquet", "lite-world[ingest]"),
        ("matplotlib", "lite-world[plot]"),
    ],
)
def test_missing_optional_module_names_its_extra(monkeypatch, module, extra):
    # A None entry in sys.modules makes the import fail as if the package were not installed.
    root = module.split(".")[0]
    if module != root:
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, root, None)
    with pytest.raises(MissingDependencyError, match=re.escape(extra)) as err:
        require(module)
    assert f"Expects the optional dependency {module!r}" in str(err.value)
