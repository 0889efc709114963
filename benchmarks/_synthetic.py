"""Synthetic pages and a fast synthetic embedder for large-world benchmarks.

Pages are made of real English words drawn from the bundled demo corpus (with their corpus
frequencies, so BM25 sees realistic term statistics). Every page belongs to one of ``topics``
topics; a topic owns a few mid-frequency words that its pages use often, which gives both
BM25 and the embedder something to cluster on. Titles are unique.

:class:`HashEmbedder` turns a text into an idf-weighted mean of fixed random word vectors
(word → bucket by CRC32), L2-normalised: deterministic, ~50k texts/s, and *clustered* by topic
(random vectors would make ANN recall meaningless). It reports the default MiniLM name and
dim 384, so a world built with it opens with the real MiniLM query encoder: query latency is
realistic, relevance of dense results is not.

Example:
    >>> gen = PageGenerator(topics=10, seed=0)
    >>> rows = list(gen.rows(3, min_chars=300, max_chars=400))
    >>> len({r["title"] for r in rows}), all(300 <= len(r["text"]) <= 550 for r in rows)
    (3, True)
    >>> e = HashEmbedder(buckets=1024)
    >>> v = e.encode([r["text"] for r in rows])
    >>> v.shape, bool(abs(float((v * v).sum(1)[0]) - 1.0) < 1e-5)
    ((3, 384), True)
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from lite_world.demo import DEMO_DATA, DEMO_SOURCES
from lite_world.index.embedder import DEFAULT_EMBEDDER
from lite_world.tools.text import STOPWORDS

__all__ = ["vocabulary", "PageGenerator", "HashEmbedder", "write_jsonl"]

_WORD = re.compile(r"[a-z]{2,}")


@lru_cache(maxsize=1)
def vocabulary(min_count: int = 2) -> tuple[tuple[str, ...], np.ndarray]:
    """Words of the demo corpus seen at least ``min_count`` times, and their counts (most frequent first)."""
    counts: Counter[str] = Counter()
    for name in DEMO_SOURCES:
        for item in json.loads((DEMO_DATA / name).read_text()):
            counts.update(_WORD.findall(str(item.get("text", "")).lower()))
            counts.update(_WORD.findall(str(item.get("title", "")).lower()))
    words = [(w, c) for w, c in counts.most_common() if c >= min_count]
    return tuple(w for w, _ in words), np.array([c for _, c in words], dtype=np.float64)


class PageGenerator:
    """Deterministic synthetic pages (``{url, title, text}`` rows) grouped into topics.

    Args:
        topics: number of topics (clusters).
        topic_words: distinctive words per topic.
        topic_rate: share of body words drawn from the page's topic words.
        seed: fixes the topics; ``rows(..., seed=...)`` picks the page stream.
    """

    def __init__(
        self, topics: int = 2000, topic_words: int = 12, topic_rate: float = 0.15, seed: int = 0
    ):
        words, counts = vocabulary()
        self.words = np.array(words, dtype=object)
        self.p = counts / counts.sum()
        self.cdf = np.cumsum(self.p)
        self.cdf[-1] = 1.0
        self.topic_rate = topic_rate
        rng = np.random.default_rng(seed)
        # topic words: mid-frequency content words (not the 300 most common, not stopwords)
        pool = np.array(
            [i for i in range(300, min(len(words), 20_000)) if words[i] not in STOPWORDS]
        )
        self.topics = rng.choice(pool, size=(topics, topic_words), replace=True)

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` word indices with corpus frequencies (inverse-CDF sampling; ``rng.choice(p=...)`` is 10× slower)."""
        return np.minimum(np.searchsorted(self.cdf, rng.random(n), side="right"), len(self.cdf) - 1)

    def _sentence_words(self, rng: np.random.Generator, topic: int, n: int) -> np.ndarray:
        idx = self._draw(rng, n)
        is_topic = rng.random(n) < self.topic_rate
        idx[is_topic] = rng.choice(self.topics[topic], size=int(is_topic.sum()))
        return self.words[idx]

    def page(self, rng: np.random.Generator, topic: int, target_chars: int) -> str:
        """Body text of about ``target_chars`` characters: paragraphs of 3–6 sentences."""
        # draw all words at once (~6.3 chars per word with its space), then cut into sentences
        words = self._sentence_words(rng, topic, max(8, int(target_chars / 6.3) + 8))
        lens = rng.integers(8, 21, size=len(words) // 8 + 1)
        paras, para, sents_left, pos, size = [], [], int(rng.integers(3, 7)), 0, 0
        for n in lens:
            if pos >= len(words) or size >= target_chars:
                break
            s = " ".join(words[pos : pos + n])
            pos += n
            s = s[:1].upper() + s[1:] + "."
            para.append(s)
            size += len(s) + 1
            sents_left -= 1
            if sents_left == 0:
                paras.append(" ".join(para))
                para, sents_left = [], int(rng.integers(3, 7))
                size += 1
        if para:
            paras.append(" ".join(para))
        return "\n\n".join(paras)

    def rows(
        self,
        n: int,
        *,
        min_chars: int = 1000,
        max_chars: int = 3000,
        seed: int = 1,
        host: str = "synthetic.lite-world",
    ) -> Iterator[dict[str, Any]]:
        """``n`` pages ``{url, title, text, topic}``; titles (and URLs) are unique within one stream."""
        rng = np.random.default_rng(seed)
        seen: set[str] = set()
        for i in range(n):
            topic = int(rng.integers(len(self.topics)))
            while True:
                k = int(rng.integers(2, 4))
                parts = [self.words[int(rng.choice(self.topics[topic]))]]
                parts += list(self.words[self._draw(rng, k - 1)])
                title = " ".join(str(w).capitalize() for w in parts)
                if title not in seen:
                    seen.add(title)
                    break
                if len(parts) >= 3:  # collisions are rare; disambiguate like Wikipedia does
                    title = f"{title} ({i})"
                    seen.add(title)
                    break
            body = self.page(rng, topic, int(rng.integers(min_chars, max_chars + 1)))
            slug = title.replace(" ", "_").replace("(", "").replace(")", "")
            yield {
                "url": f"https://{host}/{seed}/{slug}",
                "title": title,
                "text": f"# {title}\n\n{body}",
                "topic": topic,
            }

    def queries(self, n: int, *, seed: int = 7) -> list[str]:
        """``n`` unique search-like queries: 2–3 topic words plus 1–3 corpus words."""
        rng = np.random.default_rng(seed)
        out: dict[str, None] = {}
        while len(out) < n:
            t = int(rng.integers(len(self.topics)))
            idx = list(rng.choice(self.topics[t], size=int(rng.integers(2, 4)), replace=False))
            idx += list(self._draw(rng, int(rng.integers(1, 4))))
            rng.shuffle(idx)
            out[" ".join(str(self.words[i]) for i in idx)] = None
        return list(out)


def write_jsonl(path: str | Path, rows: Iterator[dict[str, Any]]) -> int:
    """Write rows as JSONL (atomically); returns the row count."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


class HashEmbedder:
    """idf-weighted mean of random word vectors; fast, deterministic, clustered by shared words.

    Args:
        name: reported model name (default: the MiniLM name, so worlds open with real MiniLM queries).
        dim: vector size.
        buckets: hash buckets (random vectors); 32k × 384 float32 = 48 MiB.
        seed: seeds the random vectors.
    """

    def __init__(
        self, name: str = DEFAULT_EMBEDDER, dim: int = 384, buckets: int = 1 << 15, seed: int = 0
    ):
        self.name, self.dim, self.buckets = name, dim, buckets
        rng = np.random.default_rng(seed)
        self.table = rng.standard_normal((buckets, dim), dtype=np.float32)
        words, counts = vocabulary()
        total = float(counts.sum())
        self.idf = np.full(buckets, math.log(total), dtype=np.float32)  # unseen words: rare
        for w, c in zip(words, counts, strict=False):
            self.idf[zlib.crc32(w.encode()) % buckets] = math.log(total / c)
        for w in STOPWORDS:
            self.idf[zlib.crc32(w.encode()) % buckets] = 0.0
        self._bucket: dict[str, int] = {}

    def encode(
        self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            ids = np.fromiter((self._id(w) for w in _WORD.findall(t.lower())), dtype=np.int64)
            if ids.size:
                w = self.idf[ids]
                out[i] = w @ self.table[ids]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        out /= norms
        return out

    def _id(self, word: str) -> int:
        b = self._bucket.get(word)
        if b is None:
            b = self._bucket[word] = zlib.crc32(word.encode()) % self.buckets
        return b
