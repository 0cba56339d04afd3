// Sign-in with an API key.  The role decides what the console offers: admin
// (everything), auditor (read-only); a proxy key is refused with the reason.
import { api, ApiError, signIn, type Role } from '../api';
import { errorBox, field, h, input, notice } from '../ui';

const BASE = '/console/';

class RoleRefused extends Error {}

// The key's role, from what it may read: only an admin lists API keys, an
// auditor reads the license, a proxy key reads sessions and nothing else here.
async function roleOf(key: string): Promise<Role> {
  try {
    await api('GET', '/apikeys?limit=1', undefined, { key });
    return 'admin';
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 403) throw e;
  }
  try {
    await api('GET', '/license', undefined, { key });
    return 'auditor';
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 403) throw e;
  }
  let proxy = false;
  try {
    await api('GET', '/sessions?limit=1', undefined, { key });
    proxy = true;
  } catch {
    proxy = false;
  }
  let scim = false;
  if (!proxy) {
    try {
      await api('GET', '/scim/v2/ServiceProviderConfig', undefined, { key });
      scim = true;
    } catch {
      scim = false;
    }
  }
  if (scim) {
    throw new RoleRefused('This is a SCIM key: it belongs to a directory’s provisioning (Entra ID, Okta) and reaches /scim/v2 only. Sign in with an admin key to manage allot, or with an auditor key to look without changing anything.');
  }
  throw new RoleRefused(proxy
    ? 'This is a proxy key: it belongs to the hub’s front end, which starts and ends sessions, and it cannot read the license or change anything. Sign in with an admin key to manage allot, or with an auditor key to look without changing anything.'
    : 'This key’s role cannot use the console. Sign in with an admin key, or with an auditor key to look without changing anything.');
}

function safeNext(next: string | null): string {
  if (next && next.startsWith(BASE) && !next.startsWith(`${BASE}signin`) && !next.includes('//')) return next;
  return BASE;
}

export function renderSignIn(message: string | null, done: (dest: string) => void): HTMLElement {
  const keyInput = input({ type: 'password', name: 'key', required: true, autocomplete: 'off' });
  const out = h('div', { class: 'messages', 'aria-live': 'polite' });
  if (message) out.append(notice('info', message));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'signin-form', novalidate: true },
    field('API key', keyInput, 'An admin or auditor key. It is kept in this browser tab only (sessionStorage) and sent as a Bearer token.'),
    submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = keyInput.value.trim();
    if (!key) {
      out.replaceChildren(notice('error', 'Enter an API key.', 'The key is the secret shown once when it was created; ./scripts/run keeps the first admin key in .data/admin.key.'));
      keyInput.focus();
      return;
    }
    submit.disabled = true;
    out.replaceChildren(h('p', { role: 'status' }, 'Checking the key…'));
    roleOf(key).then((role) => {
      signIn(key, role);
      done(safeNext(new URLSearchParams(location.search).get('next')));
    }).catch((err) => {
      if (err instanceof RoleRefused) {
        out.replaceChildren(notice('error', 'This key cannot sign in to the console', err.message));
      } else if (err instanceof ApiError && err.status === 401) {
        out.replaceChildren(notice('error', 'allotd does not know this API key',
          'Check that you copied the whole key. A deleted key no longer works; ask an administrator for a new one.'));
      } else {
        out.replaceChildren(errorBox(err));
      }
      keyInput.select();
      keyInput.focus();
    }).finally(() => {
      submit.disabled = false;
    });
  });
  const page = h('div', { class: 'signin' },
    h('main', { id: 'main', class: 'signin-card' },
      h('p', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'A'), 'allot console'),
      h('h1', {}, 'Sign in'),
      h('p', {}, 'The console manages allot’s licenses, allocations, rules, users and sessions.'),
      out, form));
  queueMicrotask(() => keyInput.focus());
  return page;
}
