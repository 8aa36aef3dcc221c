// The incident fields form, shared by "New incident" and the incident view's "Edit":
// labelled controls, an optional small map that fills Latitude/Longitude, and read()
// which validates in the browser what the node would otherwise refuse with a 422.
import {CATEGORIES, CATEGORY_LABEL, SEVERITIES, STATUSES, STATUS_LABEL, field, h, select} from './dom.js';
import {createMap} from './map.js';

const cap = (s) => s[0].toUpperCase() + s.slice(1);

export function incidentFields(values = {}, {withMap = false} = {}) {
  const loc = values.location || {};
  const c = {
    title: h('input', {name: 'title', required: true, maxlength: '200', autocomplete: 'off', value: values.title || ''}),
    category: select(CATEGORIES.map((k) => [k, CATEGORY_LABEL[k]]), values.category || 'other', {name: 'category'}),
    severity: select(SEVERITIES.map((k) => [k, cap(k)]), values.severity || 'medium', {name: 'severity'}),
    status: select(STATUSES.map((k) => [k, STATUS_LABEL[k]]), values.status || 'open', {name: 'status'}),
    description: h('textarea', {name: 'description', rows: '5', maxlength: '16384'}),
    place: h('input', {name: 'place', maxlength: '200', autocomplete: 'off', value: loc.place || ''}),
    lat: h('input', {name: 'lat', type: 'number', step: 'any', min: '-90', max: '90', inputmode: 'decimal',
      value: loc.lat === undefined ? '' : String(loc.lat)}),
    lon: h('input', {name: 'lon', type: 'number', step: 'any', min: '-180', max: '180', inputmode: 'decimal',
      value: loc.lon === undefined ? '' : String(loc.lon)}),
    tags: h('input', {name: 'tags', autocomplete: 'off', value: (values.tags || []).join(', ')}),
  };
  c.description.value = values.description || '';

  let map = null;
  if (withMap) {
    map = createMap({small: true, onPick: (lat, lon) => {
      c.lat.value = String(lat);
      c.lon.value = String(lon);
    }});
    const movePin = () => map.setPin(parseFloat(c.lat.value), parseFloat(c.lon.value));
    c.lat.addEventListener('input', movePin);
    c.lon.addEventListener('input', movePin);
    movePin();
  }

  const nodes = [
    h('div', {class: 'form-grid'},
      h('div', {class: 'span-2'}, field('Title', c.title)),
      field('Category', c.category), field('Severity', c.severity), field('Status', c.status),
      field('Tags', c.tags, 'comma separated'),
      h('div', {class: 'span-2'}, field('Description', c.description)),
      h('div', {class: 'span-2'}, field('Place', c.place)),
      field('Latitude', c.lat), field('Longitude', c.lon)),
    map ? h('div', {class: 'form-map'}, h('p', {class: 'hint', text: 'Click the map to set latitude and longitude.'}), map.root) : null,
  ];

  // -> {values} (every field, ready for POST) or {error}
  function read() {
    const title = c.title.value.trim();
    if (!title) return {error: 'Title is required.'};
    const out = {
      title, category: c.category.value, severity: c.severity.value, status: c.status.value,
      description: c.description.value,
      tags: [...new Set(c.tags.value.split(',').map((t) => t.trim()).filter(Boolean))],
    };
    const latText = c.lat.value.trim();
    const lonText = c.lon.value.trim();
    if (latText || lonText) {
      const lat = Number(latText);
      const lon = Number(lonText);
      if (!latText || !lonText || !Number.isFinite(lat) || !Number.isFinite(lon)) return {error: 'Give both latitude and longitude (or click the map).'};
      if (lat < -90 || lat > 90 || lon < -180 || lon > 180) return {error: 'Latitude must be within ±90 and longitude within ±180.'};
      out.location = {lat, lon, place: c.place.value.trim()};
    } else if (c.place.value.trim()) {
      return {error: 'A place needs a latitude and longitude: click the map or type them.'};
    }
    return {values: out};
  }

  return {nodes, controls: c, map, read};
}

export function formError() {
  return h('div', {class: 'form-error', role: 'alert', hidden: true});
}

export function showError(box, message) {
  box.textContent = message || '';
  box.hidden = !message;
  if (message) box.scrollIntoView({block: 'nearest'});
}
