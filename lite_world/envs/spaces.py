"""A text space for natural-language observations and actions.

``gymnasium.spaces.Text`` accepts only characters of its charset (alphanumerics by default);
search results and model turns contain any Unicode. :class:`AnyText` keeps ``Text``'s
length bounds and sampling but accepts every ``str`` within them.

``AsyncVectorEnv`` passes observations through shared memory by default, which cannot carry
strings (Gymnasium 1.x reads the buffer once, expecting array views). For ``AnyText`` it fails at
construction, naming the fix: ``gym.make_vec(..., vector_kwargs={"shared_memory": False})``.

Example:
    >>> s = AnyText(max_length=20)
    >>> "Größe: 5 km — «ok»" in s, 42 in s, "x" * 21 in s
    (True, False, False)
"""

from __future__ import annotations

import multiprocessing as mp
from types import ModuleType
from typing import Any

from gymnasium.error import CustomSpaceError
from gymnasium.spaces import Text
from gymnasium.vector.utils import shared_memory as _shm

__all__ = ["AnyText"]


class AnyText(Text):
    """Any string of ``min_length`` to ``max_length`` characters."""

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"


@_shm.create_shared_memory.register(AnyText)
def _no_shared_memory(space: AnyText, n: int = 1, ctx: ModuleType = mp) -> Any:
    # Gymnasium reads shared memory once, at construction, expecting live array views; a
    # tuple of str cannot be one, so observations would stay "" forever. Fail loudly instead.
    raise CustomSpaceError(
        f"Expects shared_memory=False for {space} observations (strings cannot be shared-memory "
        "views), actual: shared_memory=True. Pass vector_kwargs={'shared_memory': False} to gym.make_vec."
    )
