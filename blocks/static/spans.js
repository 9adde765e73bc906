// Spans: label stretches of a text, with the mouse or the keyboard.
//
// The value lives in the block's hidden input (name "b.NAME", data-json) as
// the server stores it: [{start, end, label, text}], offsets in Unicode code
// points. Here offsets are UTF-16 code units, as the DOM counts; they are
// converted on the way in and out. Everything in the text box is drawn
// from the value, so spans from the server and spans added here look the
// same.
//
// Keys while the text box has focus (it is marked data-own-keys, so the
// page leaves keys alone there): ←/→ move the caret by token, Shift+←/→
// extend the selection, Home/End jump, a label's key labels the selection
// (or the token under the caret), Enter labels the selection with the
// chosen label or, with nothing selected, submits the page; Delete or
// Backspace removes the span under the caret; Escape clears the selection;
// s skips and ? shows the keys, as elsewhere on the page.

const WORD = /[\p{L}\p{N}\p{M}_]+|[^\s\p{L}\p{N}\p{M}_]\p{M}*(?:\u200D[^\s\p{L}\p{N}]\p{M}*)*/gu;

// The page's Content-Security-Policy allows no style attributes: colours
// the server drew travel in data-c / data-d and are applied here.
document.querySelectorAll('fieldset[data-spans] [data-c]').forEach((el) => {
  el.style.setProperty('--c', el.dataset.c);
  if (el.dataset.d) el.style.setProperty('--d', el.dataset.d);
});
document.querySelectorAll('fieldset[data-spans]').forEach(setup);

function setup(root) {
  const box = root.querySelector('.spans-text');
  const input = root.querySelector('input[type=hidden][data-json]');
  const list = root.querySelector('.spans-list');
  const empty = root.querySelector('.spans-empty');
  const status = root.querySelector('.spans-status');
  const radios = [...root.querySelectorAll('.spans-labels input[type=radio]')];
  const allowOverlap = root.hasAttribute('data-allow-overlap');
  const max = Number(root.dataset.max || 0);
  const labels = new Map(radios.map((r) => [r.value, { name: r.dataset.name, color: r.dataset.color }]));

  // The text: from the server's runs, or from data-text when HTML
  // parsing would have changed it (carriage returns, NUL).
  const text = box.hasAttribute('data-text')
    ? JSON.parse(box.dataset.text)
    : [...box.childNodes].filter((n) => !(n.classList && n.classList.contains('spans-tag'))).map((n) => n.textContent).join('');

  // Code points ↔ UTF-16 units; identity unless the text has astral
  // characters (emoji and the like take two units but one code point).
  let unitOf = null;
  let pointOf = null;
  if (/[\uD800-\uDFFF]/.test(text)) {
    unitOf = [];
    pointOf = [];
    let u = 0;
    for (const ch of text) {
      unitOf.push(u);
      pointOf[u] = unitOf.length - 1;
      if (ch.length === 2) pointOf[u + 1] = unitOf.length; // inside a pair: round up
      u += ch.length;
    }
    unitOf.push(u);
    pointOf[u] = unitOf.length - 1;
  }
  const toUnit = (cp) => (unitOf ? unitOf[cp] : cp);
  const toPoint = (u) => (pointOf ? pointOf[u] : u);
  const points = unitOf ? unitOf.length - 1 : text.length;

  const tokens = [...text.matchAll(WORD)].map((m) => ({ s: m.index, e: m.index + m[0].length }));

  let spans = [];
  // load reads the spans from the hidden input: at start, and when the page
  // sets a new value (a model's fresh suggestion) with a 'loupe:set' event.
  function load() {
    spans = [];
    try {
      const v = input.value ? JSON.parse(input.value) : [];
      if (Array.isArray(v)) {
        spans = v
          .filter((sp) => sp && Number.isInteger(sp.start) && Number.isInteger(sp.end) && sp.start >= 0 && sp.start < sp.end && sp.end <= points && typeof sp.label === 'string')
          .map((sp) => ({ start: toUnit(sp.start), end: toUnit(sp.end), label: sp.label }));
      }
    } catch {
      // A value the server refused is shown with its error; start afresh.
    }
  }
  load();
  input.addEventListener('loupe:set', () => {
    load();
    draw();
  });

  let caret = 0; // index of the token under the caret
  let anchor = null; // where a keyboard selection started, a token index
  let sel = null; // the selection waiting for a label: {start, end}
  let active = (radios.find((r) => r.checked) || {}).value || null;

  const nameOf = (label) => (labels.get(label) || { name: label }).name;
  const colorOf = (label) => (labels.get(label) || {}).color || '#8c8c8c';
  const quote = (a, b) => `“${text.slice(a, b)}”`;
  const describe = (sp) => `${nameOf(sp.label)} ${quote(sp.start, sp.end)}`;
  const cmp = (a, b) => a.start - b.start || a.end - b.end || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
  const overlaps = (a, b) => a.start < b.end && b.start < a.end;

  function say(msg) {
    status.textContent = msg;
  }

  // tokenFrom returns the token holding u, or the first one after it;
  // tokenBefore the last token that starts before u.
  function tokenFrom(u) {
    const i = tokens.findIndex((t) => t.e > u);
    return i < 0 ? tokens.length - 1 : i;
  }
  function tokenBefore(u) {
    for (let i = tokens.length - 1; i >= 0; i--) if (tokens[i].s < u) return i;
    return 0;
  }

  function save() {
    spans.sort(cmp);
    const out = spans.map((sp) => ({ start: toPoint(sp.start), end: toPoint(sp.end), label: sp.label, text: text.slice(sp.start, sp.end) }));
    input.value = out.length ? JSON.stringify(out) : '';
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function tag(sp, at) {
    const el = document.createElement('span');
    el.className = 'spans-tag';
    el.style.setProperty('--c', colorOf(sp.label));
    el.textContent = nameOf(sp.label);
    if (at !== undefined) el.dataset.o = at;
    return el;
  }

  function draw() {
    spans.sort(cmp);
    const cur = tokens[caret];
    const cuts = new Set([0, text.length]);
    for (const sp of spans) cuts.add(sp.start).add(sp.end);
    if (cur) cuts.add(cur.s).add(cur.e);
    if (sel) cuts.add(sel.start).add(sel.end);
    const at = [...cuts].sort((a, b) => a - b);
    const runs = [];
    // Sweep the cuts, as the server does: spans start and end at cuts, so
    // the spans begun and not yet ended cover the whole run.
    let over = [];
    let next = 0;
    for (let i = 0; i + 1 < at.length; i++) {
      const a = at[i];
      const b = at[i + 1];
      over = over.filter((sp) => sp.end > a);
      for (; next < spans.length && spans[next].start <= a; next++) over.push(spans[next]);
      const el = document.createElement(over.length ? 'mark' : 'span');
      el.dataset.o = a;
      el.textContent = text.slice(a, b);
      if (over.length) {
        // The innermost span (latest start, then shortest) gives the colour.
        const inner = over.reduce((x, y) => (y.start > x.start ? y : x));
        el.className = 'spans-mark';
        el.style.setProperty('--c', colorOf(inner.label));
        el.style.setProperty('--d', over.length);
      }
      if (cur && cur.s <= a && b <= cur.e) el.classList.add('spans-caret');
      if (sel && sel.start <= a && b <= sel.end) el.classList.add('spans-sel');
      runs.push(el);
      for (let j = over.length - 1; j >= 0; j--) if (over[j].end === b) runs.push(tag(over[j], b));
    }
    box.replaceChildren(...runs);
    const caretEl = box.querySelector('.spans-caret');
    if (caretEl && document.activeElement === box) caretEl.scrollIntoView({ block: 'nearest' });

    const hadFocus = list.contains(document.activeElement) ? [...list.querySelectorAll('button')].indexOf(document.activeElement) : -1;
    list.replaceChildren(...spans.map((sp) => {
      const li = document.createElement('li');
      const q = document.createElement('q');
      q.textContent = text.slice(sp.start, sp.end);
      const where = document.createElement('span');
      where.className = 'muted';
      where.textContent = `${toPoint(sp.start)}–${toPoint(sp.end)}`;
      const rm = document.createElement('button');
      rm.type = 'button';
      rm.className = 'spans-remove';
      rm.textContent = 'Remove';
      rm.setAttribute('aria-label', `Remove ${describe(sp)}`);
      rm.addEventListener('click', () => remove(sp, true));
      li.append(tag(sp), ' ', q, ' ', where, ' ', rm);
      return li;
    }));
    empty.hidden = spans.length > 0;
    if (hadFocus >= 0) {
      const buttons = list.querySelectorAll('button');
      (buttons[Math.min(hadFocus, buttons.length - 1)] || box).focus();
    }
  }

  function setActive(label) {
    active = label;
    for (const r of radios) r.checked = r.value === label;
  }

  // add labels the selection, or else the token under the caret.
  function add(label) {
    const cur = tokens[caret];
    const range = sel || (cur && { start: cur.s, end: cur.e });
    if (!range) return;
    setActive(label);
    const sp = { start: range.start, end: range.end, label };
    sel = null;
    anchor = null;
    if (spans.some((x) => cmp(x, sp) === 0)) {
      draw();
      say(`${quote(sp.start, sp.end)} is already labeled ${nameOf(label)}.`);
      return;
    }
    // Where spans may not overlap, the new span replaces those it
    // overlaps: that is how a label is corrected.
    const replaced = allowOverlap ? [] : spans.filter((x) => overlaps(x, sp));
    if (max && spans.length - replaced.length >= max) {
      draw();
      say(`At most ${max} spans: remove one first.`);
      return;
    }
    spans = spans.filter((x) => !replaced.includes(x));
    spans.push(sp);
    caret = tokenBefore(sp.end);
    save();
    draw();
    say(`Labeled ${quote(sp.start, sp.end)} as ${nameOf(label)}${replaced.length ? `, replacing ${replaced.map(describe).join(', ')}` : ''}.`);
  }

  function remove(sp, fromList) {
    spans = spans.filter((x) => x !== sp);
    save();
    draw();
    say(`Removed ${describe(sp)}.`);
    if (fromList && !spans.length) box.focus();
  }

  function removeAtCaret() {
    const cur = tokens[caret];
    const here = cur ? spans.filter((x) => x.start < cur.e && cur.s < x.end) : [];
    if (!here.length) {
      say('No span here.');
      return;
    }
    remove(here.reduce((a, b) => (b.end - b.start < a.end - a.start ? b : a)), false);
  }

  function sayCaret() {
    if (sel) {
      say(`Selected ${quote(sel.start, sel.end)}. Press a label's key.`);
      return;
    }
    const cur = tokens[caret];
    if (!cur) return;
    const inside = spans.filter((x) => x.start < cur.e && cur.s < x.end);
    say(quote(cur.s, cur.e) + (inside.length ? `, in ${inside.map(describe).join(', ')}` : ''));
  }

  function move(where, shift) {
    if (!tokens.length) return;
    if (shift && anchor === null) {
      if (sel) {
        anchor = tokenFrom(sel.start);
        caret = tokenBefore(sel.end);
      } else {
        anchor = caret;
      }
    }
    const to = where === 'home' ? 0 : where === 'end' ? tokens.length - 1 : caret + where;
    caret = Math.max(0, Math.min(tokens.length - 1, to));
    if (shift) {
      sel = { start: tokens[Math.min(anchor, caret)].s, end: tokens[Math.max(anchor, caret)].e };
    } else {
      sel = null;
      anchor = null;
    }
    draw();
    sayCaret();
  }

  // posOf turns a DOM position inside the box into a text offset.
  function posOf(node, off) {
    if (node === box) return off < box.childNodes.length ? Number(box.childNodes[off].dataset.o) : text.length;
    const el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    const run = el && el.closest('[data-o]');
    if (!run || !box.contains(run)) return 0;
    const o = Number(run.dataset.o);
    if (run.classList.contains('spans-tag')) return o;
    if (node.nodeType === Node.TEXT_NODE) return o + off;
    return off === 0 ? o : o + run.textContent.length;
  }

  function fromMouse() {
    const s = window.getSelection();
    if (!s.rangeCount) return;
    const r = s.getRangeAt(0);
    const inStart = box.contains(r.startContainer);
    const inEnd = box.contains(r.endContainer);
    if (!inStart && !inEnd) return;
    let start = inStart ? posOf(r.startContainer, r.startOffset) : 0;
    let end = inEnd ? posOf(r.endContainer, r.endOffset) : text.length;
    if (start > end) [start, end] = [end, start];
    const click = start;
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    // Never cut an astral character in two.
    if (start > 0 && /[\uDC00-\uDFFF]/.test(text[start])) start--;
    if (end < text.length && /[\uDC00-\uDFFF]/.test(text[end])) end++;
    s.removeAllRanges();
    anchor = null;
    if (start >= end) {
      if (tokens.length) {
        sel = null;
        caret = tokenFrom(click);
        draw();
        sayCaret();
      }
      return;
    }
    sel = { start, end };
    caret = tokenBefore(end);
    if (active) {
      add(active);
      return;
    }
    draw();
    say(`Selected ${quote(start, end)}. Press a label's key, or click a label.`);
  }

  let pressed = false;
  box.addEventListener('mousedown', (e) => { pressed = e.button === 0; });
  document.addEventListener('mouseup', () => {
    if (!pressed) return;
    pressed = false;
    setTimeout(fromMouse, 0); // let the browser settle the selection first
  });

  for (const r of radios) {
    r.addEventListener('click', () => {
      active = r.value;
      if (sel) add(r.value);
    });
  }

  box.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const key = e.key;
    const form = box.closest('form');
    switch (key) {
      case 'ArrowRight': move(1, e.shiftKey); break;
      case 'ArrowLeft': move(-1, e.shiftKey); break;
      case 'Home': move('home', e.shiftKey); break;
      case 'End': move('end', e.shiftKey); break;
      case 'Delete':
      case 'Backspace': removeAtCaret(); break;
      case 'Escape':
        if (!sel) return;
        sel = null;
        anchor = null;
        draw();
        say('Selection cleared.');
        break;
      case 'Enter':
        if (sel) {
          if (active) add(active);
          else say("Choose a label first: press its key.");
        } else if (form) {
          const submit = document.getElementById('submit');
          form.requestSubmit(submit && submit.form === form ? submit : undefined);
        }
        break;
      case '?': {
        const keys = document.getElementById('keys');
        if (keys && !keys.open) keys.showModal();
        break;
      }
      case 's':
      case 'S': {
        const skip = document.getElementById('skip');
        if (form && skip && skip.form === form) form.requestSubmit(skip);
        break;
      }
      default: {
        const r = radios.find((x) => x.dataset.key === key.toLowerCase());
        if (!r) return;
        add(r.value);
      }
    }
    e.preventDefault();
  });

  draw();
}
