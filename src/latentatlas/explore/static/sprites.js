// Thumbnails in place of dots once the map is zoomed in (sprites.py): when at most
// meta.limits.max_sprites points are in view, one POST /api/sprites fetches their images as one
// PNG atlas (cell k of ceil(sqrt(K)) a row holds the k-th index asked), and a canvas over the
// plot area draws each image centred on its point. The canvas takes no mouse events, so hover,
// click, lasso and zoom still reach plotly underneath. Loaded after explore.js (its helpers).
"use strict";

const sprites = { drawn: 0, key: "", atlas: null, requests: 0, size: 0 };
explore.sprites = sprites;

function spriteCanvas(gd) {
  let c = document.getElementById("sprite-layer");
  if (!c) {
    c = document.createElement("canvas");
    c.id = "sprite-layer";
    gd.append(c);
  }
  return c;
}

// Rows of explore.points inside the axes' ranges, on a shown trace; stops at most + 1.
function rowsInView(gd, most) {
  const p = explore.points, xr = gd._fullLayout.xaxis.range, yr = gd._fullLayout.yaxis.range;
  const [x0, x1] = [Math.min(...xr), Math.max(...xr)], [y0, y1] = [Math.min(...yr), Math.max(...yr)];
  const hidden = new Set(gd.data.filter((t) => t.meta === "points" && t.visible === "legendonly").map((t) => t.name));
  const group = hidden.size ? groupsFor(explore.colour) : null;
  const rows = [];
  for (let i = 0; i < p.n && rows.length <= most; i++) {
    if (p.x[i] < x0 || p.x[i] > x1 || p.y[i] < y0 || p.y[i] > y1) continue;
    if (group && hidden.has(group.groups[group.key[i]].name)) continue;
    rows.push(i);
  }
  return rows;
}

async function atlasFor(rows) {
  const key = `${explore.view}:${rows.join(",")}`;
  if (key !== sprites.key) {
    const indices = rows.map((r) => explore.points.index[r]);
    const blob = await (await api("api/sprites", { indices })).blob();
    sprites.requests++;
    sprites.atlas = await createImageBitmap(blob);
    sprites.key = key;
  }
  return sprites.atlas;
}

let spriteTurn = 0;
async function drawSprites() {
  const gd = $("map"), turn = ++spriteTurn, size = gd._fullLayout && gd._fullLayout._size;
  if (!size || !explore.points) return;
  const c = spriteCanvas(gd), ratio = window.devicePixelRatio || 1;
  Object.assign(c.style, { left: `${size.l}px`, top: `${size.t}px`, width: `${size.w}px`, height: `${size.h}px` });
  c.width = Math.round(size.w * ratio);
  c.height = Math.round(size.h * ratio);
  const ctx = c.getContext("2d"), most = explore.meta.limits.max_sprites;
  ctx.clearRect(0, 0, c.width, c.height);
  sprites.drawn = 0;
  const rows = $("sprites").checked ? rowsInView(gd, most) : [];
  if (!rows.length || rows.length > most) return;
  let atlas;
  try { atlas = await atlasFor(rows); } catch (e) { return status(e.message, true); }
  if (turn !== spriteTurn) return;  // the view moved on while the atlas came
  const [h, w] = explore.meta.image_size, cols = Math.ceil(Math.sqrt(rows.length));
  const s = Math.max(20, Math.min(72, 0.6 * Math.min(size.w, size.h) / Math.sqrt(rows.length)));
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, p = explore.points, mask = selectionMask();
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.imageSmoothingEnabled = false;
  rows.forEach((row, k) => {
    ctx.globalAlpha = mask && !mask[p.index[row]] ? 0.3 : 1;  // the unselected stay, faded
    const px = xa.d2p(p.x[row]), py = ya.d2p(p.y[row]);
    ctx.drawImage(atlas, (k % cols) * w, Math.floor(k / cols) * h, w, h, px - s / 2, py - s / 2, s, s);
  });
  sprites.drawn = rows.length;
  sprites.size = s;
}

function installSprites(gd) {
  let queued = false;
  const later = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; drawSprites(); });
  };
  gd.on("plotly_afterplot", later);
  gd.on("plotly_relayout", later);
  // while a pan or zoom drags, the old images would float over the wrong places: hide them
  gd.on("plotly_relayouting", () => {
    const c = spriteCanvas(gd);
    spriteTurn++;
    c.getContext("2d").clearRect(0, 0, c.width, c.height);
    sprites.drawn = 0;
  });
  $("sprites").addEventListener("change", later);
  later();
}
