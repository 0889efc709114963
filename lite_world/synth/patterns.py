"""Pattern tasks: single-hop questions read off a page's lead sentence by rules, no LLM.

Wikipedia biographies and film articles open with a sentence of a fixed shape: ``Name( 3 May
1886 – 12 March 1950) was an American poet`` and ``Jazz Boat is a 1960 British comedy film
directed by Ken Hughes``. Four templates turn them into questions whose answer is a span of
that sentence: the birth year, the death year, a film's year and its director. The evidence is
in the world by construction (the page the sentence came from), and the answer is short and
exact, so exact match is a fair reward. The templates are deliberately alike: telling "born"
from "died" (the first year in the parentheses or the second), and a director's name from the
film's nationality, is what an agent has to learn, not what it can pattern-match from the
question alone.

Example:
    >>> page = {"title": "William Rose Benét", "text": "William Rose Benét( February 2, 1886 – "
    ...         "May 4, 1950) was an American poet, writer, and editor."}
    >>> [(t["question"], t["answers"]) for t in pattern_tasks([page])]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('In what year was William Rose Benét born?', ['1886']),
     ('In what year did William Rose Benét die?', ['1950'])]
    >>> film = {"title": "Jazz Boat", "text": "Jazz Boat is a 1960 British comedy film directed "
    ...         "by Ken Hughes and starring Anthony Newley."}
    >>> [(t["question"], t["answers"]) for t in pattern_tasks([film])]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('In what year was the film Jazz Boat released?', ['1960']),
     ('Who directed the film Jazz Boat?', ['Ken Hughes'])]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["PATTERNS", "pattern_tasks", "wikipedia_url"]

PATTERNS = ("born", "died", "film_year", "director")
"""The templates, in the order a page yields them (a task's ``meta["pattern"]``)."""

_PERSON = re.compile(
    r"^[^()]{2,80}?\s*\((?:born\s+)?(?P<born>[^()–-]*?\b(?P<by>\d{3,4}))\s*[–-]\s*"
    r"(?P<died>[^()]*?\b(?P<dy>\d{3,4}))\)\s+(?:was|is)\s+an?\s+\w"
)
_FILM = re.compile(
    r"^[^.]{2,120}? is an? (?P<year>\d{4}) [^.]*?\bfilm\b[^.]*? directed by "
    r"(?P<director>[A-Z][\w'’-]+(?:\s+(?:[A-Z]\.|[A-Z][\w'’-]+|de|van|von|da|di)){1,3})"
)
_DISAMBIGUATION = re.compile(r"\s*\([^)]*\)\s*$")


def wikipedia_url(title: str) -> str:
    """The demo world's URL of a Wikipedia page.

    Example:
        >>> wikipedia_url("Jazz Boat")
        'https://en.wikipedia.org/wiki/Jazz_Boat'
    """
    return "https://en.wikipedia.org/wiki/" + title.strip().replace(" ", "_")


def _task(title: str, pattern: str, question: str, answer: str) -> dict[str, Any]:
    digest = hashlib.sha1(f"{title}\n{pattern}".encode()).hexdigest()[:10]
    return {
        "id": f"pattern-{pattern}-{digest}",
        "question": question,
        "answers": [answer],
        "difficulty": 1,
        "capability": "single-hop",
        "meta": {"pattern": pattern, "page": wikipedia_url(title), "title": title},
    }


def pattern_tasks(pages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Task dicts (``Task.from_dict`` reads them) from pages' lead sentences.

    ``pages`` are ``{"title", "text"}`` records (the demo data's format). A page yields the
    person templates or the film templates, or nothing; the same title is used once.
    """
    tasks: list[dict[str, Any]] = []
    seen: set[str] = set()
    for page in pages:
        title, text = str(page.get("title", "")).strip(), str(page.get("text", "")).strip()
        if not title or title in seen:
            continue
        name = _DISAMBIGUATION.sub("", title)
        if person := _PERSON.match(text):
            born, died = person.group("by"), person.group("dy")
            if born == died:
                continue
            seen.add(title)
            tasks.append(_task(title, "born", f"In what year was {name} born?", born))
            tasks.append(_task(title, "died", f"In what year did {name} die?", died))
        elif film := _FILM.match(text):
            director = film.group("director").strip()
            if director.split()[-1] in {"It", "The", "He", "She", "A", "An", "In"}:
                director = " ".join(director.split()[:-1])
            if len(director.split()) < 2:
                continue
            seen.add(title)
            year = film.group("year")
            tasks.append(
                _task(title, "film_year", f"In what year was the film {name} released?", year)
            )
            tasks.append(_task(title, "director", f"Who directed the film {name}?", director))
    return tasks
