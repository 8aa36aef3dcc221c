// The board: every incident of the current traffic, filtered in memory and rendered as a
// window of rows (a few dozen in the DOM, even with 5,000 incidents); live events rebuild
// only the row of the incident that changed.
import {
  CATEGORIES, CATEGORY_LABEL, SEVERITIES, SEVERITY_RANK, STATUSES, STATUS_LABEL,
  exerciseBadge, field, h, oc, select, severityBadge, timeEl,
} from './dom.js';
import {get} from './api.js';
import {canWrite, completeMedia, href, incidents, isUnread, markAllSeen, on} from './state.js';

const OVERSCAN = 12;      // rows rendered above and below the viewport, for smooth scrolling
const MAX_ROWS = 300;     // hard cap on rendered rows, whatever the screen height
const THUMB_RETRY_MS = 5000;  // an image still arriving: its row tries the thumbnail again

// Filters and scroll position survive a visit to an incident and back (not a reload).
const filters = {q: '', category: '', severity: '', status: '', country: '', sort: 'updated'};
let savedScroll = 0;

export function mount(main) {
  const rows = new Map();        // id -> {inc, tr}: rebuilt only when the incident changes
  let list = [];
  let rowHeight = 0;
  let frame = 0;
  let recompute = true;
  let loading = false;
  const flash = new Set();   // ids changed by a live event: their rebuilt row flashes once
  const retries = new Map(); // incident id -> timer rebuilding its row to retry the thumbnail

  const search = h('input', {type: 'search', value: filters.q, placeholder: 'title, place, tag, OC…', autocomplete: 'off'});
  const category = select([['', 'All'], ...CATEGORIES.map((c) => [c, CATEGORY_LABEL[c]])], filters.category);
  const severity = select([['', 'All'], ...SEVERITIES.map((s) => [s, s[0].toUpperCase() + s.slice(1)])], filters.severity);
  const status = select([['', 'All'], ['active', 'Open + monitoring'], ...STATUSES.map((s) => [s, STATUS_LABEL[s]])], filters.status);
  const country = select([['', 'All']], '');
  const sort = select([['updated', 'Last changed'], ['severity', 'Severity']], filters.sort);
  const count = h('span', {class: 'count', 'aria-live': 'polite'});
  const markRead = h('button', {type: 'button', text: 'Mark all read',
    onclick: () => { markAllSeen(list); rows.clear(); schedule(); }});
  const toolbar = h('div', {class: 'toolbar'},
    field('Search', search), field('Category', category), field('Severity', severity),
    field('Status', status), field('Country', country), field('Sort', sort),
    h('div', {class: 'toolbar-end'}, count, markRead,
      canWrite() ? h('button', {type: 'button', class: 'primary', text: 'New incident',
        onclick: () => { location.hash = href('/new'); }}) : null));

  const tbody = h('tbody');
  const table = h('table', {id: 'board'},
    h('thead', {}, h('tr', {},
      ...['Severity', 'Title', 'Category', 'Status', 'Origin OC', 'Updated'].map((t) => h('th', {scope: 'col', text: t})))),
    tbody);
  const scroller = h('div', {class: 'board-scroll'}, table);
  const empty = h('p', {class: 'empty', hidden: true});
  main.append(h('section', {class: 'board-view', 'aria-label': 'Incident board'}, toolbar, scroller, empty));

  const topSpacer = spacer();
  const bottomSpacer = spacer();

  function matches(inc) {
    if (filters.category && inc.category !== filters.category) return false;
    if (filters.severity && inc.severity !== filters.severity) return false;
    if (filters.status === 'active') {
      if (inc.status !== 'open' && inc.status !== 'monitoring') return false;
    } else if (filters.status && inc.status !== filters.status) return false;
    if (filters.country && (inc.author && inc.author.country) !== filters.country) return false;
    if (filters.q && !haystack(inc).includes(filters.q)) return false;
    return true;
  }

  function computeList() {
    const all = [...incidents.values()];
    updateCountries(all);
    const keyed = all.filter(matches).map((inc) => [Date.parse(inc.updated_at), inc]);
    keyed.sort(filters.sort === 'severity'
      ? (a, b) => SEVERITY_RANK[b[1].severity] - SEVERITY_RANK[a[1].severity] || b[0] - a[0]
      : (a, b) => b[0] - a[0]);
    list = keyed.map((k) => k[1]);
    count.textContent = list.length === all.length
      ? `${all.length} incident${all.length === 1 ? '' : 's'}`
      : `${list.length} of ${all.length} shown`;
    empty.hidden = list.length > 0;
    empty.textContent = all.length ? 'No incidents match these filters.' : (loading ? 'Loading incidents…' : 'No incidents yet.');
  }

  let countries = '';
  function updateCountries(all) {
    const set = [...new Set(all.map((i) => i.author && i.author.country).filter(Boolean))].sort();
    if (filters.country && !set.includes(filters.country)) set.push(filters.country);
    const key = set.join(',');
    if (key === countries) return;
    countries = key;
    country.replaceChildren(h('option', {value: '', text: 'All'}), ...set.map((c) => h('option', {value: c, text: c})));
    country.value = filters.country;
  }

  function render() {
    frame = 0;
    if (recompute) computeList();
    recompute = false;
    const rh = rowHeight || 44;
    const head = table.tHead.offsetHeight;
    const top = Math.max(0, scroller.scrollTop - head);
    const visible = Math.ceil(scroller.clientHeight / rh);
    const start = Math.max(0, Math.floor(top / rh) - OVERSCAN);
    const end = Math.min(list.length, start + Math.min(MAX_ROWS, visible + 2 * OVERSCAN));
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('tr.row');
    const slice = [];
    for (let i = start; i < end; i++) slice.push(rowFor(list[i]));
    topSpacer.style.height = `${start * rh}px`;
    bottomSpacer.style.height = `${(list.length - end) * rh}px`;
    tbody.replaceChildren(topSpacer, ...slice, bottomSpacer);
    // Moving a focused row in the DOM blurs it; give focus back so Tab/arrows keep working.
    if (focused && tbody.contains(focused) && document.activeElement !== focused) focused.focus({preventScroll: true});
    if (!rowHeight && slice.length) {
      rowHeight = slice[0].getBoundingClientRect().height || 44;
      if (Math.abs(rowHeight - rh) > 1) schedule();
    }
  }

  function rowFor(inc) {
    const cached = rows.get(inc.id);
    if (cached && cached.inc === inc) return cached.tr;
    const tr = buildRow(inc, thumbPending);
    if (flash.delete(inc.id)) tr.classList.add('flash');
    rows.set(inc.id, {inc, tr});
    return tr;
  }

  // An image still arriving: ask the node a little later whether it holds it now, and
  // rebuild the row with its thumbnail when it does (only while the row is on screen).
  function thumbPending(inc, mediaId) {
    if (retries.has(inc.id)) return;
    retries.set(inc.id, setTimeout(async () => {
      const cached = rows.get(inc.id);
      if (!cached || !tbody.contains(cached.tr)) return retries.delete(inc.id);
      try {
        if ((await get(`/v1/media/${mediaId}/status`)).complete) completeMedia.add(mediaId);
      } catch {
        // the node's banner reports a lost connection; try again at the next round
      }
      retries.delete(inc.id);
      rows.delete(inc.id);
      schedule();
    }, THUMB_RETRY_MS));
  }

  function schedule(full = false) {
    if (full) recompute = true;
    if (!frame) frame = requestAnimationFrame(render);
  }

  function open(tr) {
    location.hash = href(`/incident/${tr.dataset.incidentId}`);
  }

  tbody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr.row');
    if (tr) open(tr);
  });
  tbody.addEventListener('keydown', (e) => {
    const tr = e.target.closest('tr.row');
    if (!tr) return;
    if (e.key === 'Enter') open(tr);
    else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const next = e.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
      if (next && next.classList.contains('row')) next.focus();
    }
  });
  scroller.addEventListener('scroll', () => {
    savedScroll = scroller.scrollTop;
    schedule();
  }, {passive: true});

  const onFilter = () => {
    filters.q = search.value.trim().toLowerCase();
    filters.category = category.value;
    filters.severity = severity.value;
    filters.status = status.value;
    filters.country = country.value;
    filters.sort = sort.value;
    scroller.scrollTop = 0;
    schedule(true);
  };
  search.addEventListener('input', onFilter);
  for (const s of [category, severity, status, country, sort]) s.addEventListener('change', onFilter);
  filters.q = search.value.trim().toLowerCase();

  const resize = () => schedule();
  window.addEventListener('resize', resize);
  const offs = [
    on('incidents', () => schedule(true)),
    on('loading', (v) => { loading = v; schedule(true); }),
    on('incident', (inc) => { flash.add(inc.id); schedule(true); }),
    // Relative times of cached rows go stale; rebuilding the visible rows is cheap.
    on('tick', () => { rows.clear(); schedule(); }),
  ];

  computeList();
  recompute = false;
  render();
  scroller.scrollTop = savedScroll;
  schedule();

  return () => {
    offs.forEach((off) => off());
    window.removeEventListener('resize', resize);
    if (frame) cancelAnimationFrame(frame);
    retries.forEach(clearTimeout);
  };
}

function spacer() {
  return h('tr', {class: 'spacer', 'aria-hidden': 'true'}, h('td', {colspan: '6'}));
}

// Lower-cased search text, cached per incident object (an update brings a new object).
const haystacks = new WeakMap();
function haystack(inc) {
  let text = haystacks.get(inc);
  if (text === undefined) {
    text = [inc.title, inc.description, inc.id, inc.location && inc.location.place, oc(inc.author),
      inc.operator, ...(inc.tags || [])].filter(Boolean).join('\n').toLowerCase();
    haystacks.set(inc, text);
  }
  return text;
}

function buildRow(inc, onThumbPending) {
  const classes = ['row', `sev-${inc.severity}`, `status-${inc.status}`];
  if (isUnread(inc)) classes.push('unread');
  if (inc.exercise) classes.push('exercise');
  // A flex wrapper inside the cell: a flex <td> would stop being a table cell.
  const title = h('td', {class: 'title'}, h('div', {class: 'title-wrap'},
    thumb(inc, onThumbPending),
    h('span', {class: 'title-text', text: inc.title}),
    inc.exercise ? exerciseBadge(inc.exercise) : null,
    isUnread(inc) ? h('span', {class: 'unread-dot', title: 'Changed since you last opened it', text: '●'}) : null,
    inc.comment_count ? h('span', {class: 'meta', title: 'Comments', text: `💬 ${inc.comment_count}`}) : null,
    inc.location && inc.location.place ? h('span', {class: 'meta', text: inc.location.place}) : null));
  return h('tr', {class: classes.join(' '), tabindex: '0', dataset: {incidentId: inc.id}},
  h('td', {class: 'sev-cell'}, severityBadge(inc.severity)),
  title,
  h('td', {text: CATEGORY_LABEL[inc.category] || inc.category}),
  h('td', {class: `status status-${inc.status}`, text: STATUS_LABEL[inc.status] || inc.status}),
  h('td', {class: 'origin', text: oc(inc.author)}),
  h('td', {class: 'updated'}, timeEl(inc.updated_at, 'updated ')));
}

// The thumbnail of the incident's first image this node holds whole; while its images are
// still arriving, `onPending` watches the first of them (asking for an image the node does
// not hold yet would be answered 409).
function thumb(inc, onPending) {
  const images = (inc.media || []).filter((m) => m.mime && m.mime.startsWith('image/') && m.mime !== 'image/svg+xml');
  const media = images.find((m) => m.complete || completeMedia.has(m.id));
  if (!media) {
    if (images.length) onPending(inc, images[0].id);
    return null;
  }
  return h('img', {class: 'thumb', alt: '', src: `/v1/media/${media.id}?inline=1`, decoding: 'async'});
}
