// The rnnkit playground: pick a served language model, type a prompt, watch the text stream in
// (POST /v1/generate with "stream": true, read as Server-Sent Events). For a character model,
// each generated character can be coloured by one unit of the hidden state, the cell state or
// a gate, read while the model reads that character. Plain JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const SIGMOID = new Set(["i", "f", "o", "r", "z"]);       // gates in [0, 1]; the rest in [-1, 1]
const NAMES = {h: "hidden state h", c: "cell state c (tanh)", i: "input gate i", f: "forget gate f",
               o: "output gate o", g: "candidate g", r: "reset gate r", z: "update gate z",
               n: "candidate n"};
let models = [];
let running = null;                                      // the AbortController of a generation

$("token").value = sessionStorage.getItem("rnnkit-token") || "";

function headers() {
  const h = {"Content-Type": "application/json"};
  const token = $("token").value.trim();
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function loadModels() {
  sessionStorage.setItem("rnnkit-token", $("token").value.trim());
  const r = await fetch("v1/models", {headers: headers()});
  const body = await r.json();
  if (!r.ok) { status(body.error ? body.error.message : r.statusText, true); return; }
  models = body.data.filter((m) => m.generate);
  $("model").replaceChildren(...models.map((m) => new Option(m.id, m.id)));
  if (!models.length) status("no language model is served here", true); else status("");
  showModel();
}

function current() { return models.find((m) => m.id === $("model").value); }

function showModel() {
  const m = current();
  if (!m) return;
  $("about").textContent = `${m.cell}, ${m.layers} x ${m.hidden_size} units, ${m.level} level`;
  const probes = m.level === "char" ? m.probes : [];
  $("what").replaceChildren(new Option("nothing", ""),
                            ...probes.map((p) => new Option(NAMES[p] || p, p)));
  $("probebox").disabled = !probes.length;
  $("layer").max = m.layers - 1;
  $("unit").max = m.hidden_size - 1;
  showLegend();
}

function colour(value, what) {
  // to [-1, 1]: a gate's [0, 1] stretched; the cell state (unbounded) through tanh, as h sees it
  let t = SIGMOID.has(what) ? 2 * value - 1 : what === "c" ? Math.tanh(value) : value;
  t = Math.max(-1, Math.min(1, t));
  const a = Math.abs(t).toFixed(3);
  return t >= 0 ? `rgba(214, 39, 40, ${a})` : `rgba(31, 119, 180, ${a})`;
}

function showLegend() {
  const what = $("what").value;
  if (!what) { $("legend").replaceChildren(); return; }
  const [lo, hi] = SIGMOID.has(what) ? [0, 1] : [-1, 1];
  const cells = [];
  for (let k = 0; k <= 8; k++) {
    const v = lo + (hi - lo) * k / 8;
    const span = document.createElement("span");
    span.style.background = colour(v, what);
    span.title = v.toFixed(2);
    span.textContent = k === 0 ? String(lo) : k === 8 ? String(hi) : "\u00a0";
    if (k === 0 || k === 8) span.style.color = "#fff";
    cells.push(span);
  }
  $("legend").replaceChildren(...cells);
}

function number(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

function request() {
  const body = {model: $("model").value, prompt: $("prompt").value, stream: true,
                length: number("length"), temperature: number("temperature")};
  for (const k of ["top_k", "top_p", "seed"]) if (number(k) !== null) body[k] = number(k);
  const what = $("what").value;
  if (what && !$("probebox").disabled) {
    body.probe = {what, layer: number("layer") || 0, unit: number("unit") || 0};
  }
  return body;
}

function addText(text, value, what) {
  if (!text) return;
  const span = document.createElement("span");
  span.textContent = text;
  if (value !== undefined) {
    span.style.background = colour(value, what);
    span.title = `${what} = ${value.toFixed(3)}`;
  }
  $("output").appendChild(span);
}

async function generate() {
  const body = request();
  const out = $("output");
  out.replaceChildren();
  const prompt = document.createElement("span");
  prompt.className = "prompt";
  prompt.textContent = body.prompt;
  out.appendChild(prompt);
  running = new AbortController();
  $("go").disabled = true; $("stop").disabled = false;
  status("generating…");
  const started = performance.now();
  let count = 0;
  try {
    const r = await fetch("v1/generate", {method: "POST", headers: headers(),
                                          body: JSON.stringify(body), signal: running.signal});
    if (!r.ok) {
      const err = await r.json().catch(() => ({}));
      throw new Error(err.error ? err.error.message : r.statusText);
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true}).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (!data) continue;
        const d = JSON.parse(data);
        if (event === "token") {
          count++;
          addText(d.text, d.value, body.probe && body.probe.what);
        } else if (event === "done") {
          addText(d.rest);
          const seconds = (performance.now() - started) / 1000;
          status(`done: ${d.tokens} tokens in ${seconds.toFixed(2)} s ` +
                 `(${(d.tokens / seconds).toFixed(0)} tokens/s), first token after ` +
                 `${d.ttft_ms === null ? "-" : d.ttft_ms.toFixed(0)} ms` +
                 (d.stopped ? `, stopped at ${JSON.stringify(d.stopped)}` : ""));
        } else if (event === "error") {
          throw new Error(d.message);
        }
      }
    }
  } catch (e) {
    if (e.name === "AbortError") status(`stopped after ${count} tokens`);
    else status(String(e.message || e), true);
  } finally {
    running = null;
    $("go").disabled = false; $("stop").disabled = true;
  }
}

$("model").addEventListener("change", showModel);
$("what").addEventListener("change", showLegend);
$("token").addEventListener("change", loadModels);
$("go").addEventListener("click", generate);
$("stop").addEventListener("click", () => running && running.abort());
loadModels().catch((e) => status(String(e), true));
