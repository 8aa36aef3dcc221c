// The new-incident form (#/new). In an exercise view the incident carries the exercise name.
import {post} from './api.js';
import {exerciseBadge, h} from './dom.js';
import {formError, incidentFields, showError} from './forms.js';
import {canWrite, href, markSeen, putIncident, state} from './state.js';

export function mount(main) {
  if (!canWrite()) {
    main.append(h('section', {class: 'panel'}, h('p', {text: 'Your role (viewer) cannot open incidents.'}),
      h('a', {href: href('/board'), text: 'Back to the board'})));
    return null;
  }
  const traffic = state.traffic;
  const fields = incidentFields({}, {withMap: true});
  const error = formError();
  const submit = h('button', {type: 'submit', class: 'primary', text: 'Open incident'});
  const form = h('form', {id: 'new-incident', novalidate: true},
    h('h1', {}, traffic ? [exerciseBadge(traffic), ` New incident in exercise ${traffic}`] : 'New incident'),
    ...fields.nodes, error,
    h('div', {class: 'actions'}, submit, h('a', {class: 'button', href: href('/board'), text: 'Cancel'})));
  if (traffic) form.classList.add('exercise');
  main.append(h('section', {class: 'new-view panel'}, form));
  fields.controls.title.focus();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const {values, error: problem} = fields.read();
    if (problem) return showError(error, problem);
    showError(error, '');
    if (traffic) values.exercise = traffic;
    submit.disabled = true;
    try {
      const created = await post('/v1/incidents', values);
      putIncident(created);
      markSeen(created);
      location.hash = href(`/incident/${created.id}`, traffic);
    } catch (err) {
      showError(error, err.message);
    } finally {
      submit.disabled = false;
    }
  });
  return null;
}
