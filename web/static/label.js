// The labeling page's behaviour. The page works without this file (forms,
// buttons and links); this adds the keys, live visible_when, tabs and the
// key overlay. Block kinds with more behaviour have their own module in
// /static/blocks/KIND.js, which may import from here.
//
// Keys: a key shown beside a control picks it, Enter submits, S skips,
// Backspace or ← goes back, → forward, ? shows every key. A block that
// handles keys itself (text spans, boxes, ranking) marks its element with
// data-own-keys: while focus is inside it, the page leaves alone the keys
// the attribute lists (e.g. data-own-keys="ArrowLeft ArrowRight Delete"),
// or every key when it lists none.

const form = document.getElementById('label-form');
const keysDialog = document.getElementById('keys');
let submitting = false;

// typing reports whether el takes text, so that keys must type, not act.
function typing(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  return el.tagName === 'INPUT' && !['radio', 'checkbox', 'button', 'submit', 'reset', 'range'].includes(el.type);
}

// ownedKey reports whether a block around el handles key itself.
function ownedKey(el, key) {
  const owner = el.closest && el.closest('[data-own-keys]');
  if (!owner) return false;
  const keys = owner.dataset.ownKeys.trim();
  return keys === '' || keys.split(/\s+/).includes(key);
}

function go(id) {
  const link = document.getElementById(id);
  if (link) window.location.assign(link.href);
  return Boolean(link);
}

function submitWith(id) {
  const button = document.getElementById(id);
  if (!form || !button || submitting) return;
  form.requestSubmit(button);
}

// valueOf returns the current value of the block named name, as the server
// would see it: a string for a choice, a list for a multichoice, parsed
// JSON for inputs marked data-json; undefined when it has none.
export function valueOf(name) {
  if (!form) return undefined;
  const inputs = [...form.elements].filter((el) => el.name === `b.${name}` && !el.disabled);
  if (inputs.length === 0) return undefined;
  const parse = (el) => (el.hasAttribute('data-json') ? (el.value === '' ? undefined : JSON.parse(el.value)) : el.value);
  if (inputs[0].type === 'checkbox') {
    const list = inputs.filter((el) => el.checked).map(parse);
    return list.length ? list : undefined;
  }
  if (inputs[0].type === 'radio') {
    const on = inputs.find((el) => el.checked);
    return on ? parse(on) : undefined;
  }
  const v = parse(inputs[0]);
  if (v === '' || (Array.isArray(v) && v.length === 0)) return undefined;
  return v;
}

function holds(cond, value) {
  const wanted = cond.values.map((v) => JSON.parse(v));
  const matches = (x) => wanted.some((w) => w === x);
  let match = false;
  if (value !== undefined) {
    match = Array.isArray(value) ? value.some(matches) : matches(value);
  }
  return cond.op === 'not' ? !match : match;
}

// refresh shows and hides blocks by their visible_when, as the server
// decides it: a hidden block's fieldset is disabled too, so that its
// inputs are neither required nor sent. Blocks whose deciding block is
// hidden count it as empty; repeat until nothing changes.
export function refresh() {
  if (!form) return;
  const blocks = [...form.querySelectorAll('[data-visible-when]')];
  for (let round = 0; round < blocks.length + 1; round++) {
    let changed = false;
    for (const el of blocks) {
      const cond = JSON.parse(el.dataset.visibleWhen);
      const inHidden = el.parentElement.closest('fieldset[disabled]') !== null;
      const show = !inHidden && holds(cond, valueOf(cond.block));
      if (show === el.hidden) {
        el.hidden = !show;
        el.disabled = !show;
        changed = true;
      }
    }
    if (!changed) break;
  }
}

// setValue puts a value into a block's controls, as a model suggested it,
// and tells the page (and the block's own script, with 'loupe:set').
export function setValue(name, value) {
  if (!form) return;
  const inputs = [...form.elements].filter((el) => el.name === `b.${name}`);
  if (inputs.length === 0) return;
  const same = (el, v) => {
    if (el.hasAttribute('data-json')) {
      try { return JSON.stringify(JSON.parse(el.value)) === JSON.stringify(v); } catch { return false; }
    }
    return el.value === String(v);
  };
  const first = inputs[0];
  if (first.type === 'radio') {
    // Object values pick their radio by one field: pairwise {choice,
    // reason}, verdict {verdict, reason}, flag {reason, note}; their other
    // string fields go to the inputs named b.NAME.FIELD.
    let v = value;
    let key = null;
    if (value && typeof value === 'object') {
      key = ['choice', 'verdict', 'reason'].find((k) => k in value);
      v = key ? value[key] : undefined;
    }
    inputs.forEach((el) => { el.checked = v !== undefined && same(el, v); });
    if (value && typeof value === 'object') {
      for (const [field, text] of Object.entries(value)) {
        if (field === key || typeof text !== 'string') continue;
        const el = form.elements.namedItem(`b.${name}.${field}`);
        if (el && 'value' in el) el.value = text;
      }
    }
  } else if (first.type === 'checkbox') {
    const list = Array.isArray(value) ? value : [];
    inputs.forEach((el) => { el.checked = list.some((v) => same(el, v)); });
  } else if (first.hasAttribute('data-json')) {
    first.value = value === undefined || value === null ? '' : JSON.stringify(value);
    first.dispatchEvent(new Event('loupe:set'));
  } else {
    first.value = value === undefined || value === null ? '' : String(value);
  }
  first.dispatchEvent(new Event('input', { bubbles: true }));
}

// clearSuggestions empties every block that shows a model's suggestion;
// the page still records what was shown, so the suggestion counts as
// rejected.
function clearSuggestions(only) {
  if (!form) return;
  form.querySelectorAll('fieldset[data-suggested]').forEach((fs) => {
    if (only && fs !== only) return;
    setValue(fs.dataset.name, undefined);
    fs.setAttribute('data-cleared', '');
  });
}

// askAgain sends the answers so far to the models (their inputs may have
// been edited) and puts their fresh suggestions in.
let asking = null;
async function askAgain() {
  if (!form || !form.dataset.predict || asking) return;
  const names = new Set([...form.elements].map((el) => el.name).filter((n) => n.startsWith('b.')).map((n) => n.slice(2).split('.')[0]));
  const values = {};
  names.forEach((n) => { const v = valueOf(n); if (v !== undefined) values[n] = v; });
  const status = document.getElementById('predict-status');
  if (status) status.textContent = 'Asking the models…';
  asking = fetch(form.dataset.predict, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ values }),
  });
  try {
    const resp = await asking;
    if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
    const body = await resp.json();
    for (const [block, sg] of Object.entries(body.suggestions || {})) {
      setValue(block, sg.value);
      const fs = form.querySelector(`fieldset.blk[data-name="${CSS.escape(block)}"]`);
      if (fs) {
        fs.setAttribute('data-suggested', '');
        fs.removeAttribute('data-cleared');
      }
    }
    const shown = form.elements.namedItem('shown');
    if (shown && body.shown) shown.value = body.shown;
    if (status) status.textContent = Object.keys(body.suggestions || {}).length ? 'New suggestions are in.' : 'The models had nothing new.';
  } catch (err) {
    if (status) status.textContent = `The models could not be asked: ${err.message}`;
  } finally {
    asking = null;
  }
}

function setupTabs(root) {
  const tabs = [...root.querySelectorAll(':scope > .tab-list > [role=tab]')];
  const select = (tab, focus) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute('aria-controls')).toggleAttribute('data-inactive', !on);
    }
    if (focus) tab.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab, true));
    tab.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) {
        e.preventDefault();
        e.stopPropagation();
        select(tabs[(i + step + tabs.length) % tabs.length], true);
      }
    });
  });
}

const showKeys = document.getElementById('show-keys');
if (showKeys && keysDialog) showKeys.addEventListener('click', () => keysDialog.showModal());

if (form) {
  form.addEventListener('submit', (e) => {
    // One submit per page: a second Enter must not send the form again
    // (and if it did, the server would store nothing new: the form carries
    // a client id).
    if (submitting) {
      e.preventDefault();
      return;
    }
    submitting = true;
    setTimeout(() => form.querySelectorAll('button').forEach((b) => { b.disabled = true; }), 0);
  });
  form.addEventListener('input', refresh);
  form.addEventListener('change', refresh);
  form.addEventListener('click', (e) => {
    const btn = e.target.closest('[data-clear-suggestion]');
    if (btn) clearSuggestions(btn.closest('fieldset[data-suggested]'));
  });
  // Blocks wired to the models (rerun_on) ask them again after a pause.
  const rerun = (form.dataset.rerun || '').split(/\s+/).filter(Boolean);
  let rerunTimer;
  const onRerun = (e) => {
    const fs = e.target.closest && e.target.closest('fieldset.blk[data-name]');
    if (!fs || !rerun.includes(fs.dataset.name) || e.type === 'loupe:set') return;
    clearTimeout(rerunTimer);
    rerunTimer = setTimeout(askAgain, 800);
  };
  if (rerun.length) form.addEventListener('input', onRerun);
  form.querySelectorAll('[data-tabs]').forEach(setupTabs);
  refresh();
}

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  if (typing(e.target) || ownedKey(e.target, e.key)) return;
  const key = e.key;
  if (key === '?') {
    e.preventDefault();
    if (keysDialog.open) keysDialog.close(); else keysDialog.showModal();
    return;
  }
  if (keysDialog && keysDialog.open) return;
  if (key === 'Backspace' || key === 'ArrowLeft') {
    if (go('prev')) e.preventDefault();
    return;
  }
  if (key === 'ArrowRight') {
    if (go('next')) e.preventDefault();
    return;
  }
  if (!form) return;
  if (key === 'Enter') {
    if (e.target.tagName === 'BUTTON' || e.target.tagName === 'A') return; // let the focused control act
    e.preventDefault();
    submitWith('submit');
    return;
  }
  if (key === 's' || key === 'S') {
    e.preventDefault();
    submitWith('skip');
    return;
  }
  if (key === 'c') {
    e.preventDefault();
    clearSuggestions();
    return;
  }
  if (key === 'r') {
    e.preventDefault();
    askAgain();
    return;
  }
  const input = [...form.querySelectorAll(`[data-key="${CSS.escape(key.toLowerCase())}"]`)].find((el) => !el.closest('fieldset[disabled]'));
  if (input) {
    e.preventDefault();
    // A control on another tab: show that tab first, so the labeler sees
    // what the key did.
    const panel = input.closest('.tab-panel[data-inactive]');
    if (panel) document.querySelector(`[role=tab][aria-controls="${panel.id}"]`)?.click();
    input.click();
    input.focus();
  }
});

// Start with the first control focused, so keys work at once and the page
// can be read from the top with a screen reader.
if (form && !form.contains(document.activeElement)) {
  const first = form.querySelector('fieldset:not([disabled]) input:checked, fieldset:not([disabled]) input:not([type=hidden]), textarea, [data-own-keys]');
  if (first) first.focus({ preventScroll: true });
}
