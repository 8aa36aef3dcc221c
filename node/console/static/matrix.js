// The federation's capability matrix (GET /v1/assessment/matrix): a heat map of OC ×
// area (current → target, coloured by the current level, a gap marked ▲ with its size),
// the federation's means per area, the gaps per OC, the profiles set aside, the CSV and
// HTML downloads, and one OC's history of saves (oldest first).
import {get} from './api.js';
import {absTime, h, plural, timeEl} from './dom.js';

// Colour class of a level on the questionnaire's scale (5 shades, whatever its size).
function shade(level, levels) {
  const top = Math.max(1, levels.length - 1);
  return `lvl-${Math.round((Math.min(level, top) / top) * 4)}`;
}

const levelName = (levels, v) => (levels.find((l) => l.value === v) || {name: String(v)}).name;

// One cell: "2→3 ▲1"; the title says it in words (and the note), colour is never alone.
export function cellTd(cell, area, levels) {
  if (!cell || cell.current === null || cell.current === undefined) {
    return h('td', {class: 'cell unanswered', title: `${area.title}: not answered`, text: '—'});
  }
  const words = `${area.title}: current ${cell.current} (${levelName(levels, cell.current)}), `
    + `target ${cell.target} (${levelName(levels, cell.target)})${cell.gap ? `, gap ${cell.gap}` : ''}`
    + `${cell.surplus ? `, ${cell.surplus} above target` : ''}${cell.note ? `. Note: ${cell.note}` : ''}`;
  return h('td', {class: `cell ${shade(cell.current, levels)}${cell.gap ? ' gap' : ''}`, title: words,
    dataset: {area: area.id, gap: String(cell.gap || 0)}},
    h('span', {class: 'levels', text: `${cell.current}→${cell.target}`}),
    cell.gap ? h('span', {class: 'gap-mark', text: `▲${cell.gap}`}) : null,
    cell.note ? h('span', {class: 'note-mark', 'aria-hidden': 'true', text: '✎'}) : null,
    h('span', {class: 'sr-only', text: ` ${words}`}));
}

function areaHead(areas, first = 'OC') {
  return h('thead', {}, h('tr', {}, h('th', {scope: 'col', text: first}),
    ...areas.map((a) => h('th', {scope: 'col', class: 'area', title: a.question, text: a.title}))));
}

export function createMatrix() {
  const status = h('p', {class: 'muted', 'aria-live': 'polite'});
  const legend = h('ul', {class: 'legend level-legend', 'aria-label': 'Level colours'});
  const table = h('table', {id: 'capability-matrix', class: 'heat'});
  const gaps = h('ul', {id: 'oc-gaps', class: 'gap-list'});
  const setAside = h('div', {class: 'set-aside'});
  const history = h('div', {id: 'profile-history', class: 'panel', hidden: true, tabindex: '-1'});
  const root = h('div', {class: 'matrix-box'},
    h('div', {class: 'panel'}, h('h2', {text: 'Federation capability matrix'}), status, legend,
      h('p', {class: 'downloads'}, 'Download: ',
        h('a', {href: '/v1/assessment/matrix.csv', download: '', text: 'matrix.csv'}), ' ',
        h('a', {href: '/v1/assessment/matrix.html', download: '', text: 'matrix.html'})),
      h('div', {class: 'table-wrap'}, table), setAside),
    h('div', {class: 'panel'}, h('h2', {text: 'Gaps per OC'}), gaps),
    history);

  let q = null;
  let busy = false;
  async function load() {
    if (busy) return;
    busy = true;
    try {
      render(await get('/v1/assessment/matrix'));
    } catch (err) {
      if (err.status !== 401) status.textContent = `Matrix not loaded: ${err.message}`;
    } finally {
      busy = false;
    }
  }

  function render(m) {
    q = m.questionnaire;
    const {areas, levels} = q;
    const byArea = new Map(areas.map((a) => [a.id, a]));
    const countryOf = new Map(m.rows.map((r) => [r.key, r.country]));
    status.textContent = `${plural(m.rows.length, 'OC')} assessed against ${q.title || q.key}.`;
    legend.replaceChildren(...levels.map((l) => h('li', {title: l.meaning},
      h('span', {class: `swatch ${shade(l.value, levels)}`, 'aria-hidden': 'true'}), `${l.value} ${l.name}`)),
    h('li', {}, h('span', {class: 'gap-mark', text: '▲n'}), 'gap to target'));

    const body = m.rows.map((r) => {
      const name = `${r.country} ${r.member}`;
      const rowHead = h('th', {scope: 'row', id: `oc-${r.key.slice(0, 16)}`},
        h('span', {class: 'oc-name', text: name}), h('small', {class: 'muted'}, ' ', timeEl(r.saved_at, 'saved ')),
        h('button', {type: 'button', class: 'small', text: 'History', 'aria-describedby': `oc-${r.key.slice(0, 16)}`,
          onclick: () => showHistory(r.key, name)}));
      const cells = new Map(r.cells.map((c) => [c.area, c]));
      return h('tr', {dataset: {key: r.key, country: r.country}}, rowHead, ...areas.map((a) => cellTd(cells.get(a.id), a, levels)));
    });
    const sums = new Map(m.summary.map((s) => [s.area, s]));
    const mean = (v) => (v === null || v === undefined ? '—' : v.toFixed(1));
    const foot = [
      ['Federation mean (current→target)', (s) => `${mean(s.mean_current)}→${mean(s.mean_target)}`],
      ['OCs with a gap', (s) => String(s.with_gap)],
      ['Not answered by', (s) => s.unanswered.map((k) => countryOf.get(k) || k.slice(0, 8)).join(', ') || '—'],
    ].map(([label, text]) => h('tr', {}, h('th', {scope: 'row', text: label}),
      ...areas.map((a) => h('td', {class: 'sum', text: sums.has(a.id) ? text(sums.get(a.id)) : '—'}))));
    table.replaceChildren(h('caption', {class: 'sr-only', text: 'Capability levels per OC and area: current → target'}),
      areaHead(areas), h('tbody', {}, ...body), h('tfoot', {}, ...foot));
    if (!body.length) table.querySelector('tbody').append(h('tr', {}, h('td', {colspan: String(areas.length + 1), class: 'empty', text: 'No OC has published a self-assessment yet.'})));

    gaps.replaceChildren(...m.gaps.slice().sort((a, b) => b.total - a.total).map((g) => h('li', {dataset: {key: g.key}},
      h('strong', {text: `${g.country} ${g.member}`}),
      g.total ? `: total gap ${g.total} — ` : ': no gap',
      g.areas.map((c) => `${(byArea.get(c.area) || {title: c.area}).title} ${c.gap}`).join(', '))));
    if (!m.gaps.length) gaps.append(h('li', {class: 'muted', text: 'No OC assessed yet.'}));

    setAside.replaceChildren(...(m.set_aside.length ? [h('h3', {text: 'Set aside'}),
      h('ul', {}, ...m.set_aside.map((s) => h('li', {text: `${s.country} ${s.member}: ${s.reason}`})))] : []));
  }

  async function showHistory(key, name) {
    history.hidden = false;
    history.replaceChildren(h('h2', {text: `History of ${name}`}), h('p', {class: 'muted', text: 'Loading…'}));
    let list;
    try {
      list = (await get(`/v1/assessment/profiles/${key}/history`)).history;
    } catch (err) {
      history.replaceChildren(h('h2', {text: `History of ${name}`}), h('div', {class: 'form-error', role: 'alert', text: err.message}));
      return;
    }
    const areas = q ? q.areas : [];
    const levels = q ? q.levels : [];
    const rows = list.map((p) => {
      const cells = new Map(p.answers.map((a) => [a.area, {...a, gap: Math.max(0, a.target - a.current)}]));
      const other = q && p.questionnaire !== q.key ? ` (${p.questionnaire})` : '';
      return h('tr', {}, h('th', {scope: 'row', text: `${absTime(p.saved_at)}${p.operator ? ` · ${p.operator}` : ''}${other}`}),
        ...areas.map((a) => cellTd(cells.get(a.id), a, levels)));
    });
    history.replaceChildren(h('h2', {text: `History of ${name}`}),
      h('p', {class: 'muted', text: `${plural(list.length, 'save')}, oldest first.`}),
      h('div', {class: 'table-wrap'}, h('table', {class: 'heat history'}, areaHead(areas, 'Saved'), h('tbody', {}, ...rows))),
      h('button', {type: 'button', text: 'Close history', onclick: () => { history.hidden = true; }}));
    history.focus();
  }

  return {root, load};
}
