// A shareable state: the view, the colouring, the zoom, the selection, the decoded place, the
// chosen point and the drawn walk, kept in the address's hash as it changes:
//
//     #s=<base64url of JSON {v, c, x: [x0, x1], y: [y0, y1], s, d: [x, y], p, w}>
//
// s is the selection's sorted point indices as base-36 gaps ("0.1z.3" = 0, 71, 74); w is the
// last walk's request. The hash never reaches the server (the token stays in ?token=, or the
// cookie), and a reload or the copied link restores it all. Loaded after explore.js.
"use strict";

function packIndices(sorted) {  // [0, 71, 74] -> "0.1z.3"
  let last = 0;
  return sorted.map((i) => { const gap = i - last; last = i; return gap.toString(36); }).join(".");
}

function unpackIndices(text) {
  let last = 0;
  return text.split(".").map((g) => (last += parseInt(g, 36)));
}

function shareState() {
  const gd = $("map"), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const state = { v: explore.view, c: explore.colour };
  if (!xa.autorange) state.x = xa.range.slice();
  if (!ya.autorange) state.y = ya.range.slice();
  if (explore.selectionIndices) state.s = packIndices(explore.selectionIndices);
  if (explore.lastDecode) state.d = [explore.lastDecode.x, explore.lastDecode.y];
  if (explore.selected) state.p = explore.selected.index;
  if (explore.lastWalk) state.w = explore.lastWalk.body;
  return state;
}

const fromBase64Url = (text) => new TextDecoder().decode(
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0)));

function encodeState(state) {  // chunked: a spread of a long selection's bytes would overflow the stack
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  let bin = "";
  for (let k = 0; k < bytes.length; k += 8192) bin += String.fromCharCode(...bytes.subarray(k, k + 8192));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function readState() {  // the hash's state, or null (a hand-edited or foreign hash is ignored)
  const m = location.hash.match(/^#s=([A-Za-z0-9_-]+)$/);
  if (!m) return null;
  try {
    const state = JSON.parse(fromBase64Url(m[1]));
    return state && typeof state === "object" ? state : null;
  } catch (e) { return null; }
}

let changeTimer = null;
function changed() {  // the hash follows the page (debounced: a pan fires many relayouts)
  if (!explore.meta || !$("map")._fullLayout) return;
  clearTimeout(changeTimer);
  changeTimer = setTimeout(() => {
    history.replaceState(null, "", `${location.pathname}${location.search}#s=${encodeState(shareState())}`);
    explore.link = location.href;
  }, 100);
}

const finite = (a, n) => Array.isArray(a) && a.length === n && a.every(Number.isFinite);

async function restoreState(state) {
  const gd = $("map"), n = explore.meta.n_points;
  const ranges = {};
  if (finite(state.x, 2)) ranges["xaxis.range"] = state.x;
  if (finite(state.y, 2)) ranges["yaxis.range"] = state.y;
  if (Object.keys(ranges).length) await Plotly.relayout(gd, ranges);
  if (typeof state.s === "string" && /^[0-9a-z.]+$/.test(state.s)) {
    const indices = unpackIndices(state.s).filter((i) => i >= 0 && i < n);
    if (indices.length) await selectIndices(indices, true);
  }
  if (Number.isInteger(state.p) && state.p >= 0 && state.p < n) await showPoint(state.p);
  if (state.w && typeof state.w === "object") {
    await walk(state.w, state.w.path ? "Decoded walk along the drawn path" : `Walk from #${state.w.a} to #${state.w.b}`);
  }
  if (finite(state.d, 2)) await decodeAt(state.d[0], state.d[1]);
  status("restored the state in the address");
}

async function copyLink() {
  changed();
  await new Promise((r) => setTimeout(r, 150));
  try {
    await navigator.clipboard.writeText(location.href);
    status("link copied: it restores this view, colouring, zoom, selection and decodes");
  } catch (e) { status(`copy this address: ${location.href}`); }
}

document.addEventListener("DOMContentLoaded", () => $("share").addEventListener("click", copyLink));
