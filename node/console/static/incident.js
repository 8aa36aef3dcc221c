// The incident view (#/incident/ID): fields, Edit/Save, location on a small map, comments,
// timeline with delivery receipts and acknowledgements, media, and the report downloads.
// Re-read on every event about this incident and its entries every 5 s (receipts change
// as other OCs sync). An incident of other traffic (an exercise inject opened from the
// real view) is shown in its own traffic's view, under the exercise banner.
import {get, patch, post} from './api.js';
import {
  CATEGORY_LABEL, STATUS_LABEL, absTime, exerciseBadge, field, h, oc, severityBadge, timeEl, toast,
} from './dom.js';
import {formError, incidentFields, showError} from './forms.js';
import {createMap} from './map.js';
import {createGallery, createUploader} from './media.js';
import {createTimeline} from './timeline.js';
import {canWrite, href, markSeen, on, putIncident, state} from './state.js';

const ENTRIES_MS = 5000;

export function mount(main, id) {
  const writer = canWrite();
  let incident = null;
  let editing = null;          // {base, fields} while the Edit form is open
  let picking = false;         // "Set location on map" mode
  let alive = true;
  let locationCentred = false;  // the small map centres on the incident once, then stays put

  const section = h('section', {id: 'incident', dataset: {incidentId: id}, 'aria-busy': 'true'});
  const back = h('a', {class: 'back', href: href('/board'), text: '← All incidents'});
  const head = h('div', {class: 'incident-head'});
  const actions = h('div', {class: 'actions'});
  const details = h('dl', {class: 'details'});
  const editBox = h('div', {class: 'edit-box', hidden: true});
  const notice = h('p', {class: 'notice', role: 'status', hidden: true});
  const mapHint = h('p', {class: 'hint', hidden: true, text: 'Click the map to set the incident location. Esc cancels.'});
  const locMap = createMap({small: true, onPick: writer ? pickLocation : null});
  const comments = h('ol', {id: 'comments'});
  const timeline = createTimeline(id, () => loadEntries());
  const entriesError = h('div', {class: 'form-error', role: 'alert', hidden: true});
  const reports = h('p', {class: 'downloads'}, 'Download the report: ',
    h('a', {href: `/v1/incidents/${id}/report.html`, download: '', text: 'Report (HTML)'}), ' ',
    h('a', {href: `/v1/incidents/${id}/report.json`, download: '', text: 'Report (JSON)'}));
  const gallery = createGallery(id);
  const uploader = writer ? createUploader(id, (m) => gallery.update([m])) : null;

  const commentBox = h('textarea', {name: 'comment', rows: '3', maxlength: '16384'});
  const commentError = formError();
  const commentButton = h('button', {type: 'submit', class: 'primary', text: 'Add comment'});
  const commentForm = writer ? h('form', {class: 'comment-form'},
    field('Comment', commentBox, 'Ctrl+Enter sends'), commentError, h('div', {class: 'actions'}, commentButton)) : null;

  section.append(back, head, reports, notice,
    h('div', {class: 'incident-grid'},
      h('div', {class: 'col'},
        h('div', {class: 'panel'}, actions, details, editBox),
        h('div', {class: 'panel'}, h('h2', {text: 'Comments'}), comments, commentForm),
        h('div', {class: 'panel location-panel'}, h('h2', {text: 'Location'}), mapHint, locMap.root)),
      h('div', {class: 'col'},
        h('div', {class: 'panel'}, h('h2', {text: 'Media'}), gallery.root, uploader ? uploader.root : null),
        h('div', {class: 'panel'}, h('h2', {text: 'Timeline'}), entriesError, timeline.root))));
  main.append(section);

  // ---- loading ----
  async function loadIncident() {
    try {
      const inc = await get(`/v1/incidents/${id}`);
      if (!alive) return;
      if ((inc.exercise || '') !== state.traffic) {
        location.replace(href(`/incident/${id}`, inc.exercise || ''));
        return;
      }
      incident = inc;
      putIncident(inc);
      render();
    } catch (err) {
      if (!alive) return;
      if (!incident) {
        section.removeAttribute('aria-busy');
        head.replaceChildren(h('div', {class: 'form-error', role: 'alert', text: err.message}));
      } else toast(err.message);
    }
  }

  let entriesBusy = false;
  async function loadEntries() {
    if (entriesBusy) return;  // a slow node must not pile up requests
    entriesBusy = true;
    try {
      const {entries} = await get(`/v1/incidents/${id}/entries`);
      if (alive) {
        timeline.update(entries);
        entriesError.hidden = true;
      }
    } catch (err) {
      // Shown in place (not as a toast): this retries every 5 s and must not flood the screen.
      if (alive && err.status !== 401) {
        entriesError.textContent = `Timeline not updated: ${err.message}`;
        entriesError.hidden = false;
      }
    } finally {
      entriesBusy = false;
    }
  }

  // ---- rendering ----
  function render() {
    const inc = incident;
    section.removeAttribute('aria-busy');
    section.classList.toggle('exercise', Boolean(inc.exercise));
    markSeen(inc);
    document.title = `${inc.title} — QROC`;
    head.replaceChildren(
      h('h1', {}, severityBadge(inc.severity), ' ', h('span', {class: 'title-text', text: inc.title}),
        inc.exercise ? [' ', exerciseBadge(inc.exercise)] : null),
      h('p', {class: 'subtitle'},
        h('span', {class: `status status-${inc.status}`, text: STATUS_LABEL[inc.status] || inc.status}),
        ` · ${CATEGORY_LABEL[inc.category] || inc.category} · opened by ${inc.operator ? `${inc.operator}, ` : ''}${oc(inc.author)} `,
        timeEl(inc.created_at), ' · ', timeEl(inc.updated_at, 'updated ')));

    const loc = inc.location;
    const rows = [
      ['Title', inc.title],
      ['Category', CATEGORY_LABEL[inc.category] || inc.category],
      ['Severity', inc.severity.toUpperCase()],
      ['Status', STATUS_LABEL[inc.status] || inc.status],
      ['Description', inc.description || '—'],
      ['Place', loc && loc.place ? loc.place : '—'],
      ['Coordinates', loc ? `${loc.lat}, ${loc.lon}` : '—'],
      ['Tags', inc.tags && inc.tags.length ? inc.tags.join(', ') : '—'],
      ['Exercise', inc.exercise || 'no (real incident)'],
      ['Origin OC', oc(inc.author)],
      ['Opened by', inc.operator || '—'],
      ['Created', absTime(inc.created_at)],
      ['Updated', absTime(inc.updated_at)],
      ['Id', inc.id],
    ];
    details.replaceChildren(...rows.flatMap(([k, v]) => [
      h('dt', {text: k}),
      h('dd', {class: k === 'Description' ? 'text' : k === 'Id' ? 'mono' : null, dataset: {field: k.toLowerCase()}, text: v})]));
    details.hidden = Boolean(editing);

    actions.replaceChildren(...(writer && !editing ? [
      h('button', {type: 'button', text: 'Edit', onclick: startEdit}),
      h('button', {type: 'button', text: picking ? 'Cancel location' : 'Set location on map', onclick: togglePicking}),
    ] : []));

    locMap.setPin(loc ? loc.lat : NaN, loc ? loc.lon : NaN);
    if (loc && !locationCentred) {
      locMap.centreOn(loc.lat, loc.lon, 3);
      locationCentred = true;
    }

    comments.replaceChildren(...(inc.comments || []).map((c) => h('li', {dataset: {commentId: c.id}},
      h('div', {class: 'comment-head'},
        h('strong', {text: c.operator || 'unknown operator'}), ` · ${oc(c.author)} · `, timeEl(c.created_at)),
      h('p', {class: 'text', text: c.text}))));
    if (!comments.children.length) comments.append(h('li', {class: 'muted none', text: 'No comments yet.'}));

    gallery.update(inc.media);
  }

  // ---- edit ----
  function startEdit() {
    const fields = incidentFields(incident);
    const error = formError();
    const save = h('button', {type: 'submit', class: 'primary', text: 'Save'});
    const form = h('form', {class: 'edit-form', novalidate: true}, h('h2', {text: 'Edit incident'}), ...fields.nodes, error,
      h('div', {class: 'actions'}, save, h('button', {type: 'button', text: 'Cancel', onclick: stopEdit})));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const {values, error: problem} = fields.read();
      if (problem) return showError(error, problem);
      const body = diff(editing.base, values);
      if (!Object.keys(body).length) return stopEdit();
      save.disabled = true;
      try {
        incident = await patch(`/v1/incidents/${id}`, body);
        putIncident(incident);
        stopEdit();
      } catch (err) {
        showError(error, err.message);
      } finally {
        save.disabled = false;
      }
    });
    editing = {base: incident, fields};
    editBox.replaceChildren(form);
    editBox.hidden = false;
    render();
    fields.controls.title.focus();
  }

  function stopEdit() {
    editing = null;
    editBox.hidden = true;
    editBox.replaceChildren();
    notice.hidden = true;
    render();
  }

  function togglePicking() {
    picking = !picking;
    mapHint.hidden = !picking;
    section.classList.toggle('picking', picking);
    render();
    if (picking) locMap.root.scrollIntoView({block: 'nearest'});
  }

  async function pickLocation(lat, lon) {
    if (!picking) {
      // Outside "Set location" mode a click must not move the pin.
      const loc = incident && incident.location;
      locMap.setPin(loc ? loc.lat : NaN, loc ? loc.lon : NaN);
      return;
    }
    const place = incident.location ? incident.location.place || '' : '';
    try {
      incident = await patch(`/v1/incidents/${id}`, {location: {lat, lon, place}});
      putIncident(incident);
      picking = false;
      mapHint.hidden = true;
      section.classList.remove('picking');
      render();
      toast(`Location set to ${lat}, ${lon}`, 'info');
    } catch (err) {
      toast(err.message);
    }
  }

  // ---- comments ----
  if (commentForm) {
    commentForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = commentBox.value;
      if (!text.trim()) return showError(commentError, 'Write a comment first.');
      showError(commentError, '');
      commentButton.disabled = true;
      try {
        await post(`/v1/incidents/${id}/comments`, {text});
        commentBox.value = '';
        loadIncident();
        loadEntries();
      } catch (err) {
        showError(commentError, err.message);
      } finally {
        commentButton.disabled = false;
      }
    });
    commentBox.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) commentForm.requestSubmit();
    });
  }

  const onKey = (e) => {
    if (e.key === 'Escape' && picking) togglePicking();
  };
  document.addEventListener('keydown', onKey);

  // ---- live ----
  const offs = [
    on('entry', (entry) => {
      if (entry.incident !== id) return;
      if (entry.kind === 'ack') return loadEntries();  // an OC took note: only the timeline changes
      if (editing) {
        notice.textContent = `Changed by ${entry.operator ? `${entry.operator}, ` : ''}${oc(entry.author)} while you edit: Save sends only the fields you changed.`;
        notice.hidden = false;
      }
      loadIncident();
      loadEntries();
    }),
    on('reconnected', () => { loadIncident(); loadEntries(); }),
  ];
  const timer = setInterval(loadEntries, ENTRIES_MS);
  loadIncident();
  loadEntries();

  return () => {
    alive = false;
    clearInterval(timer);
    offs.forEach((off) => off());
    document.removeEventListener('keydown', onKey);
    gallery.destroy();
    if (uploader) uploader.destroy();
    document.title = 'QROC Mesh — operator console';
  };
}

// Only the fields the operator changed: a concurrent edit from another OC to another
// field must survive this Save.
function diff(base, values) {
  const out = {};
  for (const k of ['title', 'category', 'severity', 'status', 'description']) {
    if (values[k] !== (base[k] ?? '')) out[k] = values[k];
  }
  // The node may keep tags in its own order: compare them as sets.
  const oldTags = [...(base.tags || [])].sort().join('\n');
  if ([...values.tags].sort().join('\n') !== oldTags) out.tags = values.tags;
  const a = base.location;
  const b = values.location;
  if (b && (!a || a.lat !== b.lat || a.lon !== b.lon || (a.place || '') !== b.place)) out.location = b;
  return out;
}
