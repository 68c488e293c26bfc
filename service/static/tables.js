"use strict";
// The organiser page: plan, swap or move (sizes kept), undo/redo, lock and re-solve,
// save and load (server-side, versioned), publish a read-only link, agendas.
const $ = (id) => document.getElementById(id);
const PUBLISHED = location.pathname.match(/\/tables\/published\/([A-Za-z0-9_-]+)\/?$/);
const BASE = location.pathname.replace(/\/tables(\/published\/.*)?\/?$/, "");
const API = BASE + "/tables";

let lastRequest = null;           // the planning request behind the plan shown
let history = [], at = -1;        // plans shown, for undo and redo
let selected = null;              // {r, key} picked for a swap or a move
const lockedPeople = new Set();   // keys, every round
const lockedTables = new Set();   // "round:table", 1-based
let savedAs = null;               // {name, version} of the plan shown, once saved
let view = "tables";

const plan = () => history[at] || null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function status(text) { $("status").textContent = text; }

function headers(json) {
  const h = json ? { "Content-Type": "application/json" } : {};
  const key = $("api_key").value.trim();
  if (key) h["X-API-Key"] = key;
  return h;
}

async function call(method, url, body) {
  const response = await fetch(url, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const e = data.error || {};
    const problems = (e.problems || []).map((p) => p.field + ": " + p.message);
    throw new Error((e.message || response.statusText) + (problems.length ? "\n" + problems.join("\n") : ""));
  }
  return data;
}

function request() {
  const num = (id) => { const v = $(id).value.trim(); return v === "" ? null : Number(v); };
  const themes = {};
  for (const line of $("themes").value.split("\n")) {
    const m = line.match(/^\s*(\d+)\s*=\s*(.+?)\s*$/);
    if (m) themes[m[1]] = m[2];
  }
  const body = {
    participants_csv: $("csv").value,
    rounds: num("rounds") || 3,
    seed: num("seed") || 0,
    rules: {
      min_countries: num("min_countries") || 0,
      research_and_industry: $("research_and_industry").checked,
      no_repeat: !$("allow_repeats").checked,
      avoid_partners: !$("allow_partners").checked,
      themes,
    },
  };
  if (num("time_limit")) body.time_limit = num("time_limit");
  if (num("tables")) body.tables = num("tables"); else if (num("table_size")) body.table_size = num("table_size");
  return body;
}

function fill(req) {
  $("csv").value = req.participants_csv || "";
  $("rounds").value = req.rounds || 3;
  $("seed").value = req.seed || 0;
  $("table_size").value = req.table_size || "";
  $("tables").value = req.tables || "";
  $("time_limit").value = req.time_limit || "";
  const rules = req.rules || {};
  $("min_countries").value = rules.min_countries || 0;
  $("research_and_industry").checked = !!rules.research_and_industry;
  $("allow_repeats").checked = rules.no_repeat === false;
  $("allow_partners").checked = rules.avoid_partners === false;
  $("themes").value = Object.entries(rules.themes || {}).map(([t, v]) => `${t}=${v}`).join("\n");
}

// Only who sits where: what the server reads back from a plan.
function seatingOf(p) {
  return { rounds: p.rounds.map((r) => ({ tables: r.tables.map((t) => ({ members: t.members.map((m) => ({ key: m.key })) })) })) };
}

function push(data) {
  history = history.slice(0, at + 1);
  history.push(data);
  at = history.length - 1;
  show();
}

async function planTables() {
  status("planning…");
  try {
    lastRequest = request();
    lockedPeople.clear(); lockedTables.clear(); selected = null; savedAs = null;
    history = []; at = -1;
    push(await call("POST", API, lastRequest));
    status("");
  } catch (err) { status("error: " + err.message); }
}

async function resolve() {
  const locks = { people: [...lockedPeople], tables: [...lockedTables].map((s) => { const [round, table] = s.split(":").map(Number); return { round, table }; }) };
  status("re-solving around " + locks.people.length + " locked people and " + locks.tables.length + " locked tables…");
  try {
    push(await call("POST", API, Object.assign({}, lastRequest, { plan: seatingOf(plan()), locks })));
    status("");
  } catch (err) { status("error: " + err.message); }
}

async function rescore(edited) {
  status("scoring…");
  try {
    push(await call("POST", API + "/score", Object.assign({}, lastRequest, { plan: seatingOf(edited) })));
    status("");
  } catch (err) { status("error: " + err.message); }
}

function copyPlan() { return JSON.parse(JSON.stringify(plan())); }

function tableOf(p, r, key) { return p.rounds[r].tables.findIndex((t) => t.members.some((m) => m.key === key)); }

function swap(r, a, b) {
  const edited = copyPlan();
  const tables = edited.rounds[r].tables;
  const ta = tableOf(edited, r, a), tb = tableOf(edited, r, b);
  const ia = tables[ta].members.findIndex((m) => m.key === a), ib = tables[tb].members.findIndex((m) => m.key === b);
  const ma = tables[ta].members[ia];
  tables[ta].members[ia] = tables[tb].members[ib];
  tables[tb].members[ib] = ma;
  rescore(edited);
}

function sizesOf(p, r) { return p.rounds[r].tables.map((t) => t.members.length); }

function canMove(r, key, to) {
  const sizes = sizesOf(plan(), r);
  const from = tableOf(plan(), r, key);
  const lo = Math.min(...sizes), hi = Math.max(...sizes);
  return from !== to && hi > lo && sizes[from] === hi && sizes[to] === lo;
}

function move(r, key, to) {
  const edited = copyPlan();
  const tables = edited.rounds[r].tables;
  const from = tableOf(edited, r, key);
  const i = tables[from].members.findIndex((m) => m.key === key);
  tables[to].members.push(tables[from].members.splice(i, 1)[0]);
  rescore(edited);
}

function pick(r, key) {
  if (PUBLISHED) return;
  if (selected && selected.r === r && selected.key !== key && tableOf(plan(), r, selected.key) !== tableOf(plan(), r, key)) {
    const first = selected.key;
    selected = null;
    swap(r, first, key);
    return;
  }
  selected = selected && selected.r === r && selected.key === key ? null : { r, key };
  render();
}

function show() {
  const data = plan();
  $("result").hidden = !data;
  if (!data) return;
  for (const id of ["export", "print", "save", "resolve"]) $(id).disabled = !!PUBLISHED;
  $("undo").disabled = at <= 0;
  $("redo").disabled = at >= history.length - 1;
  $("publish").disabled = !savedAs;
  $("score").textContent = data.score.toFixed(3);
  const delta = $("delta");
  const before = at > 0 ? history[at - 1].score : null;
  if (before !== null) {
    const d = data.score - before;
    delta.textContent = (d >= 0 ? "+" : "−") + Math.abs(d).toFixed(3);
    delta.className = d >= 0 ? "delta-up" : "delta-down";
  } else { delta.textContent = ""; }
  const parts = [`pairs ${data.pair_score.toFixed(3)}`];
  if (data.theme_score > 0) parts.push(`themes +${data.theme_score.toFixed(3)}`);
  if (data.mix_penalty > 0) parts.push(`mix shortfall −${data.mix_penalty.toFixed(3)}`);
  if (data.partner_penalty > 0) parts.push(`existing partners −${data.partner_penalty.toFixed(3)}`);
  if (data.repeat_penalty > 0) parts.push(`repeats −${data.repeat_penalty.toFixed(3)}`);
  $("parts").textContent = parts.join(" · ");
  const s = data.search;
  $("gap").textContent = s && s.bound !== null ? (s.status === "optimal" ? "proven optimal" : `at most ${(100 * s.gap).toFixed(1)} % below the best possible (bound ${s.bound.toFixed(3)}, ${s.bound_source})`) : "";
  $("version").textContent = savedAs ? `saved as “${savedAs.name}” v${savedAs.version}` : "";
  $("notes").replaceChildren(...(data.notes || []).map((n) => el("li", { text: n })));
  $("broken").replaceChildren(...data.broken.map((b) => el("li", { text: `${b.rule}${b.round ? ` (round ${b.round}${b.table ? ", table " + b.table : ""})` : ""}: ${b.message} — ${b.participants.join(", ")}` })));
  const together = data.partners_together || [];
  $("partners").textContent = `existing partners seated together: ${together.length}` + (together.length ? " (" + together.map((p) => p.join(" & ")).join("; ") + ")" : "");
  render();
}

function render() {
  const data = plan();
  if (!data) return;
  $("board").hidden = view !== "tables";
  $("agendas").hidden = view !== "agendas";
  $("agenda_csv").hidden = view !== "agendas";
  $("view_tables").classList.toggle("active", view === "tables");
  $("view_agendas").classList.toggle("active", view === "agendas");
  if (view === "agendas") { renderAgendas(data); return; }
  const board = $("board");
  board.replaceChildren();
  data.rounds.forEach((rnd, r) => {
    const cards = el("div", { class: "cards" });
    rnd.tables.forEach((table, t) => cards.append(card(data, r, t, table)));
    board.append(el("section", { class: "round" }, el("h2", { text: `Round ${rnd.round}` }), cards));
  });
}

function card(data, r, t, table) {
  const issues = data.broken.filter((b) => b.round === r + 1 && b.table === t + 1)
    .concat(data.broken.filter((b) => !b.table && b.participants.some((k) => table.members.some((m) => m.key === k))));
  const missed = data.missed_targets.filter((m) => m.round === r + 1 && m.table === t + 1);
  const tableKey = `${r + 1}:${t + 1}`;
  const lock = el("input", { type: "checkbox", class: "table-lock edit-only", title: "lock this table in this round", "data-table": tableKey });
  lock.checked = lockedTables.has(tableKey);
  lock.addEventListener("change", () => { if (lock.checked) lockedTables.add(tableKey); else lockedTables.delete(tableKey); render(); });
  const title = el("span", {}, lock, document.createTextNode(` Table ${table.table}`));
  const header = el("h3", {}, title, el("span", { class: "meta", text: table.score.toFixed(2) }));
  if (selected && selected.r === r && canMove(r, selected.key, t)) {
    const here = el("button", { class: "move-here edit-only", text: "move here" });
    here.addEventListener("click", (e) => { e.stopPropagation(); const key = selected.key; selected = null; move(r, key, t); });
    header.append(here);
  }
  const node = el("div", { class: "card" + (issues.length ? " broken" : "") + (lockedTables.has(tableKey) ? " locked" : ""), "data-round": r, "data-table": t },
    header,
    el("div", { class: "theme", text: table.theme }),
    el("div", { class: "countries", text: `${table.countries.length} countries: ${table.countries.join(", ")}` }));
  const list = el("ul", { class: "members" });
  for (const m of table.members) {
    const personLock = el("input", { type: "checkbox", class: "lock edit-only", title: "lock this person in every round", "data-key": m.key });
    personLock.checked = lockedPeople.has(m.key);
    personLock.addEventListener("click", (e) => e.stopPropagation());
    personLock.addEventListener("change", () => { if (personLock.checked) lockedPeople.add(m.key); else lockedPeople.delete(m.key); render(); });
    const who = el("div", {},
      el("span", { class: "who", text: m.person ? `${m.person} (${m.name})` : m.name }), m.host ? el("span", { class: "host", text: "host" }) : null,
      el("div", { class: "meta", text: `${m.country || "?"} · ${m.kind.replace("_", " ")}` }),
      m.why ? el("div", { class: "why", text: m.why }) : null);
    const cls = [selected && selected.r === r && selected.key === m.key ? "selected" : "", lockedPeople.has(m.key) ? "locked" : ""].join(" ").trim();
    const item = el("li", { "data-key": m.key, class: cls }, who, personLock);
    item.addEventListener("click", () => pick(r, m.key));
    list.append(item);
  }
  node.append(list);
  if (table.reasons.length) node.append(el("ul", { class: "reasons" }, ...table.reasons.map((x) => el("li", { text: x }))));
  for (const b of issues) node.append(el("div", { class: "card-issues", text: `⚠ ${b.rule}: ${b.message}` }));
  for (const m of missed) node.append(el("div", { class: "meta", text: `target: ${m.message}` }));
  return node;
}

function agendas(data) {
  const people = new Map();
  data.rounds.forEach((rnd) => rnd.tables.forEach((t) => t.members.forEach((m) => {
    if (!people.has(m.key)) people.set(m.key, { member: m, rounds: [] });
    people.get(m.key).rounds.push({
      round: rnd.round, table: t.table, theme: t.theme, why: m.why || "",
      with: t.members.filter((o) => o.key !== m.key).map((o) => (o.person ? `${o.person} (${o.name})` : o.name)),
    });
  })));
  return [...people.values()].sort((a, b) => (a.member.person || a.member.name).localeCompare(b.member.person || b.member.name));
}

function renderAgendas(data) {
  const box = $("agendas");
  box.replaceChildren(...agendas(data).map(({ member, rounds }) => {
    const rows = rounds.map((x) => el("tr", {}, el("td", { text: x.round }), el("td", { text: x.table }), el("td", { text: x.theme }), el("td", { text: x.with.join("; ") }), el("td", { class: "why", text: x.why })));
    return el("section", { class: "agenda", "data-key": member.key },
      el("h3", { text: member.person ? `${member.person} — ${member.name}` : member.name }),
      el("table", {}, el("thead", {}, el("tr", {}, ...["Round", "Table", "Theme", "With", "Why"].map((h) => el("th", { text: h })))), el("tbody", {}, ...rows)));
  }));
}

function download(name, rows) {
  const quote = (v) => { const s = v === null || v === undefined ? "" : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
  const blob = new Blob([rows.map((r) => r.map(quote).join(",")).join("\n") + "\n"], { type: "text/csv" });
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link); link.click(); link.remove();
}

function exportSeating() {
  const rows = [["round", "table", "organisation_id", "person", "name", "country", "kind", "host", "theme"]];
  for (const rnd of plan().rounds) for (const t of rnd.tables) for (const m of t.members)
    rows.push([rnd.round, t.table, m.organisation_id, m.person, m.name, m.country, m.kind, m.host ? "yes" : "", t.theme]);
  download("tables.csv", rows);
}

function exportAgendas() {
  const rows = [["person", "organisation_id", "name", "round", "table", "theme", "with", "why"]];
  for (const { member, rounds } of agendas(plan())) for (const x of rounds)
    rows.push([member.person, member.organisation_id, member.name, x.round, x.table, x.theme, x.with.join("; "), x.why]);
  download("agendas.csv", rows);
}

async function save() {
  const name = $("plan_name").value.trim();
  if (!name) { status("give the plan a name"); return; }
  status("saving…");
  try {
    const saved = await call("PUT", `${API}/plans/${encodeURIComponent(name)}`, Object.assign({}, lastRequest, { plan: seatingOf(plan()) }));
    savedAs = { name: saved.name, version: saved.version };
    status(`saved “${saved.name}” as version ${saved.version}`);
    show();
    await listSaved();
  } catch (err) { status("error: " + err.message); }
}

async function listSaved() {
  try {
    const plans = await call("GET", `${API}/plans`);
    $("saved").replaceChildren(el("option", { value: "", text: "saved plans…" }),
      ...plans.map((p) => el("option", { value: p.name, text: `${p.name} (v${p.version}, ${p.created_at.slice(0, 16).replace("T", " ")})` })));
  } catch (err) { status("saved plans: " + err.message); }
}

async function load() {
  const name = $("saved").value;
  if (!name) { await listSaved(); return; }
  status("loading…");
  try {
    const saved = await call("GET", `${API}/plans/${encodeURIComponent(name)}`);
    lastRequest = saved.request;
    fill(saved.request);
    $("plan_name").value = saved.name;
    savedAs = { name: saved.name, version: saved.version };
    lockedPeople.clear(); lockedTables.clear(); selected = null;
    history = []; at = -1;
    push(saved.plan);
    status(`loaded “${saved.name}” version ${saved.version}`);
  } catch (err) { status("error: " + err.message); }
}

async function publish() {
  status("publishing…");
  try {
    const out = await call("POST", `${API}/plans/${encodeURIComponent(savedAs.name)}/publish?version=${savedAs.version}`);
    const link = $("published_link");
    link.href = location.origin + BASE + out.page;
    link.textContent = location.origin + BASE + out.page;
    status("published: anyone with the link can read this version");
  } catch (err) { status("error: " + err.message); }
}

function setView(name) { view = name; render(); }

async function openPublished(token) {
  document.body.classList.add("readonly");
  $("controls").hidden = true;
  $("hint").hidden = true;
  $("mode").textContent = "read-only";
  try {
    const out = await call("GET", `${API}/published/${token}/plan`);
    $("mode").textContent = `read-only · ${out.name} v${out.version}`;
    history = [out.plan]; at = 0;
    show();
  } catch (err) { $("mode").textContent = "error: " + err.message; }
}

$("api_key").value = sessionStorage.getItem("matcher-api-key") || "";
$("api_key").addEventListener("change", () => sessionStorage.setItem("matcher-api-key", $("api_key").value));
$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  if (file) { $("csv").value = await file.text(); status(`${file.name}: ${$("csv").value.trim().split("\n").length - 1} rows`); }
});
$("plan").addEventListener("click", planTables);
$("resolve").addEventListener("click", resolve);
$("undo").addEventListener("click", () => { if (at > 0) { at -= 1; selected = null; show(); } });
$("redo").addEventListener("click", () => { if (at < history.length - 1) { at += 1; selected = null; show(); } });
$("export").addEventListener("click", exportSeating);
$("agenda_csv").addEventListener("click", exportAgendas);
$("print").addEventListener("click", () => window.print());
$("save").addEventListener("click", save);
$("load").addEventListener("click", load);
$("publish").addEventListener("click", publish);
$("view_tables").addEventListener("click", () => setView("tables"));
$("view_agendas").addEventListener("click", () => setView("agendas"));
if (PUBLISHED) openPublished(PUBLISHED[1]); else listSaved();
