"""SearchTool: exact rendering (web and train styles), masking, argument errors, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lite_world.errors import ConfigError
from lite_world.tools.search import SearchTool, render_search

BUBYE = "https://en.wikipedia.org/wiki/Bubye_River"
BUBYE_SNIPPET = (
    "The Bubye River, also known as Bubi River, is a tributary of the Limpopo River in Beitbridge District "
    "and Gwanda District, Zimbabwe."
)
FALLS_SNIPPET = (
    "Victoria Falls (Tokaleya Tonga: Mosi - oa - Tunya, ``The Smoke that Thunders '') is a waterfall in "
    "southern Africa on the Zambezi River at the border between Zambia and Zimbabwe."
)
JPI_SNIPPET = (
    "The Journal of Psychotherapy Integration is a peer-reviewed academic journal published by the American "
    "Psychological Association on behalf of the Society for the Exploration of Psychotherapy Integration."
)
HALL_SNIPPET = (
    "The formal study of adolescent psychology began with the publication of G. Stanley Hall's \"Adolescence "
    'in 1904." Hall, who was the first president of the American Psychological Association, viewed '
    "adolescence primarily as a time of"
)

WEB_TWO_QUERIES = (
    "A Google search for 'Bubye River Zimbabwe' found 2 results:\n\n## Web Results\n"
    f"1. [Bubye River]({BUBYE})\n\n{BUBYE_SNIPPET}\n\n"
    f"2. [Victoria Falls](https://en.wikipedia.org/wiki/Victoria_Falls)\n\n{FALLS_SNIPPET}"
    "\n=======\n"
    "A Google search for 'first president of the American Psychological Association' found 2 results:\n\n"
    "## Web Results\n"
    f"1. [Adolescence](https://en.wikipedia.org/wiki/Adolescence)\n\n{HALL_SNIPPET}\n\n"
    f"2. [Journal of Psychotherapy Integration](https://en.wikipedia.org/wiki/Journal_of_Psychotherapy_Integration)"
    f"\n\n{JPI_SNIPPET}"
)


def test_web_rendering_of_two_queries_is_exact(sparse_world):
    res = SearchTool(sparse_world, k=2).search(
        ["Bubye River Zimbabwe", "first president of the American Psychological Association"]
    )
    assert res.text == WEB_TWO_QUERIES
    assert res.error is None
    [q1, q2] = res.data["queries"]
    assert q1["query"] == "Bubye River Zimbabwe"
    assert [h["url"] for h in q1["results"]] == [
        BUBYE,
        "https://en.wikipedia.org/wiki/Victoria_Falls",
    ]
    assert [h["rank"] for h in q2["results"]] == [1, 2]
    assert set(q2["results"][0]) == {"rank", "url", "title", "snippet", "date", "score"}


def test_string_and_list_queries_render_the_same(sparse_world):
    tool = SearchTool(sparse_world, k=3)
    assert tool.search("Bubye River Zimbabwe").text == tool.search(["Bubye River Zimbabwe"]).text
    assert (
        tool.search("  Bubye River Zimbabwe\x00 ").text
        == tool.search(["Bubye River Zimbabwe"]).text
    )


def test_default_k_is_ten_with_hybrid_search(world, musique):
    res = SearchTool(world).search(musique[0]["question"])
    lines = res.text.splitlines()
    assert lines[0] == f"A Google search for '{musique[0]['question']}' found 10 results:"
    assert lines[2] == "## Web Results"
    numbered = [line.split(".", 1)[0] for line in lines if line[:1].isdigit() and ". [" in line]
    assert numbered == [str(i) for i in range(1, 11)]


def test_masking_hides_pages_and_keeps_k(sparse_world):
    tool = SearchTool(sparse_world, k=2)
    res = tool.search(
        "Bubye River Zimbabwe", exclude=["HTTPS://en.wikipedia.org/wiki/Bubye_River/"]
    )
    assert "Bubye_River" not in res.text
    assert res.text.startswith(
        "A Google search for 'Bubye River Zimbabwe' found 2 results:\n\n## Web Results\n"
        "1. [Victoria Falls](https://en.wikipedia.org/wiki/Victoria_Falls)"
    )
    assert [h["rank"] for h in res.data["queries"][0]["results"]] == [1, 2]


def test_train_style_exact_and_dedups_links_across_queries(sparse_world):
    res = SearchTool(sparse_world, k=2, style="train").search(
        ["Bubye River Zimbabwe", "Victoria Falls Zambezi"]
    )
    assert res.text == (
        "A Google search for 'Bubye River Zimbabwe' found 2 results:\n\n## Web Results\n"
        f"1. [Bubye River]({BUBYE})\n{BUBYE_SNIPPET}\n\n"
        f"2. [Victoria Falls](https://en.wikipedia.org/wiki/Victoria_Falls)\n{FALLS_SNIPPET}"
        "\n\n=======\n\n"
        "A Google search for 'Victoria Falls Zambezi' found 1 results:\n\n## Web Results\n"
        "1. [Hopetoun Falls](https://en.wikipedia.org/wiki/Hopetoun_Falls)\n"
        "The Hopetoun Falls is a waterfall across the Aire River that is located in The Otways region of Victoria, "
        "Australia."
    )
    # the web style shows Victoria Falls again for the second query
    web = SearchTool(sparse_world, k=2).search(["Bubye River Zimbabwe", "Victoria Falls Zambezi"])
    assert web.data["queries"][1]["results"][0]["title"] == "Victoria Falls"


def test_no_results(sparse_world):
    res = SearchTool(sparse_world).search("zzzqqq xxyyzz")
    assert res.text == "No results found for 'zzzqqq xxyyzz'. Try with a more general query."
    assert res.data == {"queries": [{"query": "zzzqqq xxyyzz", "results": []}]}
    assert (
        SearchTool(sparse_world, style="train").search("zzzqqq").text
        == "A Google search for 'zzzqqq' found 0 results:\n\n## Web Results"
    )


def test_render_search_with_dates():
    hits = [
        {"title": "T", "url": "https://a.org", "snippet": "S", "date": "2020-05-17"},
        {"title": "U", "url": "https://b.org", "snippet": "", "date": None},
    ]
    assert render_search("q", hits) == (
        "A Google search for 'q' found 2 results:\n\n## Web Results\n"
        "1. [T](https://a.org)\nDate published: 2020-05-17\n\nS\n\n"
        "2. [U](https://b.org)\n"
    )
    assert render_search("q", hits, style="train") == (
        "A Google search for 'q' found 2 results:\n\n## Web Results\n1. [T](https://a.org)\nS\n\n2. [U](https://b.org)"
    )


def test_empty_query_in_a_list(sparse_world):
    res = SearchTool(sparse_world, k=1).search(["   ", "Publix"])
    blocks = res.text.split("\n=======\n")
    assert blocks[0] == "[Search] Empty query: write what you are looking for."
    assert blocks[1].startswith("A Google search for 'Publix' found 1 results:")
    assert res.data["queries"][0] == {"query": "", "results": []}


def test_too_many_queries(sparse_world):
    res = SearchTool(sparse_world, k=1, max_queries=3).search([f"Publix {i}" for i in range(5)])
    assert res.text.count("A Google search for") == 3
    assert res.text.endswith("\n\n[Search] Only the first 3 queries were run; 2 ignored.")
    assert len(res.data["queries"]) == 3


@pytest.mark.parametrize(
    ("query", "actual"),
    [
        (None, "null"),
        (3, "an integer"),
        ([], "an empty list"),
        (["ok", 3], "a list holding an integer"),
        ({"q": "x"}, "an object"),
        ("", "an empty string"),
    ],
)
def test_invalid_arguments(sparse_world, query, actual):
    res = SearchTool(sparse_world).search(query)
    assert (
        res.text
        == f"[Search] Invalid request format: 'query' must be a non-empty list of strings, actual: {actual}."
    )
    assert res.error == "invalid_arguments"


@pytest.mark.parametrize("query", [("Publix",), b"Publix"])
def test_python_literal_arguments_are_cleaned_not_rejected(sparse_world, query):
    """Tuples and bytes only come from Python-literal tool calls; they are read as a list and a string."""
    assert (
        SearchTool(sparse_world, k=1).search(query).text
        == SearchTool(sparse_world, k=1).search(["Publix"]).text
    )


def test_constructor_validation(sparse_world):
    with pytest.raises(
        ConfigError, match=r"Expects search style in \('web', 'train'\), actual: 'html'"
    ):
        SearchTool(sparse_world, style="html")
    with pytest.raises(ConfigError, match="Expects search k to be an int >= 1, actual: 0"):
        SearchTool(sparse_world, k=0)


HOSTILE = [
    "",
    "\x00",
    "a\x00b" * 10,
    "\udcff",
    "Bubye \udcff\ud800 River",
    "x" * 1_000_000,
    "\x00\x01\x02\x7f\ufffe\uffff" * 100,
    bytes(range(256)).decode("latin-1"),
    "' OR 1=1; --",
    "\n\n=======\n\n",
    "🙂" * 5000,
]


def _check(res):
    assert isinstance(res.text, str) and res.text
    res.text.encode("utf-8")  # always valid UTF-8: lone surrogates never reach the observation
    assert "\x00" not in res.text
    assert res.error in (None, "invalid_arguments")


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(sparse_world, query):
    tool = SearchTool(sparse_world, k=3)
    _check(tool.search(query))
    _check(tool.search([query, "Publix"]))


def test_huge_query_is_cut(sparse_world):
    res = SearchTool(sparse_world, k=1).search("Publix " + "y" * 1_000_000)
    assert len(res.data["queries"][0]["query"]) == 1000
    assert len(res.text) < 3000


@pytest.mark.parametrize("query", ["", "\udcff", "x" * 1_000_000, "\x00 Bubye River"])
def test_hostile_queries_through_hybrid_search(world, query):
    _check(SearchTool(world, k=2).search(query))


# Hostile characters drawn often: lone surrogates, NUL and control characters, separators, emoji.
# (st.text() never yields surrogates, so strings are joined from single characters.)
_CHARS = (
    st.sampled_from(
        [
            "\udcff",
            "\ud800",
            "\x00",
            "\x01",
            "\x7f",
            "\n",
            " ",
            "=",
            "'",
            "#",
            "é",
            "東",
            "🙂",
            "Bubye",
            " River",
        ]
    )
    | st.characters()
)
_HOSTILE_TEXT = st.lists(_CHARS, max_size=40).map("".join)


@given(
    st.one_of(
        _HOSTILE_TEXT,
        st.text(max_size=200),
        st.lists(_HOSTILE_TEXT, max_size=12),
        st.none(),
        st.integers(),
        st.binary(max_size=20),
    )
)
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzz_search_tool(sparse_world, query):
    _check(SearchTool(sparse_world, k=2).search(query))
