// Ranking blocks: drag candidates by their handle (pointer events), move
// them with their ↑ ↓ buttons, or with keys while one has focus: ↑ ↓ move
// the focus, Shift+↑ / Shift+↓ (or [ and ]) move the focused candidate,
// Home / End go to the first / last, Enter submits. Every move is announced
// and written into the position selects, which are what the form sends:
// without this script the labeler sets the positions by hand.

const form = document.getElementById('label-form');

for (const list of document.querySelectorAll('ol.rank-list')) setup(list);

function setup(list) {
  const block = list.closest('.block-ranking');
  const status = block.querySelector('[data-rank-status]');
  const state = block.querySelector('[data-rank-state]');
  const accept = block.querySelector('.rank-accept');
  const items = () => [...list.querySelectorAll(':scope > .rank-item')];
  let ranked = list.hasAttribute('data-ranked');

  list.classList.add('rank-js');
  // One Tab stop for the whole list (the focused candidate, moved with the
  // arrow keys); the buttons and selects stay for the pointer.
  list.querySelectorAll('.rank-up, .rank-down, select').forEach((el) => { el.tabIndex = -1; });
  block.querySelectorAll('.rank-hint-js').forEach((el) => { el.hidden = false; });
  if (accept) accept.hidden = ranked;

  // sync writes the order on screen into the selects (once anything is
  // ranked), the buttons' states and the roving focus stop.
  function sync() {
    const all = items();
    const active = all.find((li) => li.tabIndex === 0) || all[0];
    all.forEach((li, i) => {
      li.tabIndex = li === active ? 0 : -1;
      li.querySelector('.rank-up').setAttribute('aria-disabled', String(i === 0));
      li.querySelector('.rank-down').setAttribute('aria-disabled', String(i === all.length - 1));
      const sel = li.querySelector('select');
      if (!ranked || !sel) return;
      const blank = sel.querySelector('option[value=""]');
      if (blank) blank.remove();
      const want = String(i + 1);
      if (sel.value !== want) {
        sel.value = want;
        // Let the page (drafts, conditions) see the change; our own
        // listener reacts to 'change' only.
        sel.dispatchEvent(new Event('input', { bubbles: true }));
      }
    });
    list.toggleAttribute('data-ranked', ranked);
    if (state && state.firstChild) state.firstChild.textContent = ranked ? 'Ranked. ' : 'Not ranked yet. ';
    if (accept) accept.hidden = ranked;
  }

  function announce(msg) {
    if (!status) return;
    // Clear first, so that the same message twice is read twice.
    status.textContent = '';
    setTimeout(() => { status.textContent = msg; }, 30);
  }

  function focusItem(li) {
    for (const x of items()) x.tabIndex = x === li ? 0 : -1;
    li.focus();
  }

  // moveTo puts li at index to (0 is best), then syncs and announces.
  function moveTo(li, to, refocus) {
    const all = items();
    const from = all.indexOf(li);
    to = Math.max(0, Math.min(all.length - 1, to));
    if (from !== to) {
      // Move the neighbours rather than li where we can, so that a focused
      // control inside li keeps its focus.
      if (to === from - 1) li.after(all[to]);
      else if (to === from + 1) li.before(all[to]);
      else if (to < from) all[to].before(li);
      else all[to].after(li);
    }
    ranked = true;
    sync();
    if (refocus) focusItem(li);
    announce(`${li.dataset.name} moved to position ${to + 1} of ${all.length}`);
  }

  // A click on ↑ or ↓ leaves the focus where it was, so that the page's
  // keys keep working for a pointer user (inside the list they are off).
  list.addEventListener('pointerdown', (e) => {
    if (e.target.closest('.rank-up, .rank-down')) e.preventDefault();
  });

  list.addEventListener('click', (e) => {
    const btn = e.target.closest('.rank-up, .rank-down');
    if (!btn || btn.getAttribute('aria-disabled') === 'true') return;
    const li = btn.closest('.rank-item');
    const i = items().indexOf(li);
    moveTo(li, btn.classList.contains('rank-up') ? i - 1 : i + 1, false);
  });

  list.addEventListener('change', (e) => {
    const sel = e.target.closest('select');
    if (!sel || sel.value === '') return;
    const li = sel.closest('.rank-item');
    moveTo(li, Number(sel.value) - 1, false);
  });

  list.addEventListener('keydown', (e) => {
    const li = e.target;
    if (!li.classList || !li.classList.contains('rank-item') || e.ctrlKey || e.metaKey || e.altKey) return;
    const all = items();
    const i = all.indexOf(li);
    let handled = true;
    if ((e.key === 'ArrowUp' && e.shiftKey) || e.key === '[') moveTo(li, i - 1, true);
    else if ((e.key === 'ArrowDown' && e.shiftKey) || e.key === ']') moveTo(li, i + 1, true);
    else if (e.key === 'ArrowUp') focusItem(all[Math.max(0, i - 1)]);
    else if (e.key === 'ArrowDown') focusItem(all[Math.min(all.length - 1, i + 1)]);
    else if (e.key === 'Home') focusItem(all[0]);
    else if (e.key === 'End') focusItem(all[all.length - 1]);
    else if (e.key === 'Enter') {
      // The page leaves keys alone inside the list; Enter still submits.
      const submit = document.getElementById('submit');
      if (form && submit) form.requestSubmit(submit);
    } else handled = false;
    if (handled) e.preventDefault();
  });

  // Focus entering the list lands on the item that holds the focus stop.
  list.addEventListener('focusin', (e) => {
    if (e.target.classList && e.target.classList.contains('rank-item')) {
      for (const x of items()) x.tabIndex = x === e.target ? 0 : -1;
    }
  });

  // Dragging: by the handle or the name, with the pointer captured, the
  // item moves live to the slot under the pointer.
  let drag = null;
  list.addEventListener('pointerdown', (e) => {
    const grip = e.target.closest('.rank-handle, .rank-name');
    if (!grip || e.button !== 0) return;
    const li = grip.closest('.rank-item');
    e.preventDefault();
    li.setPointerCapture(e.pointerId);
    li.classList.add('dragging');
    drag = { li, id: e.pointerId, from: items().indexOf(li) };
  });
  list.addEventListener('pointermove', (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    const others = items().filter((x) => x !== drag.li);
    let before = null;
    for (const x of others) {
      const r = x.getBoundingClientRect();
      if (e.clientY < r.top + r.height / 2) { before = x; break; }
    }
    if (before) {
      if (drag.li.nextElementSibling !== before) before.before(drag.li);
    } else if (list.lastElementChild !== drag.li) {
      list.append(drag.li);
    }
  });
  const end = (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    const { li, from } = drag;
    drag = null;
    li.classList.remove('dragging');
    if (li.hasPointerCapture(e.pointerId)) li.releasePointerCapture(e.pointerId);
    const to = items().indexOf(li);
    if (e.type === 'pointercancel' && to !== from) {
      // Put it back: a cancelled drag changes nothing.
      const all = items().filter((x) => x !== li);
      if (from < all.length) all[from].before(li); else list.append(li);
      sync();
      return;
    }
    // The focus stays where it was (see the buttons above); the dragged
    // item becomes the list's Tab stop.
    for (const x of items()) x.tabIndex = x === li ? 0 : -1;
    if (to !== from) moveTo(li, to, false);
  };
  list.addEventListener('pointerup', end);
  list.addEventListener('pointercancel', end);

  if (accept) {
    accept.addEventListener('click', () => {
      ranked = true;
      sync();
      announce('Ranked as shown');
    });
  }

  sync();
  // The page may have focused the list itself as its first control.
  if (document.activeElement === list) {
    const first = items().find((li) => li.tabIndex === 0);
    if (first) first.focus({ preventScroll: true });
  }
}
