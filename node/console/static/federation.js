// The federation panel (#/federation): this node, and every other roster member with its
// connection and how far behind or ahead of us it is. Refreshed with app.js's 5 s poll.
import {get} from './api.js';
import {absTime, h, plural, timeEl} from './dom.js';
import {on, state} from './state.js';

const COLUMNS = ['Country', 'Name', 'Connection', 'Last seen', 'Behind (entries it lacks)', 'Ahead (entries we lack)', 'Media in flight'];

export function mount(main) {
  const nodeBox = h('dl', {class: 'node-info'});
  const summary = h('p', {class: 'fed-summary'});
  const tbody = h('tbody');
  const table = h('table', {id: 'federation'},
    h('thead', {}, h('tr', {}, ...COLUMNS.map((t) => h('th', {scope: 'col', text: t})))), tbody);
  main.append(h('section', {class: 'federation-view', 'aria-label': 'Federation'},
    h('h1', {text: 'Federation'}),
    h('div', {class: 'fed-grid'},
      h('div', {class: 'panel'}, h('h2', {text: 'This node'}), nodeBox),
      h('div', {class: 'panel fed-members'}, h('h2', {text: 'Members'}), summary, h('div', {class: 'table-wrap'}, table)))));

  async function renderNode() {
    let node;
    try {
      node = await get('/v1/node');
    } catch (err) {
      nodeBox.replaceChildren(h('div', {class: 'form-error', role: 'alert', text: err.message}));
      return;
    }
    const health = state.health || {};
    const refused = health.write_refused;
    const rows = [
      ['OC', `${node.country} ${node.name}`],
      ['Peer id', node.peer_id],
      ['Version', node.version],
      ['Addresses', (node.addrs || []).join('\n') || '—'],
      ['Entries held', String(node.counts.entries)],
      ['Incidents', String(node.counts.incidents)],
      ['Entries waiting to be sent', String(node.pending_entries)],
      ['Writes', node.writable ? 'accepted' : `refused${refused ? `: ${refused.message || refused.code}` : ''}`],
      ['Connected peers', health.peers_connected === undefined ? '—' : String(health.peers_connected)],
    ];
    nodeBox.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {text: k}), h('dd', {class: k === 'Peer id' ? 'mono' : null, text: v})]));
  }

  const rowsById = new Map();
  function renderPeers() {
    const peers = [...state.peers].sort((a, b) => Number(a.connected) - Number(b.connected) || a.country.localeCompare(b.country));
    const down = peers.filter((p) => !p.connected).length;
    summary.textContent = peers.length
      ? `${peers.length - down} of ${plural(peers.length, 'member')} connected${down ? `, ${down} unreachable` : ''}.`
      : 'No other members in the roster.';
    const keep = new Set();
    const trs = peers.map((p) => {
      keep.add(p.peer_id);
      let tr = rowsById.get(p.peer_id);
      if (!tr) {
        tr = h('tr', {dataset: {peerId: p.peer_id}});
        rowsById.set(p.peer_id, tr);
      }
      tr.className = p.connected ? 'connected' : 'unreachable';
      tr.replaceChildren(
        h('td', {text: p.country}),
        h('td', {text: p.name}),
        h('td', {class: 'conn'}, h('span', {class: `dot ${p.connected ? 'ok' : 'bad'}`, 'aria-hidden': 'true'}), p.connected ? 'connected' : 'unreachable'),
        h('td', {title: absTime(p.last_seen)}, p.last_seen ? timeEl(p.last_seen) : 'never'),
        h('td', {class: `num${p.behind ? ' warn' : ''}`, text: p.behind == null ? '—' : String(p.behind)}),
        h('td', {class: 'num', text: p.ahead == null ? '—' : String(p.ahead)}),
        h('td', {class: 'num', text: String(p.media_in_flight ?? 0)}));
      return tr;
    });
    for (const id of [...rowsById.keys()]) if (!keep.has(id)) rowsById.delete(id);
    tbody.replaceChildren(...trs);
  }

  renderPeers();
  renderNode();
  const off = on('peers', () => {
    renderPeers();
    renderNode();
  });
  return off;
}
