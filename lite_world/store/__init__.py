"""The page snapshot: the LMDB store, its codec, page records, URL normalisation, the manifest
and ingest.

Importing this package imports nothing heavy; a store opens through
:mod:`lite_world.store.lmdb_store`.
"""
