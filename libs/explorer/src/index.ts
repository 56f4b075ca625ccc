export { default as explorer } from './plugin.js';
export { html, raw, escapeHtml, Html } from './html.js';
