// Export jobs: each job still queued or running asks for its status every
// second and shows the items read so far, then its download link and
// counts, or its error. Without this file, reloading the page shows the
// same.
const rows = document.querySelectorAll('#export-jobs tr[data-status="queued"], #export-jobs tr[data-status="running"]');
for (const row of rows) {
  poll(row);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function poll(row) {
  const status = row.querySelector('.job-status');
  const result = row.querySelector('.job-result');
  for (;;) {
    await sleep(1000);
    let job;
    try {
      const resp = await fetch(row.dataset.statusUrl, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (resp.status === 404) {
        status.textContent = 'gone';
        result.textContent = 'the export is no longer kept';
        return;
      }
      if (!resp.ok) {
        continue;
      }
      job = await resp.json();
    } catch {
      continue; // the server restarts, the network blinks: ask again
    }
    row.dataset.status = job.status;
    status.textContent = job.status;
    if (job.status === 'done') {
      const link = document.createElement('a');
      link.className = 'job-download';
      link.href = row.dataset.download;
      link.setAttribute('download', '');
      link.textContent = 'Download';
      const counts = document.createElement('span');
      counts.className = 'job-counts';
      counts.textContent = describe(job.manifest);
      result.replaceChildren(link, ' ', counts);
      return;
    }
    if (job.status === 'failed') {
      const err = document.createElement('span');
      err.className = 'bad job-error';
      err.textContent = job.error;
      result.replaceChildren(err);
      return;
    }
    const read = result.querySelector('.items-read');
    if (read) {
      read.textContent = String(job.items_read);
    }
  }
}

// describe says what an export holds, as the page does: "120 items, 120
// rows (train 96, test 24)".
function describe(m) {
  if (!m) {
    return '';
  }
  let out = `${m.items} items, ${m.rows} rows`;
  const parts = m.spec && m.spec.split ? m.spec.split.parts : null;
  if (parts) {
    out += ' (' + parts.map((p) => `${p.name} ${m.splits[p.name] ? m.splits[p.name].rows : 0}`).join(', ') + ')';
  }
  const skipped = Object.values(m.skipped || {}).reduce((a, b) => a + b, 0);
  if (skipped > 0) {
    out += `, ${skipped} skipped`;
  }
  return out;
}
