// Shared state of the console: the session, the traffic being viewed (real or one
// exercise), the in-memory incident store every view reads, and per-operator unread marks.
import {get} from './api.js';

export const state = {
  session: null,      // GET /v1/session body
  traffic: '',        // '' = real traffic, else the exercise name
  peers: [],          // GET /v1/peers .peers
  health: null,       // GET /v1/health
  exercises: [],      // GET /v1/exercises .exercises
  sseLost: false,
};

// Media ids this page has seen complete on this node (the gallery learns it from
// /status); the board then shows their thumbnails without waiting for a retry.
export const completeMedia = new Set();

// Roles: operator writes; controller writes and conducts exercises; viewer only reads.
const role = () => (state.session ? state.session.operator.role : null);
export const canWrite = () => role() === 'operator' || role() === 'controller';
export const canConduct = () => role() === 'controller';

// A tiny event bus: views subscribe while mounted and unsubscribe on unmount.
const bus = new EventTarget();
export function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, {detail}));
}
export function on(type, fn) {
  const listener = (e) => fn(e.detail);
  bus.addEventListener(type, listener);
  return () => bus.removeEventListener(type, listener);
}

// Every in-app link carries the traffic choice, so switching views never leaves an exercise.
export function href(path, traffic = state.traffic) {
  return `#${path}${traffic ? `?exercise=${encodeURIComponent(traffic)}` : ''}`;
}

// ---- incident store ------------------------------------------------------------

export const incidents = new Map();   // id -> Incident (summary or full)
let loadGeneration = 0;

export function belongsToTraffic(incident) {
  return (incident.exercise || '') === state.traffic;
}

// Keeps the newer of two versions: a page fetched before an SSE event must not undo it.
export function putIncident(incident) {
  if (!belongsToTraffic(incident)) {
    // An incident can't move between traffic kinds, but be safe against stale entries.
    return incidents.delete(incident.id);
  }
  const old = incidents.get(incident.id);
  if (old && Date.parse(old.updated_at) > Date.parse(incident.updated_at)) return false;
  if (incident.comments && incident.comment_count === undefined) incident.comment_count = incident.comments.length;
  incidents.set(incident.id, incident);
  return true;
}

// Fetches every page for the current traffic; emits 'incidents' after each page so the
// board shows the newest 500 at once instead of waiting for all 5,000.
export async function loadIncidents({clear}) {
  const generation = ++loadGeneration;
  const traffic = state.traffic;
  if (clear) incidents.clear();
  emit('loading', true);
  let cursor = null;
  try {
    do {
      const q = new URLSearchParams({view: 'summary', limit: '500', exercise: traffic || 'false'});
      if (cursor) q.set('cursor', cursor);
      const page = await get(`/v1/incidents?${q}`);
      if (generation !== loadGeneration) return;  // traffic switched meanwhile
      for (const inc of page.incidents) putIncident(inc);
      emit('incidents', null);
      cursor = page.next_cursor;
    } while (cursor);
  } finally {
    if (generation === loadGeneration) emit('loading', false);
  }
}

// ---- unread marks (localStorage, per operator and node) ---------------------------

let seenKey = null;
let seenMap = {};

export function initSeen(operatorName, peerId) {
  seenKey = `qroc.seen.${peerId}.${operatorName}`;
  try {
    seenMap = JSON.parse(localStorage.getItem(seenKey) || '{}') || {};
  } catch {
    seenMap = {};
  }
}

let saveTimer = null;
function saveSeen() {
  // Batched: marking 5,000 rows read must not write localStorage 5,000 times.
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => {
    try {
      localStorage.setItem(seenKey, JSON.stringify(seenMap));
    } catch {
      // Storage full or disabled: marks then last for this page only.
    }
  }, 200);
}

export function isUnread(incident) {
  const seen = seenMap[incident.id];
  return !seen || seen < Date.parse(incident.updated_at);
}

export function markSeen(incident) {
  const t = Date.parse(incident.updated_at);
  if ((seenMap[incident.id] || 0) >= t) return;
  seenMap[incident.id] = t;
  saveSeen();
}

export function markAllSeen(list) {
  for (const inc of list) seenMap[inc.id] = Math.max(seenMap[inc.id] || 0, Date.parse(inc.updated_at));
  saveSeen();
}
