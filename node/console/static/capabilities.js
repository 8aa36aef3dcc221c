// The self-assessment view (#/capabilities): this OC's profile as a form (per area the
// current and the target level, each with its level's descriptor, and a note), saved with
// PUT /v1/assessment/profile, and the federation's matrix (matrix.js), re-read whenever a
// profile arrives from any OC.
import {get, put} from './api.js';
import {absTime, field, h, select, timeEl} from './dom.js';
import {formError, showError} from './forms.js';
import {createMatrix} from './matrix.js';
import {canWrite, on} from './state.js';

export function mount(main) {
  const writer = canWrite();
  const matrix = createMatrix();
  const formBox = h('div', {class: 'panel assessment-panel'}, h('h2', {text: 'This OC’s self-assessment'}),
    h('p', {class: 'muted', text: 'Loading the questionnaire…'}));
  main.append(h('section', {id: 'capabilities', 'aria-label': 'Capabilities'},
    h('h1', {text: 'Capabilities'}),
    h('p', {class: 'muted', text: 'Each OC assesses itself against the federation’s questionnaire: where it stands today (current) and where it means to be (target). Every OC holds every profile.'}),
    matrix.root, formBox));

  let alive = true;
  (async () => {
    try {
      const {questionnaire, mine} = await get('/v1/assessment');
      if (alive) formBox.replaceChildren(...buildForm(questionnaire, mine, writer, matrix.load));
    } catch (err) {
      if (alive) formBox.append(h('div', {class: 'form-error', role: 'alert', text: err.message}));
    }
  })();
  matrix.load();

  let timer = 0;
  const reload = () => { clearTimeout(timer); timer = setTimeout(matrix.load, 300); };
  const offs = [on('profile', reload), on('reconnected', reload)];
  return () => {
    alive = false;
    clearTimeout(timer);
    offs.forEach((off) => off());
  };
}

function buildForm(q, mine, writer, onSaved) {
  const answers = new Map(((mine && mine.answers) || []).map((a) => [a.area, a]));
  const options = [['', 'Not answered'], ...q.levels.map((l) => [String(l.value), `${l.value} — ${l.name}`])];
  const status = h('p', {class: 'saved-status', role: 'status'});
  const showSaved = (p) => status.replaceChildren(p
    ? h('span', {title: absTime(p.saved_at)}, `Published `, timeEl(p.saved_at), p.operator ? ` by ${p.operator}` : '',
      ` (${p.questionnaire})`)
    : 'Not published yet: the federation has no self-assessment of this OC.');
  showSaved(mine);

  const rows = q.areas.map((area) => {
    const given = answers.get(area.id);
    const value = (v) => (given && v !== undefined && v !== null ? String(v) : '');
    const current = select(options, value(given && given.current), {name: `${area.id}-current`});
    const target = select(options, value(given && given.target), {name: `${area.id}-target`});
    const note = h('textarea', {name: `${area.id}-note`, rows: '2', maxlength: '2000'});
    note.value = (given && given.note) || '';
    const says = (sel, which) => {
      const out = h('p', {class: 'descriptor', 'aria-live': 'polite'});
      const show = () => {
        const v = sel.value;
        out.textContent = v === '' ? `${which}: not answered.` : `${which}: ${area.descriptors[Number(v)] || ''}`;
      };
      sel.addEventListener('change', show);
      show();
      return out;
    };
    const box = h('fieldset', {class: 'area', dataset: {area: area.id}},
      h('legend', {text: area.title}),
      h('p', {class: 'question', text: area.question}),
      h('div', {class: 'level-pair'}, field('Current level', current), field('Target level', target)),
      says(current, 'Current'), says(target, 'Target'),
      h('details', {class: 'descriptors'}, h('summary', {text: 'What each level means here'}),
        h('ol', {start: '0'}, ...area.descriptors.map((d, i) => h('li', {},
          h('strong', {text: `${(q.levels[i] || {name: i}).name}: `}), d)))),
      field('Note', note));
    return {area, current, target, note, box};
  });

  const error = formError();
  const save = h('button', {type: 'submit', class: 'primary', text: 'Save self-assessment'});
  const all = h('fieldset', {class: 'areas', disabled: !writer}, h('legend', {class: 'sr-only', text: 'Areas'}),
    ...rows.map((r) => r.box));
  const form = h('form', {id: 'assessment', novalidate: true},
    writer ? null : h('p', {class: 'notice', text: 'Your role (viewer) can read the self-assessment but not change it.'}),
    h('details', {class: 'scale'}, h('summary', {text: 'The maturity scale'}),
      h('dl', {}, ...q.levels.flatMap((l) => [h('dt', {text: `${l.value} ${l.name}`}), h('dd', {text: l.meaning})]))),
    all, error, writer ? h('div', {class: 'actions'}, save, status) : status);

  function read() {
    const out = [];
    for (const r of rows) {
      const [c, t, n] = [r.current.value, r.target.value, r.note.value.trim()];
      if (c === '' && t === '') {
        if (n) return {error: `${r.area.title}: a note needs a current and a target level.`, focus: r.current};
        continue;
      }
      if (c === '' || t === '') return {error: `${r.area.title}: give both the current and the target level.`, focus: c === '' ? r.current : r.target};
      out.push({area: r.area.id, current: Number(c), target: Number(t), note: n});
    }
    if (!out.length) return {error: 'Answer at least one area.', focus: rows[0] && rows[0].current};
    return {answers: out};
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const got = read();
    if (got.error) {
      showError(error, got.error);
      if (got.focus) got.focus.focus();
      return;
    }
    showError(error, '');
    save.disabled = true;
    try {
      showSaved(await put('/v1/assessment/profile', {answers: got.answers}));
      onSaved();
    } catch (err) {
      showError(error, err.message);
    } finally {
      save.disabled = false;
    }
  });
  return [h('h2', {text: 'This OC’s self-assessment'}), h('p', {class: 'muted', text: q.title || q.key}), form];
}
