// The incident's timeline (<ol id="timeline">): every entry, oldest first, with what it
// changed, who wrote it at which OC, and its delivery receipt across the federation.
import {CATEGORY_LABEL, STATUS_LABEL, bytes, clock, h, oc, timeEl} from './dom.js';

const KIND = {open: 'Opened', update: 'Updated', comment: 'Comment', media: 'Media'};

function receiptText(d) {
  if (!d) return 'delivery unknown';
  if (!d.members) return 'no other OCs in the federation';
  const missing = d.missing || [];
  if (!missing.length) return `delivered to all ${d.members} OCs`;
  const why = (m) => (m.connected ? 'connected, syncing'
    : m.last_seen ? `unreachable since ${clock(m.last_seen)}` : 'never connected');
  return `delivered to ${d.members - missing.length} of ${d.members} OCs; `
    + missing.map((m) => `${m.country || m.name || m.peer_id} not yet (${why(m)})`).join('; ');
}

function locationText(l) {
  if (!l) return 'none';
  return `${l.place ? `${l.place} ` : ''}(${Number(l.lat).toFixed(4)}, ${Number(l.lon).toFixed(4)})`;
}

// One short phrase per change, so an officer reads the history at a glance.
function changesText(entry) {
  const c = entry.changes || {};
  const parts = [];
  if (entry.kind === 'comment') return c.text || '';
  if (entry.kind === 'media') {
    const m = c.media || {};
    return `attached ${m.name || 'a file'}${m.mime ? ` (${m.mime}, ${bytes(m.size || 0)})` : ''}`;
  }
  if (c.title !== undefined) parts.push(entry.kind === 'open' ? `“${c.title}”` : `title → “${c.title}”`);
  if (c.severity !== undefined) parts.push(`severity ${entry.kind === 'open' ? '' : '→ '}${c.severity.toUpperCase()}`);
  if (c.category !== undefined) parts.push(`category ${entry.kind === 'open' ? '' : '→ '}${CATEGORY_LABEL[c.category] || c.category}`);
  if (c.status !== undefined) parts.push(`status ${entry.kind === 'open' ? '' : '→ '}${STATUS_LABEL[c.status] || c.status}`);
  if (c.location !== undefined) parts.push(`location ${entry.kind === 'open' ? '' : '→ '}${locationText(c.location)}`);
  if (c.description !== undefined) parts.push(entry.kind === 'open' ? 'with description' : 'description changed');
  if (c.tags_added && c.tags_added.length) parts.push(`tags +${c.tags_added.join(' +')}`);
  if (c.tags_removed && c.tags_removed.length) parts.push(`tags −${c.tags_removed.join(' −')}`);
  return parts.join(', ') || (entry.kind === 'update' ? 'no visible change' : '');
}

export function createTimeline() {
  const ol = h('ol', {id: 'timeline'});
  const items = new Map();   // entry id -> {li, receipt}

  // Entries never change, receipts do: existing items only get their receipt rewritten.
  function update(entries) {
    const ordered = [];
    for (const e of entries) {
      let item = items.get(e.id);
      if (!item) {
        item = build(e);
        items.set(e.id, item);
      }
      item.receipt.textContent = receiptText(e.delivery);
      const d = e.delivery || {};
      item.receipt.classList.toggle('complete', Boolean(d.members) && !(d.missing || []).length);
      item.receipt.classList.toggle('pending', Boolean((d.missing || []).length));
      ordered.push(item.li);
    }
    if (ordered.length !== ol.children.length || ordered.some((li, i) => ol.children[i] !== li)) ol.replaceChildren(...ordered);
  }

  function build(e) {
    const receipt = h('span', {class: 'receipt'});
    const li = h('li', {class: `entry kind-${e.kind}${e.exercise ? ' exercise' : ''}`, dataset: {entryId: e.id}},
      h('div', {class: 'entry-head'},
        h('span', {class: 'kind', text: KIND[e.kind] || e.kind}),
        h('span', {class: 'who', text: `${e.operator ? `${e.operator} · ` : ''}${oc(e.author)}`}),
        timeEl(e.at)),
      h('div', {class: `what${e.kind === 'comment' ? ' text' : ''}`, text: changesText(e)}),
      receipt);
    return {li, receipt};
  }

  return {root: ol, update};
}
