// The only door to the node: JSON over same-origin fetch with the session cookie, the
// CSRF header on every write, and one error shape ({error: {code, message}}) for callers.

let csrfToken = null;
let unauthorized = () => {};
// Requests still on the wire: logout waits for them, so none reaches the node after the
// session is gone (each would come back 401).
const inFlight = new Set();

export function settled() {
  return Promise.allSettled([...inFlight]);
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function setCsrf(token) {
  csrfToken = token;
}

// app.js installs the handler that shows the login page again (expired session).
export function onUnauthorized(fn) {
  unauthorized = fn;
}

const WRITES = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

function headersFor(method, extra) {
  const headers = {Accept: 'application/json', ...extra};
  if (WRITES.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  return headers;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // A proxy or a crash may answer with HTML; the status line is all we have then.
  }
  const err = body && body.error ? body.error : {};
  const retry = response.headers.get('Retry-After');
  return new ApiError(response.status, err.code || `http_${response.status}`,
    err.message || `${response.status} ${response.statusText || 'error'}`, retry ? Number(retry) : null);
}

export function api(method, path, body) {
  const request = send(method, path, body);
  inFlight.add(request);
  request.then(() => inFlight.delete(request), () => inFlight.delete(request));
  return request;
}

async function send(method, path, body) {
  const init = {method, credentials: 'same-origin', headers: headersFor(method, {}), cache: 'no-store'};
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', `Cannot reach the node (${e.message})`);
  }
  if (!response.ok) {
    const err = await errorOf(response);
    // A refused login is a 401 too, but it must stay on the login form, not restart it.
    if (err.status === 401 && path !== '/v1/session') unauthorized(err);
    throw err;
  }
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

// Media upload: XMLHttpRequest because fetch has no upload progress; xhr.send(file) lets
// the browser stream the File from disk instead of reading it into memory.
export function upload(path, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', path);
    xhr.withCredentials = true;
    for (const [k, v] of Object.entries(headersFor('POST', {'Content-Type': file.type || 'application/octet-stream'}))) {
      xhr.setRequestHeader(k, v);
    }
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Non-JSON answer: reported below by status.
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      const err = body && body.error ? body.error : {};
      const e = new ApiError(xhr.status, err.code || `http_${xhr.status}`, err.message || `${xhr.status} ${xhr.statusText}`);
      if (xhr.status === 401) unauthorized(e);
      reject(e);
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'Upload failed: cannot reach the node'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled'));
    xhr.send(file);
  });
  return {promise, abort: () => xhr.abort()};
}
