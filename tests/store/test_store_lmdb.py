"""The LMDB page store: keys, dedup, batches, row ids, codecs on disk, read-only opening."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lite_world.errors import WorldCorruptedError, WorldError, WorldNotFoundError
from lite_world.store.codec import RAW, ZSTD, ZSTD_DICT
from lite_world.store.lmdb_store import STORE_DIRNAME, PageStore
from lite_world.store.page import Page


def _page(i: int, text: str | None = None, url: str | None = None) -> Page:
    return Page.create(
        url or f"https://en.wikipedia.org/wiki/Page_{i}",
        f"Page {i}",
        text
        or f"Page {i} is a village in district {i * 7} with {i * 13} inhabitants "
        f"and a church from {1500 + i}.",
    )


def _raw_value(store: PageStore, url: str) -> bytes:
    return store._get_raw(store._pages, url.encode())


def test_put_and_get_normalise_the_url(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        assert w.put_many([_page(0, url="HTTPS://Example.ORG:443/a/b/?utm_source=x#frag")]) == 1
    with PageStore(tmp_path) as r:
        assert len(r) == 1
        assert r.url_of(0) == "https://example.org/a/b"
        for variant in (
            "https://example.org/a/b",
            "example.org/a/b/",
            "HTTPS://EXAMPLE.org/a/b?fbclid=1#x",
        ):
            assert r.get(variant).url == "https://example.org/a/b"
            assert variant in r
        assert r.get_dict("https://example.org/a/b")["id"] == 0
        assert r.get("https://example.org/a/c") is None
        assert "https://example.org/a/c" not in r
        assert 5 not in r  # non-str keys are simply absent


def test_get_with_bad_keys_returns_none(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(0)])
    with PageStore(tmp_path) as r:
        assert r.get("") is None
        assert r.get("https://a.org/" + "x" * 600) is None  # longer than LMDB's max key
        assert r.get("https://a.org/\udcff") is None
        assert r.url_of(-1) is None
        assert r.url_of(99) is None


def test_url_dedup_and_content_dedup(tmp_path):
    same_text = "The same article text, mirrored at two addresses of the web."
    pages = [
        _page(0, text=same_text, url="https://a.org/original"),
        _page(
            1,
            text="  The same   article text,\nmirrored at two addresses of the web.  ",
            url="https://mirror.org/copy",
        ),
        _page(2, url="https://a.org/original/"),  # same URL after normalisation, other text
        _page(3),
    ]
    with PageStore(tmp_path, readonly=False) as w:
        assert w.put_many(pages) == 2
        assert w.put_many([_page(3)]) == 0  # already stored
        assert w.get("https://mirror.org/copy") is None
        assert w.get("https://a.org/original").markdown == same_text
        assert w.has_hash(pages[1].hash)
        # dedup_content=False keeps the mirror (its URL is new)
        assert w.put_many([pages[1]], dedup_content=False) == 1
        assert w.stats()["pages"] == 3
        assert w.stats()["hashes"] == 2  # the first URL keeps the content hash


def test_put_many_is_one_batch_with_consecutive_row_ids(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        assert w.put_many(_page(i) for i in range(5)) == 5  # any iterable
        assert w.put_many([]) == 0
        assert w.put_many([_page(4), _page(5), _page(6)]) == 2
        assert w.next_id == 7
        assert w.urls_of([0, 6, -1, 50]) == [
            "https://en.wikipedia.org/wiki/Page_0",
            "https://en.wikipedia.org/wiki/Page_6",
            None,
            None,
        ]
        recs = w.get_many_by_id([2, -1, 5])
        assert [r["title"] if r else None for r in recs] == ["Page 2", None, "Page 5"]
        assert [r["id"] for r in w.iter_records(3, 6)] == [3, 4, 5]
        assert [r["id"] for r in w.iter_records()] == list(range(7))
        assert list(w.iter_records(7)) == []


def test_row_ids_survive_reopening(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(i) for i in range(3)])
    with PageStore(tmp_path, readonly=False) as w:
        assert w.next_id == 3
        assert w.put_many([_page(3)]) == 1
        assert w.get_dict("https://en.wikipedia.org/wiki/Page_3")["id"] == 3


def test_read_only_store_refuses_writes(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(0)])
    with PageStore(tmp_path) as r:
        with pytest.raises(PermissionError, match="is open read-only"):
            r.put_many([_page(1)])


def test_small_zstd_store_has_no_dictionary(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(i) for i in range(10)])
        assert w.stats()["zstd_dictionary"] is False
        assert _raw_value(w, "https://en.wikipedia.org/wiki/Page_0")[:1] == ZSTD


def test_large_first_batch_trains_a_dictionary_and_later_values_use_it(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(i) for i in range(100)])
        assert w.stats()["zstd_dictionary"] is True
        w.put_many([_page(100)])
    with PageStore(tmp_path) as r:
        assert r.stats()["compression"] == "zstd"
        assert _raw_value(r, "https://en.wikipedia.org/wiki/Page_0")[:1] == ZSTD_DICT
        assert _raw_value(r, "https://en.wikipedia.org/wiki/Page_100")[:1] == ZSTD_DICT
        assert r.get("https://en.wikipedia.org/wiki/Page_100") == _page(100)
        assert [p["title"] for p in r.get_many_by_id([0, 99])] == ["Page 0", "Page 99"]


def test_uncompressed_store_and_readers_follow_the_stored_setting(tmp_path):
    with PageStore(tmp_path, readonly=False, compression="none") as w:
        w.put_many([_page(i) for i in range(100)])
        assert w.stats()["zstd_dictionary"] is False
    # a later writer asking for zstd keeps the store's own setting
    with PageStore(tmp_path, readonly=False, compression="zstd") as w:
        w.put_many([_page(100)])
    with PageStore(tmp_path) as r:
        assert r.stats()["compression"] == "none"
        assert _raw_value(r, "https://en.wikipedia.org/wiki/Page_100")[:1] == RAW
        assert r.get("https://en.wikipedia.org/wiki/Page_5") == _page(5)


def test_content_digest_identifies_contents(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, order in ((a, [0, 1, 2]), (b, [2, 0, 1])):
        with PageStore(d, readonly=False) as w:
            w.put_many([_page(i) for i in order])
    with PageStore(a) as ra, PageStore(b) as rb:
        assert ra.content_digest() == rb.content_digest()  # insertion order does not matter
        assert len(ra.content_digest()) == 40
    with PageStore(b, readonly=False) as w:
        w.put_many([_page(3)])
    with PageStore(a) as ra, PageStore(b) as rb:
        assert ra.content_digest() != rb.content_digest()


def test_readonly_open_of_missing_store(tmp_path):
    with pytest.raises(
        WorldNotFoundError,
        match=r"Expects an LMDB page store at .*pages\.lmdb, actual: not found\. "
        r"Build the world first: lite-world build INPUT\.\.\. --out",
    ):
        PageStore(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_garbage_store_file_is_corrupted(tmp_path):
    (tmp_path / STORE_DIRNAME).mkdir()
    (tmp_path / STORE_DIRNAME / "data.mdb").write_bytes(b"this is not an LMDB file" * 400)
    with pytest.raises(
        WorldCorruptedError,
        match="Expects a readable LMDB page store at .*restore the world from a copy, or rebuild",
    ):
        PageStore(tmp_path)


def test_damaged_value_raises_corrupted(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(0)])
        with w._env.begin(write=True) as txn:
            txn.put(b"https://en.wikipedia.org/wiki/Page_0", ZSTD + b"garbage", db=w._pages)
    with PageStore(tmp_path) as r:
        with pytest.raises(
            WorldCorruptedError,
            match=r"actual: page '.*Page_0' cannot be read \(ZstdError: .*rebuild it",
        ):
            r.get("https://en.wikipedia.org/wiki/Page_0")
        with pytest.raises(WorldCorruptedError, match=r"actual: row 0 cannot be read \(ZstdError"):
            r.get_many_by_id([0])  # the search path
        with pytest.raises(WorldCorruptedError, match=r"actual: row 0 cannot be read"):
            list(r.iter_records())


def test_record_that_is_not_a_page_raises_corrupted(tmp_path):
    with PageStore(tmp_path, readonly=False, compression="none") as w:
        w.put_many([_page(0)])
        with w._env.begin(write=True) as txn:
            txn.put(
                b"https://en.wikipedia.org/wiki/Page_0",
                w.codec.encode({"id": 0, "url": 3}),
                db=w._pages,
            )
    with PageStore(tmp_path) as r:
        with pytest.raises(
            WorldCorruptedError,
            match=r"a page record whose \['url', 'title', 'markdown', 'summary'\]",
        ):
            r.get_many_by_id([0])


_TRUNCATED_READ = """
import sys
from lite_world.errors import WorldCorruptedError
from lite_world.store.lmdb_store import PageStore
try:
    with PageStore(sys.argv[1]) as r:
        print(len(r), r.get("https://en.wikipedia.org/wiki/Page_0"))
except WorldCorruptedError as exc:
    print("typed:", exc)
    sys.exit(2)
"""


def test_truncated_data_file_is_a_typed_error_not_sigbus(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(i) for i in range(300)])
    data = tmp_path / STORE_DIRNAME / "data.mdb"
    size = data.stat().st_size
    os.truncate(data, size // 2)
    # in a subprocess: before the fix the first read past the end killed the process with SIGBUS
    proc = subprocess.run(
        [sys.executable, "-c", _TRUNCATED_READ, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.startswith(
        f"typed: Expects a readable LMDB page store at {tmp_path / STORE_DIRNAME}, actual: "
        f"data.mdb holds {size // 2} bytes but its last page ends at byte "
    )
    assert (
        "(truncated). The store is damaged: restore the world from a copy, or rebuild it"
        in proc.stdout
    )


def test_many_readers_in_one_process_share_the_environment(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(0)])
    r1, r2 = PageStore(tmp_path), PageStore(tmp_path)
    assert r1._env is r2._env
    r1.close()
    r1.close()  # closing twice is harmless and does not close r2's handle
    assert r2.get("https://en.wikipedia.org/wiki/Page_0").title == "Page 0"
    with pytest.raises(
        WorldError, match="Expects no other open handle on .* when writing to it, actual: 1 open"
    ):
        PageStore(tmp_path, readonly=False)
    r2.close()
    with PageStore(tmp_path, readonly=False) as w:  # every reader closed: writing works again
        assert w.put_many([_page(1)]) == 1


def test_reader_in_a_forked_child(tmp_path):
    with PageStore(tmp_path, readonly=False) as w:
        w.put_many([_page(0)])
    parent = PageStore(tmp_path)
    pid = os.fork()
    if pid == 0:  # child: the inherited handle is unusable, a fresh open must work
        code = 1
        try:
            with PageStore(tmp_path) as child:
                code = (
                    0 if child.get("https://en.wikipedia.org/wiki/Page_0").title == "Page 0" else 3
                )
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert parent.get("https://en.wikipedia.org/wiki/Page_0").title == "Page 0"
    parent.close()


def test_every_damaged_page_header_is_a_typed_error(tiny_world, tmp_path):
    """Garbage in the header of each LMDB page in turn: reads and the digest scan raise
    WorldCorruptedError (before: lmdb.CorruptedError, BadTxnError, UnicodeDecodeError escaped)."""
    import shutil
    import signal

    data = tiny_world / STORE_DIRNAME / "data.mdb"
    pages = data.stat().st_size // 4096
    outcomes: dict[int, int] = {}
    for pgno in range(2, pages):  # pages 0 and 1 are LMDB's meta pages
        world = tmp_path / str(pgno)
        shutil.copytree(tiny_world / STORE_DIRNAME, world / STORE_DIRNAME)
        with open(world / STORE_DIRNAME / "data.mdb", "r+b") as f:
            f.seek(pgno * 4096 + 10)  # flags, lower and upper bounds of the page
            f.write(b"\xff" * 6)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 0
            try:
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                signal.alarm(60)
                with PageStore(world) as s:
                    s.content_digest()
                    list(s.iter_records())
                    s.get_many_by_id(range(s.next_id))
            except WorldCorruptedError:
                code = 2
            except BaseException:  # noqa: BLE001 - an untyped error fails the test
                code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        outcomes[pgno] = os.waitstatus_to_exitcode(status)  # negative: killed by a signal
    assert set(outcomes.values()) <= {0, 2}, outcomes
    assert sum(v == 2 for v in outcomes.values()) >= len(outcomes) // 2  # most damage is noticed
