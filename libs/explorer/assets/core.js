// btf-atlas CO-RE page: sends the chosen object's bytes (application/octet-stream, the selection in the query) to
// POST /core and shows the verdicts in place, after checking the size limit in the browser. Without this script
// the form posts multipart/form-data to the same route and the server renders the same answer.
/* global document, fetch, DOMParser, URLSearchParams */
const form = document.getElementById('core-form');
const status = document.getElementById('core-status');

form?.addEventListener('submit', async (e) => {
  const file = document.getElementById('core-object').files[0];
  if (!file) return;
  e.preventDefault();
  const max = Number(form.dataset.maxBytes);
  if (file.size > max) {
    status.textContent = `${file.name} is ${file.size} bytes: the limit is ${max}.`;
    return;
  }
  const params = new URLSearchParams();
  for (const name of ['kernel', 'arch', 'distro', 'release']) {
    const v = form.elements[name].value;
    if (v !== '') params.set(name, v);
  }
  if (!document.getElementById('core-modules').checked) params.set('modules', 'false');
  status.textContent = `Checking ${file.name}…`;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const res = await fetch(`/core?${params.toString()}`, { method: 'POST', body: file, headers: { 'content-type': 'application/octet-stream', accept: 'text/html' } });
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const result = doc.getElementById('core-result');
    if (result) document.getElementById('core-result').replaceWith(result);
    status.textContent = res.ok ? `Checked ${file.name}.` : `${file.name}: ${res.status} ${res.statusText}`;
    document.getElementById('core-result-h')?.focus();
  } catch (err) {
    status.textContent = `The check failed: ${err.message}`;
  } finally {
    button.disabled = false;
  }
});
