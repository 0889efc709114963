"""In-memory decryption of the benchmark files that ship encrypted (and the inverse, for fixtures).

Two public schemes, both keyed by a per-row ``canary`` string:

- **Xbench-DeepSearch**: ``base64(text XOR canary bytes)``, the canary's UTF-8 bytes repeated.
- **BrowseComp** (OpenAI simple-evals): ``base64(text XOR key)``, where ``key`` is the SHA-256
  digest of the canary repeated to the text's length.

Plain text only ever lives in memory; nothing here writes to disk.

Example:
    >>> secret = xor_encrypt("谁发明了电话?", "test-canary")
    >>> xor_decrypt(secret, "test-canary")
    '谁发明了电话?'
    >>> browsecomp_decrypt(browsecomp_encrypt("Who?", "c"), "c")
    'Who?'
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from lite_world.errors import TaskError

__all__ = ["xor_encrypt", "xor_decrypt", "browsecomp_encrypt", "browsecomp_decrypt", "derive_key"]


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError) as exc:
        raise TaskError(
            f"Expects {what} to be base64 text (an encrypted benchmark cell), actual: "
            f"{str(text)[:40]!r}. "
            "Pass the benchmark file as published, not a decrypted copy."
        ) from exc


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TaskError(
            f"Expects {what} to decrypt to UTF-8 text, actual: undecodable bytes. "
            "Check that the row's canary column is the one it was encrypted with."
        ) from exc


def xor_encrypt(text: str, canary: str) -> str:
    """Xbench-style encryption: ``base64(utf8(text) XOR utf8(canary) repeated)``."""
    return base64.b64encode(_xor(text.encode("utf-8"), _canary(canary))).decode("ascii")


def xor_decrypt(cipher: str, canary: str) -> str:
    """Inverse of :func:`xor_encrypt` (Xbench-DeepSearch's published scheme)."""
    return _text(_xor(_b64(cipher, "an Xbench cell"), _canary(canary)), "an Xbench cell")


def derive_key(canary: str, length: int) -> bytes:
    """SHA-256 of the canary, repeated (and cut) to ``length`` bytes.

    Example:
        >>> len(derive_key("c", 70)), derive_key("c", 70)[:32] == derive_key("c", 70)[32:64]
        (70, True)
    """
    digest = hashlib.sha256(_canary(canary)).digest()
    return (digest * (length // len(digest) + 1))[:length]


def browsecomp_encrypt(text: str, canary: str) -> str:
    """BrowseComp-style encryption: ``base64(utf8(text) XOR derive_key(canary))``."""
    data = text.encode("utf-8")
    return base64.b64encode(_xor(data, derive_key(canary, len(data)))).decode("ascii")


def browsecomp_decrypt(cipher: str, canary: str) -> str:
    """Inverse of :func:`browsecomp_encrypt` (the simple-evals scheme)."""
    data = _b64(cipher, "a BrowseComp cell")
    return _text(_xor(data, derive_key(canary, len(data))), "a BrowseComp cell")


def _canary(canary: str) -> bytes:
    if not isinstance(canary, str) or not canary:
        raise TaskError(
            f"Expects a non-empty canary string for an encrypted row, actual: {canary!r}. "
            "The file's 'canary' column must be filled on every row."
        )
    return canary.encode("utf-8")
