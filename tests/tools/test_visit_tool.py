"""VisitTool: goal-relevant evidence, exact layout, masking, failures as text, hostile input."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lite_world.errors import ConfigError
from lite_world.store.urls import wikipedia_url
from lite_world.tools.summarize import FAIL_SUMMARY, ExtractiveSummarizer
from lite_world.tools.visit import FAIL_EVIDENCE, VisitTool, render_visit

FALLS = "https://en.wikipedia.org/wiki/Victoria_Falls"
FALLS_TEXT = (
    "Victoria Falls (Tokaleya Tonga: Mosi - oa - Tunya, ``The Smoke that Thunders '') is a waterfall in "
    "southern Africa on the Zambezi River at the border between Zambia and Zimbabwe."
)


def _fail(url: str, goal: str) -> str:
    return render_visit(url, goal, FAIL_EVIDENCE, FAIL_SUMMARY).strip()


def _last_hop(question: dict) -> tuple[str, str]:
    """The final sub-question (with #k filled in by earlier answers) and the page that answers it."""
    hops = question["question_decomposition"]
    goal = re.sub(r"#(\d)", lambda m: hops[int(m.group(1)) - 1]["answer"], hops[-1]["question"])
    para = question["paragraphs"][hops[-1]["paragraph_support_idx"]]
    assert question["answer"] in para["paragraph_text"]  # the page really holds the answer
    return goal, wikipedia_url(para["title"])


def test_exact_layout(sparse_world):
    goal = "Which waterfall is on the Zambia Zimbabwe border?"
    res = VisitTool(sparse_world).visit(FALLS, goal)
    assert res.text == (
        f"The useful information in {FALLS} for user goal {goal} as follows: \n\n"
        f"Evidence in page: \n# Victoria Falls\n\n{FALLS_TEXT}\n\n"
        f"Summary: \nVictoria Falls: {FALLS_TEXT}"
    )
    assert res.error is None
    assert res.data == {"pages": [{"url": FALLS, "found": True, "title": "Victoria Falls"}]}


@pytest.mark.parametrize("qi", range(5))
def test_evidence_holds_the_answer_of_the_goal(sparse_world, musique, qi):
    q = musique[qi]
    goal, url = _last_hop(q)
    page = sparse_world.get_page(url)
    res = VisitTool(sparse_world, ExtractiveSummarizer(max_chars=600)).visit(url, goal)
    evidence = res.text.split("Evidence in page: \n", 1)[1].split("\n\nSummary: \n", 1)[0]
    assert q["answer"] in evidence
    assert len(evidence) <= 600
    if len(page.markdown) > 1000:  # the passage was chosen, not the whole page returned
        assert len(evidence) < len(page.markdown)


def test_summary_keeps_initials(sparse_world):
    res = VisitTool(sparse_world).visit(
        "https://en.wikipedia.org/wiki/Adolescence",
        "Who was the first president of the American Psychological Association?",
    )
    summary = res.text.split("Summary: \n", 1)[1]
    assert summary.startswith(
        "Adolescence: The formal study of adolescent psychology began with the publication of "
        "G. Stanley Hall's"
    )


def test_url_is_normalised_but_shown_as_given(sparse_world):
    raw = "HTTPS://EN.Wikipedia.org:443/wiki/Victoria_Falls/?utm_source=x#top"
    res = VisitTool(sparse_world).visit(raw, "waterfall")
    assert res.text.startswith(
        f"The useful information in {raw} for user goal waterfall as follows: "
    )
    assert res.data["pages"][0] == {"url": FALLS, "found": True, "title": "Victoria Falls"}


def test_masked_page_returns_the_standard_failure(sparse_world):
    goal = "waterfall"
    res = VisitTool(sparse_world).visit(
        FALLS, goal, exclude=["en.wikipedia.org/wiki/Victoria_Falls/"]
    )
    assert res.text == _fail(FALLS, goal)
    assert res.error == "not_found"
    assert res.data == {"pages": [{"url": FALLS, "found": False, "reason": "not_found"}]}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://en.wikipedia.org/wiki/Not_In_This_World", "not_found"),
        ("https://example.com/", "not_found"),
        ("file:///etc/passwd", "invalid_url"),
        ("javascript:alert(1)", "invalid_url"),
        ("http://[::1", "invalid_url"),
        ("ftp://en.wikipedia.org/wiki/Victoria_Falls", "invalid_url"),
        ("https://", "invalid_url"),
    ],
)
def test_unreachable_urls(sparse_world, url, reason):
    res = VisitTool(sparse_world).visit(url, "anything")
    assert res.text == _fail(url, "anything")
    assert res.error == "not_found"
    assert res.data["pages"][0]["reason"] == reason


@pytest.mark.parametrize(
    ("url", "actual"),
    [
        (None, "null"),
        (5, "an integer"),
        ([], "an empty list"),
        ([FALLS, 3], "a list holding an integer"),
        ({"url": FALLS}, "an object"),
        ("", "an empty string"),
    ],
)
def test_invalid_url_arguments(sparse_world, url, actual):
    res = VisitTool(sparse_world).visit(url, "goal")
    assert (
        res.text
        == f"[Visit] Invalid request format: 'url' must be a non-empty list of strings, actual: {actual}."
    )
    assert res.error == "invalid_arguments"


@pytest.mark.parametrize(
    ("goal", "why"),
    [
        ("", "'goal' must say what to look for in the page"),
        ("   \n", "'goal' must say what to look for in the page"),
        (None, "'goal' must be a string, actual: null"),
        (3, "'goal' must be a string, actual: an integer"),
        (["waterfall"], "'goal' must be a string, actual: a list"),
    ],
)
def test_invalid_goal(sparse_world, goal, why):
    res = VisitTool(sparse_world).visit(FALLS, goal)
    assert res.text == f"[Visit] Invalid request format: {why}."
    assert res.error == "invalid_arguments"


def test_url_as_one_string_or_a_list_give_the_same_page(sparse_world):
    """The schema says an array of strings (the protocol's); a single string is still accepted."""
    tool = VisitTool(sparse_world)
    assert tool.visit(FALLS, "waterfall").text == tool.visit([FALLS], "waterfall").text


def test_list_of_urls(sparse_world):
    missing = "https://en.wikipedia.org/wiki/Missing"
    res = VisitTool(sparse_world).visit([FALLS, missing], "waterfall")
    first, second = res.text.split("\n=======\n")
    assert first.startswith(f"The useful information in {FALLS} for user goal waterfall")
    assert second == _fail(missing, "waterfall")
    assert res.error is None  # one page was found
    assert [p["found"] for p in res.data["pages"]] == [True, False]


def test_too_many_urls(sparse_world):
    urls = [f"https://en.wikipedia.org/wiki/P{i}" for i in range(7)]
    res = VisitTool(sparse_world).visit(urls, "goal")
    assert res.text.count("The useful information in") == 5
    assert res.text.endswith("\n\n[Visit] Only the first 5 URLs were visited; 2 ignored.")
    assert len(res.data["pages"]) == 5


def test_summarizer_validation():
    with pytest.raises(
        ConfigError, match="Expects ExtractiveSummarizer.max_chars to be an int >= 100, actual: 99"
    ):
        ExtractiveSummarizer(max_chars=99)


HOSTILE_URLS = [
    "\x00",
    "https://en.wikipedia.org/wiki/Victoria_Falls\x00",
    "https://en.wikipedia.org/wiki/\udcff",
    "\udcff\ud800",
    "https://" + "a" * 1_000_000,
    "https://en.wikipedia.org/wiki/" + "x" * 1_000_000,
    bytes(range(256)).decode("latin-1"),
    "http://exa mple.com/ x",
    "https://a.org:99999/x",
    "🙂" * 5000,
]
HOSTILE_GOALS = [
    "\x00 waterfall",
    "\udcff",
    "g" * 1_000_000,
    bytes(range(1, 256)).decode("latin-1"),
]


def _check(res):
    assert isinstance(res.text, str) and res.text
    res.text.encode("utf-8")  # always valid UTF-8
    assert "\x00" not in res.text
    assert res.error in (None, "not_found", "invalid_arguments")


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_never_raise(sparse_world, url):
    res = VisitTool(sparse_world).visit(url, "waterfall")
    _check(res)
    assert len(res.text) < 2000  # a huge URL is cut in the observation


@pytest.mark.parametrize("goal", HOSTILE_GOALS)
def test_hostile_goals_never_raise(sparse_world, goal):
    res = VisitTool(sparse_world).visit(FALLS, goal)
    _check(res)
    assert res.data["pages"][0]["found"] is True


# Hostile characters drawn often (st.text() never yields lone surrogates, so strings are joined).
_CHARS = (
    st.sampled_from(
        [
            "\udcff",
            "\ud800",
            "\x00",
            "\x01",
            "\n",
            " ",
            "%",
            "/",
            ":",
            "#",
            "?",
            "é",
            "🙂",
            "https://",
            "en.wikipedia.org/wiki/",
            "Victoria_Falls",
            "javascript:",
            "file://",
        ]
    )
    | st.characters()
)
_HOSTILE_TEXT = st.lists(_CHARS, max_size=30).map("".join)


@given(
    url=st.one_of(
        _HOSTILE_TEXT,
        st.text(max_size=120),
        st.lists(_HOSTILE_TEXT, max_size=7),
        st.none(),
        st.integers(),
        st.sampled_from([FALLS, "https://en.wikipedia.org/wiki/Adolescence"]),
    ),
    goal=st.one_of(_HOSTILE_TEXT, st.text(max_size=120), st.none()),
)
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzz_visit_tool(sparse_world, url, goal):
    _check(VisitTool(sparse_world).visit(url, goal))
