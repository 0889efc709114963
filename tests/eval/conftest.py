"""Tiny benchmark files in each real format (made here, with a test canary), and local servers.

Nothing is downloaded: the questions are the first MuSiQue questions of the bundled demo data
(the same ones the session's tiny world is built from), written in each benchmark's layout.
"""

from __future__ import annotations

import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lite_world.eval.crypto import browsecomp_encrypt, xor_encrypt
from lite_world.store.urls import wikipedia_url

CANARY = "lite-world-test-canary:0f1e2d3c"


def write_csv(path: Path, rows: list[dict[str, Any]], delimiter: str = ",") -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="session")
def generic_file(tmp_path_factory, musique) -> Path:
    """The five tiny-world questions as generic JSONL (question, answer, evidence_urls)."""
    rows = []
    for q in musique:
        support = [wikipedia_url(p["title"]) for p in q["paragraphs"] if p.get("is_supporting")]
        rows.append(
            {
                "id": q["id"],
                "question": q["question"],
                "answer": [q["answer"], *q.get("answer_aliases", [])],
                "evidence_urls": list(dict.fromkeys(support)),
            }
        )
    return write_jsonl(tmp_path_factory.mktemp("bench") / "generic.jsonl", rows)


@pytest.fixture(scope="session")
def xbench_file(tmp_path_factory) -> Path:
    rows = [
        {
            "id": "x1",
            "prompt": xor_encrypt("电话是谁发明的？", CANARY),
            "type": "zh",
            "answer": xor_encrypt("亚历山大·格拉汉姆·贝尔", CANARY),
            "canary": CANARY,
        }
    ]
    return write_csv(tmp_path_factory.mktemp("bench") / "xbench.csv", rows)


@pytest.fixture(scope="session")
def browsecomp_file(tmp_path_factory) -> Path:
    q = "Which journal did the association founded in 1892 publish?"
    rows = [
        {
            "problem": browsecomp_encrypt(q, CANARY),
            "answer": browsecomp_encrypt("The American Journal", CANARY),
            "problem_topic": "Other",
            "canary": CANARY,
        }
    ]
    return write_csv(tmp_path_factory.mktemp("bench") / "browse_comp_test_set.csv", rows)


class _Pages(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        page = self.server.pages.get(self.path)
        self.server.hits.append(self.path)
        if page is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = page.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def page_server(musique):
    """``GET /wiki/<Title>``: the tiny world's paragraphs as HTML pages."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    srv.daemon_threads = True
    srv.pages, srv.hits = {}, []
    by_title: dict[str, list[str]] = {}
    for q in musique:
        for p in q["paragraphs"]:
            by_title.setdefault(p["title"], []).append(p["paragraph_text"])
    for title, paras in by_title.items():
        body = "".join(f"<p>{t}</p>" for t in paras)
        srv.pages["/wiki/" + title.replace(" ", "_")] = (
            f"<html><head><title>{title}</title></head><body><nav>Home | Help</nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>footer</footer></body></html>"
        )
    srv.base_url = f"http://127.0.0.1:{srv.server_address[1]}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()
