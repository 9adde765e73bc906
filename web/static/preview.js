// Live preview: the form posts into the frame as the config or the sample
// item change (after a short pause), and once on load. Without this file
// the Preview button does the same.
const form = document.getElementById('preview-form');
let timer;
if (form) {
  form.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => form.requestSubmit(), 400);
  });
  form.requestSubmit();
}
