"""Value codec for the LMDB page store: JSON, zstd-compressed, optionally with a trained dictionary.

Chosen by measurement (``benchmarks/bench_store_codec.py``): zstd level 3 reads in ~10 µs per
page and, with a dictionary trained on the first pages, stores short Wikipedia-like pages in
well under half the space of raw JSON. The first byte of every value names its encoding, so
a store can mix encodings (raw values written before the dictionary existed stay readable).

Decompressors are not thread-safe: one per thread.

Example:
    >>> c = PageCodec(level=3)
    >>> rec = {"url": "https://a.org", "markdown": "x" * 1000}
    >>> c.decode(c.encode(rec))["markdown"] == "x" * 1000
    True
"""

from __future__ import annotations

import json
import threading
from typing import Any

import zstandard

__all__ = ["PageCodec", "train_dictionary"]

RAW, ZSTD, ZSTD_DICT = b"\x00", b"\x01", b"\x02"


def train_dictionary(samples: list[bytes], size: int = 112_640) -> bytes | None:
    """Train a zstd dictionary on raw JSON samples; ``None`` when there are too few to train on."""
    if len(samples) < 64:
        return None
    try:
        return zstandard.train_dictionary(size, samples).as_bytes()  # type: ignore[arg-type]
    except zstandard.ZstdError:
        return None


class PageCodec:
    """Encode/decode page dicts; ``compression`` is ``"zstd"`` (default) or ``"none"``."""

    def __init__(self, compression: str = "zstd", level: int = 3, dictionary: bytes | None = None):
        if compression not in ("zstd", "none"):
            from lite_world.errors import ConfigError

            raise ConfigError(f"Expects compression 'zstd' or 'none', actual: {compression!r}")
        self.compression = compression
        self.level = level
        self._dict = zstandard.ZstdCompressionDict(dictionary) if dictionary else None
        self._local = threading.local()

    @property
    def has_dictionary(self) -> bool:
        return self._dict is not None

    def _compressor(self) -> zstandard.ZstdCompressor:
        c = getattr(self._local, "c", None)
        if c is None:
            c = (
                zstandard.ZstdCompressor(level=self.level, dict_data=self._dict)
                if self._dict
                else zstandard.ZstdCompressor(level=self.level)
            )
            self._local.c = c
        return c

    def _decompressor(self, with_dict: bool) -> zstandard.ZstdDecompressor:
        name = "dd" if with_dict else "d"
        d = getattr(self._local, name, None)
        if d is None:
            d = (
                zstandard.ZstdDecompressor(dict_data=self._dict)
                if with_dict
                else zstandard.ZstdDecompressor()
            )
            setattr(self._local, name, d)
        return d

    def encode(self, value: dict[str, Any]) -> bytes:
        raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        )
        if self.compression == "none":
            return RAW + raw
        return (ZSTD_DICT if self._dict else ZSTD) + self._compressor().compress(raw)

    def decode(self, data: bytes) -> dict[str, Any]:
        tag, body = data[:1], memoryview(data)[1:]
        if tag == RAW:
            raw = bytes(body)
        elif tag == ZSTD:
            raw = self._decompressor(False).decompress(body)
        elif tag == ZSTD_DICT:
            if self._dict is None:
                raise ValueError("value was compressed with a dictionary the store does not have")
            raw = self._decompressor(True).decompress(body)
        else:
            raise ValueError(f"unknown value encoding tag {tag!r}")
        return json.loads(raw.decode("utf-8", "surrogatepass"))
