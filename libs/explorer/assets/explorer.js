/* global document, location, fetch, AbortController */
// btf-atlas explorer: completion for the header's search box (the ARIA 1.2 combobox pattern with a listbox
// popup). Without this script the form still submits to /search, which lists the same names.
// Suggestions: the names of GET /v1/search (one option per name and kind, linked as the search page links them:
// the form's data-links map, `{}` standing for the name), a `STRUCT.MEMBER` text as its field page, and kernels
// whose KREF holds the text (GET /v1/kernels, read once).

const DEBOUNCE_MS = 150;
const LIMIT = 12;

const KIND_WORDS = {
  struct: 'struct', union: 'union', enum: 'enum', typedef: 'typedef', func: 'function', kfunc: 'kfunc',
  tracepoint: 'tracepoint', syscall: 'syscall', enumerator: 'enumerator', field: 'field', kernel: 'kernel',
};

/** A name or KREF as a URL part: encodeURIComponent, `+` (in Debian's kernel names) and `/` (KREFs) kept. */
function urlPart(text) {
  return encodeURIComponent(text).replace(/%2B/g, '+');
}

function setUp(form) {
  const input = form.querySelector('input[role="combobox"]');
  const list = document.getElementById(input.getAttribute('aria-controls'));
  if (!input || !list) return;
  let links = {};
  try {
    links = JSON.parse(form.dataset.links || '{}');
  } catch {
    links = {};
  }
  const status = document.createElement('span');
  status.className = 'visually-hidden';
  status.setAttribute('role', 'status');
  form.append(status);

  let options = [];
  let active = -1;
  let timer = 0;
  let pending;

  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  };

  const highlight = (i) => {
    const items = list.querySelectorAll('[role="option"]');
    items.forEach((el, j) => el.setAttribute('aria-selected', String(j === i)));
    active = i;
    if (i >= 0 && items[i]) {
      input.setAttribute('aria-activedescendant', items[i].id);
      items[i].scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  };

  const render = () => {
    list.replaceChildren();
    options.forEach((o, i) => {
      const li = document.createElement('li');
      li.id = `q-option-${i}`;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', 'false');
      li.dataset.href = o.href;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = o.label;
      const kind = document.createElement('span');
      kind.className = 'muted';
      kind.textContent = ` ${o.kind}`;
      li.append(name, kind);
      // mousedown, not click: the input keeps focus, and the choice happens before its blur closes the list.
      li.addEventListener('mousedown', (e) => {
        e.preventDefault();
        location.assign(o.href);
      });
      list.append(li);
    });
    const open = options.length > 0;
    list.hidden = !open;
    input.setAttribute('aria-expanded', String(open));
    status.textContent = open ? `${options.length} suggestion${options.length === 1 ? '' : 's'}` : 'no suggestions';
    active = -1;
  };

  const suggest = async (text) => {
    pending?.abort();
    const q = text.trim();
    if (q === '') {
      options = [];
      render();
      close();
      return;
    }
    const ctl = new AbortController();
    pending = ctl;
    const out = [];
    try {
      // The catalog's search route completes names of every kind, field paths segment by segment, and kernels.
      const res = await fetch(`/v1/search?q=${urlPart(q)}&limit=${LIMIT}`, { signal: ctl.signal, headers: { accept: 'application/json' } });
      if (res.ok) {
        for (const r of (await res.json()).results) {
          for (const k of r.kinds) {
            const page = links[k];
            const href = k === 'kernel' ? `/kernels/${r.name.split('/').map(urlPart).join('/')}`
              : k === 'field' ? `/fields/${urlPart(r.name)}`
                : page ? page.replace('{}', urlPart(r.name)) : `/search?q=${urlPart(r.name)}`;
            out.push({ label: r.name, kind: KIND_WORDS[k] || k, href });
          }
        }
      }
    } catch (e) {
      // Aborted by a newer text, or the network failed: no suggestions (the form still submits).
      if (e.name === 'AbortError') return;
    }
    if (ctl !== pending) return;
    options = out.slice(0, LIMIT);
    render();
  };

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void suggest(input.value), DEBOUNCE_MS);
  });
  input.addEventListener('keydown', (e) => {
    const open = !list.hidden && options.length > 0;
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (!open) {
        if (options.length > 0) render();
        else void suggest(input.value);
        return;
      }
      highlight(active + 1 >= options.length ? 0 : active + 1);
    } else if (e.key === 'ArrowUp') {
      if (!open) return;
      e.preventDefault();
      highlight(active <= 0 ? options.length - 1 : active - 1);
    } else if (e.key === 'Enter') {
      if (open && active >= 0) {
        e.preventDefault();
        location.assign(options[active].href);
      }
    } else if (e.key === 'Escape') {
      if (open) {
        e.preventDefault();
        close();
      } else if (input.value !== '') {
        e.preventDefault();
        input.value = '';
      }
    }
  });
  input.addEventListener('blur', () => close());
}

for (const form of document.querySelectorAll('form.search')) setUp(form);
