// SVG map of Europe, shared by the map view, the new-incident form and the incident
// view. Equirectangular projection (x = (lon - west)·cos 52°, y = north - lat) in the
// viewBox, so a click inverts to lon/lat with a single matrix from getScreenCTM.
import {get} from './api.js';
import {SEVERITY_COLOUR, SEVERITY_RANK, svg} from './dom.js';

const K = Math.cos(52 * Math.PI / 180);
const DEFAULT_BOUNDS = {west: -25, south: 34, east: 45, north: 72};
let europe = null;

// europe.json is static and large: fetched once per page load, shared by every map.
function loadEurope() {
  if (!europe) {
    europe = get('/console/europe.json').catch((err) => {
      europe = null;  // a later map may retry
      throw err;
    });
  }
  return europe;
}

// Malformed points are skipped: one bad ring must not blank the whole country. Rings
// that cross the antimeridian (Russia's far east jumps from 180 to -180) are unwrapped,
// so they continue east past 180 (off the map) instead of being drawn across Europe.
function ringPath(ring, b) {
  let d = '';
  let shift = 0;
  let last = null;
  for (const point of ring) {
    if (!Array.isArray(point) || !Number.isFinite(point[0]) || !Number.isFinite(point[1])) continue;
    if (last !== null && Math.abs(point[0] + shift - last) > 180) shift += point[0] + shift < last ? 360 : -360;
    last = point[0] + shift;
    d += `${d ? 'L' : 'M'}${((last - b.west) * K).toFixed(3)},${(b.north - point[1]).toFixed(3)}`;
  }
  return d ? `${d}Z` : '';
}

// options: {id, small, onPick(lat, lon), onOpen(id)}. Returns the component's handle.
export function createMap(options = {}) {
  let b = DEFAULT_BOUNDS;
  let full = viewOf(b);
  let view = {...full};
  const root = svg('svg', {id: options.id, class: `map${options.small ? ' map-small' : ''}`,
    role: 'img', 'aria-label': options.small ? 'Map: click to set the location' : 'Map of incidents',
    preserveAspectRatio: 'xMidYMid meet'});
  // The sea is far larger than Europe so panning never shows an edge.
  const sea = svg('rect', {class: 'sea', x: -1000, y: -1000, width: 3000, height: 3000});
  const countries = svg('g', {class: 'countries'});
  const markers = svg('g', {class: 'markers'});
  const pin = svg('g', {class: 'pin', visibility: 'hidden'}, svg('circle', {class: 'pin-dot'}), svg('circle', {class: 'pin-ring'}));
  root.append(sea, countries, markers, pin);
  const byId = new Map();
  let pinAt = null;
  let centre = null;   // a centreOn() made before the outlines (and so the bounds) arrived

  function viewOf(bounds) {
    return {x: 0, y: 0, w: (bounds.east - bounds.west) * K, h: bounds.north - bounds.south};
  }
  const project = (lon, lat) => [(lon - b.west) * K, b.north - lat];
  // Markers keep their on-screen size while zooming: radius follows the view width.
  const radius = (inc) => view.w / (options.small ? 90 : 130) * (inc && inc.severity === 'critical' ? 1.35 : 1);

  function applyView() {
    root.setAttribute('viewBox', `${view.x} ${view.y} ${view.w} ${view.h}`);
    for (const [, c] of byId) c.setAttribute('r', radius(c.incident));
    placePin();
  }

  applyView();

  loadEurope().then((data) => {
    b = data.bounds;
    full = viewOf(b);
    view = {...full};
    const paths = data.countries.map((c) => svg('path', {
      class: 'country', d: c.polygons.map((poly) => poly.map((ring) => ringPath(ring, b)).join('')).join(''),
      dataset: {code: c.code}}, svg('title', {text: c.name})));
    countries.replaceChildren(...paths);
    for (const [, c] of byId) position(c);
    if (centre) centreOn(...centre);
    else applyView();
  }).catch((err) => root.append(svg('text', {x: 2, y: 4, class: 'map-error', text: `Map outlines unavailable: ${err.message}`})));

  function position(c) {
    const [x, y] = project(c.incident.location.lon, c.incident.location.lat);
    c.setAttribute('cx', x.toFixed(3));
    c.setAttribute('cy', y.toFixed(3));
  }

  function marker(inc) {
    const c = svg('circle', {class: `marker sev-${inc.severity}${inc.exercise ? ' exercise' : ''}`,
      fill: SEVERITY_COLOUR[inc.severity] || '#666', dataset: {incidentId: inc.id},
      tabindex: options.onOpen ? '0' : null, role: options.onOpen ? 'link' : null,
      'aria-label': `${inc.severity} ${inc.title}`},
    svg('title', {text: `${inc.severity.toUpperCase()}: ${inc.title}${inc.location.place ? ` — ${inc.location.place}` : ''}${inc.exercise ? ' (EXERCISE)' : ''}`}));
    c.incident = inc;
    position(c);
    c.setAttribute('r', radius(inc));
    return c;
  }

  // Higher severities are drawn last so they sit on top of crowded areas.
  function setMarkers(list) {
    byId.clear();
    const sorted = list.filter((i) => i.location).sort((x, y) => SEVERITY_RANK[x.severity] - SEVERITY_RANK[y.severity]);
    markers.replaceChildren(...sorted.map((inc) => {
      const c = marker(inc);
      byId.set(inc.id, c);
      return c;
    }));
  }

  function updateMarker(inc) {
    const old = byId.get(inc.id);
    if (old) old.remove();
    byId.delete(inc.id);
    if (!inc.location) return;
    const c = marker(inc);
    byId.set(inc.id, c);
    markers.append(c);
  }

  function placePin() {
    if (!pinAt) return pin.setAttribute('visibility', 'hidden');
    const [x, y] = project(pinAt.lon, pinAt.lat);
    const r = view.w / 45;
    pin.children[0].setAttribute('r', r * 0.45);
    pin.children[1].setAttribute('r', r);
    for (const c of pin.children) {
      c.setAttribute('cx', x);
      c.setAttribute('cy', y);
    }
    pin.setAttribute('visibility', 'visible');
  }

  function setPin(lat, lon) {
    pinAt = Number.isFinite(lat) && Number.isFinite(lon) ? {lat, lon} : null;
    placePin();
  }

  function toLonLat(clientX, clientY) {
    const pt = root.createSVGPoint();
    pt.x = clientX;
    pt.y = clientY;
    const p = pt.matrixTransform(root.getScreenCTM().inverse());
    const round = (v) => Math.round(v * 100000) / 100000;
    return {lon: round(p.x / K + b.west), lat: round(b.north - p.y)};
  }

  // ---- zoom and pan (wheel, drag, +/− keys); a drag is not a click ----
  let drag = null;
  let dragged = false;
  function zoom(factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) {
    const w = Math.min(full.w * 1.2, Math.max(full.w / 40, view.w * factor));
    const f = w / view.w;
    view = {x: cx - (cx - view.x) * f, y: cy - (cy - view.y) * f, w, h: view.h * f};
    applyView();
  }
  root.addEventListener('wheel', (e) => {
    e.preventDefault();
    const pt = root.createSVGPoint();
    pt.x = e.clientX;
    pt.y = e.clientY;
    const p = pt.matrixTransform(root.getScreenCTM().inverse());
    zoom(e.deltaY > 0 ? 1.25 : 0.8, p.x, p.y);
  }, {passive: false});
  root.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    drag = {x: e.clientX, y: e.clientY, view: {...view}, scale: view.w / root.getBoundingClientRect().width};
    dragged = false;
  });
  root.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (!dragged && Math.hypot(dx, dy) < 5) return;
    if (!dragged) root.setPointerCapture(e.pointerId);
    dragged = true;
    view = {...drag.view, x: drag.view.x - dx * drag.scale, y: drag.view.y - dy * drag.scale};
    applyView();
  });
  const endDrag = () => { drag = null; };
  root.addEventListener('pointerup', endDrag);
  root.addEventListener('pointercancel', endDrag);

  root.addEventListener('click', (e) => {
    if (dragged) {
      dragged = false;
      return;
    }
    const target = e.target.closest('circle.marker');
    if (target && options.onOpen) return options.onOpen(target.dataset.incidentId);
    if (options.onPick) {
      const {lat, lon} = toLonLat(e.clientX, e.clientY);
      setPin(lat, lon);
      options.onPick(lat, lon);
    }
  });
  root.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target.matches('circle.marker') && options.onOpen) options.onOpen(e.target.dataset.incidentId);
  });

  function centreOn(lat, lon, zoomFactor = 4) {
    centre = [lat, lon, zoomFactor];
    const [x, y] = project(lon, lat);
    const w = full.w / zoomFactor;
    const hgt = full.h / zoomFactor;
    view = {x: x - w / 2, y: y - hgt / 2, w, h: hgt};
    applyView();
  }

  const reset = () => {
    centre = null;
    view = {...full};
    applyView();
  };
  return {root, setMarkers, updateMarker, setPin, centreOn, reset, zoomIn: () => zoom(0.67), zoomOut: () => zoom(1.5)};
}
