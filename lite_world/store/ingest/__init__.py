"""Ingest: pages from JSONL/Parquet rows, HTML directories, WARC files, Wikipedia paragraphs."""

from lite_world.store.ingest.sources import RawPage, detect_kind, iter_source

__all__ = ["RawPage", "detect_kind", "iter_source"]
