// The controller's dashboard: #/conduct lists the exercise runs this node conducts and
// loads a shipped MSEL as a new run; #/conduct/N is one run: its play clock (advancing
// here while running, resynced from the node every 2 s), STARTEX / pause / resume / ENDEX,
// and every inject with its time, addressees, expected actions and state, to publish now
// or skip. Only an operator with the role controller conducts; the others (operators,
// viewers) see the same without the buttons (the node refuses their changes, 403).
import {get, post} from './api.js';
import {field, h, select, toast} from './dom.js';
import {formError, showError} from './forms.js';
import {canConduct, href, state} from './state.js';

const POLL_MS = 2000;
const TICK_MS = 250;
const PHASE_LABEL = {ready: 'Ready', running: 'Running', paused: 'Paused', ended: 'Ended'};
const STATE_LABEL = {scheduled: 'Scheduled', published: 'Published', releasing: 'Releasing', released: 'Released', skipped: 'Skipped'};

// mm:ss of play time (minutes go past 59: an exercise is played in play minutes).
export function playClock(ms) {
  const s = Math.max(0, Math.floor((ms || 0) / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const phaseBadge = (phase) => h('span', {class: `phase phase-${phase}`, text: PHASE_LABEL[phase] || phase});

function reportLinks(run) {
  return h('span', {class: 'downloads'}, 'After-action report: ',
    h('a', {href: `/v1/conduct/${run}/report.html`, download: '', text: 'report.html'}), ' ',
    h('a', {href: `/v1/conduct/${run}/report.json`, download: '', text: 'report.json'}));
}

// ---- #/conduct ------------------------------------------------------------------

const readOnly = () => `Read only: your role (${state.session.operator.role}) can follow the exercises; conducting one needs the role controller.`;

export function mountList(main) {
  const writer = canConduct();
  const error = formError();
  const tbody = h('tbody');
  const empty = h('p', {class: 'muted', text: 'No exercise loaded on this node yet.'});
  const msel = select([], undefined, {name: 'msel'});
  const load = h('button', {type: 'submit', class: 'primary', text: 'Load MSEL'});
  const form = h('form', {id: 'load-msel', class: 'inline-form'}, field('Shipped MSEL', msel), load);
  main.append(h('section', {class: 'conduct-view', 'aria-label': 'Conduct an exercise'},
    h('h1', {text: 'Conduct an exercise'}),
    h('p', {class: 'muted', text: 'This node is the controller of the runs loaded here: it releases each inject on time to the OCs it is addressed to.'}),
    writer ? h('div', {class: 'panel'}, h('h2', {text: 'Load an MSEL'}), form, error)
      : h('p', {class: 'notice', text: readOnly()}),
    h('div', {class: 'panel'}, h('h2', {text: 'Runs'}), empty,
      h('div', {class: 'table-wrap'}, h('table', {id: 'conduct-runs', class: 'grid'},
        h('thead', {}, h('tr', {}, ...['Run', 'Exercise', 'Phase', 'Play time', 'Injects released', 'Report']
          .map((t) => h('th', {scope: 'col', text: t})))), tbody)))));

  let alive = true;
  async function loadMsels() {
    try {
      const {msels} = await get('/v1/conduct/msels');
      msel.replaceChildren(...msels.map((n) => h('option', {value: n, text: n})));
      load.disabled = !msels.length;
    } catch (err) {
      showError(error, err.message);
    }
  }

  async function loadRuns() {
    try {
      const {runs} = await get('/v1/conduct');
      if (!alive) return;
      empty.hidden = runs.length > 0;
      tbody.replaceChildren(...runs.slice().reverse().map((r) => h('tr', {dataset: {run: String(r.run)}},
        h('td', {}, h('a', {href: href(`/conduct/${r.run}`), text: `Run ${r.run}`})),
        h('td', {}, h('strong', {text: r.name}), h('div', {class: 'muted', text: r.title})),
        h('td', {}, phaseBadge(r.phase)),
        h('td', {class: 'num', text: `${playClock(r.play_ms)} / ${playClock(r.duration_ms)}`}),
        h('td', {class: 'num', text: `${r.injects.filter((i) => i.state === 'released').length} of ${r.injects.length}`}),
        h('td', {}, r.phase === 'ready' ? '—' : reportLinks(r.run)))));
    } catch (err) {
      if (alive && err.status !== 401) showError(error, err.message);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError(error, '');
    load.disabled = true;
    try {
      const run = await post('/v1/conduct', {shipped: msel.value});
      toast(`Loaded ${run.name} as run ${run.run}`, 'info');
      location.hash = href(`/conduct/${run.run}`);
    } catch (err) {
      showError(error, err.message);
    } finally {
      load.disabled = false;
    }
  });

  if (writer) loadMsels();
  loadRuns();
  const timer = setInterval(loadRuns, 5000);
  return () => {
    alive = false;
    clearInterval(timer);
  };
}

// ---- #/conduct/N ------------------------------------------------------------------

export function mountRun(main, runId) {
  const writer = canConduct();
  const run = Number(runId);
  let summary = null;
  let synced = 0;           // performance.now() when summary.play_ms was true
  let alive = true;
  let busy = false;
  let confirmEnd = false;

  const section = h('section', {id: 'conduct-run', class: 'conduct-view', dataset: {run: String(run)}, 'aria-busy': 'true'});
  const head = h('div', {class: 'run-head'});
  const clock = h('span', {id: 'play-clock', role: 'timer', 'aria-label': 'Play clock', text: '00:00'});
  const duration = h('span', {class: 'muted'});
  const progress = h('progress', {max: '1', value: '0', 'aria-label': 'Play time elapsed'});
  const controls = h('div', {class: 'actions', role: 'group', 'aria-label': 'Exercise phase'});
  const error = formError();
  const links = h('p', {class: 'run-links'});
  const tbody = h('tbody');
  section.append(h('a', {class: 'back', href: href('/conduct'), text: '← All runs'}), head,
    h('div', {class: 'panel run-clock'}, h('div', {class: 'clock-line'}, clock, ' / ', duration), progress, controls, error, links),
    h('div', {class: 'panel'}, h('h2', {text: 'Injects'}),
      h('div', {class: 'table-wrap'}, h('table', {id: 'injects', class: 'grid'},
        h('thead', {}, h('tr', {}, ...['At', 'Id', 'Kind', 'To', 'Inject', 'Expected actions', 'State', writer ? 'Decide' : null]
          .filter(Boolean).map((t) => h('th', {scope: 'col', text: t})))), tbody))));
  main.append(section);

  const rows = new Map();   // inject id -> {tr, stateCell, actionCell, sig}

  function playNow() {
    if (!summary) return 0;
    const running = summary.phase === 'running';
    return summary.play_ms + (running ? (performance.now() - synced) * (summary.speed || 1) : 0);
  }

  function tick() {
    if (!summary) return;
    const ms = playNow();
    clock.textContent = playClock(ms);
    progress.value = summary.duration_ms ? Math.min(1, ms / summary.duration_ms) : 0;
  }

  function render(s) {
    summary = s;
    synced = performance.now();
    section.removeAttribute('aria-busy');
    head.replaceChildren(
      h('h1', {}, h('span', {class: 'badge-exercise', text: 'EXERCISE'}), ' ', h('span', {text: s.title})),
      h('p', {class: 'subtitle'}, `${s.name} · run ${run} · `, phaseBadge(s.phase),
        s.speed && s.speed !== 1 ? ` · played at ${s.speed}× speed` : '', ' · ',
        h('a', {href: href('/board', s.name), text: 'Exercise view'})));
    duration.textContent = playClock(s.duration_ms);
    renderControls();
    links.replaceChildren(...(s.phase === 'ready' ? [] : [reportLinks(run)]));
    const everyone = new Set(s.injects.flatMap((i) => i.to));
    tbody.replaceChildren(...s.injects.map((i) => row(i, everyone)));
    tick();
  }

  function renderControls() {
    if (!writer) {
      controls.replaceChildren(h('span', {class: 'muted', text: readOnly()}));
      return;
    }
    const phase = summary.phase;
    const button = (text, action, cls) => h('button', {type: 'button', class: cls, text, disabled: busy,
      onclick: () => act(`/v1/conduct/${run}/${action}`)});
    const buttons = [];
    if (phase === 'ready') buttons.push(button('Start', 'start', 'primary'));
    if (phase === 'running') buttons.push(button('Pause', 'pause'));
    if (phase === 'paused') buttons.push(button('Resume', 'resume', 'primary'));
    if (phase === 'running' || phase === 'paused') {
      if (confirmEnd) {
        buttons.push(h('span', {class: 'confirm', role: 'alert', text: 'End the exercise? Nothing more is released after ENDEX.'}),
          button('Confirm ENDEX', 'end', 'danger'),
          h('button', {type: 'button', text: 'Keep playing', onclick: () => { confirmEnd = false; renderControls(); }}));
      } else {
        buttons.push(h('button', {type: 'button', text: 'End', disabled: busy,
          onclick: () => { confirmEnd = true; renderControls(); controls.querySelector('.danger').focus(); }}));
      }
    }
    const focused = controls.contains(document.activeElement) ? document.activeElement.textContent : null;
    controls.replaceChildren(...buttons);
    if (focused) [...controls.querySelectorAll('button')].find((b) => b.textContent === focused)?.focus();
  }

  // Rows are kept: only their state and buttons change, so an open "expected" list and
  // keyboard focus survive the 2 s refresh.
  function row(inject, everyone) {
    let item = rows.get(inject.id);
    if (!item) {
      const stateCell = h('td', {class: 'state'});
      const actionCell = writer ? h('td', {class: 'decide'}) : null;
      const expected = inject.expected.length
        ? h('details', {}, h('summary', {text: `${inject.expected.length} expected`}),
          h('ul', {}, ...inject.expected.map((t) => h('li', {text: t}))))
        : h('span', {class: 'muted', text: '—'});
      const tr = h('tr', {dataset: {injectId: inject.id}},
        h('td', {class: 'num', text: playClock(inject.at_ms)}),
        h('th', {scope: 'row', id: `inject-${run}-${inject.id}`, text: inject.id}),
        h('td', {text: inject.kind}),
        // "all 11" when it goes to every participant; the title lists them.
        h('td', {class: 'to', title: inject.to.join(', '),
          text: everyone.size > 2 && inject.to.length === everyone.size ? `all ${inject.to.length}` : inject.to.join(', ')}),
        h('td', {class: 'text'}, inject.title || h('span', {class: 'muted', text: `(${inject.kind} without text)`})),
        h('td', {class: 'expected'}, expected),
        stateCell, actionCell);
      item = {tr, stateCell, actionCell, sig: ''};
      rows.set(inject.id, item);
    }
    const phase = summary.phase;
    const sig = `${inject.state}|${phase}|${busy}`;
    if (sig !== item.sig) {
      item.sig = sig;
      item.tr.className = `state-${inject.state}`;
      item.stateCell.replaceChildren(h('span', {class: `inject-state inject-${inject.state}`, text: STATE_LABEL[inject.state] || inject.state}));
      if (item.actionCell) {
        const live = phase === 'running' || phase === 'paused';
        const open = inject.state === 'scheduled' || inject.state === 'published';
        const focused = item.actionCell.contains(document.activeElement) ? document.activeElement.textContent : null;
        const described = `inject-${run}-${inject.id}`;
        item.actionCell.replaceChildren(...[
          live && inject.state === 'scheduled' ? h('button', {type: 'button', class: 'small', text: 'Publish now', disabled: busy,
            'aria-describedby': described, onclick: () => act(`/v1/conduct/${run}/injects/${encodeURIComponent(inject.id)}/publish`)}) : null,
          phase !== 'ended' && open ? h('button', {type: 'button', class: 'small', text: 'Skip', disabled: busy,
            'aria-describedby': described, onclick: () => act(`/v1/conduct/${run}/injects/${encodeURIComponent(inject.id)}/skip`)}) : null].filter(Boolean));
        if (focused) [...item.actionCell.querySelectorAll('button')].find((b) => b.textContent === focused)?.focus();
      }
    }
    return item.tr;
  }

  async function act(path) {
    if (busy) return;
    busy = true;
    showError(error, '');
    renderControls();
    try {
      const s = await post(path);
      confirmEnd = false;
      busy = false;
      if (alive) render(s);
    } catch (err) {
      busy = false;
      if (alive) {
        showError(error, err.message);
        if (summary) render(summary);
      }
    }
  }

  let polling = false;
  async function refresh() {
    if (polling || busy) return;
    polling = true;
    try {
      const s = await get(`/v1/conduct/${run}`);
      if (alive && !busy) render(s);
    } catch (err) {
      if (alive && err.status !== 401) {
        if (!summary) section.removeAttribute('aria-busy');
        showError(error, err.message);
      }
    } finally {
      polling = false;
    }
  }

  refresh();
  const timers = [setInterval(refresh, POLL_MS), setInterval(tick, TICK_MS)];
  return () => {
    alive = false;
    timers.forEach(clearInterval);
  };
}
