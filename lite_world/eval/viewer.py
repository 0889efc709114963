"""A static, self-contained trajectory viewer for an evaluation (``viewer.html``).

One row per episode (question, reference, prediction, correct, turns, tool calls); a row expands
into every thought, tool call and tool response of the episode; a filter shows all, correct or
incorrect episodes. All text is escaped when rendered (the data sits in a JSON block whose ``<``,
``>`` and ``&`` are ``\\u`` escapes, so no page text can close a tag). Opening the file with
``#filter=incorrect`` or ``#open=3`` applies the filter or expands row 3 through the same handlers
a click uses (handy for links and for headless-browser checks).

Example:
    >>> import tempfile, pathlib
    >>> p = write_viewer(pathlib.Path(tempfile.mkdtemp()) / "v.html", [], {"accuracy": 0.0})
    >>> text = p.read_text()
    >>> text.startswith("<!doctype html>"), "<script>" in text
    (True, True)
    >>> embed_json({"q": "</script><b>"})
    '{"q": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_viewer", "embed_json"]

_KEEP = (
    "task_id",
    "sample",
    "question",
    "answers",
    "answer",
    "judge",
    "reward_info",
    "turns",
    "totals",
    "messages",
    "timed_out",
    "truncated",
    "error",
    "steps",
)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lite-world evaluation</title>
<style>
body{font-family:system-ui,sans-serif;margin:16px;color:#202124}
h1{font-size:20px;margin:0 0 6px}
#bar{margin:8px 0 12px;display:flex;gap:16px;align-items:center}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e0e0e0;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f3f4;position:sticky;top:0}
tr.item{cursor:pointer}tr.item:hover{background:#f8f9fa}
.ok{color:#137333;font-weight:bold}.bad{color:#c5221f;font-weight:bold}
.detail td{background:#fafafa}
.msg{margin:6px 0;padding:6px 8px;border-radius:6px;white-space:pre-wrap;
  font-family:ui-monospace,monospace;font-size:12px}
.thought{background:#fff8e1}.call{background:#e8f0fe}
.response{background:#e6f4ea;max-height:320px;overflow:auto}
.answer{background:#fce8e6}.text{background:#f1f3f4}
.label{font-family:system-ui;font-weight:bold;display:block}
button.toggle{border:1px solid #dadce0;background:#fff;border-radius:4px;cursor:pointer}
</style></head><body>
<h1>lite-world evaluation</h1>
<div id="headline"></div>
<div id="bar"><label>show <select id="filter"><option value="all">all</option>
<option value="correct">correct</option><option value="incorrect">incorrect</option></select>
</label><span id="count"></span></div>
<table><thead><tr><th></th><th>#</th><th>question</th><th>reference</th><th>prediction</th>
<th>correct</th><th>turns</th><th>tool calls</th></tr></thead><tbody id="items"></tbody></table>
<script id="data" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById('data').textContent);
const ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
const esc = s => String(s ?? '').replace(/[&<>"']/g, c => ESC[c]);
const pct = x => (x === null || x === undefined) ? '–' : (100 * x).toFixed(1) + '%';
const ok = e => !!(e.judge && e.judge.correct);
const $ = id => document.getElementById(id);
function headline() {
  const s = D.summary, n = s.episodes ?? D.episodes.length;
  $('headline').innerHTML = `${esc(s.bench || '')} · ${esc(s.tools || '')} tools · ` +
    `accuracy <b>${pct(s.accuracy)}</b> · EM ${pct(s.em)} · ${esc(n)} episodes · ` +
    `mean turns ${Number(s.mean_turns ?? 0).toFixed(2)}`;
}
function block(cls, label, text) {
  return `<div class="msg ${cls}"><span class="label">${esc(label)}</span>${esc(text)}</div>`;
}
const KINDS = {think: ['thought', 'thought'], tool_call: ['call', 'tool call'],
               answer: ['answer', 'answer']};
function parts(text) {
  const out = [], re = /<(think|tool_call|answer)>([\\s\\S]*?)(?:<\\/\\1>|$)/g;
  let m, last = 0, any = false;
  while ((m = re.exec(text)) !== null) {
    any = true;
    const pre = text.slice(last, m.index).trim();
    if (pre) out.push(['text', 'text', pre]);
    const kind = KINDS[m[1]];
    out.push([kind[0], kind[1], m[2].trim()]);
    last = re.lastIndex;
    if (m[0].length === 0) break;
  }
  const rest = text.slice(last).trim();
  if (rest || !any) out.push(['text', 'text', rest]);
  return out;
}
function toolText(c) {
  return c.replace(/^<tool_response>\\n?/, '').replace(/\\n?<\\/tool_response>$/, '');
}
function detail(e) {
  let h = '';
  for (const m of (e.messages || [])) {
    const c = String(m.content ?? '');
    if (m.role === 'system') {
      h += `<details><summary>system prompt</summary>${block('text', 'system', c)}</details>`;
    } else if (m.role === 'assistant') {
      for (const [cls, label, t] of parts(c)) h += block(cls, label, t);
    } else if (c.startsWith('<tool_response>')) {
      h += block('response', 'tool response', toolText(c));
    } else {
      h += block('text', m.role, c);
    }
  }
  const notes = [];
  if (e.timed_out) notes.push('timed out');
  if (e.truncated) notes.push('turn limit');
  if (e.error) notes.push('agent error: ' + e.error);
  if (e.judge) notes.push('verdict source: ' + e.judge.source);
  return `<div class="notes">${esc(notes.join(' · '))}</div>` + h;
}
function render() {
  const tb = $('items');
  tb.innerHTML = '';
  D.episodes.forEach((e, i) => {
    const c = ok(e), calls = (e.totals || {}).tool_calls ?? 0;
    tb.insertAdjacentHTML('beforeend',
      `<tr class="item" data-i="${i}" data-correct="${c ? 1 : 0}">` +
      `<td><button class="toggle" aria-expanded="false">+</button></td>` +
      `<td>${i + 1}</td><td>${esc(e.question)}</td>` +
      `<td>${esc((e.answers || []).join(' | '))}</td><td>${esc(e.answer)}</td>` +
      `<td class="${c ? 'ok' : 'bad'}">${c ? 'yes' : 'no'}</td><td>${esc(e.turns)}</td>` +
      `<td>${esc(calls)}</td></tr>` +
      `<tr class="detail" data-for="${i}" hidden><td colspan="8"></td></tr>`);
  });
  tb.querySelectorAll('tr.item').forEach(r => r.addEventListener('click', () => toggle(r)));
}
function toggle(row) {
  const d = row.nextElementSibling, b = row.querySelector('button.toggle');
  if (d.hidden) {
    if (!d.dataset.filled) {
      d.firstElementChild.innerHTML = detail(D.episodes[+row.dataset.i]);
      d.dataset.filled = '1';
    }
    d.hidden = false;
    b.textContent = '−';
    b.setAttribute('aria-expanded', 'true');
  } else {
    d.hidden = true;
    b.textContent = '+';
    b.setAttribute('aria-expanded', 'false');
  }
}
function applyFilter() {
  const f = $('filter').value;
  let n = 0;
  document.querySelectorAll('tr.item').forEach(r => {
    const show = f === 'all' || (f === 'correct') === (r.dataset.correct === '1');
    r.hidden = !show;
    if (!show) r.nextElementSibling.hidden = true;
    if (show) n++;
  });
  $('count').textContent = `${n} of ${D.episodes.length} shown`;
}
$('filter').addEventListener('change', applyFilter);
headline();
render();
applyFilter();
const H = new URLSearchParams(location.hash.slice(1));
if (H.get('filter')) {
  $('filter').value = H.get('filter');
  $('filter').dispatchEvent(new Event('change'));
}
if (H.get('open') !== null) {
  const r = document.querySelector(`tr.item[data-i="${+H.get('open')}"]`);
  if (r) r.click();
}
</script></body></html>
"""


def embed_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element (``<``, ``>``, ``&`` escaped as ``\\uXXXX``)."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_viewer(
    path: str | os.PathLike[str], episodes: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]
) -> Path:
    """Write ``viewer.html`` for ``episodes`` (judged records) and their ``summary``."""
    slim = [{k: e[k] for k in _KEEP if k in e} for e in episodes]
    brief = {
        k: summary.get(k) for k in ("bench", "tools", "accuracy", "em", "episodes", "mean_turns")
    }
    p = Path(path)
    p.write_text(
        _PAGE.replace("__DATA__", embed_json({"summary": brief, "episodes": slim})),
        encoding="utf-8",
    )
    return p
