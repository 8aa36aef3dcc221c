// The incident's timeline (<ol id="timeline">): every entry, oldest first, with what it
// changed, who wrote it at which OC, its delivery receipt across the federation, and the
// acknowledgements: which addressees' nodes stored it, which OCs took note of it (and a
// one-click "Taken note" for this OC).
import {post} from './api.js';
import {CATEGORY_LABEL, STATUS_LABEL, absTime, bytes, clock, h, oc, timeEl, toast} from './dom.js';
import {canWrite, state} from './state.js';

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

const country = (m) => (m && (m.country || m.name)) || `OC ${((m && m.public_key) || '').slice(0, 8)}`;

// "CZ (Pavel Černý), DE": who took note, with the operator when the ack names one.
function notedText(noted) {
  return noted.map((a) => `${country(a.member)}${a.operator ? ` (${a.operator})` : ''}`).join(', ');
}

const isMe = (m) => Boolean(m && state.session && m.peer_id === state.session.node.peer_id);

// onNoted(): called once this OC's ack is stored, to re-read the entries.
export function createTimeline(incidentId, onNoted = () => {}) {
  const ol = h('ol', {id: 'timeline'});
  const items = new Map();   // entry id -> {li, receipt, acks, ...}

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
      renderAcks(item, e);
      ordered.push(item.li);
    }
    if (ordered.length !== ol.children.length || ordered.some((li, i) => ol.children[i] !== li)) ol.replaceChildren(...ordered);
  }

  // Rewritten on every update (acks arrive as other OCs read); the button is kept, so
  // keyboard focus on it survives a refresh.
  function renderAcks(item, e) {
    const ack = e.acknowledged || {delivered: [], noted: []};
    const noted = ack.noted || [];
    const delivered = ack.delivered || [];
    const lines = [];
    if (e.to && e.to.length) lines.push(h('span', {class: 'to', text: `to: ${e.to.map(country).join(', ')}`}));
    if (e.to || delivered.length) {
      lines.push(h('span', {class: `delivered${delivered.length ? '' : ' none'}`,
        title: delivered.map((a) => `${oc(a.member)} ${absTime(a.at)}`).join('\n'),
        text: delivered.length ? `delivered to: ${delivered.map((a) => country(a.member)).join(', ')}` : 'delivered to: none yet'}));
    }
    lines.push(h('span', {class: `noted${noted.length ? '' : ' none'}`,
      title: noted.map((a) => `${oc(a.member)}${a.operator ? `, ${a.operator}` : ''} ${absTime(a.at)}`).join('\n'),
      text: noted.length ? `acknowledged by: ${notedText(noted)}` : 'not acknowledged yet'}));
    const text = lines.map((l) => l.textContent).join('|');
    if (text !== item.acksText) {
      item.acksText = text;
      item.ackLines.replaceChildren(...lines);
    }
    // Own entries need no note; a viewer cannot write one.
    item.note.hidden = !canWrite() || isMe(e.author) || noted.some((a) => isMe(a.member));
  }

  async function takeNote(item, entryId) {
    item.note.disabled = true;
    try {
      await post(`/v1/incidents/${incidentId}/acks`, {entry: entryId});
      item.note.hidden = true;
      item.ackLines.focus({preventScroll: true});
      onNoted();
    } catch (err) {
      toast(`Taken note not recorded: ${err.message}`);
    } finally {
      item.note.disabled = false;
    }
  }

  function build(e) {
    const receipt = h('span', {class: 'receipt'});
    const ackLines = h('span', {class: 'ack-lines', tabindex: '-1'});
    const note = h('button', {type: 'button', class: 'small note', hidden: true, text: 'Taken note',
      title: 'Tell the federation that this OC has taken note of this entry'});
    const li = h('li', {class: `entry kind-${e.kind}${e.exercise ? ' exercise' : ''}`, dataset: {entryId: e.id}},
      h('div', {class: 'entry-head'},
        h('span', {class: 'kind', text: KIND[e.kind] || e.kind}),
        h('span', {class: 'who', text: `${e.operator ? `${e.operator} · ` : ''}${oc(e.author)}`}),
        timeEl(e.at)),
      h('div', {class: `what${e.kind === 'comment' ? ' text' : ''}`, text: changesText(e)}),
      receipt,
      h('div', {class: 'acks'}, ackLines, note));
    const item = {li, receipt, ackLines, note, acksText: null};
    note.addEventListener('click', () => takeNote(item, e.id));
    return item;
  }

  return {root: ol, update};
}
