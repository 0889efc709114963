"""World: lazy handles, get_page and masking with normalised URLs, batched hybrid search quality."""

from __future__ import annotations

import os
import pickle
import signal

import pytest

from lite_world.errors import ConfigError, WorldNotFoundError
from lite_world.index.searcher import SearchConfig
from lite_world.store.urls import wikipedia_url
from lite_world.world import SearchHit, World

ADOLESCENCE = "https://en.wikipedia.org/wiki/Adolescence"


def _supporting(question: dict) -> list[str]:
    return list(
        dict.fromkeys(
            wikipedia_url(p["title"]) for p in question["paragraphs"] if p["is_supporting"]
        )
    )


def test_len_repr_and_manifest(world, tiny_world):
    assert len(world) == 96
    assert repr(world) == f"World({str(tiny_world)!r}, pages=96, index='Flat')"


def test_get_page_normalises_like_the_store(world):
    for variant in (
        ADOLESCENCE,
        "HTTPS://EN.Wikipedia.org:443/wiki/Adolescence/#History",
        "en.wikipedia.org/wiki/Adolescence?utm_source=x",
        "https://en.wikipedia.org/wiki/Adolescence?fbclid=1",
    ):
        page = world.get_page(variant)
        assert page is not None and page.url == ADOLESCENCE
    p = world.get_page(ADOLESCENCE)
    assert (p.title, p.domain, p.source) == ("Adolescence", "en.wikipedia.org", "tiny_musique.json")
    assert "G. Stanley Hall" in p.markdown
    assert world.get_page("https://en.wikipedia.org/wiki/Not_In_This_World") is None
    assert (
        world.get_page("https://en.wikipedia.org/wiki/adolescence") is None
    )  # paths are case-sensitive
    assert world.get_page(None) is None  # type: ignore[arg-type]
    assert world.get_page(["x"]) is None  # type: ignore[arg-type]


def test_get_page_masking_uses_normalised_urls(world):
    assert (
        world.get_page(ADOLESCENCE, exclude=["HTTPS://en.wikipedia.org/wiki/Adolescence/#x"])
        is None
    )
    assert world.get_page("en.wikipedia.org/wiki/Adolescence/", exclude=[ADOLESCENCE]) is None
    assert (
        world.get_page(ADOLESCENCE, exclude=["https://en.wikipedia.org/wiki/Publix", 3]) is not None
    )  # type: ignore[list-item]


def test_mask_ids(world, tiny_titles):
    ids = world.mask_ids(
        [
            "HTTPS://en.wikipedia.org/wiki/Adolescence/",
            "https://en.wikipedia.org/wiki/Publix",
            "https://unknown.org/x",
            None,
        ]
    )  # type: ignore[list-item]
    assert ids == frozenset({tiny_titles.index("Adolescence"), tiny_titles.index("Publix")})
    assert world.mask_ids([]) == frozenset()


def test_search_hits(world, tiny_titles):
    [hits] = world.search(["Bubye River tributary of the Limpopo"], k=4)
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    top = hits[0]
    assert isinstance(top, SearchHit)
    assert (top.url, top.title, top.date) == (
        "https://en.wikipedia.org/wiki/Bubye_River",
        "Bubye River",
        None,
    )
    assert top.snippet == (
        "The Bubye River, also known as Bubi River, is a tributary of the Limpopo River in "
        "Beitbridge District and Gwanda District, Zimbabwe."
    )
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert set(top.to_dict()) == {"rank", "url", "title", "snippet", "date", "score"}
    assert world.search(["Bubye River"], k=2, snippets=False)[0][0].snippet == ""


def test_search_is_batched(world):
    out = world.search(["Publix supermarket", "", "Canon law Church of England"], k=3)
    assert len(out) == 3
    assert out[0][0].title == "Publix"
    assert out[1] == []
    assert out[2][0].title == "Canon law"


def test_search_with_a_str_is_an_error(world):
    with pytest.raises(
        ConfigError,
        match=r"Expects a list of queries, actual: a single str\. Wrap it: search\(\[query\]\)",
    ):
        world.search("Publix", k=3)  # type: ignore[arg-type]


def test_search_exclude_masks_and_keeps_k(world):
    [before] = world.search(["Bubye River"], k=5)
    masked = [
        before[0].url.replace("https://en.wikipedia.org", "HTTPS://EN.Wikipedia.ORG:443"),
        before[1].url + "/#top",
    ]
    [after] = world.search(["Bubye River"], k=5, exclude=masked)
    assert len(after) == 5
    assert {before[0].url, before[1].url}.isdisjoint(h.url for h in after)
    assert [h.url for h in after[:3]] == [h.url for h in before[2:]]
    assert [h.rank for h in after] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("qi", range(5))
def test_hybrid_finds_a_supporting_page_in_top3(world, musique, qi):
    q = musique[qi]
    [hits] = world.search([q["question"]], k=3)
    assert set(_supporting(q)) & {h.url for h in hits}, (q["question"], [h.title for h in hits])


def test_hybrid_finds_both_hops_of_the_first_question(world, musique):
    [hits] = world.search([musique[0]["question"]], k=3)
    assert set(_supporting(musique[0])) <= {h.url for h in hits}


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_single_retriever_modes(tiny_world, musique, mode):
    w = World(tiny_world, search=SearchConfig(mode=mode))
    try:
        assert w.searcher.config.mode == mode
        assert (w.searcher.dense is None) == (mode == "sparse")
        assert (w.searcher.sparse is None) == (mode == "dense")
        [hits] = w.search([musique[0]["question"]], k=3)
        assert hits[0].url == "https://en.wikipedia.org/wiki/Journal_of_Psychotherapy_Integration"
        assert len(hits) == 3
    finally:
        w.close()


def test_two_worlds_on_one_path_in_one_process(tiny_world, world):
    other = World(tiny_world, search=SearchConfig(mode="sparse"))
    assert world.get_page(ADOLESCENCE) is not None  # the shared handle is already open
    assert other.get_page(ADOLESCENCE).title == "Adolescence"
    other.close()
    other.close()
    assert (
        world.get_page(ADOLESCENCE).title == "Adolescence"
    )  # closing one leaves the other working


def test_world_is_picklable_before_use_and_opens_lazily(tiny_world):
    w = World(tiny_world, search=SearchConfig(mode="sparse"))
    assert w._store is None and w._searcher is None
    clone = pickle.loads(pickle.dumps({"path": str(w.path), "search": w.search_config}))
    w2 = World(clone["path"], search=clone["search"])
    assert w2.search(["Publix"], k=1)[0][0].title == "Publix"
    w2.close()


def test_world_reopens_after_fork(world):
    """gym's async vector envs fork: the store reopens and the (used) encoder still works."""
    import torch

    assert world.get_page(ADOLESCENCE) is not None  # opened in the parent
    threads = torch.get_num_threads()
    torch.set_num_threads(
        2
    )  # the parent encodes with a thread pool, which a forked child inherits broken
    world.search(["a query encoded in the parent with two threads"], k=1)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            # a deadlocked child is killed (default action: a Python handler could not run)
            # and fails the test
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(120)
            hits = world.search(["Publix supermarket"], k=1)[0]
            page = world.get_page(ADOLESCENCE)
            code = 0 if hits[0].title == "Publix" and page.title == "Adolescence" else 3
        except BaseException:
            code = 2
        os._exit(code)
    torch.set_num_threads(threads)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert world.get_page(ADOLESCENCE).title == "Adolescence"


def test_missing_world(tmp_path):
    with pytest.raises(
        WorldNotFoundError, match="Expects a world directory at .*, actual: it does not exist"
    ):
        World(tmp_path / "missing")


def test_verify_false_only_reads_the_manifest(world_copy):
    import shutil

    shutil.rmtree(world_copy / "index")
    w = World(world_copy, verify=False, search=SearchConfig(mode="sparse"))
    assert len(w) == 96
    assert w.get_page(ADOLESCENCE).title == "Adolescence"
    with pytest.raises(WorldNotFoundError, match="Expects a BM25 index at"):
        w.search(["Publix"], k=1)
    w.close()
    with pytest.raises(
        WorldNotFoundError,
        match=r"Expects the dense index \(FAISS\) at .*dense\.faiss, actual: missing",
    ):
        World(world_copy)


@pytest.fixture()
def no_network(monkeypatch):
    """Online mode as without HF_HUB_OFFLINE, and a socket guard recording every connect."""
    import socket

    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    attempts: list[object] = []

    def guard(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network disabled in this test (connect to {address!r})")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket.socket, "connect_ex", guard)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: guard(None, address))
    return attempts


def test_a_hub_embedder_is_never_downloaded(world_copy, no_network):
    """Before: a manifest naming a Hub model made Hub requests when HF_HUB_OFFLINE was unset."""
    from lite_world.errors import ModelNotFoundError
    from lite_world.store.manifest import MANIFEST_NAME

    path = world_copy / MANIFEST_NAME
    path.write_text(
        path.read_text().replace("sentence-transformers/all-MiniLM-L6-v2", "BAAI/bge-small-en-v1.5")
    )
    w = World(world_copy)  # opening reads files only
    with pytest.raises(
        ModelNotFoundError,
        match=(
            r"Expects the embedder 'BAAI/bge-small-en-v1\.5' on this machine \(the world's query "
            r"encoder\), actual: not "
            r"in the local Hugging Face cache.*huggingface-cli download BAAI/bge-small-en-v1\.5"
        ),
    ):
        w.search(["Publix"], k=1)
    assert no_network == []
    assert w.get_page(ADOLESCENCE).title == "Adolescence"  # the store still serves pages
    w.close()


@pytest.fixture(scope="module")
def minilm_128(tmp_path_factory):
    """A real sentence-transformers model that gives 128-dim vectors: MiniLM plus a Dense layer."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    from lite_world.index.embedder import DEFAULT_EMBEDDER, _resolve

    base = SentenceTransformer(_resolve(DEFAULT_EMBEDDER), device="cpu", local_files_only=True)
    torch.manual_seed(0)
    dense = models.Dense(384, 128, activation_function=torch.nn.Identity())
    path = tmp_path_factory.mktemp("models") / "minilm-128"
    SentenceTransformer(modules=[*base, dense], device="cpu").save(str(path))
    return str(path)


def test_embedder_dimension_mismatch_names_the_right_fix(world_copy, minilm_128):
    """Before: when the manifest's own embedder failed, the error suggested that same embedder."""
    from lite_world.errors import EmbedderMismatchError
    from lite_world.index.embedder import DEFAULT_EMBEDDER
    from lite_world.store.manifest import MANIFEST_NAME

    # another embedder than the world's: the fix is the world's embedder
    w = World(world_copy, embedder=minilm_128, verify=False)
    with pytest.raises(
        EmbedderMismatchError,
        match=(
            rf"Expects a 384-dim embedder for this index \(built with '{DEFAULT_EMBEDDER}'\), "
            rf"actual: '.*minilm-128' gives 128\. "
            rf"Use --embedder {DEFAULT_EMBEDDER} \(or leave it unset\)"
        ),
    ):
        w.search(["Publix"], k=1)
    w.close()
    # the world's own embedder changed under its name: suggesting it again would not help
    path = world_copy / MANIFEST_NAME
    path.write_text(path.read_text().replace(DEFAULT_EMBEDDER, minilm_128))
    w = World(world_copy)
    with pytest.raises(
        EmbedderMismatchError,
        match=(
            r"Expects the world's embedder '.*minilm-128' to give 384-dim vectors like its "
            r"index, actual: 128-dim\. The model under that name or path is not the one the "
            r"world was built with: restore"
        ),
    ):
        w.search(["Publix"], k=1)
    w.close()


def test_cache_info_reports_bytes_and_bounds_them(tiny_world, musique):
    """Before: caches were bounded by entries only (~15.6 KB per unique query, up to ~1 GB)."""
    w = World(tiny_world, snippet_cache_bytes=20_000, search=SearchConfig(result_cache_bytes=3_000))
    try:
        assert set(w.cache_info()) == {"snippet", "mask"}  # the searcher opens lazily
        questions = [q["question"] for q in musique] + [
            p["title"] for p in musique[0]["paragraphs"]
        ]
        w.search(questions, k=10)
        info = w.cache_info()
        assert set(info) == {"query", "result", "snippet", "mask"}
        for c in info.values():
            assert set(c) == {
                "bytes",
                "max_bytes",
                "entries",
                "max_entries",
                "hits",
                "misses",
                "hit_rate",
            }
        assert info["query"]["max_bytes"] == info["mask"]["max_bytes"] == 64 << 20
        n = len(questions)
        assert info["query"]["entries"] == n
        assert n * 384 * 4 < info["query"]["bytes"] < n * (384 * 4 + 600)
        assert info["snippet"]["bytes"] <= 20_000 and info["snippet"]["entries"] < n * 10
        assert info["result"]["bytes"] <= 3_000 and 0 < info["result"]["entries"] < n
        stats = w.cache_stats()  # what the service's /metrics reads
        assert stats["snippet"]["size"] == info["snippet"]["entries"]
        assert stats["snippet"]["bytes"] == info["snippet"]["bytes"]
        w.clear_caches()
        assert all(c["bytes"] == 0 and c["entries"] == 0 for c in w.cache_info().values())
    finally:
        w.close()
