// DOM helpers. Every text that reaches the page comes from other countries' nodes, so
// nodes are built with createElement + textContent only (never innerHTML with data).

const SVG_NS = 'http://www.w3.org/2000/svg';

// h('tr', {class: 'x', dataset: {incidentId: id}, onclick: fn}, 'text', child, [more])
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.setAttribute('class', value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string' && !(el instanceof SVGElement)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// A labelled form control: the label's `for` points at the control (tests find fields by label).
let uid = 0;
export function field(labelText, control, hint) {
  if (!control.id) control.id = `f${++uid}`;
  return h('div', {class: 'field'},
    h('label', {for: control.id, text: labelText}),
    control,
    hint ? h('small', {class: 'hint', text: hint}) : null);
}

export function select(options, value, attrs) {
  const el = h('select', attrs);
  for (const opt of options) {
    const [val, label] = Array.isArray(opt) ? opt : [opt, opt];
    el.append(h('option', {value: val, text: label}));
  }
  if (value !== undefined && value !== null) el.value = value;
  return el;
}

// ---- time ------------------------------------------------------------------

// The browser's locale for dates, but always a 24-hour clock: operational centres log in 24 h.
const absFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});
const clockFormat = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'});
const dayClockFormat = new Intl.DateTimeFormat(undefined, {day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'});

export function absTime(iso) {
  return iso ? absFormat.format(new Date(iso)) : '';
}

// "10:42" today, "03 May 10:42" otherwise: short enough for banners and receipts.
export function clock(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? clockFormat.format(d) : dayClockFormat.format(d);
}

export function relTime(iso) {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < -60) return `in ${Math.round(-s / 60)} min`;  // a node whose clock runs ahead
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// <time> whose text is relative; refreshTimes() keeps it current (30 s tick in app.js).
export function timeEl(iso, prefix = '') {
  const el = h('time', {class: 'reltime', datetime: iso || '', title: absTime(iso)});
  el.dataset.prefix = prefix;
  el.textContent = prefix + relTime(iso);
  return el;
}

export function refreshTimes(root = document) {
  for (const el of root.querySelectorAll('time.reltime')) {
    el.textContent = el.dataset.prefix + relTime(el.getAttribute('datetime'));
  }
}

// ---- domain labels -----------------------------------------------------------

export const CATEGORIES = ['cbrne', 'manhunt', 'crowd', 'terrorism', 'other'];
export const SEVERITIES = ['low', 'medium', 'high', 'critical'];
export const STATUSES = ['open', 'monitoring', 'resolved', 'closed'];
export const CATEGORY_LABEL = {cbrne: 'CBRNE', manhunt: 'Manhunt', crowd: 'Crowd', terrorism: 'Terrorism', other: 'Other'};
export const STATUS_LABEL = {open: 'Open', monitoring: 'Monitoring', resolved: 'Resolved', closed: 'Closed'};
// Colours double as SVG fill attributes on the map, so they live here rather than in CSS only.
export const SEVERITY_COLOUR = {low: '#2e7d32', medium: '#f0a500', high: '#e4500e', critical: '#8b0000'};
export const SEVERITY_RANK = {low: 0, medium: 1, high: 2, critical: 3};

// Severity is always shown as text too, never by colour alone.
export function severityBadge(severity) {
  return h('span', {class: `sev sev-${severity}`, text: (severity || '?').toUpperCase()});
}

export function exerciseBadge(name) {
  return h('span', {class: 'badge-exercise', title: `Exercise ${name}`, text: 'EXERCISE'});
}

export function oc(author) {
  if (!author) return 'unknown OC';
  return [author.country, author.name].filter(Boolean).join(' ') || `unknown OC ${(author.public_key || '').slice(0, 8)}`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

// ---- toasts ------------------------------------------------------------------

// Errors stay until dismissed or 15 s: an officer looking at another screen must not miss one.
export function toast(message, kind = 'error') {
  const box = document.getElementById('toasts');
  const close = h('button', {type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×'});
  const item = h('div', {class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status'},
    h('span', {text: message}), close);
  close.addEventListener('click', () => item.remove());
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 15000 : 5000);
  while (box.children.length > 5) box.firstElementChild.remove();
}
