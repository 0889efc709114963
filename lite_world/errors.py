"""One error hierarchy for lite-world.

Every error says what was expected, what was found, and how to fix it.

Example:
    >>> from lite_world.errors import LiteWorldError, WorldNotFoundError
    >>> issubclass(WorldNotFoundError, LiteWorldError)
    True
"""

from __future__ import annotations

__all__ = [
    "LiteWorldError",
    "ConfigError",
    "MissingDependencyError",
    "WorldError",
    "WorldNotFoundError",
    "WorldCorruptedError",
    "EmbedderMismatchError",
    "ModelNotFoundError",
    "IngestError",
    "TaskError",
    "ServiceError",
]


class LiteWorldError(Exception):
    """Root of all lite-world errors."""


class ConfigError(LiteWorldError, ValueError):
    """A configuration value is invalid. The message names the field, the expected and the actual value."""


class MissingDependencyError(LiteWorldError, ImportError):
    """An optional dependency is not installed. The message names the ``pip install`` to run."""


class WorldError(LiteWorldError):
    """Something is wrong with a world directory."""


class WorldNotFoundError(WorldError, FileNotFoundError):
    """The world directory, its LMDB store, index or manifest does not exist."""


class WorldCorruptedError(WorldError):
    """The world exists but its manifest and contents disagree (or cannot be read)."""


class EmbedderMismatchError(WorldError):
    """The index was built with another embedder (name or dimension) than the one requested."""


class ModelNotFoundError(LiteWorldError, FileNotFoundError):
    """A model (e.g. a world's query embedder) is not on this machine; nothing is downloaded at run time.

    The message names the model and how to get it (a download command or a local path).
    """


class IngestError(LiteWorldError):
    """An ingest input could not be read."""


class TaskError(LiteWorldError, ValueError):
    """A task record or task file is malformed."""


class ServiceError(LiteWorldError, ConnectionError):
    """A remote service (judge, LLM endpoint, world server) could not be reached or answered badly."""
