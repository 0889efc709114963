"""Pattern tasks from lead sentences: the four templates, their answers, and what is skipped."""

from __future__ import annotations

import json

from lite_world.demo import DEMO_DATA
from lite_world.synth.patterns import PATTERNS, pattern_tasks, wikipedia_url
from lite_world.tasks import Task


def test_person_and_film_templates_exact_answers():
    pages = [
        {
            "title": "Hugo Chávez",
            "text": "Hugo Rafael Chávez Frías( 28 July 1954 – 5 March 2013) "
            "was a Venezuelan politician.",
        },
        {
            "title": "All Souls (film)",
            "text": "All Souls is a 1919 German silent film directed "
            "by Erik Lund. It starred Lil Dagover.",
        },
    ]
    tasks = pattern_tasks(pages)
    assert [(t["question"], t["answers"]) for t in tasks] == [
        ("In what year was Hugo Chávez born?", ["1954"]),
        ("In what year did Hugo Chávez die?", ["2013"]),
        ("In what year was the film All Souls released?", ["1919"]),
        ("Who directed the film All Souls?", ["Erik Lund"]),
    ]
    assert [t["meta"]["pattern"] for t in tasks] == list(PATTERNS)
    assert tasks[2]["meta"]["page"] == wikipedia_url("All Souls (film)")
    assert len({t["id"] for t in tasks}) == 4
    assert all(Task.from_dict(t).answers == tuple(t["answers"]) for t in tasks)


def test_pages_without_a_pattern_or_repeated_titles_yield_nothing():
    pages = [
        {"title": "Paris", "text": "Paris is the capital of France."},
        {"title": "X", "text": "X( 1900 – 1900) was a man."},  # one year twice: ambiguous
        {"title": "Film", "text": "Film is a 1950 film directed by Someone."},  # one-word name
        {"title": "", "text": "A( 1900 – 1950) was a poet."},
    ]
    assert pattern_tasks(pages) == []
    person = {"title": "Ann Lee", "text": "Ann Lee( 1736 – 1784) was an English preacher."}
    assert len(pattern_tasks([person, person])) == 2


def test_demo_pages_give_thousands_of_tasks_with_the_answer_in_the_page():
    pages = json.loads((DEMO_DATA / "2wikimultihopqa_corpus.json").read_text())
    tasks = pattern_tasks(pages)
    by_title = {p["title"]: p["text"] for p in pages}
    assert len(tasks) > 3000
    assert all(t["answers"][0] in by_title[t["meta"]["title"]] for t in tasks)
