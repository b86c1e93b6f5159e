// The web view of the reconciler: polls the JSON endpoints of the daemon that served it and
// draws them. Read-only: every request is a GET. No dependency, no build step.

const POLL_MS = 2000;
const STALE_MS = 5000;
const TOKEN_KEY = "reconciler-token";
const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#1b7c83", "#6e7781"];

const $ = (id) => document.getElementById(id);
const state = { lastOk: 0, lastTreeText: "", tree: null, open: new Set(), versions: new Map() };

// A `?token=` in the address moves to sessionStorage (this tab only) and leaves the address,
// so that it is not kept in the history or shown on screen.
(function takeToken() {
  const url = new URL(location.href);
  const t = url.searchParams.get("token");
  if (t) {
    sessionStorage.setItem(TOKEN_KEY, t);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
})();

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

class Unauthorized extends Error {}

// The ETag of each answer that had one: the tree is sent again only when it changed.
const etags = new Map();
const bodies = new Map();

async function api(path) {
  const headers = {};
  if (etags.has(path)) headers["If-None-Match"] = etags.get(path);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 3000);
  try {
    const r = await fetch(path, { headers, signal: abort.signal, cache: "no-store" });
    if (r.status === 401) throw new Unauthorized();
    if (r.status === 304 && bodies.has(path)) return bodies.get(path);
    if (!r.ok) throw new Error(path + ": " + r.status);
    const text = await r.text();
    const etag = r.headers.get("ETag");
    if (etag) { etags.set(path, etag); bodies.set(path, text); }
    return text;
  } finally {
    clearTimeout(timer);
  }
}

function when(text) {
  if (!text) return "—";
  const d = new Date(text);
  const s = Math.round((d.getTime() - Date.now()) / 1000);
  const rel = Math.abs(s) < 90 ? `${Math.abs(s)} s` : Math.abs(s) < 5400 ? `${Math.round(Math.abs(s) / 60)} min` : `${Math.round(Math.abs(s) / 3600)} h`;
  return `${d.toLocaleString()} (${s >= 0 ? "in " + rel : rel + " ago"})`;
}

function colorOf(version) {
  if (!state.versions.has(version)) state.versions.set(version, COLORS[state.versions.size % COLORS.length]);
  return state.versions.get(version);
}

function stateBadge(o) {
  return el("span", { class: "state", "data-state": o.state, title: o.message || "", text: o.state });
}

function objLine(o, extra) {
  const gen = o.generation !== undefined ? ` gen ${o.generation}` : "";
  const avail = o.available === undefined ? "not live" : o.available ? `Available${gen}` : `not Available${gen}: ${o.availability}`;
  return el("span", { class: "obj", "data-key": `${o.kind}/${o.namespace}/${o.name}`, "data-state": o.state },
    el("b", { text: o.kind }), el("span", { text: extra ? `${o.name} ${extra}` : o.name }), stateBadge(o),
    el("span", { class: "muted", text: avail + (o.message && o.message !== o.availability ? ` — ${o.message}` : "") }));
}

function matches(q, ...words) {
  return words.some((w) => w && String(w).toLowerCase().includes(q));
}

function renderServer(s) {
  const comps = el("ul", { class: "components" });
  for (const c of s.components) comps.append(el("li", {}, objLine(c, `@${c.version}`)));
  const weights = Object.entries(s.liveWeights).map(([v, w]) => `${v}: ${w}`).join(", ");
  return el("div", { class: "server", "data-server": `${s.namespace}/${s.name}` },
    objLine(s, `(${s.id})`), el("span", { class: "muted", text: ` weights ${weights || "none"}` }), comps);
}

function renderTree() {
  const t = state.tree;
  const root = $("tree");
  root.replaceChildren();
  if (!t || !t.vimanas.length) {
    root.append(el("p", { class: "muted", text: t && t.taken ? "No objects." : "No pass yet." }));
    return;
  }
  const q = $("search").value.trim().toLowerCase();
  const servers = t.vimanas.reduce((n, v) => n + v.domains.reduce((m, d) => m + d.servers.length, 0), 0);
  for (const v of t.vimanas) {
    const vBox = el("div", { class: "vimana" }, v.object ? objLine(v.object) : el("b", { text: "Domains of no managed Vimana" }));
    for (const d of v.domains) {
      const shown = q ? d.servers.filter((s) => matches(q, d.id, d.name, s.id, s.name, ...s.components.flatMap((c) => [c.name, c.version]))) : d.servers;
      if (q && !shown.length && !matches(q, d.id, d.name)) continue;
      const det = el("details", { "data-domain": d.id });
      det.open = q !== "" || servers <= 50 || state.open.has(d.id);
      const bad = d.servers.filter((s) => s.state !== "in-sync").length;
      det.append(el("summary", {}, objLine(d, `(${d.id})`), el("span", { class: "muted", text: ` ${d.servers.length} Server(s)${bad ? `, ${bad} not in sync` : ""}` })));
      const fill = () => { if (det.childElementCount === 1) for (const s of (q ? shown : d.servers)) det.append(renderServer(s)); };
      if (det.open) fill();
      det.addEventListener("toggle", () => { if (det.open) { state.open.add(d.id); fill(); } else state.open.delete(d.id); });
      vBox.append(det);
    }
    root.append(vBox);
  }
  $("counts").textContent = Object.entries(t.counts).map(([k, n]) => `${n} ${k}`).join(" · ");
}

function bar(which, weights) {
  const total = Object.values(weights).reduce((a, b) => a + Math.max(0, b), 0);
  const b = el("div", { class: "bar", "data-which": which });
  for (const [v, w] of Object.entries(weights)) {
    const seg = el("div", { class: "seg", "data-version": v, "data-weight": String(w), title: `${v}: ${w}`, text: w > 0 ? `${v} ${w}` : "" });
    seg.style.width = total ? `${(100 * Math.max(0, w)) / total}%` : "0";
    seg.style.background = colorOf(v);
    b.append(seg);
  }
  return el("div", { class: "bar-row" }, el("span", { class: "muted", text: which }), b);
}

// The weights of each version over the rollout's steps: one line per version, the current
// step marked.
function chart(r) {
  const w = 320, h = 90, pad = 14;
  const box = svg("svg", { class: "chart", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  const points = r.chart;
  const versions = [...new Set(points.flatMap((p) => Object.keys(p)))];
  const max = Math.max(1, ...points.flatMap((p) => Object.values(p)));
  const x = (i) => pad + (i * (w - 2 * pad)) / Math.max(1, points.length - 1);
  const y = (v) => h - pad - (v * (h - 2 * pad)) / max;
  box.append(svg("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, stroke: "#d0d7de" }));
  const current = r.step === undefined ? 0 : r.step + 1;
  box.append(svg("line", { x1: x(current), y1: pad / 2, x2: x(current), y2: h - pad, stroke: "#6e7781", "stroke-dasharray": "3 3" }));
  for (const v of versions) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p[v] || 0).toFixed(1)}`).join(" ");
    box.append(svg("path", { d, fill: "none", stroke: colorOf(v), "stroke-width": 2 }));
  }
  points.forEach((_, i) => {
    const label = svg("text", { x: x(i), y: h - 2, "font-size": 9, "text-anchor": "middle", fill: "#6e7781" });
    label.textContent = i === 0 ? "start" : `${r.steps[i - 1]}%`;
    box.append(label);
  });
  return box;
}

function renderRollouts(list) {
  const root = $("rollouts");
  root.replaceChildren();
  if (!list.length) { root.append(el("p", { class: "muted", text: "No Server whose weights move." })); return; }
  for (const s of list) {
    const box = el("div", { class: "rollout", "data-server": `${s.namespace}/${s.name}` },
      el("div", {}, el("b", { text: `${s.domain}:${s.id}` }), " ", stateBadge(s)));
    box.append(bar("live", s.liveWeights), bar("desired", s.desiredWeights));
    const r = s.rollout;
    if (r) {
      const step = r.step === undefined ? "before the first step" : `step ${r.step + 1} of ${r.steps.length} (${r.steps[r.step]}%)`;
      box.append(el("div", {}, el("span", { class: "phase", "data-phase": r.phase, text: r.phase }), " · ", el("span", { class: "step", text: step }),
        r.nextStepAt ? el("span", { class: "muted", text: ` · next step ${when(r.nextStepAt)}` }) : null));
      if (r.reason) box.append(el("div", { class: r.phase === "Aborted" ? "reason" : "muted", text: (r.phase === "Aborted" ? "Aborted: " : "") + r.reason }));
      if (r.measurements.length) {
        const ul = el("ul", { class: "analysis" });
        for (const m of r.measurements) ul.append(el("li", { "data-version": m.version, text: `${m.version}: ${m.outcome}${m.value !== null && m.value !== undefined ? ` (${m.value})` : ""} ${m.detail}` }));
        box.append(el("div", { class: "muted", text: "Analysis" }), ul);
      }
      box.append(chart(r));
    }
    root.append(box);
  }
}

function renderDrift(list) {
  const root = $("drift");
  root.replaceChildren();
  if (!list.length) { root.append(el("li", { class: "muted", text: "No drift." })); return; }
  for (const d of [...list].reverse()) {
    root.append(el("li", { "data-key": `${d.kind}/${d.namespace}/${d.name}`, "data-action": d.action },
      el("b", { text: `${d.kind} ${d.namespace}/${d.name}` }),
      el("span", { text: ` ${d.fields.join(", ")} changed by ${d.managers.join(", ") || "someone"}: ${d.action}${d.message ? ` (${d.message})` : ""}, ` }),
      el("span", { class: "muted", text: when(d.since) })));
  }
}

function diffBlock(text) {
  const pre = el("pre", { class: "diff" });
  for (const line of text.split("\n")) {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : null;
    pre.append(el("span", { class: cls, text: line + "\n" }));
  }
  return pre;
}

function renderSyncs(list) {
  const root = $("syncs");
  root.replaceChildren();
  if (!list.length) { root.append(el("p", { class: "muted", text: "No sync yet." })); return; }
  for (const s of list) {
    const head = el("div", {}, el("span", { class: "result", text: s.result }), ` ${s.trigger} · ${s.revision.slice(0, 12)} · ${when(s.started)} · ${s.durationSeconds.toFixed(2)} s · ${s.changes.length} object(s) changed`);
    const box = el("div", { class: "sync", "data-result": s.result }, head);
    if (s.message) box.append(el("div", { class: "reason", text: s.message }));
    for (const c of s.changes) {
      const det = el("details", {}, el("summary", { class: "mono", text: `${c.verb} ${c.object}` }));
      det.addEventListener("toggle", () => { if (det.open && det.childElementCount === 1) det.append(diffBlock(c.diff)); }, { once: true });
      box.append(det);
    }
    root.append(box);
  }
}

function renderSummary(s) {
  const st = s.status;
  $("instance").textContent = st.instance;
  $("role").textContent = st.role;
  $("src-url").textContent = `${st.source.url}${st.source.path ? " (" + st.source.path + ")" : ""}`;
  $("src-ref").textContent = st.source.ref;
  $("src-rev").textContent = st.revision || "none yet";
  const l = st.lastSync;
  $("last-sync").textContent = l
    ? `${l.result}, ${when(l.finished)}, ${l.durationSeconds.toFixed(2)} s, ${l.applied} applied, ${l.pruned} pruned${l.message ? ": " + l.message : ""}${st.syncing ? " (a sync is running)" : ""}`
    : st.syncing ? "the first sync is running" : "none yet";
  $("next-sync").textContent = st.nextScheduledSync ? when(st.nextScheduledSync) : "none scheduled";
}

function setLive(ok) {
  const stale = !ok && Date.now() - state.lastOk > STALE_MS;
  document.body.classList.toggle("stale", stale);
  $("stale").hidden = !stale;
  $("live").dataset.state = stale ? "stale" : ok ? "live" : $("live").dataset.state;
  $("live").textContent = stale ? "stale" : ok ? "live" : $("live").textContent;
  if (stale) $("stale-since").textContent = state.lastOk ? new Date(state.lastOk).toLocaleTimeString() : "the page opened";
}

async function poll() {
  try {
    const [summary, tree, rollouts, syncs, drift] = await Promise.all(
      ["/api/summary", "/api/tree", "/api/rollouts", "/api/syncs", "/api/drift"].map(api));
    $("login").hidden = true;
    state.lastOk = Date.now();
    setLive(true);
    renderSummary(JSON.parse(summary));
    if (tree !== state.lastTreeText) {
      state.lastTreeText = tree;
      state.tree = JSON.parse(tree);
      renderTree();
    }
    renderRollouts(JSON.parse(rollouts));
    renderDrift(JSON.parse(drift));
    renderSyncs(JSON.parse(syncs));
  } catch (e) {
    if (e instanceof Unauthorized) $("login").hidden = false;
    setLive(false);
  }
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  poll();
});
$("search").addEventListener("input", renderTree);
poll();
setInterval(poll, POLL_MS);
