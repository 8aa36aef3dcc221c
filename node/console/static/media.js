// The incident's media: gallery (inline image/video/audio once this node holds the whole
// file, chunk progress until then), uploads (file input + drag-and-drop, streamed by XHR
// with a progress bar each) and voice notes recorded with MediaRecorder.
import {get, upload} from './api.js';
import {absTime, bytes, h, plural, timeEl, toast} from './dom.js';
import {completeMedia} from './state.js';

const POLL_MS = 1000;

export function createGallery(incidentId) {
  const root = h('div', {id: 'gallery'});
  const empty = h('p', {class: 'muted', text: 'No media yet.'});
  root.append(empty);
  const figures = new Map();     // media id -> {figure, body, complete}
  const polling = new Set();     // media ids still incomplete here
  let timer = null;

  // Called with the incident's media list: only new items are added, so a playing video
  // is never reloaded by an unrelated update.
  function update(mediaList) {
    for (const m of mediaList || []) if (!figures.has(m.id)) add(m);
    empty.hidden = figures.size > 0;
  }

  function add(m) {
    const body = h('div', {class: 'media-body'});
    const figure = h('figure', {dataset: {mediaId: m.id}},
      body,
      h('figcaption', {},
        h('span', {class: 'media-name', text: m.name}),
        h('span', {class: 'muted', text: ` ${m.mime}, ${bytes(m.size)}`}),
        h('span', {class: 'media-meta'}, m.operator ? `${m.operator} · ` : '', m.posted_at ? timeEl(m.posted_at) : ''),
        h('a', {class: 'download', href: `/v1/media/${m.id}`, download: m.name, title: `Download ${m.name}`, text: 'Download'})));
    figures.set(m.id, {figure, body, media: m, complete: false});
    root.append(figure);
    checkStatus(m.id);
  }

  async function checkStatus(id) {
    const item = figures.get(id);
    if (!item || item.complete) return;
    let status;
    try {
      status = await get(`/v1/media/${id}/status`);
    } catch (err) {
      showProgress(item, null, err.message);
      polling.add(id);
      ensurePolling();
      return;
    }
    if (status.complete) {
      item.complete = true;
      completeMedia.add(id);
      polling.delete(id);
      showMedia(item);
    } else {
      showProgress(item, status);
      polling.add(id);
      ensurePolling();
    }
  }

  function ensurePolling() {
    if (timer) return;
    timer = setInterval(() => {
      if (!polling.size) {
        clearInterval(timer);
        timer = null;
        return;
      }
      for (const id of polling) checkStatus(id);
    }, POLL_MS);
  }

  function showProgress(item, status, problem) {
    let bar = item.body.querySelector('progress');
    let text = item.body.querySelector('.chunks');
    if (!bar) {
      bar = h('progress', {max: '1', value: '0', 'aria-label': `Transfer of ${item.media.name}`});
      text = h('span', {class: 'chunks'});
      item.body.replaceChildren(h('div', {class: 'media-pending'}, h('span', {class: 'muted', text: 'Arriving from the federation…'}), bar, text));
    }
    if (status) {
      bar.max = status.chunks_total || 1;
      bar.value = status.chunks_held || 0;
      const sources = (status.sources || []).length;
      text.textContent = `${status.chunks_held} / ${status.chunks_total} chunks from ${plural(sources, 'source')}`;
    } else {
      text.textContent = problem;
    }
  }

  function showMedia(item) {
    const m = item.media;
    const src = `/v1/media/${m.id}?inline=1`;
    const mime = m.mime || '';
    let el;
    if (mime.startsWith('image/')) {
      el = h('a', {href: src, target: '_blank', rel: 'noopener', title: 'Open full size'}, h('img', {src, alt: m.name, loading: 'lazy'}));
    } else if (mime.startsWith('video/')) {
      el = h('video', {src, controls: true, preload: 'metadata'});
    } else if (mime.startsWith('audio/')) {
      el = h('audio', {src, controls: true, preload: 'metadata'});
    } else {
      el = h('div', {class: 'file-icon', text: (m.name.split('.').pop() || 'file').toUpperCase().slice(0, 5)});
    }
    item.body.replaceChildren(el);
  }

  return {
    root, update,
    destroy() {
      if (timer) clearInterval(timer);
      timer = null;
      polling.clear();
    },
  };
}

// Upload controls: "Attach files" input, #dropzone and "Record audio". onUploaded(media)
// is called with the node's 201 answer so the gallery shows the item without waiting.
export function createUploader(incidentId, onUploaded) {
  const input = h('input', {type: 'file', multiple: true, id: 'attach-files'});
  const list = h('ul', {class: 'uploads', 'aria-label': 'Uploads'});
  const record = h('button', {type: 'button', class: 'record', text: 'Record audio'});
  const elapsed = h('span', {class: 'rec-time', 'aria-live': 'off'});
  const zone = h('div', {id: 'dropzone', tabindex: '0', 'aria-label': 'Drop files here to attach them'},
    h('p', {text: 'Drop photos, video, audio or documents here'}),
    h('div', {class: 'upload-controls'},
      h('label', {for: 'attach-files', text: 'Attach files'}), input, record, elapsed));
  const root = h('div', {class: 'uploader'}, zone, list);

  input.addEventListener('change', () => {
    send([...input.files]);
    input.value = '';
  });
  zone.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === ' ') && e.target === zone) {
      e.preventDefault();
      input.click();
    }
  });
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
      zone.classList.add('over');
    });
  }
  zone.addEventListener('dragleave', (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove('over');
  });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    send([...e.dataTransfer.files]);
  });

  function send(files) {
    for (const file of files) start(file);
  }

  function start(file) {
    const bar = h('progress', {class: 'upload', max: String(file.size || 1), value: '0', 'aria-label': `Upload of ${file.name}`});
    const pct = h('span', {class: 'pct', text: '0 %'});
    const cancel = h('button', {type: 'button', class: 'small', text: 'Cancel'});
    const li = h('li', {}, h('span', {class: 'media-name', text: file.name}), h('span', {class: 'muted', text: bytes(file.size)}), bar, pct, cancel);
    list.append(li);
    const job = upload(`/v1/incidents/${incidentId}/media?name=${encodeURIComponent(file.name)}`, file, (loaded, total) => {
      bar.max = total;
      bar.value = loaded;
      pct.textContent = `${Math.floor(loaded / total * 100)} %`;
    });
    cancel.addEventListener('click', job.abort);
    job.promise.then((media) => {
      bar.value = bar.max;
      pct.textContent = 'uploaded';
      cancel.remove();
      if (media) onUploaded(media);
      setTimeout(() => li.remove(), 4000);
    }, (err) => {
      cancel.textContent = 'Dismiss';
      cancel.onclick = () => li.remove();
      li.classList.add('failed');
      li.append(h('div', {class: 'form-error', role: 'alert', text: `${file.name}: ${err.message}`}));
    });
  }

  // ---- voice notes ----
  let recorder = null;
  let ticker = null;
  if (!window.MediaRecorder || !navigator.mediaDevices) {
    record.disabled = true;
    record.title = 'This browser cannot record audio';
  }
  record.addEventListener('click', () => (recorder ? recorder.stop() : startRecording()));

  async function startRecording() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: true});
    } catch (err) {
      toast(`Cannot record audio: ${err.message}`);
      return;
    }
    const type = MediaRecorder.isTypeSupported('audio/webm') ? 'audio/webm' : '';
    recorder = new MediaRecorder(stream, type ? {mimeType: type} : undefined);
    const chunks = [];
    const began = Date.now();
    recorder.addEventListener('dataavailable', (e) => { if (e.data.size) chunks.push(e.data); });
    recorder.addEventListener('stop', () => {
      stream.getTracks().forEach((t) => t.stop());
      clearInterval(ticker);
      elapsed.textContent = '';
      // What the browser recorded (Firefox and Chromium: WebM, Safari: MP4), without codecs.
      const mime = (recorder.mimeType || 'audio/webm').split(';')[0].trim().toLowerCase();
      const ext = {'audio/webm': 'webm', 'audio/ogg': 'ogg', 'audio/mp4': 'm4a', 'audio/mpeg': 'mp3'}[mime] || 'audio';
      recorder = null;
      record.textContent = 'Record audio';
      record.classList.remove('recording');
      const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
      start(new File(chunks, `voice-${stamp}.${ext}`, {type: mime}));
    });
    recorder.start(1000);
    record.textContent = 'Stop recording';
    record.classList.add('recording');
    record.title = `Recording since ${absTime(new Date(began).toISOString())}`;
    const show = () => {
      const s = Math.floor((Date.now() - began) / 1000);
      elapsed.textContent = `● ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    };
    show();
    ticker = setInterval(show, 1000);
  }

  return {
    root,
    // Leaving the view ends a recording; what was recorded is still uploaded.
    destroy() {
      if (recorder) recorder.stop();
    },
  };
}
