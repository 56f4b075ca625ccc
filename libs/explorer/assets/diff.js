// btf-atlas diff page: the filter form applies as it changes (checkboxes at once, the name after a pause), and
// paging swaps the changes in place. Each view is still its own URL (pushed to the history), and without this
// script the form's submit button and the pager's links do the same with a page load.
/* global document, window, history, fetch, DOMParser, FormData */
const main = document.getElementById('main');

async function show(url, push) {
  const status = document.getElementById('diff-shown');
  if (status) status.textContent = 'Loading…';
  const res = await fetch(url, { headers: { accept: 'text/html' } });
  const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
  const next = doc.getElementById('main');
  if (!next) {
    window.location.assign(url);
    return;
  }
  // Keep focus where it was (same id) so keyboard users stay in the form.
  const focused = document.activeElement && document.activeElement.id;
  main.replaceChildren(...next.childNodes);
  document.title = doc.title;
  if (push) history.pushState({}, '', url);
  if (focused) document.getElementById(focused)?.focus();
  wire();
}

// The form's view as the server writes its links: KREFs keep their `/` and `+` readable (the server reads a `+`
// in a query as itself), a space is %20.
const part = (s) => encodeURIComponent(s).replace(/%2F/g, '/').replace(/%2B/g, '+').replace(/%2C/g, ',');
function formUrl(form) {
  const pairs = [];
  for (const [k, v] of new FormData(form)) if (v !== '') pairs.push(`${part(k)}=${part(String(v))}`);
  return `${form.action}?${pairs.join('&')}`;
}

let timer;
function wire() {
  const form = document.getElementById('diff-filters');
  if (!form) return;
  form.addEventListener('change', (e) => {
    if (e.target.type === 'checkbox') show(formUrl(form), true);
  });
  form.addEventListener('input', (e) => {
    if (e.target.id !== 'diff-name') return;
    clearTimeout(timer);
    timer = setTimeout(() => show(formUrl(form), true), 400);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    show(formUrl(form), true);
  });
  for (const a of main.querySelectorAll('.pager a')) {
    a.addEventListener('click', (e) => {
      e.preventDefault();
      show(a.href, true).then(() => document.getElementById('changes-h')?.scrollIntoView());
    });
  }
}

window.addEventListener('popstate', () => show(window.location.href, false));
wire();
