// The map view (#/map): one marker per located incident of the current traffic, coloured
// by severity; live events move or recolour single markers.
import {SEVERITIES, SEVERITY_COLOUR, h} from './dom.js';
import {createMap} from './map.js';
import {href, incidents, on} from './state.js';

let hideClosed = false;  // survives leaving the view, like the board's filters

export function mount(main) {
  const map = createMap({id: 'map', onOpen: (id) => { location.hash = href(`/incident/${id}`); }});
  const count = h('span', {class: 'count', 'aria-live': 'polite'});
  const closedBox = h('input', {type: 'checkbox', id: 'map-hide-closed', checked: hideClosed});
  const legend = h('ul', {class: 'legend', 'aria-label': 'Severity colours'},
    ...SEVERITIES.map((s) => {
      const dot = h('span', {class: 'legend-dot'});
      dot.style.backgroundColor = SEVERITY_COLOUR[s];
      return h('li', {}, dot, s[0].toUpperCase() + s.slice(1));
    }),
    h('li', {}, h('span', {class: 'legend-dot exercise'}), 'Exercise'));
  const toolbar = h('div', {class: 'toolbar'},
    h('button', {type: 'button', text: '+', 'aria-label': 'Zoom in', onclick: map.zoomIn}),
    h('button', {type: 'button', text: '−', 'aria-label': 'Zoom out', onclick: map.zoomOut}),
    h('button', {type: 'button', text: 'Whole map', onclick: map.reset}),
    h('span', {class: 'check'}, closedBox, h('label', {for: 'map-hide-closed', text: 'Hide resolved and closed'})),
    legend, h('div', {class: 'toolbar-end'}, count));
  main.append(h('section', {class: 'map-view', 'aria-label': 'Incident map'}, toolbar, h('div', {class: 'map-frame'}, map.root)));

  const shown = (inc) => !(hideClosed && (inc.status === 'resolved' || inc.status === 'closed'));

  function renderCount() {
    const all = [...incidents.values()];
    const located = all.filter((i) => i.location && shown(i)).length;
    const unlocated = all.filter((i) => !i.location).length;
    count.textContent = `${located} on the map${unlocated ? `, ${unlocated} without location` : ''}`;
  }

  function renderAll() {
    map.setMarkers([...incidents.values()].filter(shown));
    renderCount();
  }

  closedBox.addEventListener('change', () => {
    hideClosed = closedBox.checked;
    renderAll();
  });

  let pending = 0;
  const offs = [
    // Pages of a large load arrive in bursts: redraw once per frame at most.
    on('incidents', () => { if (!pending) pending = requestAnimationFrame(() => { pending = 0; renderAll(); }); }),
    on('incident', (inc) => {
      map.updateMarker(shown(inc) ? inc : {...inc, location: null});
      renderCount();
    }),
  ];
  renderAll();
  return () => {
    offs.forEach((off) => off());
    if (pending) cancelAnimationFrame(pending);
  };
}
