"""Reports for rollouts: a self-contained HTML trajectory viewer and a summary plot.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "v.html"
    >>> write_viewer([], {"accuracy": 0.0}, p).read_text().startswith("<!doctype html>")
    True
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lite_world._lazy import require

__all__ = ["write_viewer", "write_plot"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lite-world rollouts</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;height:100vh}
#side{width:340px;overflow:auto;border-right:1px solid #ddd;background:#fafafa}
#main{flex:1;overflow:auto;padding:12px 20px}
.ep{padding:6px 10px;border-bottom:1px solid #eee;cursor:pointer;font-size:13px}
.ep:hover,.ep.sel{background:#e8f0fe}
.ok{color:#137333;font-weight:bold}.bad{color:#c5221f;font-weight:bold}
.msg{margin:8px 0;border-radius:6px;padding:8px;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px}
.system{background:#f1f3f4}.user{background:#fff8e1}.assistant{background:#e8f0fe}.tool{background:#e6f4ea}
.role{font-weight:bold;font-family:system-ui;margin-bottom:4px}
details>summary{cursor:pointer}
#filter{width:90%;margin:8px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:2px 6px}
</style></head><body>
<div id="side"><input id="filter" placeholder="filter: question, answer, ok, bad"><div id="list"></div></div>
<div id="main"><h2>Summary</h2><table id="summary"></table><p>Select an episode on the left.</p></div>
<script id="data" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById('data').textContent);
const esc = s => String(s ?? '').replace(/[&<>]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
function summary(){ const t=document.getElementById('summary');
  for (const [k,v] of Object.entries(D.summary)) t.insertAdjacentHTML('beforeend',`<tr><th>${esc(k)}</th><td>${esc(JSON.stringify(v))}</td></tr>`); }
function list(f){ const l=document.getElementById('list'); l.innerHTML='';
  D.episodes.forEach((e,i)=>{ const ok=e.reward>=1, txt=(e.question+' '+e.answer+' '+(ok?'ok':'bad')).toLowerCase();
    if(f && !txt.includes(f.toLowerCase())) return;
    l.insertAdjacentHTML('beforeend',`<div class="ep" data-i="${i}"><span class="${ok?'ok':'bad'}">${e.reward.toFixed(2)}</span> · ${e.turns} turns · ${esc(e.question).slice(0,90)}</div>`); });
  l.querySelectorAll('.ep').forEach(d=>d.onclick=()=>show(+d.dataset.i,d)); }
function show(i,el){ document.querySelectorAll('.ep.sel').forEach(x=>x.classList.remove('sel')); el.classList.add('sel');
  const e=D.episodes[i]; let h=`<h2>${esc(e.question)}</h2><p>gold: <b>${esc(e.answers.join(' | '))}</b> · answer: <b>${esc(e.answer)}</b> · reward ${e.reward} · ${esc(JSON.stringify(e.reward_info))}</p>`;
  h+='<table><tr><th>turn</th><th>kind</th><th>tool</th><th>arguments</th><th>ms</th><th>error</th></tr>'+e.steps.map(s=>`<tr><td>${s.turn}</td><td>${esc(s.action_kind)}</td><td>${esc(s.tool)}</td><td>${esc(JSON.stringify(s.arguments))}</td><td>${(1000*(s.tool_latency_s||0)).toFixed(1)}</td><td>${esc(s.error)}</td></tr>`).join('')+'</table>';
  for (const m of e.messages){ const tool=m.role==='user'&&m.content.startsWith('<tool_response>'); const cls=tool?'tool':m.role;
    const body=esc(m.content); h+= m.role==='system' ? `<details class="msg system"><summary class="role">system prompt</summary>${body}</details>` : `<div class="msg ${cls}"><div class="role">${tool?'tool':m.role}</div>${body}</div>`; }
  document.getElementById('main').innerHTML=h; }
document.getElementById('filter').oninput=e=>list(e.target.value); summary(); list('');
</script></body></html>
"""


def write_viewer(
    episodes: Sequence[dict[str, Any]], summary: dict[str, Any], path: str | os.PathLike[str]
) -> Path:
    """Write a single-file HTML viewer: episode list, summary table, full conversations."""
    data = json.dumps({"summary": summary, "episodes": list(episodes)}, ensure_ascii=False)
    data = data.replace("</", "<\\/")  # keep "</script>" inside JSON from closing the tag
    p = Path(path)
    p.write_text(_PAGE.replace("__DATA__", data), encoding="utf-8")
    return p


def write_plot(episodes: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Accuracy by difficulty, turns per episode, and tool-call latency, in one PNG."""
    matplotlib = require("matplotlib", extra="plot")
    matplotlib.use("Agg")
    plt = require("matplotlib.pyplot", extra="plot")

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    by: dict[str, list[float]] = defaultdict(list)
    for e in episodes:
        by[str(e.get("difficulty"))].append(e["reward"])
    keys = sorted(by)
    ax[0].bar(keys, [sum(by[k]) / len(by[k]) for k in keys], color="#4c72b0")
    ax[0].set(title="accuracy by difficulty (hops)", ylim=(0, 1), xlabel="difficulty")
    ax[1].hist(
        [e["turns"] for e in episodes],
        bins=range(0, max([e["turns"] for e in episodes] + [1]) + 2),
        color="#55a868",
    )
    ax[1].set(title="turns per episode", xlabel="turns")
    lat = [
        1000 * s["tool_latency_s"]
        for e in episodes
        for s in e["steps"]
        if s.get("tool") and s.get("tool_latency_s")
    ]
    ax[2].hist(lat, bins=30, color="#c44e52")
    ax[2].set(title="tool latency (ms)", xlabel="ms")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=90)
    plt.close(fig)
    return p
