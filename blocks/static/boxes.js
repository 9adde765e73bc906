// Boxes: draw, move, resize and label rectangles on an image.
//
// The value lives in the block's hidden input (name "b.NAME", data-json) as
// a JSON list of {x, y, width, height, label}, coordinates being fractions
// of the image. They are measured against the image as it is drawn; since
// it keeps its aspect ratio, they are the same fractions of its natural
// size (naturalWidth × naturalHeight). The server checks every box again.
//
// Pointer: drag on the image draws a box with the chosen label, drag a box
// moves it, drag a corner resizes it, a click selects. Keys, with the image
// focused (it is marked data-own-keys, so page keys stay away): Tab and
// arrows select, arrows move, Shift+arrows resize, Delete removes, a
// label's key relabels, Escape lets go, Enter submits. The list under the
// image relabels and removes boxes by keyboard too.

const SVG = 'http://www.w3.org/2000/svg';
const MIN_PX = 4; // a drag smaller than this, in screen pixels, draws nothing
const STEP = 0.01; // arrow keys move and resize by 1% of the image
const CORNERS = ['nw', 'ne', 'sw', 'se'];

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const round = (v) => Math.round(v * 1e6) / 1e6;
const pct = (v) => `${(v * 100).toFixed(4)}%`;
const short = (v) => `${Math.round(v * 1000) / 10}%`;

function el(tag, attrs = {}, ns) {
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  return e;
}

// read returns the boxes a hidden input holds, or null when it holds
// something else (left alone until the labeler changes the boxes).
function read(input) {
  if (input.value.trim() === '') return [];
  try {
    const list = JSON.parse(input.value);
    if (!Array.isArray(list)) return null;
    const ok = (b) => b && typeof b === 'object' && ['x', 'y', 'width', 'height'].every((k) => Number.isFinite(b[k]));
    if (!list.every(ok)) return null;
    return list.map((b) => ({ x: b.x, y: b.y, width: b.width, height: b.height, label: String(b.label) }));
  } catch {
    return null;
  }
}

function setup(root) {
  const stage = root.querySelector('.boxes-stage');
  const img = stage && stage.querySelector('img');
  const overlay = stage && stage.querySelector('svg.boxes-overlay');
  const input = root.querySelector('input[type=hidden][data-json]');
  const list = root.querySelector('.boxes-list');
  const count = root.querySelector('.boxes-count');
  const status = root.querySelector('.boxes-status');
  const radios = [...root.querySelectorAll('.boxes-labels input[type=radio]')];
  if (!input || !list || radios.length === 0) return;
  const labels = new Map(radios.map((r) => [r.value, { text: r.dataset.text, color: r.dataset.color, key: r.dataset.key }]));
  const fallback = { color: '#999999' };
  const info = (label) => labels.get(label) || { ...fallback, text: label };

  let boxes = read(input);
  if (boxes === null) return; // not ours to draw: the server shows it and says what is wrong
  let selected = -1;
  let drag = null;

  const active = () => (radios.find((r) => r.checked) || radios[0]).value;
  const describe = (i) => {
    const b = boxes[i];
    return `x ${short(b.x)}, y ${short(b.y)}, ${short(b.width)} × ${short(b.height)}`;
  };
  const say = (text) => { if (status) status.textContent = text; };

  // save puts the boxes in the hidden input and tells the page (its
  // visible_when conditions listen for 'input').
  function save() {
    input.value = boxes.length === 0 ? '' : JSON.stringify(boxes.map((b) => ({
      x: round(b.x), y: round(b.y), width: round(b.width), height: round(b.height), label: b.label,
    })));
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function drawBox(b, i, extra) {
    const { text, color } = info(b.label);
    const g = el('g', { class: `box${extra}`, 'data-index': i, 'data-label': b.label }, SVG);
    const at = { x: pct(b.x), y: pct(b.y), width: pct(b.width), height: pct(b.height) };
    g.append(
      el('rect', { class: 'box-halo', ...at }, SVG),
      el('rect', { class: 'box-frame', ...at, stroke: color, fill: color }, SVG),
      el('text', { class: 'box-tag', x: at.x, y: at.y, ...(b.y < 0.06 ? { dx: 4, dy: '1.1em' } : { dx: 1, dy: -5 }), text }, SVG),
    );
    if (!extra.includes('drawing')) {
      for (const c of CORNERS) {
        const x = c[1] === 'w' ? b.x : b.x + b.width;
        const y = c[0] === 'n' ? b.y : b.y + b.height;
        g.append(el('rect', { class: 'handle', 'data-corner': c, x: pct(x), y: pct(y) }, SVG));
      }
    }
    return g;
  }

  function drawOverlay() {
    if (!overlay) return;
    const gs = boxes.map((b, i) => drawBox(b, i, i === selected ? ' selected' : ''));
    if (drag && drag.mode === 'draw' && drag.box) gs.push(drawBox(drag.box, boxes.length, ' drawing'));
    // The selected box goes last, so that it is on top and its handles
    // can be reached where boxes overlap.
    if (selected >= 0) gs.push(gs.splice(selected, 1)[0]);
    overlay.replaceChildren(...gs);
  }

  function row(b, i) {
    const { color } = info(b.label);
    const li = el('li', { class: 'boxes-row', 'data-index': i });
    const swatch = el('svg', { class: 'swatch', width: 14, height: 14, 'aria-hidden': 'true', focusable: 'false' }, SVG);
    swatch.append(el('rect', { width: 14, height: 14, rx: 3, fill: color }, SVG));
    const select = el('select', { class: 'boxes-relabel', 'aria-label': `Label of box ${i + 1}` });
    for (const [value, l] of labels) select.append(el('option', { value, text: l.text }));
    if (!labels.has(b.label)) select.append(el('option', { value: b.label, text: b.label }));
    select.value = b.label;
    select.addEventListener('change', () => relabel(i, select.value));
    const remove = el('button', { type: 'button', class: 'boxes-remove', 'aria-label': `Remove box ${i + 1}`, text: 'Remove' });
    remove.addEventListener('click', () => removeBox(i, true));
    li.append(el('span', { class: 'boxes-n', text: `${i + 1}.` }), swatch, select, el('span', { class: 'boxes-pos', text: describe(i) }), remove);
    li.addEventListener('focusin', () => { if (selected !== i) select_(i, false); });
    li.addEventListener('click', (e) => { if (e.target === li || e.target.classList.contains('boxes-pos')) select_(i, false); });
    return li;
  }

  function drawList() {
    list.replaceChildren(...boxes.map(row));
    if (count) count.textContent = String(boxes.length);
    markList();
  }

  // updateRow refreshes one row in place, so that a control in it keeps
  // focus.
  function updateRow(i) {
    const li = list.children[i];
    if (!li) return;
    li.querySelector('.boxes-pos').textContent = describe(i);
    li.querySelector('.swatch rect').setAttribute('fill', info(boxes[i].label).color);
    li.querySelector('select').value = boxes[i].label;
  }

  function markList() {
    [...list.children].forEach((li, i) => {
      li.classList.toggle('selected', i === selected);
      if (i === selected) li.setAttribute('aria-current', 'true'); else li.removeAttribute('aria-current');
    });
  }

  function select_(i, announce = true) {
    selected = i;
    drawOverlay();
    markList();
    if (announce && i >= 0) say(`Box ${i + 1} of ${boxes.length} selected: ${info(boxes[i].label).text}, ${describe(i)}`);
  }

  function relabel(i, label) {
    boxes[i].label = label;
    drawOverlay();
    updateRow(i);
    save();
    say(`Box ${i + 1} is now ${info(label).text}`);
  }

  function removeBox(i, fromList) {
    const { text } = info(boxes[i].label);
    boxes.splice(i, 1);
    if (selected === i) selected = boxes.length === 0 ? -1 : Math.min(i, boxes.length - 1);
    else if (selected > i) selected--;
    drawOverlay();
    drawList();
    save();
    say(`Box ${i + 1} (${text}) removed; ${boxes.length} left`);
    if (fromList) {
      const next = list.children[Math.min(i, boxes.length - 1)];
      (next ? next.querySelector('.boxes-remove') : stage || root).focus();
    }
  }

  drawOverlay();
  drawList();
  // A new value set by the page (a model's fresh suggestion).
  input.addEventListener('loupe:set', () => {
    const next = read(input);
    if (next === null) return;
    boxes = next;
    selected = -1;
    drawOverlay();
    drawList();
  });
  if (!stage || !img || !overlay) return;

  // point returns where a pointer event is, as fractions of the image.
  function point(e) {
    const r = img.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    return { x: clamp((e.clientX - r.left) / r.width, 0, 1), y: clamp((e.clientY - r.top) / r.height, 0, 1), w: r.width, h: r.height };
  }

  const span = (a, b) => ({ at: Math.min(a, b), size: Math.abs(a - b) });
  const tiny = (b, p) => b.width * p.w < MIN_PX || b.height * p.h < MIN_PX;

  stage.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || drag) return;
    const p = point(e);
    if (!p) return;
    e.preventDefault(); // no text selection, no native image drag
    stage.focus({ preventScroll: true });
    const g = e.target.closest('.box');
    if (g && !g.classList.contains('drawing')) {
      const i = Number(g.dataset.index);
      const handle = e.target.closest('.handle');
      drag = { mode: handle ? 'resize' : 'move', corner: handle && handle.dataset.corner, i, start: p, orig: { ...boxes[i] }, moved: false };
      select_(i);
    } else {
      drag = { mode: 'draw', start: p, box: null };
    }
    stage.setPointerCapture(e.pointerId);
  });

  stage.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const p = point(e);
    if (!p) return;
    const s = drag.start;
    if (drag.mode === 'draw') {
      if (!drag.box && Math.abs(p.x - s.x) * p.w < MIN_PX && Math.abs(p.y - s.y) * p.h < MIN_PX) return;
      const h = span(s.x, p.x);
      const v = span(s.y, p.y);
      drag.box = { x: h.at, y: v.at, width: h.size, height: v.size, label: active() };
    } else {
      const o = drag.orig;
      const b = boxes[drag.i];
      drag.moved = true;
      if (drag.mode === 'move') {
        b.x = clamp(o.x + p.x - s.x, 0, 1 - o.width);
        b.y = clamp(o.y + p.y - s.y, 0, 1 - o.height);
      } else {
        // The corner opposite the dragged one stays put.
        const fx = drag.corner[1] === 'w' ? o.x + o.width : o.x;
        const fy = drag.corner[0] === 'n' ? o.y + o.height : o.y;
        const h = span(fx, p.x);
        const v = span(fy, p.y);
        Object.assign(b, { x: h.at, y: v.at, width: h.size, height: v.size });
      }
    }
    drawOverlay();
  });

  function finish(e, cancelled) {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (stage.hasPointerCapture(e.pointerId)) stage.releasePointerCapture(e.pointerId);
    const p = point(e) || { w: img.width, h: img.height };
    if (d.mode === 'draw') {
      if (d.box && !cancelled && !tiny(d.box, p)) {
        boxes.push(d.box);
        selected = boxes.length - 1;
        drawList();
        save();
        say(`Box ${selected + 1} drawn: ${info(d.box.label).text}, ${describe(selected)}`);
      } else if (!d.box && !cancelled) {
        selected = -1; // a click on the image lets go of the selected box
        markList();
      }
      drawOverlay();
      return;
    }
    if (!d.moved) return;
    if (cancelled || tiny(boxes[d.i], p)) boxes[d.i] = d.orig;
    drawOverlay();
    updateRow(d.i);
    save();
  }
  stage.addEventListener('pointerup', (e) => finish(e, false));
  stage.addEventListener('pointercancel', (e) => finish(e, true));

  // nudge moves the selected box by (dx, dy), or with resize grows or
  // shrinks it, keeping it inside the image and at least a few pixels big.
  function nudge(dx, dy, resize) {
    const b = boxes[selected];
    const r = img.getBoundingClientRect();
    const minW = r.width ? MIN_PX / r.width : STEP;
    const minH = r.height ? MIN_PX / r.height : STEP;
    if (resize) {
      b.width = clamp(b.width + dx, minW, 1 - b.x);
      b.height = clamp(b.height + dy, minH, 1 - b.y);
    } else {
      b.x = clamp(b.x + dx, 0, 1 - b.width);
      b.y = clamp(b.y + dy, 0, 1 - b.height);
    }
    drawOverlay();
    updateRow(selected);
    save();
    say(`Box ${selected + 1}: ${describe(selected)}`);
  }

  const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  stage.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing || drag) return;
    const k = e.key;
    const n = boxes.length;
    const done = () => { e.preventDefault(); e.stopPropagation(); };
    if (k === 'Tab') {
      // Tab walks the boxes, then leaves the image as usual: no trap.
      if (!e.shiftKey && selected + 1 < n) { select_(selected + 1); done(); return; }
      if (e.shiftKey && selected > 0) { select_(selected - 1); done(); return; }
      select_(-1);
      return;
    }
    if (arrows[k]) {
      done();
      if (n === 0) return;
      if (selected < 0) { select_(k === 'ArrowRight' || k === 'ArrowDown' ? 0 : n - 1); return; }
      const [dx, dy] = arrows[k];
      nudge(dx * STEP, dy * STEP, e.shiftKey);
      return;
    }
    if (k === 'Delete' || k === 'Backspace') {
      done();
      if (selected >= 0) removeBox(selected, false);
      return;
    }
    if (k === 'Escape') {
      if (selected >= 0) { done(); select_(-1); say('No box selected'); }
      return;
    }
    if (k === 'Enter') {
      // The page's own Enter does not reach here (data-own-keys).
      const form = root.closest('form');
      const submit = document.getElementById('submit');
      if (form && submit) { done(); form.requestSubmit(submit); }
      return;
    }
    const radio = radios.find((r) => r.dataset.key === k.toLowerCase());
    if (radio) {
      done();
      if (selected >= 0) relabel(selected, radio.value);
      else { radio.checked = true; say(`New boxes: ${info(radio.value).text}`); }
    }
  });
}

document.querySelectorAll('[data-block-type="boxes"]').forEach(setup);
