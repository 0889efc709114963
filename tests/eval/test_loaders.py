"""Each loader on a tiny file in its benchmark's real layout (encrypted ones made with a test
canary)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lite_world.errors import TaskError
from lite_world.eval.crypto import browsecomp_decrypt, browsecomp_encrypt, xor_decrypt, xor_encrypt
from lite_world.eval.loaders import BENCHES, detect_bench, load_benchmark
from lite_world.eval.rows import read_rows

from .conftest import CANARY, write_csv, write_jsonl


def test_crypto_round_trips_and_known_vector():
    assert xor_decrypt(xor_encrypt("谁? who", CANARY), CANARY) == "谁? who"
    assert browsecomp_decrypt(browsecomp_encrypt("x" * 100, CANARY), CANARY) == "x" * 100
    # the simple-evals key stream is SHA-256(canary) repeated: byte 32 equals byte 0
    c = browsecomp_encrypt("a" * 40, "k")
    import base64

    raw = base64.b64decode(c)
    assert raw[0] == raw[32] and raw[0] != raw[1]
    assert xor_encrypt("A", "B") == "Aw=="  # 0x41 ^ 0x42 = 0x03


def test_xbench_decrypts_in_memory_only(xbench_file):
    data = load_benchmark("xbench", xbench_file)
    t = data.tasks[0]
    assert (t.id, t.question, t.answers) == ("x1", "电话是谁发明的？", ("亚历山大·格拉汉姆·贝尔",))
    assert t.meta["judge"] == "xbench" and t.meta["language"] == "zh"
    assert "电话" not in xbench_file.read_text(encoding="utf-8")  # the file stays encrypted


def test_browsecomp_decrypts(browsecomp_file):
    t = load_benchmark("browsecomp", browsecomp_file).tasks[0]
    assert t.question.startswith("Which journal") and t.answers == ("The American Journal",)
    assert t.meta["topic"] == "Other" and t.id == "browsecomp-0"


def test_wrong_canary_fails_with_how_to_fix(tmp_path):
    p = write_csv(
        tmp_path / "x.csv",
        [{"prompt": xor_encrypt("谁", CANARY), "answer": "!!notbase64", "canary": CANARY}],
    )
    with pytest.raises(TaskError, match="Expects an Xbench cell to be base64"):
        load_benchmark("xbench", p)


def test_gaia_skips_attachments(tmp_path):
    rows = [
        {
            "task_id": "g1",
            "Question": "How many moons has Mars?",
            "Level": "1",
            "Final answer": "2",
            "file_name": "",
        },
        {
            "task_id": "g2",
            "Question": "Sum the sheet.",
            "Level": "2",
            "Final answer": "7",
            "file_name": "sheet.xlsx",
        },
    ]
    data = load_benchmark("gaia", write_jsonl(tmp_path / "metadata.jsonl", rows))
    assert [t.id for t in data.tasks] == ["g1"] and data.tasks[0].difficulty == 1
    assert data.skipped == {"has an attachment (text-only harness)": 1}


def test_frames_tsv_collects_wikipedia_links(tmp_path):
    rows = [
        {
            "": "0",
            "Prompt": "Who?",
            "Answer": "Ann",
            "wiki_links": "['https://en.wikipedia.org/wiki/A', 'https://en.wikipedia.org/wiki/B']",
            "reasoning_types": "Multiple constraints",
        }
    ]
    t = load_benchmark("frames", write_csv(tmp_path / "test.tsv", rows, delimiter="\t")).tasks[0]
    assert t.meta["evidence_urls"] == [
        "https://en.wikipedia.org/wiki/A",
        "https://en.wikipedia.org/wiki/B",
    ]
    assert t.id == "0"


def test_webwalker_chinese_and_english(tmp_path):
    rows = [
        {
            "question": "该会议的截稿日期是哪天？",
            "answer": "3月1日",
            "root_url": "https://conf.example.org/",
            "info": {
                "lang": "zh",
                "difficulty_level": "easy",
                "golden_path": ["https://conf.example.org/dates"],
            },
        },
        {
            "question": "When is the deadline?",
            "answer": "March 1",
            "root_url": "https://conf.example.org/",
            "info": json.dumps({"lang": "en", "golden_path": []}),
        },
    ]
    p = tmp_path / "webwalker.json"
    p.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    zh, en = load_benchmark("webwalker", p).tasks
    assert zh.meta["language"] == "zh" and en.meta["language"] == "en"
    assert zh.meta["evidence_urls"] == [
        "https://conf.example.org/dates",
        "https://conf.example.org/",
    ]


def test_seal_parquet_and_hle_images(tmp_path):
    seal = tmp_path / "seal_0.parquet"
    pq.write_table(
        pa.Table.from_pylist(
            [{"question": "Latest X?", "answer": "Y", "urls": ["https://a.org/x"], "topic": "tech"}]
        ),
        seal,
    )
    t = load_benchmark("seal", seal).tasks[0]
    assert t.meta["evidence_urls"] == ["https://a.org/x"] and t.answers == ("Y",)
    hle = write_jsonl(
        tmp_path / "hle.jsonl",
        [
            {
                "id": "h1",
                "question": "2+2?",
                "answer": "4",
                "image": "",
                "answer_type": "exactMatch",
            },
            {
                "id": "h2",
                "question": "What is drawn?",
                "answer": "cat",
                "image": "data:image/png;base64,AAAA",
                "answer_type": "exactMatch",
            },
        ],
    )
    data = load_benchmark("hle", hle)
    assert [t.id for t in data.tasks] == ["h1"] and data.skipped == {
        "has an image (text-only harness)": 1
    }


def test_fanoutqa_evidence_and_dict_answers(tmp_path):
    rows = [
        {
            "id": "f1",
            "question": "Ages of A and B?",
            "answer": {"A": 30, "B": 40},
            "categories": [],
            "decomposition": [
                {
                    "id": "d1",
                    "question": "A?",
                    "answer": 30,
                    "depends_on": [],
                    "decomposition": [],
                    "evidence": {
                        "pageid": 1,
                        "revid": 2,
                        "title": "A",
                        "url": "https://en.wikipedia.org/wiki/A",
                    },
                },
                {
                    "id": "d2",
                    "question": "B?",
                    "answer": 40,
                    "depends_on": [],
                    "evidence": None,
                    "decomposition": [
                        {
                            "id": "d3",
                            "question": "B'?",
                            "answer": 40,
                            "depends_on": [],
                            "decomposition": [],
                            "evidence": {"url": "https://en.wikipedia.org/wiki/B"},
                        }
                    ],
                },
            ],
        }
    ]
    p = tmp_path / "fanout.json"
    p.write_text(json.dumps(rows))
    t = load_benchmark("fanoutqa", p).tasks[0]
    assert t.answers == ("A: 30; B: 40",)
    assert t.meta["evidence_urls"] == [
        "https://en.wikipedia.org/wiki/A",
        "https://en.wikipedia.org/wiki/B",
    ]


def test_browsecomp_plus_queries_with_relevant_docs(tmp_path):
    rows = [
        {
            "query_id": "7",
            "query": browsecomp_encrypt("Which band?", CANARY),
            "answer": browsecomp_encrypt("Blur", CANARY),
            "canary": CANARY,
            "evidence_docs": [{"docid": "d1", "url": "https://a.org/1"}, {"docid": "d2"}],
            "gold_docs": [{"docid": "d1"}],
        }
    ]
    t = load_benchmark("browsecomp-plus", write_jsonl(tmp_path / "q.jsonl", rows)).tasks[0]
    assert (t.id, t.question, t.answers) == ("7", "Which band?", ("Blur",))
    assert t.meta["relevant_docids"] == ["d1", "d2"] and t.meta["gold_docids"] == ["d1"]


def test_generic_parquet_and_limit(tmp_path, generic_file):
    rows = read_rows(generic_file)
    p = tmp_path / "g.parquet"
    pq.write_table(pa.Table.from_pylist(rows), p)
    data = load_benchmark("generic", p, limit=2)
    assert len(data.tasks) == 2 and data.tasks[0].meta["evidence_urls"]


@pytest.mark.parametrize(
    "bench, row, missing",
    [
        ("xbench", {"prompt": "a", "answer": "b"}, "'canary'"),
        ("browsecomp", {"problem": "a", "canary": "c"}, "'answer'"),
        ("generic", {"question": "q"}, r"\['answer', 'answers'\]"),
        ("frames", {"Prompt": "q", "Answer": "a"}, "'wiki_links'"),
        ("webwalker", {"question": "q", "answer": "a"}, "'root_url'"),
        ("fanoutqa", {"question": "q", "answer": "a"}, "'decomposition'"),
        ("gaia", {"Question": "q"}, r"\['Final answer'"),
    ],
)
def test_missing_column_is_named(tmp_path, bench, row, missing):
    p = write_jsonl(tmp_path / "f.jsonl", [row])
    with pytest.raises(TaskError, match=f"Expects (column|one of the columns) {missing}"):
        load_benchmark(bench, p)


def test_detect_and_unknown(tmp_path, xbench_file, browsecomp_file, generic_file):
    assert load_benchmark("auto", xbench_file).bench == "xbench"
    assert load_benchmark("auto", browsecomp_file).bench == "browsecomp"
    assert detect_bench(read_rows(generic_file)) == "generic"
    assert len(BENCHES) == 10
    with pytest.raises(TaskError, match="Expects --bench in"):
        load_benchmark("mmlu", generic_file)
    with pytest.raises(TaskError, match="does not exist"):
        load_benchmark("generic", tmp_path / "nope.jsonl")
