// latentatlas explore: the map (plotly scattergl) and the decoder behind it.
// Every request carries the token from the page's URL, or (a reload without ?token=) the
// cookie the first load set; nothing is loaded from elsewhere.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
// An empty X-Explore-Token header would count as a token and hide the valid cookie: send none.
const TOKEN_HEADERS = TOKEN ? { "X-Explore-Token": TOKEN } : {};
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf", "#393b79", "#ad494a", "#8ca252", "#bd9e39", "#7b4173", "#3182bd",
                 "#e6550d", "#31a354", "#756bb1", "#636363"];
const $ = (id) => document.getElementById(id);

// Everything the page knows; exposed as window.explore so that tests (and curious users) can read it.
const explore = { ready: false, meta: null, points: null, view: null, colour: "class", mode: "explore",
                  selected: null, walkA: null, lastDecode: null, lastWalk: null, lastSelection: null,
                  selectionIndices: null, categories: {}, errors: [] };
window.explore = explore;

function status(text, isError) {
  const el = $("status");
  el.textContent = text || "";
  el.title = text || "";  // the whole message on hover, should the line ever be too narrow
  el.className = isError ? "error" : "";
}

// A result that opens in the side panel below the fold is brought into view, or drawing a
// path or a lasso would look as if it did nothing.
function reveal(id) {
  const el = $(id);
  el.hidden = false;
  el.scrollIntoView({ block: "nearest" });
}

async function api(path, body) {
  const init = { headers: { ...TOKEN_HEADERS } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (!r.ok) {
    let msg = r.statusText;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r;
}
const apiJson = async (path, body) => (await api(path, body)).json();
const imageUrl = (i) => TOKEN ? `api/image/${i}?token=${encodeURIComponent(TOKEN)}` : `api/image/${i}?`;

// GET /api/points answers packed typed arrays (packing.py): "LAPK", a uint32 head length L, the
// JSON head, then each column at 8 + L + offset. Views into the one buffer: no copy, no parse.
async function apiPoints(path) {
  const buf = await (await api(path)).arrayBuffer();
  const view = new DataView(buf);
  if (new TextDecoder().decode(new Uint8Array(buf, 0, 4)) !== "LAPK") throw new Error("points: not a packed body");
  const length = view.getUint32(4, true), base = 8 + length;
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, length)));
  const kinds = { float32: Float32Array, int32: Int32Array, uint32: Uint32Array, uint16: Uint16Array, uint8: Uint8Array };
  const out = { view: head.view, n: head.n, categories: head.categories || null };
  for (const [name, [dtype, offset, count]] of Object.entries(head.columns)) {
    out[name] = new kinds[dtype](buf, base + offset, count);
  }
  return out;
}

// ------------------------------------------------------------------ the map
function groupsFor(colour) {
  const p = explore.points, names = explore.meta.class_names;
  if (colour === "class" || colour === "cluster") {
    const key = colour === "class" ? p.label : p.cluster;
    const k = colour === "class" ? names.length : key.reduce((m, v) => Math.max(m, v), -1) + 1;  // no spread: 1M args overflow
    const title = (g) => colour === "class" ? names[g] : `cluster ${g}`;
    return { key, groups: Array.from({ length: k }, (_, g) => ({ name: title(g), color: PALETTE[g % PALETTE.length] })) };
  }
  const cats = explore.categories[colour];
  if (cats) {  // a categorical field (a CSV column of words): its codes index the names
    return { key: p[colour], groups: cats.map((name, g) => ({ name, color: name === "(blank)" ? "#dddddd" : PALETTE[g % PALETTE.length] })) };
  }
  if (colour === "probe_error") {
    return { key: p.probe_error, groups: [{ name: "probe correct", color: "#bbbbbb" }, { name: "probe wrong", color: "#d62728" }] };
  }
  return null;  // continuous (variance, a factor such as hue): one trace with a colour bar
}

// The hue circle (red, yellow, green, cyan, blue, magenta, red) over [0, 1]: a point of a circular
// factor such as mnist-color's hue is drawn in its image's own tint, and 0 meets 1. plotly.js names
// no cyclic scale of its own (plotly.py's "HSV" is Python-side), so it is spelled out here.
const HUE_SCALE = [[0, "#ff0000"], [1 / 6, "#ffff00"], [2 / 6, "#00ff00"], [3 / 6, "#00ffff"],
                   [4 / 6, "#0000ff"], [5 / 6, "#ff00ff"], [1, "#ff0000"]];

function continuousMarker(colour, values = explore.points[colour]) {
  const c = explore.meta.colourings.find((m) => m.name === colour) || { title: colour, kind: "continuous" };
  const cyclic = c.kind === "cyclic";
  return { size: 4, color: values, colorscale: cyclic ? HUE_SCALE : "Viridis", showscale: true,
           ...(cyclic ? { cmin: 0, cmax: 1 } : {}), colorbar: { title: { text: c.title }, thickness: 12 } };
}

function buildTraces() {
  const p = explore.points, grouping = groupsFor(explore.colour), mask = selectionMask();
  const trace = (x, y, index, extra) => ({ type: "scattergl", mode: "markers", x, y, customdata: index,
                                           hoverinfo: "none", meta: "points", unselected: UNSELECTED, ...extra });
  if (!grouping) return continuousTraces(trace, mask);
  // One trace per group, filled as typed arrays in two passes (count, then copy): a million points
  // in tens of milliseconds, where Array.filter/map of closures took seconds.
  const { key, groups } = grouping, counts = new Int32Array(groups.length);
  for (let i = 0; i < p.n; i++) counts[key[i]]++;
  const cols = groups.map((_, g) => ({ x: new Float32Array(counts[g]), y: new Float32Array(counts[g]),
                                       index: new Int32Array(counts[g]), k: 0, picked: mask ? [] : null }));
  for (let i = 0; i < p.n; i++) {
    const c = cols[key[i]], k = c.k++;
    c.x[k] = p.x[i]; c.y[k] = p.y[i]; c.index[k] = p.index[i];
    if (mask && mask[p.index[i]]) c.picked.push(k);
  }
  return groups.map((g, j) => trace(cols[j].x, cols[j].y, cols[j].index, {
    name: g.name, marker: { size: 4, color: g.color, opacity: 0.75 }, selectedpoints: cols[j].picked }))
    .filter((t) => t.x.length > 0);
}

// One trace on a colour scale; the points a field leaves blank (NaN: a CSV's empty cells) in a
// light grey trace of their own, where plotly would draw NaN in its dark default.
function continuousTraces(trace, mask) {
  const p = explore.points, values = p[explore.colour], valueRows = [], blankRows = [];
  for (let r = 0; r < p.n; r++) (Number.isNaN(values[r]) ? blankRows : valueRows).push(r);
  const pickedOf = (rows) => (mask ? rows.flatMap((r, k) => (mask[p.index[r]] ? [k] : [])) : null);
  const first = { name: explore.colour, showlegend: false, selectedpoints: pickedOf(valueRows) };
  if (!blankRows.length) return [trace(p.x, p.y, p.index, { ...first, marker: continuousMarker(explore.colour) })];
  const cols = (rows) => [Float32Array.from(rows, (r) => p.x[r]), Float32Array.from(rows, (r) => p.y[r]),
                          Int32Array.from(rows, (r) => p.index[r])];
  return [trace(...cols(blankRows), { name: "(blank)", showlegend: false, selectedpoints: pickedOf(blankRows),  // drawn under
                                      marker: { size: 4, color: "#dddddd" } }),
          trace(...cols(valueRows), { ...first, marker: continuousMarker(explore.colour, Float32Array.from(valueRows, (r) => values[r])) })];
}

function highlightTrace() {
  return { type: "scatter", mode: "markers", x: [], y: [], customdata: [], hoverinfo: "none", meta: "highlight",
           showlegend: false, marker: { size: 14, color: "rgba(0,0,0,0)", line: { color: "#000", width: 2 } } };
}

async function drawMap() {
  const view = explore.meta.views.find((v) => v.name === explore.view);
  const layout = {
    margin: { l: 40, r: 10, t: 30, b: 30 }, dragmode: dragmodeFor(explore.mode), hovermode: "closest",
    title: { text: `${view.title} of ${explore.meta.n_points.toLocaleString()} points (${view.n_points.toLocaleString()} mapped)`,
             font: { size: 13 } },
    xaxis: { zeroline: false, ...keptRange("xaxis") }, yaxis: { zeroline: false, ...keptRange("yaxis") },
    legend: { itemsizing: "constant" }, newshape: { line: { color: "#000", width: 2 } }, uirevision: explore.view,
  };
  const config = { scrollZoom: true, displaylogo: false, responsive: true,
                   modeBarButtonsToRemove: ["toImage"] };
  await Plotly.react($("map"), [...buildTraces(), highlightTrace()], layout, config);
  explore.drawnView = explore.view;
}

// A zoom set by code (a restored link, a search) survives a redraw of the same view; plotly's
// uirevision keeps only the zooms made with the mouse. A new view starts from its whole extent.
function keptRange(axis) {
  const full = $("map")._fullLayout;
  if (explore.drawnView !== explore.view || !full || !full[axis] || full[axis].autorange) return {};
  return { range: full[axis].range.slice() };
}

function dragmodeFor(mode) {
  return { explore: "pan", walk: "pan", path: "drawopenpath", lasso: "lasso", select: "select" }[mode];
}

function mapPointCount() {  // points drawn on the map (the highlight ring excluded)
  return $("map").data.filter((t) => t.meta === "points").reduce((s, t) => s + t.x.length, 0);
}
explore.mapPointCount = mapPointCount;

async function loadView(name) {
  status(`loading ${name}...`);
  explore.view = name;
  // a decode belongs to the view it was made on: its coordinates mean nothing on another
  $("decode-panel").hidden = true;
  explore.lastDecode = null;
  const t0 = performance.now();
  explore.points = await apiPoints(`api/points?view=${encodeURIComponent(name)}`);
  await ensureColour(explore.colour);
  const t1 = performance.now();
  const rowOf = new Int32Array(explore.meta.n_points).fill(-1), idx = explore.points.index;
  for (let row = 0; row < idx.length; row++) rowOf[idx[row]] = row;
  explore.rowOf = { get: (i) => (rowOf[i] >= 0 ? rowOf[i] : undefined), has: (i) => rowOf[i] >= 0 };
  await drawMap();
  // where the time of a view goes (benchmarks/bench_explore_scale.py prints it), in ms
  explore.timings = { since_page_start: Math.round(t0), points: Math.round(t1 - t0), draw: Math.round(performance.now() - t1) };
  status(`${explore.points.n.toLocaleString()} points`);
}

// A field (fields.py: reconstruction error, KL, a latent dimension, a CSV column) travels only
// when chosen: one packed column for the points of this view, in their order.
async function ensureColour(name) {
  const c = explore.meta.colourings.find((m) => m.name === name);
  if (!c || !c.field || explore.points[name]) return;
  if (c.lazy) status(`computing ${c.title} (once per run)...`);
  const col = await apiPoints(`api/field?view=${encodeURIComponent(explore.view)}&name=${encodeURIComponent(name)}`);
  explore.points[name] = col[name];
  explore.categories[name] = col.categories;
}

async function setColour(name) {
  try {
    explore.colour = name;
    await ensureColour(name);
    await drawMap();
    status(`coloured by ${$("colour").selectedOptions[0]?.text || name}`);
    changed();
  } catch (e) { status(e.message, true); }
}

// ------------------------------------------------------------------ hover: the image under the mouse
function onHover(ev) {
  const pt = ev.points && ev.points[0];
  if (!pt || pt.customdata === undefined || pt.customdata === null) return;
  const i = pt.customdata, tip = $("tooltip");
  $("tooltip-image").src = imageUrl(i);
  const p = explore.points, row = explore.rowOf.get(i);
  const factors = explore.meta.colourings.filter((c) => c.name.startsWith("factor_"))
    .map((c) => ` ${c.title} ${p[c.name][row].toFixed(2)}`).join("");
  $("tooltip-text").textContent = `#${i} ${explore.meta.class_names[p.label[row]]}${factors}${fieldWords(row)}`;
  const e = ev.event || {};
  tip.style.left = `${(e.clientX || 0) + 14}px`;
  tip.style.top = `${(e.clientY || 0) + 14}px`;
  tip.hidden = false;
}

function fieldWords(row) {  // the value of the field the map is coloured by (a CSV column, an error...)
  const c = explore.meta.colourings.find((m) => m.name === explore.colour);
  const v = c && c.field ? explore.points[c.name]?.[row] : undefined;
  if (v === undefined) return "";
  const cats = explore.categories[c.name];
  return ` ${c.title} ${cats ? cats[v] : Number.isNaN(v) ? "(blank)" : v.toPrecision(3)}`;
}

// ------------------------------------------------------------------ clicks: a point, or empty space
let lastPointClick = 0;

async function onPointClick(ev) {
  const pt = ev.points && ev.points[0];
  if (!pt || pt.customdata === undefined || pt.customdata === null) return;
  lastPointClick = Date.now();
  const i = pt.customdata;
  if (explore.mode === "walk") return pickWalkEnd(i);
  if (explore.mode === "explore") return showPoint(i);
}

function dataCoords(ev) {  // pixel -> data coordinates through the axes' own p2d
  const gd = $("map"), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.getBoundingClientRect();
  const px = ev.clientX - box.left - xa._offset, py = ev.clientY - box.top - ya._offset;
  if (px < 0 || py < 0 || px > xa._length || py > ya._length) return null;
  return [xa.p2d(px), ya.p2d(py)];
}

function onMapClick(ev) {
  // A point under the mouse (plotly keeps the hovered points in _hoverdata until unhover) is
  // plotly_click's; on a busy machine that event may come later than the 30 ms below.
  const onPoint = ($("map")._hoverdata || []).some((p) => p.data && p.data.meta === "points");
  if (onPoint) return;
  // Otherwise plotly_click fires first when a point was under the mouse; else this is empty space.
  setTimeout(() => {
    if (explore.mode !== "explore" || Date.now() - lastPointClick < 300) return;
    const xy = dataCoords(ev);
    if (xy) decodeAt(xy[0], xy[1]);
  }, 30);
}

async function decodeAt(x, y) {
  try {
    const r = await apiJson("api/decode", { view: explore.view, x, y });
    explore.lastDecode = { ...r, x, y };
    $("decode-image").src = r.image;
    $("decode-where").textContent = `${x.toPrecision(4)}, ${y.toPrecision(4)}`;
    $("decode-rule").textContent = `rule: ${r.rule}`;
    reveal("decode-panel");
    const gd = $("map");  // mark the place on the map (the highlight ring, with no point index)
    Plotly.restyle(gd, { x: [[x]], y: [[y]], customdata: [[null]] }, [gd.data.length - 1]);
    status("decoded");
    changed();
  } catch (e) { status(e.message, true); }
}

async function showPoint(i) {
  try {
    const r = await apiJson(`api/point/${i}`);
    explore.selected = r;
    $("point-title").textContent = `#${r.index} (${r.split})`;
    $("point-image").src = r.image;
    $("point-recon").src = r.reconstruction;
    $("slider-image").src = r.reconstruction;
    const probe = r.probe_correct ? "agrees" : "disagrees";
    $("point-text").textContent = `class ${r.class}; probe predicts ${r.probe_class} (${probe})` +
      (r.variance !== null ? `; posterior variance ${r.variance.toPrecision(3)}` : "") +
      Object.entries(r.factors || {}).map(([name, v]) => `; ${name} ${v.toFixed(2)}`).join("");
    const box = $("neighbours");
    box.replaceChildren(...r.neighbours.map((n) => {
      const img = document.createElement("img");
      img.src = n.image; img.title = `#${n.index} ${n.class} (distance ${n.distance})`;
      img.addEventListener("click", () => showPoint(n.index));
      return img;
    }));
    buildSliders();
    $("point-panel").hidden = false;
    highlight([i]);
    changed();
  } catch (e) { status(e.message, true); }
}

function highlight(indices) {
  const gd = $("map"), p = explore.points, k = gd.data.length - 1;
  const rows = indices.map((i) => explore.rowOf.get(i)).filter((r) => r !== undefined);
  Plotly.restyle(gd, { x: [rows.map((r) => p.x[r])], y: [rows.map((r) => p.y[r])],
                       customdata: [rows.map((r) => p.index[r])] }, [k]);
}

// ------------------------------------------------------------------ sliders around the selected point
function buildSliders() {
  const s = explore.meta.sliders, box = $("sliders");
  $("slider-basis").textContent = s.basis === "dims" ? "latent dimensions" : "principal directions";
  box.replaceChildren(...s.names.map((name, k) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    const range = 3 * (s.scales[k] || 1);
    Object.assign(input, { type: "range", min: -range, max: range, step: range / 50, value: 0 });
    input.dataset.k = k;
    input.addEventListener("input", sliderChanged);
    label.append(name, input);
    return label;
  }));
}

let sliderBusy = false, sliderAgain = false;
async function sliderChanged() {
  if (sliderBusy) { sliderAgain = true; return; }  // one request in flight; the latest value wins
  sliderBusy = true;
  const s = explore.meta.sliders, code = explore.selected.code.slice();
  for (const input of $("sliders").querySelectorAll("input")) {
    const v = parseFloat(input.value), vec = s.vectors[input.dataset.k];
    for (let j = 0; j < code.length; j++) code[j] += v * vec[j];
  }
  try {
    const r = await apiJson("api/decode", { code });
    $("slider-image").src = r.image;
  } catch (e) { status(e.message, true); }
  sliderBusy = false;
  if (sliderAgain) { sliderAgain = false; sliderChanged(); }
}

// ------------------------------------------------------------------ walks: a drawn path, or A to B
let trimming = false;
function onRelayout(ev) {
  if (explore.mode !== "path" || !ev || !ev.shapes || trimming) return;
  const shape = ev.shapes[ev.shapes.length - 1];
  if (!shape || !shape.path) return;
  const path = parsePath(shape.path);
  // Keep only the latest path on the map (this relayout must not walk again), and not editable:
  // an editable shape takes the mouse in every mode, so a lasso started on its line was swallowed.
  trimming = true;
  Plotly.relayout($("map"), { shapes: [{ ...shape, editable: false }] }).finally(() => { trimming = false; });
  if (path.length >= 2) walk({ view: explore.view, path: thin(path, explore.meta.limits.max_path_points), steps: 12 },
                             "Decoded walk along the drawn path");
}

function parsePath(d) {  // "M1,2L3,4L5,6" (data coordinates) -> [[1,2],[3,4],[5,6]]
  return d.replace(/^M/, "").split(/[LM]/).map((s) => s.split(",").map(Number))
          .filter((p) => p.length === 2 && p.every(Number.isFinite));
}

function thin(path, most) {
  if (path.length <= most) return path;
  const step = (path.length - 1) / (most - 1);
  return Array.from({ length: most }, (_, k) => path[Math.round(k * step)]);
}

function pickWalkEnd(i) {
  if (explore.walkA === null) {
    explore.walkA = i;
    highlight([i]);
    status(`walk: start #${i}; click the end point`);
    return;
  }
  const a = explore.walkA;
  explore.walkA = null;
  highlight([a, i]);
  walk({ a, b: i, steps: 12 }, `Walk in the latent space from #${a} to #${i}`);
}

async function walk(body, title) {
  try {
    const r = await apiJson("api/walk", body);
    explore.lastWalk = { ...r, body };
    $("walk-title").textContent = title;
    $("walk-strip").src = r.strip;
    $("walk-gif").href = r.gif;
    $("walk-rule").textContent = `rule: ${r.rule}`;
    reveal("walk-panel");
    status(`walk of ${r.steps} steps`);
    changed();
  } catch (e) { status(e.message, true); }
}

// ------------------------------------------------------------------ start
async function start() {
  window.addEventListener("error", (e) => explore.errors.push(String(e.message)));
  try {
    explore.meta = await apiJson("api/meta");
  } catch (e) { return status(e.message, true); }
  const m = explore.meta;
  $("title").textContent = `${m.run}: ${m.kind.toUpperCase()}, ${m.latent_dim}-d latent, ${m.dataset}`;
  $("view").replaceChildren(...m.views.map((v) => new Option(`${v.title} (${v.n_points.toLocaleString()})`, v.name)));
  $("colour").replaceChildren(...m.colourings.filter((c) => c.available).map((c) => new Option(c.title, c.name)));
  if (!m.views.length) return status("this run has no 2-D view", true);
  const saved = readState();  // share.js: a state in the URL's hash (view, colour, zoom, selection, decodes)
  if (saved && m.colourings.some((c) => c.name === saved.c && c.available)) explore.colour = $("colour").value = saved.c;
  await loadView(m.views.some((v) => v.name === saved?.v) ? saved.v : m.views[0].name);
  $("view").value = explore.view;
  const gd = $("map");
  gd.on("plotly_hover", onHover);
  gd.on("plotly_unhover", () => { $("tooltip").hidden = true; });
  gd.on("plotly_click", onPointClick);
  gd.on("plotly_relayout", onRelayout);
  gd.on("plotly_selected", onSelected);
  gd.on("plotly_deselect", clearSelection);
  gd.addEventListener("click", onMapClick);
  installSprites(gd);  // sprites.js: thumbnails in place of dots when zoomed in
  $("view").addEventListener("change", (e) => loadView(e.target.value).then(changed));
  $("colour").addEventListener("change", (e) => setColour(e.target.value));
  for (const r of document.querySelectorAll("input[name=mode]")) {
    r.addEventListener("change", (e) => {
      explore.mode = e.target.value;
      explore.walkA = null;
      Plotly.relayout(gd, { dragmode: dragmodeFor(explore.mode) });
    });
  }
  $("search").addEventListener("keydown", (e) => { if (e.key === "Enter") search(e.target.value); });
  $("select-csv").addEventListener("click", downloadCsv);
  $("select-clear").addEventListener("click", clearSelection);
  $("slider-reset").addEventListener("click", () => {
    for (const input of $("sliders").querySelectorAll("input")) input.value = 0;
    if (explore.selected) sliderChanged();
  });
  if (saved) await restoreState(saved);
  gd.on("plotly_relayout", changed);  // a zoom or pan: the link follows
  explore.ready = true;
}

document.addEventListener("DOMContentLoaded", start);
