// Inside the preview frame the labeling form is for trying keys and
// controls only: it is never sent.
const form = document.getElementById('label-form');
if (form) form.addEventListener('submit', (e) => e.preventDefault());
