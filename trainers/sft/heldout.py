"""The held-out side of SFT: which conversations are held out, and when to stop.

A student that copies a deterministic teacher drives its training loss towards 0 and its
predictive entropy with it, which leaves RL groups with identical rewards. A held-out loss shows
when it stops generalising: :func:`split_held_out` sets conversations aside (seeded), and
:class:`EarlyStopping` follows the held-out loss, remembers the best evaluation and says when
``patience`` evaluations in a row did not improve on it. Both are pure: no torch, no model.

Example:
    >>> train, held_out = split_held_out([{"id": i} for i in range(10)], 0.2, seed=0)
    >>> len(train), len(held_out)
    (8, 2)
    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.update(step, loss) for step, loss in [(1, 2.0), (2, 1.5), (3, 1.6), (4, 1.7)]]
    [True, True, False, False]
    >>> stopper.best_step, stopper.best_loss, stopper.should_stop
    (2, 1.5, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from lite_world.errors import ConfigError

__all__ = ["EarlyStopping", "held_out_count", "split_held_out"]

T = TypeVar("T")

_SPLIT_STREAM = 0x5E1D
"""Mixed into the seed so the split's draw is independent of the training order's."""


def held_out_count(num_records: int, fraction: float) -> int:
    """How many of ``num_records`` conversations ``fraction`` holds out: ``ceil(fraction * n)``,
    so at least one, and at least one must be left to train on.

    Raises:
        ConfigError: ``fraction`` is not in (0, 1), or nothing would be left to train on.

    Example:
        >>> held_out_count(45, 0.1), held_out_count(3, 0.01), held_out_count(10, 0.5)
        (5, 1, 5)
        >>> held_out_count(1, 0.5)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lite_world.errors.ConfigError: Expects SFTConfig.eval_fraction to leave at least one ...
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise ConfigError(f"Expects SFTConfig.eval_fraction in (0, 1), actual: {fraction!r}")
    if not 0 < fraction < 1:
        raise ConfigError(f"Expects SFTConfig.eval_fraction in (0, 1), actual: {fraction!r}")
    count = max(1, math.ceil(fraction * num_records - 1e-9))
    if count >= num_records:
        raise ConfigError(
            "Expects SFTConfig.eval_fraction to leave at least one conversation to train on, actual: "
            f"{count} of {num_records} held out (eval_fraction={fraction}). Add conversations, lower "
            "eval_fraction or pass separate held-out data (eval_data)"
        )
    return count


def split_held_out(records: Sequence[T], fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """``(train, held_out)``: :func:`held_out_count` records drawn without replacement (seeded),
    both lists in their original order. The same records, fraction and seed give the same split.

    Example:
        >>> split_held_out(list("abcdef"), 0.34, seed=0) == split_held_out(list("abcdef"), 0.34, seed=0)
        True
        >>> train, held_out = split_held_out(list("abcdef"), 0.34, seed=0)
        >>> sorted(train + held_out), len(held_out)
        (['a', 'b', 'c', 'd', 'e', 'f'], 3)
    """
    records = list(records)
    count = held_out_count(len(records), fraction)
    rng = np.random.default_rng([int(seed), _SPLIT_STREAM])
    chosen = set(rng.choice(len(records), size=count, replace=False).tolist())
    train = [r for i, r in enumerate(records) if i not in chosen]
    held_out = [r for i, r in enumerate(records) if i in chosen]
    return train, held_out


@dataclass
class EarlyStopping:
    """Follows the held-out loss of successive evaluations.

    ``best_step`` / ``best_loss`` are the evaluation with the lowest loss so far (the weights to
    restore). ``bad_evals`` counts the evaluations in a row that did not improve by more than
    ``min_delta`` on the loss of the last evaluation that did (Keras' rule; with ``min_delta=0``
    that is the best loss). ``should_stop`` once ``bad_evals >= patience`` (never with
    ``patience=0``). A non-finite loss never improves.

    Example:
        >>> s = EarlyStopping(patience=2, min_delta=0.1)
        >>> [s.update(step, loss) for step, loss in [(10, 1.0), (20, 0.95), (30, 0.92)]]
        [True, True, True]
        >>> s.best_step, s.bad_evals, s.should_stop  # 0.95 and 0.92 improved, by less than 0.1
        (30, 2, True)
        >>> EarlyStopping().update(1, float("nan"))
        False
    """

    patience: int = 0
    min_delta: float = 0.0
    best_step: int | None = None
    best_loss: float = math.inf
    reference: float = math.inf
    bad_evals: int = 0
    evaluations: int = 0

    def update(self, step: int, loss: float) -> bool:
        """Record the evaluation of ``step``; return whether it is the new best (lowest) loss."""
        self.evaluations += 1
        finite = math.isfinite(loss)
        if finite and loss < self.reference - self.min_delta:
            self.reference, self.bad_evals = loss, 0
        else:
            self.bad_evals += 1
        if finite and loss < self.best_loss:
            self.best_step, self.best_loss = step, float(loss)
            return True
        return False

    @property
    def should_stop(self) -> bool:
        """``patience`` evaluations in a row without an improvement (False with ``patience=0``)."""
        return self.patience > 0 and self.bad_evals >= self.patience

    def state(self) -> dict[str, Any]:
        """The figures ``trainer_state.json`` records: ``best_step``, ``best_eval_loss``, ``evaluations``.

        Example:
            >>> s = EarlyStopping(); _ = s.update(4, 0.5); s.state()
            {'best_step': 4, 'best_eval_loss': 0.5, 'evaluations': 1}
        """
        return {
            "best_step": self.best_step,
            "best_eval_loss": self.best_loss if self.best_step is not None else None,
            "evaluations": self.evaluations,
        }
