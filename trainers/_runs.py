"""What the trainers' run directories share: atomic directory writes, numbered checkpoints, bf16.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> for step in (1, 2, 3):
    ...     write_dir(out / f"{CHECKPOINT_PREFIX}{step:06d}", lambda tmp: (tmp / "trainer_state.json").write_text("{}"))
    >>> prune_checkpoints(out, keep=2)
    >>> [p.name for p in checkpoint_dirs(out)]
    ['checkpoint-000002', 'checkpoint-000003']
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKPOINT_PREFIX",
    "bf16_autocast",
    "checkpoint_dirs",
    "prune_checkpoints",
    "write_dir",
]

CHECKPOINT_PREFIX = "checkpoint-"
"""Checkpoints are ``output_dir/checkpoint-{step:06d}/``."""


def write_dir(final: Path, write: Callable[[Path], Any]) -> None:
    """Write a directory through ``write(tmp)`` next to it, then swap it in (no half-written ``final``)."""
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def checkpoint_dirs(output_dir: Path) -> list[Path]:
    """The complete checkpoints of a run (those with ``trainer_state.json``), oldest first."""
    found = [
        p
        for p in output_dir.glob(f"{CHECKPOINT_PREFIX}*")
        if p.is_dir()
        and p.name[len(CHECKPOINT_PREFIX) :].isdigit()
        and (p / "trainer_state.json").is_file()
    ]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX) :]))


def prune_checkpoints(output_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (``keep=0`` keeps all)."""
    if keep:
        for old in checkpoint_dirs(output_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def bf16_autocast(mixed_precision: str, device_type: str) -> Iterator[None]:
    """bfloat16 autocast on ``device_type`` when ``mixed_precision == "bf16"``, else nothing."""
    if mixed_precision != "bf16":
        yield
        return
    import torch

    with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
        yield
