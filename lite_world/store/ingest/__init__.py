"""Ingest: read pages from JSONL/Parquet rows, HTML directories, WARC files and Wikipedia paragraph sets."""

from lite_world.store.ingest.sources import RawPage, detect_kind, iter_source

__all__ = ["RawPage", "detect_kind", "iter_source"]
