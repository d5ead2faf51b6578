"""The web page at ``/``: plain HTML and a little inline JavaScript (no CDN, no build step).

Per model a generate form fitting its sample kind (an image grid; text with
streaming), a pairwise rating tab and a real-or-generated tab. Rating requests carry
the per-session CSRF token embedded here.
"""

from __future__ import annotations

import html
import json
from typing import Any

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>genloom serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px system-ui,sans-serif;max-width:1000px;margin:1em auto;padding:0 1em}
nav button{margin-right:.5em} section{border:1px solid #ccc;border-radius:6px;padding:.8em;margin:.8em 0}
img{image-rendering:pixelated;max-width:100%;min-width:256px} pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}
.pair{display:flex;gap:1em}.pair>div{flex:1}.err{color:#b00}
</style></head><body>
<h1>genloom serve</h1>
<nav><button data-tab="gen">Generate</button><button data-tab="pair">Pairwise</button>
<button data-tab="real">Real or generated?</button></nav>
<div id="tab-gen"></div>
<div id="tab-pair" hidden><section>
<p>Two samples for the same prompt or condition: pick the better one, or tie.</p>
<label>A: <select id="pair-a"></select></label> <label>B: <select id="pair-b"></select></label>
<label>prompt <input id="pair-prompt" value=""></label> <label>label <input id="pair-cond" size="4"
title="class label for conditional models [default: one at random]"></label> <button id="pair-new">New pair</button>
<div class="pair"><div><h3>A</h3><div id="pair-A"></div></div><div><h3>B</h3><div id="pair-B"></div></div></div>
<button class="pick" data-choice="A">A is better</button><button class="pick" data-choice="B">B is better</button>
<button class="pick" data-choice="tie">Tie</button> <span id="pair-msg"></span></section></div>
<div id="tab-real" hidden><section>
<p>One item at a time, from held-out data or from the model, at random. Real or generated?</p>
<label>model <select id="real-model"></select></label> <button id="real-new">Next item</button>
<div id="real-item"></div>
<button class="ans" data-answer="real">Real</button><button class="ans" data-answer="generated">Generated</button>
<span id="real-msg"></span></section></div>
<script>
const MODELS = __MODELS__, CSRF = "__CSRF__", RATINGS = __RATINGS__;
const $ = (id) => document.getElementById(id);
function show(tab){for(const t of ["gen","pair","real"]) $("tab-"+t).hidden = t !== tab;}
document.querySelectorAll("nav button").forEach(b => b.onclick = () => show(b.dataset.tab));
async function post(url, body, rating){
  const headers = {"Content-Type": "application/json"};
  if (rating) headers["X-CSRF-Token"] = CSRF;
  const r = await fetch(url, {method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin"});
  const j = await r.json().catch(() => ({error: "HTTP " + r.status}));
  if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
  return j;
}
function render(item, el){
  el.textContent = "";
  if (item.media_type.startsWith("image/")) {const i = document.createElement("img");
    i.src = "data:" + item.media_type + ";base64," + item.base64; el.appendChild(i);}
  else if (item.text !== undefined) {const p = document.createElement("pre"); p.textContent = item.text; el.appendChild(p);}
  else if (item.media_type.startsWith("audio/")) {const a = document.createElement("audio"); a.controls = true;
    a.src = "data:" + item.media_type + ";base64," + item.base64; el.appendChild(a);}
  else {const a = document.createElement("a"); a.href = "data:" + item.media_type + ";base64," + item.base64;
    a.download = "samples" + item.suffix; a.textContent = "download"; el.appendChild(a);}
}
function field(form, label, name, value){
  const l = document.createElement("label"); l.textContent = label + " ";
  const i = document.createElement("input"); i.name = name; i.value = value; i.size = 8; l.appendChild(i);
  form.appendChild(l); form.appendChild(document.createTextNode(" "));
}
for (const m of MODELS) {
  const s = document.createElement("section"); s.dataset.model = m.name; const h = document.createElement("h2");
  h.textContent = m.name + " (" + m.family + ", " + m.kind + ")"; s.appendChild(h);
  const f = document.createElement("form"); f.dataset.model = m.name;
  if (m.streams) {field(f, "prompt", "prompt", ""); field(f, "max tokens", "max_new_tokens", 200);
                  field(f, "stop", "stop", "");}
  else field(f, "n", "n", Math.min(m.default_n, 16));
  field(f, "seed", "seed", 0);
  if (m.conditional) field(f, "label", "cond", "");
  const b = document.createElement("button"); b.textContent = m.streams ? "Stream" : "Generate"; f.appendChild(b);
  const out = document.createElement("div"); s.appendChild(f); s.appendChild(out);
  f.onsubmit = async (e) => {
    e.preventDefault(); const v = Object.fromEntries(new FormData(f)); out.textContent = "…";
    try {
      if (m.streams) await stream(m.name, v, out);
      else { const body = {n: +v.n, seed: +v.seed}; if (v.cond) body.cond = +v.cond;
             const j = await post("/v1/models/" + encodeURIComponent(m.name) + "/samples", body); render(j.file, out); }
    } catch (err) { out.innerHTML = ""; const p = document.createElement("p"); p.className = "err";
                    p.textContent = err.message; out.appendChild(p); }
  };
  if (m.interpolates) s.appendChild(walkForm(m));
  if ((m.suffixes || []).includes(".wav")) s.appendChild(audioLinks(m));
  $("tab-gen").appendChild(s);
  for (const id of ["pair-a", "pair-b", "real-model"]) { const o = document.createElement("option");
    o.textContent = m.name; $(id).appendChild(o); }
}
function walkForm(m){  // an interpolation strip, and a slider that steps through its frames
  const box = document.createElement("div"); box.className = "walk"; const f = document.createElement("form");
  field(f, "seeds", "seeds", "0,1"); field(f, "steps", "steps", 8);
  if (m.conditional) field(f, "label", "cond", 0);
  const b = document.createElement("button"); b.textContent = "Interpolate"; f.appendChild(b);
  const out = document.createElement("div"); box.appendChild(f); box.appendChild(out);
  f.onsubmit = async (e) => {
    e.preventDefault(); const v = Object.fromEntries(new FormData(f)); out.textContent = "…";
    try {
      const body = {seeds: v.seeds.split(",").map(Number), steps: +v.steps}; if (v.cond) body.cond = +v.cond;
      const j = await post("/v1/models/" + encodeURIComponent(m.name) + "/interpolate", body);
      out.textContent = ""; const strip = document.createElement("div"); render(j.file, strip);
      const frame = document.createElement("div"); frame.className = "frame";
      const slider = document.createElement("input"); slider.type = "range"; slider.min = 0;
      slider.max = j.frames.length - 1; slider.value = 0; slider.className = "walk-slider";
      slider.oninput = () => render(j.frames[+slider.value], frame);
      out.appendChild(strip); out.appendChild(slider); out.appendChild(frame); slider.oninput();
    } catch (err) { out.textContent = ""; const p = document.createElement("p"); p.className = "err";
                    p.textContent = err.message; out.appendChild(p); }
  };
  return box;
}
function audioLinks(m){  // music kinds: the same draw as WAV (a player) and as MIDI (a download)
  const box = document.createElement("div"); const b = document.createElement("button");
  b.textContent = "Play (WAV) / MIDI"; box.appendChild(b); const out = document.createElement("div"); box.appendChild(out);
  b.onclick = async () => {
    const seed = +(box.parentNode.querySelector("input[name=seed]") || {value: 0}).value;
    try { out.textContent = "";
      for (const suffix of [".wav", ".mid"]) {
        const j = await post("/v1/models/" + encodeURIComponent(m.name) + "/samples?suffix=" + suffix, {n: 1, seed});
        const el = document.createElement("div"); render(j.file, el); out.appendChild(el); }
    } catch (err) { out.textContent = err.message; }
  };
  return box;
}
async function stream(name, v, out){
  const body = {prompt: v.prompt, seed: +v.seed, max_new_tokens: +v.max_new_tokens};
  if (v.stop) body.stop = [v.stop.replace(/\\\\n/g, "\\n")];
  const r = await fetch("/v1/models/" + encodeURIComponent(name) + "/stream", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify(body), credentials: "same-origin"});
  if (!r.ok) { const j = await r.json(); throw new Error(j.error); }
  const pre = document.createElement("pre"); out.textContent = ""; out.appendChild(pre);
  const reader = r.body.getReader(), dec = new TextDecoder(); let buf = "";
  for (;;) { const {value, done} = await reader.read(); if (done) break; buf += dec.decode(value, {stream: true});
    let k; while ((k = buf.indexOf("\\n\\n")) >= 0) { const ev = buf.slice(0, k); buf = buf.slice(k + 2);
      const data = ev.split("\\n").find(l => l.startsWith("data: ")); if (!data) continue;
      const j = JSON.parse(data.slice(6)); if (ev.startsWith("event: error")) throw new Error(j.error);
      if (j.text !== undefined) pre.textContent += j.text; } }
  pre.dataset.done = "true";
}
let pairId = null, realId = null;
$("pair-new").onclick = async () => {
  const a = $("pair-a").value, b = $("pair-b").value; $("pair-msg").textContent = "…";
  try { const body = {models: a === b ? [a] : [a, b]}; if ($("pair-prompt").value) body.prompt = $("pair-prompt").value;
        if ($("pair-cond").value) body.cond = +$("pair-cond").value;
        const j = await post("/v1/rate/pair/new", body, true); pairId = j.id;
        render(j.a, $("pair-A")); render(j.b, $("pair-B")); $("pair-msg").textContent = ""; }
  catch (err) { $("pair-msg").textContent = err.message; }
};
document.querySelectorAll(".pick").forEach(b => b.onclick = async () => {
  if (!pairId) return; try { await post("/v1/rate/pair", {id: pairId, choice: b.dataset.choice}, true);
    pairId = null; $("pair-msg").textContent = "recorded"; $("pair-new").click(); }
  catch (err) { $("pair-msg").textContent = err.message; } });
$("real-new").onclick = async () => {
  try { const j = await post("/v1/rate/real/new", {model: $("real-model").value}, true); realId = j.id;
        render(j.item, $("real-item")); $("real-msg").textContent = ""; }
  catch (err) { $("real-msg").textContent = err.message; }
};
document.querySelectorAll(".ans").forEach(b => b.onclick = async () => {
  if (!realId) return; try { await post("/v1/rate/real", {id: realId, answer: b.dataset.answer}, true);
    realId = null; $("real-msg").textContent = "recorded"; $("real-new").click(); }
  catch (err) { $("real-msg").textContent = err.message; } });
if (!RATINGS) for (const id of ["pair-new", "real-new"]) { $(id).disabled = true;
  $(id).title = "start genloom serve with --ratings FILE"; }
</script></body></html>
"""


def render_page(models: list[dict[str, Any]], csrf: str, *, ratings: bool) -> str:
    """The page, with the models' descriptions and this session's CSRF token inlined."""
    data = json.dumps(models).replace("<", "\\u003c")  # no </script> from a model's name
    return (PAGE.replace("__MODELS__", data).replace("__CSRF__", html.escape(csrf))
            .replace("__RATINGS__", "true" if ratings else "false"))
