// Keyboard labeling for the labeling page. The page works without this
// file (radio buttons, a Submit button, a Skip button and a Back link);
// this adds the keys: an option's key picks it, Enter submits, S skips,
// Backspace or ← goes back, → goes forward, ? shows the keys.

const form = document.getElementById('label-form');
const keys = document.getElementById('keys');
let submitting = false;

function typing(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  return el.tagName === 'INPUT' && !['radio', 'checkbox', 'button', 'submit', 'reset'].includes(el.type);
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
}

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
  if (typing(e.target)) return;
  const key = e.key;
  if (key === '?') {
    e.preventDefault();
    if (keys) keys.open = !keys.open;
    return;
  }
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
    e.preventDefault();
    submitWith('submit');
    return;
  }
  if (key === 's' || key === 'S') {
    e.preventDefault();
    submitWith('skip');
    return;
  }
  const input = form.querySelector(`input[data-key="${CSS.escape(key.toLowerCase())}"]`);
  if (input) {
    e.preventDefault();
    input.click();
    input.focus();
  }
});

// Start with the first block focused, so keys work at once and the page
// can be read from the top with a screen reader.
if (form && !form.contains(document.activeElement)) {
  const first = form.querySelector('input:checked, input[type=radio], textarea, input:not([type=hidden])');
  if (first) first.focus({ preventScroll: true });
}
