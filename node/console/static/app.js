// Entry point: session, header, hash routing, live events (SSE) and the 5 s polling of
// federation and node health. Views are modules with mount(main, arg) -> unmount().
import {del, get, onUnauthorized, setCsrf, settled} from './api.js';
import {renderExerciseBanner, renderFederationBanner, renderNodeBanner} from './banner.js';
import {h, refreshTimes, toast} from './dom.js';
import {showLogin} from './login.js';
import {canWrite, emit, href, incidents, initSeen, loadIncidents, putIncident, state} from './state.js';
import * as board from './board.js';
import * as mapView from './mapview.js';
import * as incidentView from './incident.js';
import * as federation from './federation.js';
import * as newIncident from './new.js';
import * as conduct from './conduct.js';
import * as capabilities from './capabilities.js';

const ROUTES = [
  [/^\/board$/, board.mount],
  [/^\/map$/, mapView.mount],
  [/^\/incident\/([0-9a-fA-F]+)$/, incidentView.mount],
  [/^\/federation$/, federation.mount],
  [/^\/new$/, newIncident.mount],
  [/^\/conduct$/, conduct.mountList],
  [/^\/conduct\/(\d+)$/, conduct.mountRun],
  [/^\/capabilities$/, capabilities.mount],
];
// Views that show the same whatever the traffic: switching traffic stays on them.
const TRAFFIC_FREE = /^\/(board|map|federation|new|conduct(\/\d+)?|capabilities)$/;

let unmount = null;
let events = null;
let timers = [];
let running = false;

// ---- session -------------------------------------------------------------------

async function boot() {
  onUnauthorized((err) => {
    if (!running) return;
    stop();
    showLogin(err.code === 'session_expired' ? 'Your session has expired — please log in again.' : err.message, start);
  });
  document.getElementById('logout').addEventListener('click', logout);
  document.getElementById('traffic').addEventListener('change', (e) => switchTraffic(e.target.value));
  setupExerciseDialog();
  try {
    start(await get('/v1/session'));
  } catch (err) {
    showLogin(err.status === 401 ? '' : err.message, start);
  }
}

function start(session) {
  state.session = session;
  setCsrf(session.csrf_token);
  initSeen(session.operator.name, session.node.peer_id);
  running = true;
  document.body.classList.toggle('viewer', !canWrite());
  document.getElementById('node-name').textContent = `${session.node.country} ${session.node.name}`;
  document.getElementById('operator').textContent = `${session.operator.display_name || session.operator.name} (${session.operator.role})`;
  document.getElementById('new-exercise').hidden = !canWrite();
  document.getElementById('app').hidden = false;
  document.getElementById('login-page').hidden = true;
  state.traffic = null;  // forces route() to load the store for the hash's traffic
  openEvents();
  poll();
  loadExercises();
  timers.push(setInterval(poll, 5000));
  timers.push(setInterval(loadExercises, 30000));
  timers.push(setInterval(() => { refreshTimes(); emit('tick'); }, 30000));
  window.addEventListener('hashchange', route);
  route();
}

function stop() {
  running = false;
  window.removeEventListener('hashchange', route);
  if (unmount) unmount();
  unmount = null;
  if (events) events.close();
  events = null;
  timers.forEach(clearInterval);
  timers = [];
  incidents.clear();
  state.sseLost = false;
  document.getElementById('view').replaceChildren();
  setCsrf(null);
}

// Everything that polls stops first, and its requests finish, before the session ends.
async function logout() {
  const session = state.session;
  stop();
  await settled();
  setCsrf(session.csrf_token);
  try {
    await del('/v1/session');
  } catch (err) {
    if (err.status !== 401) toast(err.message);
  } finally {
    setCsrf(null);
  }
  showLogin('You are logged out.', start);
}

// ---- routing -------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/board';
  const [path, query] = raw.split('?');
  return {path, traffic: new URLSearchParams(query || '').get('exercise') || ''};
}

function route() {
  const {path, traffic} = parseHash();
  if (traffic !== state.traffic) {
    state.traffic = traffic;
    renderTrafficSelect();
    renderExerciseBanner();
    loadExerciseRuns();
    renderFederationBanner();
    loadIncidents({clear: true}).catch((err) => toast(err.message));
  }
  for (const a of document.querySelectorAll('#top nav a')) {
    a.href = href(a.dataset.path);
    if (path.startsWith(a.dataset.path)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const match = ROUTES.map(([re, fn]) => [path.match(re), fn]).find(([m]) => m);
  if (!match) {
    location.replace(href('/board'));
    return;
  }
  if (unmount) unmount();
  const main = document.getElementById('view');
  main.replaceChildren();
  main.className = `view-${path.split('/')[1]}`;
  unmount = match[1](main, match[0][1]) || null;
  // Focus moves to the new view so keyboard and screen-reader users start there.
  if (!main.contains(document.activeElement)) main.focus({preventScroll: true});
}

// Leaving real traffic for an exercise (or back) drops the open incident: it belongs to
// the other traffic. The new-incident form stays, and then opens an exercise incident.
function switchTraffic(traffic) {
  const {path} = parseHash();
  const keep = TRAFFIC_FREE.test(path) ? path : '/board';
  location.hash = href(keep, traffic);
}

// ---- exercises -------------------------------------------------------------------

async function loadExercises() {
  try {
    state.exercises = (await get('/v1/exercises')).exercises;
    renderTrafficSelect();
  } catch (err) {
    if (err.status !== 401) console.warn('exercises:', err.message);
  }
}

// The runs of the exercise on view that this node conducts (it is their controller):
// the banner links to their dashboard and after-action report.
let runsAsked = 0;
async function loadExerciseRuns() {
  const asked = ++runsAsked;
  const traffic = state.traffic;
  let runs = [];
  if (traffic) {
    try {
      runs = (await get('/v1/conduct')).runs.filter((r) => r.name === traffic);
    } catch (err) {
      if (err.status !== 401) console.warn('conduct runs:', err.message);
    }
  }
  if (asked === runsAsked && running) renderExerciseBanner(runs);
}

function renderTrafficSelect() {
  const select = document.getElementById('traffic');
  const names = state.exercises.map((e) => e.name);
  // An exercise just started has no incidents yet, so the node does not list it.
  if (state.traffic && !names.includes(state.traffic)) names.push(state.traffic);
  names.sort((a, b) => a.localeCompare(b));
  select.replaceChildren(h('option', {value: '', text: 'Real'}), ...names.map((n) => h('option', {value: n, text: n})));
  select.value = state.traffic || '';
}

function setupExerciseDialog() {
  const dialog = document.getElementById('exercise-dialog');
  const form = dialog.querySelector('form');
  document.getElementById('new-exercise').addEventListener('click', () => {
    form.reset();
    dialog.showModal();
  });
  form.querySelector('.cancel').addEventListener('click', () => dialog.close());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = form.elements.exercise.value.trim();
    if (!name) return;
    dialog.close();
    location.hash = href('/board', name);
  });
}

// ---- live events and polling ---------------------------------------------------------

function openEvents() {
  events = new EventSource('/v1/events');
  events.addEventListener('open', () => {
    if (!state.sseLost) return;
    state.sseLost = false;
    renderNodeBanner();
    // Events missed while away are replayed via Last-Event-ID, but a node restart may not
    // replay them all: a merge-reload is cheap and makes the board certainly current.
    loadIncidents({clear: false}).catch((err) => toast(err.message));
    emit('reconnected');
  });
  events.addEventListener('error', () => {
    state.sseLost = true;
    renderNodeBanner();
    if (events.readyState === EventSource.CLOSED) reopenEvents();
  });
  events.addEventListener('entry', onEntry);
}

// EventSource gives up on an HTTP error (e.g. 401): check the session, then reopen.
async function reopenEvents() {
  const closed = events;
  try {
    await get('/v1/session');
  } catch (err) {
    if (err.status === 401 && running) {
      stop();
      showLogin('Your session has expired — please log in again.', start);
      return;
    }
  }
  setTimeout(() => {
    if (running && events === closed) openEvents();
  }, 3000);
}

async function onEntry(message) {
  let data;
  try {
    data = JSON.parse(message.data);
  } catch {
    return;
  }
  const entry = data.entry || {};
  // A self-assessment concerns no incident: the capabilities view re-reads the matrix.
  if (entry.kind === 'profile') return emit('profile', entry);
  if (entry.exercise && !state.exercises.some((e) => e.name === entry.exercise)) loadExercises();
  let incident = data.incident;
  if (!incident && entry.incident) {
    try {
      incident = await get(`/v1/incidents/${entry.incident}`);
    } catch {
      incident = null;  // not viewable here (yet); the next event or reload brings it
    }
  }
  // An ack changes no field of the incident: no board flash for it, only the timeline.
  if (incident && putIncident(incident) && entry.kind !== 'ack') emit('incident', incident);
  emit('entry', entry);
}

async function poll() {
  if (!running) return;
  try {
    state.health = await get('/v1/health');
  } catch {
    state.health = {unreachable: true};
  }
  renderNodeBanner();
  if (!running) return;
  try {
    state.peers = (await get('/v1/peers')).peers;
    renderFederationBanner();
    emit('peers', state.peers);
  } catch (err) {
    if (err.status && err.status !== 401) console.warn('peers:', err.message);
  }
}

boot();
