// Selections (a lasso or a box on the map, or a restored link): the class counts, the mean
// image and the decoded mean code of the points inside; every other point stays on the map,
// greyed, through later colourings and views, until cleared. And the find box (a point by its
// index, a class by its name). Loaded after explore.js.
"use strict";

// A selection keeps every other point on the map, greyed (plotly's selectedpoints / unselected).
const UNSELECTED = { marker: { color: "#cfcfcf", opacity: 0.35 } };

function selectionMask() {  // by point index: 1 where selected; null when nothing is
  const sel = explore.selectionIndices;
  if (!sel) return null;
  const mask = new Uint8Array(explore.meta.n_points);
  for (const i of sel) mask[i] = 1;
  return mask;
}

async function onSelected(ev) {
  if (!ev || !ev.points) return;
  const indices = [...new Set(ev.points.filter((p) => p.data.meta === "points").map((p) => p.customdata))];
  if (!indices.length) return;
  explore.selectionRange = ev.range || null;  // the box in data coordinates
  explore.selectionLasso = ev.lassoPoints || null;  // the lasso's polygon in data coordinates
  await selectIndices(indices.sort((a, b) => a - b), false);  // plotly has greyed the others already
}

// The selection's class counts, mean image and decoded mean code; the other points stay, greyed.
async function selectIndices(indices, redraw) {
  explore.selectionIndices = indices;
  if (redraw) await drawMap();
  try {
    const r = await apiJson("api/select", { indices: explore.selectionIndices });
    explore.lastSelection = r;
    $("select-n").textContent = r.n.toLocaleString();
    $("select-mean").src = r.mean_image;
    $("select-decoded").src = r.decoded_mean;
    $("select-counts").replaceChildren(...Object.entries(r.counts).filter(([, c]) => c > 0).map(([name, c]) => {
      const tr = document.createElement("tr");
      tr.innerHTML = "<td></td><td></td>";
      tr.children[0].textContent = name; tr.children[1].textContent = c;
      return tr;
    }));
    reveal("select-panel");
    changed();
  } catch (e) { status(e.message, true); }
}

async function clearSelection() {
  explore.selectionIndices = explore.lastSelection = explore.selectionRange = explore.selectionLasso = null;
  $("select-panel").hidden = true;
  // plotly keeps a drawn box or lasso (layout.selections) and would select by it again; its
  // clearing marks every point selected, so the traces are drawn afresh after it
  if (($("map").layout.selections || []).length) await Plotly.relayout($("map"), { selections: [] });
  await drawMap();
  changed();
}

async function downloadCsv() {
  try {
    const blob = await (await api("api/select.csv", { indices: explore.selectionIndices })).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "selection.csv";
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) { status(e.message, true); }
}

// ------------------------------------------------------------------ search
function search(text) {
  text = text.trim();
  if (!text) return;
  const names = explore.meta.class_names, gd = $("map");
  // "123" or "#123": a point's index; "class 3" or a class name that is not a number: a class
  const asClass = text.match(/^class\s+(.+)$/i);
  if (asClass) text = asClass[1];
  else if (/^#?\d+$/.test(text)) {
    text = text.replace("#", "");
    const i = Number(text);
    if (i >= explore.meta.n_points) return status(`no point #${i}`, true);
    if (!explore.rowOf.has(i)) return status(`#${i} is not on this view`, true);
    return showPoint(i);
  }
  const k = names.findIndex((n) => n.toLowerCase() === text.toLowerCase());
  if (k < 0) return status(`no class "${text}"`, true);
  if (explore.colour !== "class") { $("colour").value = "class"; explore.colour = "class"; }
  drawMap().then(() => {
    const vis = gd.data.map((t) => (t.meta !== "points" || t.name === names[k]) ? true : "legendonly");
    Plotly.restyle(gd, { visible: vis });
    status(`showing class ${names[k]} only (double-click the legend to show all)`);
  });
}
