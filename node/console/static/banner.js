// The three banners under the header: federation members unreachable, the node itself
// (connection lost, catching up, writes refused), and the persistent exercise marker.
import {clock, h, plural} from './dom.js';
import {href, state} from './state.js';

function unreachableText(peer) {
  const since = peer.last_seen ? `unreachable since ${clock(peer.last_seen)}` : 'never connected';
  const behind = peer.behind === null || peer.behind === undefined
    ? 'entries not delivered: unknown'
    : `${plural(peer.behind, 'entry', 'entries')} not delivered`;
  return `${peer.country} ${peer.name}: ${since}, ${behind}`;
}

export function renderFederationBanner() {
  const banner = document.getElementById('federation-banner');
  const down = state.peers.filter((p) => !p.connected);
  banner.hidden = down.length === 0;
  if (!down.length) return banner.replaceChildren();
  banner.replaceChildren(
    h('strong', {text: `${down.length} of ${state.peers.length} OCs unreachable: `}),
    ...down.map((p, i) => h('span', {class: 'peer-down', text: (i ? '; ' : '') + unreachableText(p)})),
    ' ',
    h('a', {href: href('/federation'), text: 'Show members'}));
}

// Node problems, worst first: without a connection nothing else on screen is current.
export function renderNodeBanner() {
  const banner = document.getElementById('node-banner');
  const lines = [];
  if (state.sseLost) lines.push('Connection to the node lost — retrying. What you see may be out of date.');
  const health = state.health;
  if (health && health.unreachable) lines.push('The node does not answer — retrying.');
  else if (health && !health.writable) {
    const refused = health.write_refused || {};
    lines.push(refused.code === 'catching_up'
      ? refused.message || 'The node is catching up with the federation; writes resume by themselves.'
      : `Writes refused: ${refused.message || refused.code || 'the node refuses writes now'}`);
  }
  banner.hidden = lines.length === 0;
  banner.replaceChildren(...lines.map((t) => h('div', {text: t})));
}

// `runs`: the runs of this exercise that this node conducts (GET /v1/conduct), each with
// its dashboard and after-action report.
export function renderExerciseBanner(runs = []) {
  const banner = document.getElementById('exercise-banner');
  banner.hidden = !state.traffic;
  banner.replaceChildren(state.traffic ? `EXERCISE — ${state.traffic}` : '');
  document.body.classList.toggle('in-exercise', Boolean(state.traffic));
  if (!state.traffic || !runs.length) return;
  banner.append(h('span', {class: 'exercise-runs'}, ...runs.map((r) => h('span', {class: 'exercise-run', dataset: {run: String(r.run)}},
    `Run ${r.run} (${r.phase}): `,
    h('a', {href: href(`/conduct/${r.run}`), text: 'Conduct'}), ' · ',
    h('a', {href: `/v1/conduct/${r.run}/report.html`, download: '', text: 'Download after-action report'}), ' ',
    h('a', {href: `/v1/conduct/${r.run}/report.json`, download: '', text: '(JSON)',
      'aria-label': 'Download after-action report (JSON)'})))));
}
