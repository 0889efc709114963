"""Retrieval backends: embedders, the FAISS dense index, the BM25 sparse index and fusion."""
