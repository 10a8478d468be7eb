// The REST API client. The session cookie carries the credentials; errors
// come back as APIError with the API's code, message and field.

export class APIError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let onUnauthorized = () => {};

// whenSignedOut sets what happens when a call finds the session gone.
export function whenSignedOut(fn) { onUnauthorized = fn; }

export async function api(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch('/api/v1' + path, init);
  } catch {
    throw new APIError(0, 'network', 'Podium did not answer. Check the network and try again.');
  }
  const raw = resp.status === 204 ? '' : await resp.text();
  let data = null;
  if (raw) {
    try { data = JSON.parse(raw); } catch { /* not JSON: reported below by status */ }
  }
  if (!resp.ok) {
    const e = data?.error ?? {};
    const err = new APIError(resp.status, e.code ?? `http_${resp.status}`, e.message ?? `${resp.status} ${resp.statusText}`, e.field);
    if (resp.status === 401 && path !== '/session') onUnauthorized();
    throw err;
  }
  return data;
}

export const session = {
  get: () => api('GET', '/session'),
  signIn: (token) => api('POST', '/session', { token }),
  signOut: () => api('DELETE', '/session'),
};
