"""Build a world: ingest pages → embed title + summary → dense index → BM25 → manifest.

Every stage is resumable. Pages are committed in batches (a killed run keeps every committed
batch); embeddings are appended to ``index/embeddings.f32`` in chunks with a row counter, so
re-running embeds only new rows; the indexes are rebuilt at the end. The manifest, with the size
and blake2b digest of every file, is written last: a world without one is an unfinished build.

Extending a world is atomic for its readers: the new indexes go into the other generation
directory (``index.next/`` when the world uses ``index/``, and back, see
:mod:`lite_world.layout`), the manifest is replaced atomically to point at them, and only then
are the old ones deleted. Until that switch, readers keep the old indexes and the manifest's
pages (:class:`~lite_world.world.World` does not serve pages beyond the manifest's count).

Example:
    >>> cfg = BuildConfig(min_chars=50)
    >>> cfg.min_chars
    50
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lite_world.errors import (
    ConfigError,
    EmbedderMismatchError,
    IngestError,
    WorldCorruptedError,
    WorldNotFoundError,
)
from lite_world.index.dense import DenseIndex
from lite_world.index.embedder import DEFAULT_EMBEDDER, Embedder, get_embedder
from lite_world.index.sparse import BM25Index
from lite_world.layout import (
    BM25_DIRNAME,
    EMBEDDINGS,
    EMBEDDINGS_STATE,
    INDEX_DIRNAME,
    index_files,
    other_index_dir,
)
from lite_world.store.ingest.html import html_to_markdown
from lite_world.store.ingest.sources import RawPage, iter_source
from lite_world.store.lmdb_store import PageStore
from lite_world.store.manifest import Manifest, read_manifest, write_manifest
from lite_world.store.page import Page
from lite_world.verify import record_files

__all__ = ["BuildConfig", "build_world", "ingest", "embed_pages", "build_indexes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    """How to build a world."""

    min_chars: int = field(
        default=1000,
        metadata={"help": "Drop pages with less Markdown than this (the paper keeps > 1000)."},
    )
    embedder: str = field(
        default=DEFAULT_EMBEDDER, metadata={"help": "sentence-transformers model name or path."}
    )
    index_factory: str | None = field(
        default=None, metadata={"help": "FAISS factory string; None picks by page count."}
    )
    compression: str = field(
        default="zstd", metadata={"help": "'zstd' (with a trained dictionary) or 'none'."}
    )
    batch_size: int = field(default=1000, metadata={"help": "Pages per LMDB write transaction."})
    embed_batch_size: int = field(default=64, metadata={"help": "Texts per encoder forward pass."})
    embed_chunk: int = field(default=2048, metadata={"help": "Rows embedded between checkpoints."})
    device: str | None = field(
        default=None, metadata={"help": "Encoder device (None: CUDA if available)."}
    )
    show_progress: bool = field(default=True, metadata={"help": "Show tqdm progress bars."})
    corpus_group: str = field(
        default="passage",
        metadata={"help": "Search-R1 corpora: one page per 'passage' row, or per 'title'."},
    )
    encoder_config: dict | None = field(
        default=None,
        metadata={"help": "EncoderConfig fields (prefixes, pooling...); recorded in the manifest."},
    )
    adopt_index: str | None = field(
        default=None,
        metadata={"help": "A FAISS index over the (single) Search-R1 corpus input to adopt."},
    )

    def __post_init__(self) -> None:
        if self.min_chars < 0:
            raise ConfigError(f"Expects min_chars >= 0, actual: {self.min_chars}")
        if self.batch_size < 1 or self.embed_batch_size < 1 or self.embed_chunk < 1:
            raise ConfigError("Expects batch_size, embed_batch_size and embed_chunk >= 1")
        if self.compression not in ("zstd", "none"):
            raise ConfigError(f"Expects compression 'zstd' or 'none', actual: {self.compression!r}")
        if self.corpus_group not in ("passage", "title"):
            raise ConfigError(
                f"Expects corpus_group 'passage' or 'title', actual: {self.corpus_group!r}"
            )


def _to_page(raw: RawPage) -> Page | None:
    title = raw.title
    if raw.markdown:
        md = raw.markdown
    elif raw.text:
        md = raw.text
    elif raw.html:
        md, html_title = html_to_markdown(raw.html, raw.url)
        title = title or html_title
    else:
        return None
    md = md.replace("\x00", "").strip()
    if not md:
        return None
    return Page.create(
        raw.url, title or raw.url, md, source=raw.source, date=raw.date, summary=raw.summary
    )


def ingest(
    store: PageStore, inputs: Sequence[str | os.PathLike[str]], config: BuildConfig
) -> dict[str, int]:
    """Read every input into the store; returns counts (seen, added, short, duplicate, empty)."""
    counts = {"seen": 0, "added": 0, "too_short": 0, "duplicate": 0, "empty": 0}
    bar = tqdm(desc="ingest", unit="page", disable=not config.show_progress)
    batch: list[Page] = []

    def flush() -> None:
        added = store.put_many(batch)
        counts["added"] += added
        counts["duplicate"] += len(batch) - added
        batch.clear()

    for inp in inputs:
        for raw in iter_source(inp, group=config.corpus_group):
            counts["seen"] += 1
            bar.update(1)
            if raw.url in store:  # resume: stored already, skip the conversion
                counts["duplicate"] += 1
                continue
            page = _to_page(raw)
            if page is None:
                counts["empty"] += 1
                continue
            if len(page.markdown) < config.min_chars and not raw.keep_short:
                counts["too_short"] += 1
                continue
            batch.append(page)
            if len(batch) >= config.batch_size:
                flush()
    if batch:
        flush()
    bar.close()
    return counts


def _emb_state(world: Path) -> dict[str, object]:
    p = world / INDEX_DIRNAME / EMBEDDINGS_STATE
    return json.loads(p.read_text()) if p.is_file() else {}


def embed_pages(
    store: PageStore, world: Path, embedder: Embedder, config: BuildConfig
) -> np.ndarray:
    """Embed title + summary of rows not yet embedded; returns a memmap of all row vectors."""
    d = world / INDEX_DIRNAME
    d.mkdir(parents=True, exist_ok=True)
    state = _emb_state(world)
    done = int(state.get("rows", 0))  # type: ignore[call-overload]
    if state and (state.get("embedder") != embedder.name or state.get("dim") != embedder.dim):
        if done:
            raise EmbedderMismatchError(
                f"Expects new pages to be embedded with {state.get('embedder')!r} (dim "
                f"{state.get('dim')}) like the "
                f"existing {done} rows, actual: {embedder.name!r} (dim {embedder.dim}). Use the "
                "same --embedder, or "
                f"delete {d} to re-embed everything."
            )
    emb_path = d / EMBEDDINGS
    row_bytes = embedder.dim * 4
    with open(emb_path, "ab") as f:
        f.truncate(done * row_bytes)  # drop a partly written chunk from a killed run
    total = store.next_id
    bar = tqdm(
        total=total, initial=done, desc="embed", unit="page", disable=not config.show_progress
    )
    while done < total:
        end = min(total, done + config.embed_chunk)
        texts = [r["summary"] for r in store.iter_records(done, end)]
        encode = getattr(embedder, "encode_passages", None) or embedder.encode  # passage prefix
        vecs = encode(texts, batch_size=config.embed_batch_size)
        with open(emb_path, "ab") as f:
            f.write(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
            f.flush()
            os.fsync(f.fileno())
        done = end
        (d / EMBEDDINGS_STATE).write_text(
            json.dumps({"embedder": embedder.name, "dim": embedder.dim, "rows": done})
        )
        bar.update(len(texts))
    bar.close()
    if total == 0:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.memmap(emb_path, dtype=np.float32, mode="r", shape=(total, embedder.dim))


def build_indexes(
    store: PageStore,
    world: Path,
    vectors: np.ndarray,
    config: BuildConfig,
    *,
    index_dir: str = INDEX_DIRNAME,
) -> tuple[DenseIndex, BM25Index]:
    """Build and save the dense and BM25 indexes over all rows into ``world/index_dir``."""
    t = time.perf_counter()
    dense = DenseIndex.build(np.asarray(vectors), config.index_factory)
    dense.save(world, index_dir=index_dir)
    logger.info(
        "dense index %s over %d rows in %.1fs", dense.factory, dense.ntotal, time.perf_counter() - t
    )

    def texts() -> Iterable[str]:
        for r in store.iter_records():
            yield f"{r['title']}\n{r['markdown']}"

    sparse = BM25Index.build(texts(), show_progress=config.show_progress, n_docs=store.next_id)
    sparse.save(world, index_dir=index_dir)
    return dense, sparse


def _previous_manifest(world: Path) -> Manifest | None:
    try:
        return read_manifest(world)
    except WorldNotFoundError:
        return None
    except WorldCorruptedError as exc:
        logger.warning(
            "ignoring the unreadable manifest of %s (%s); the build writes a new one", world, exc
        )
        return None


def _remove_generation(world: Path, index_dir: str) -> None:
    """Delete one generation's index files (never the embeddings, which live in ``index/``)."""
    for f in index_files(index_dir):
        (world / f.path).unlink(missing_ok=True)
    shutil.rmtree(world / index_dir / BM25_DIRNAME, ignore_errors=True)
    if index_dir != INDEX_DIRNAME:
        shutil.rmtree(world / index_dir, ignore_errors=True)


def _embedder(config: BuildConfig, given: Embedder | None) -> tuple[Embedder, dict]:
    """The build's encoder and the semantic fields the manifest records ({} for the default)."""
    from lite_world.index.encoders import EncoderConfig, get_encoder

    if given is not None:
        cfg = getattr(given, "config", None)
        if not isinstance(cfg, EncoderConfig) or cfg.semantics() == EncoderConfig().semantics():
            return given, {}  # the default pipeline (on CPU an Encoder too) records nothing
        return given, cfg.semantics()
    if config.encoder_config or config.adopt_index:
        fields = {"backend": "torch", "dtype": "float32", **(config.encoder_config or {})}
        cfg = EncoderConfig.from_dict({"model": config.embedder, **fields})  # fp32 page vectors
        return get_encoder(cfg, config.device, None), cfg.semantics()
    embedder = get_embedder(config.embedder, config.device, dtype="float32")  # page vectors
    cfg = getattr(embedder, "config", None)
    if isinstance(cfg, EncoderConfig) and cfg.dtype != "float32":  # $LITE_WORLD_ENCODER_BACKEND
        embedder = get_encoder(cfg.replace(dtype="float32"), config.device, None)
    return embedder, {}


def build_world(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: BuildConfig | None = None,
    *,
    embedder: Embedder | None = None,
) -> Manifest:
    """Build (or resume building, or extend) the world at ``out`` from ``inputs``.

    Returns:
        The written :class:`Manifest`.
    """
    config = config or BuildConfig()
    world = Path(out)
    t0 = time.perf_counter()
    world.mkdir(parents=True, exist_ok=True)
    previous = _previous_manifest(world)
    # a world in use keeps its indexes until the manifest switches to the new generation
    index_dir = other_index_dir(previous.index_dir) if previous is not None else INDEX_DIRNAME
    with PageStore(world, readonly=False, compression=config.compression) as store:
        counts = ingest(store, inputs, config)
        logger.info("ingest: %s", counts)
        if len(store) == 0:
            raise IngestError(
                f"Expects at least one page to index, actual: none kept from {counts['seen']} "
                "input pages "
                f"({counts['too_short']} shorter than min_chars={config.min_chars}, "
                f"{counts['empty']} empty). "
                "Lower --min-chars or check the inputs."
            )
        emb, encoder_config = _embedder(config, embedder)
        if config.adopt_index:  # the corpus's existing vectors (lite_world.index.adopt)
            from lite_world.index.adopt import adopt_vectors, adopted_factory, read_adopted

            if len(inputs) != 1:
                raise ConfigError(f"Expects one corpus input with adopt_index, actual: {inputs}")
            vectors = adopt_vectors(config.adopt_index, inputs[0], store, world, emb.dim,
                                    embedder=emb.name, group=config.corpus_group,
                                    show_progress=config.show_progress)  # fmt: skip
            factory = config.index_factory or adopted_factory(read_adopted(config.adopt_index))
            config = replace(config, index_factory=factory)
        else:
            vectors = embed_pages(store, world, emb, config)
        _remove_generation(world, index_dir)  # leftovers of an interrupted build
        dense, sparse = build_indexes(store, world, vectors, config, index_dir=index_dir)
        store.sync()
        n = len(store)
        if n != store.next_id:  # pages and rows must agree one to one
            raise RuntimeError(f"store has {n} pages but {store.next_id} rows")
        store_digest, store_stats = store.content_digest(), store.stats()
    previous_sources = previous.sources if previous is not None else []
    sources = list(dict.fromkeys([*previous_sources, *(str(Path(i).name) for i in inputs)]))
    manifest = Manifest(
        page_count=n,
        store_digest=store_digest,
        embedder=emb.name,
        embedding_dim=emb.dim,
        index_factory=dense.factory,
        index_params=dense.params,
        sources=sources,
        bm25={"n_docs": sparse.n_docs, "k1": 1.2, "b": 0.75, "text": "title + markdown"},
        build_config={**asdict(config), "last_ingest": counts, "store": store_stats},
        build_seconds=round(time.perf_counter() - t0, 2),
        files=record_files(world, index_dir),
        index_dir=index_dir,
        embedder_config=encoder_config,
    )
    write_manifest(world, manifest)  # the atomic switch to the new indexes
    if previous is not None and previous.index_dir != index_dir:
        _remove_generation(world, previous.index_dir)
    return manifest
