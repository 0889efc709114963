"""Text utilities shared by the Search and Browse tools: tokens, passages, BM25 passage ranking.

Everything here is deterministic and linear in the page length.

Example:
    >>> ps = split_passages("Paris is in France.\\n\\nBerlin is in Germany. It is big.", max_chars=40)
    >>> ps
    ['Paris is in France.', 'Berlin is in Germany. It is big.']
    >>> rank_passages(ps, "where is berlin")[0]
    1
    >>> best_snippet("Intro text. The Eiffel Tower is in Paris. Other.", "eiffel tower")
    'The Eiffel Tower is in Paris.'
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = [
    "tokenize",
    "split_sentences",
    "split_passages",
    "rank_passages",
    "best_snippet",
    "STOPWORDS",
]

_TOKEN = re.compile(r"\w\w+", re.UNICODE)
# Split after . ! ? before an upper-case letter/digit/quote, but not after an initial ("G. Stanley Hall").
_SENT = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)\s+(?=[\"'(\[A-Z0-9])")
SNIPPET_SCAN_CHARS = 8000
STOPWORDS = frozenset(
    "a an and are as at be by for from has have he her his in is it its of on or she that the their they this "
    "to was were which who will with what when where how why whom whose did does do".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (2+ chars) without stopwords.

    Example:
        >>> tokenize("Where is the Eiffel Tower?")
        ['eiffel', 'tower']
    """
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def split_sentences(text: str) -> list[str]:
    """Split on sentence punctuation followed by space and an upper-case letter/digit (initials stay joined).

    Example:
        >>> split_sentences("Founded by G. Stanley Hall in 1892. It grew.")
        ['Founded by G. Stanley Hall in 1892.', 'It grew.']
    """
    return [s.strip() for s in _SENT.split(text) if s.strip()]


def split_passages(markdown: str, max_chars: int = 600) -> list[str]:
    """Paragraphs of the page; long paragraphs are cut into sentence windows of ≤ ``max_chars``."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", markdown):
        para = " ".join(para.split())
        if not para:
            continue
        if len(para) <= max_chars:
            out.append(para)
            continue
        buf = ""
        for sent in split_sentences(para):
            while len(sent) > max_chars:  # a run-on "sentence": hard cut at a space
                cut = sent.rfind(" ", 0, max_chars)
                cut = cut if cut > max_chars // 2 else max_chars
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(sent[:cut].strip())
                sent = sent[cut:].strip()
            if buf and len(buf) + 1 + len(sent) > max_chars:
                out.append(buf)
                buf = sent
            else:
                buf = f"{buf} {sent}".strip()
        if buf:
            out.append(buf)
    return out


def rank_passages(
    passages: list[str], query: str, *, k1: float = 1.2, b: float = 0.75
) -> list[int]:
    """Passage indices by BM25 score against ``query`` (ties: page order)."""
    q = set(tokenize(query))
    if not passages:
        return []
    docs = [tokenize(p) for p in passages]
    if not q:
        return list(range(len(passages)))
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n or 1.0
    df = Counter(t for d in docs for t in set(d) if t in q)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in df}
    scores = []
    for d in docs:
        tf = Counter(t for t in d if t in idf)
        s = sum(idf[t] * tf[t] * (k1 + 1) / (tf[t] + k1 * (1 - b + b * len(d) / avgdl)) for t in tf)
        scores.append(s)
    return sorted(range(n), key=lambda i: (-scores[i], i))


def best_snippet(text: str, query: str, max_chars: int = 240) -> str:
    """The sentence of ``text`` (its first ``SNIPPET_SCAN_CHARS``) that best matches ``query``, cut to ``max_chars``."""
    # Only the head of the page is scanned: snippet cost must not grow with page size (crawled
    # pages run to 100 KB; ten snippets per search call).
    passages = [
        p
        for p in split_passages(text[:SNIPPET_SCAN_CHARS], max_chars=max_chars)
        if not p.startswith("#")
    ]
    sents = [s for p in passages for s in split_sentences(p)] or [text.strip()]
    q = set(tokenize(query))
    best = max(range(len(sents)), key=lambda i: (len(q & set(tokenize(sents[i]))), -i)) if q else 0
    s = sents[best]
    if len(s) > max_chars:
        s = s[:max_chars].rsplit(" ", 1)[0] + "..."
    return s
