// API keys (admin): create one, showing its secret once; delete one.
import { api, withQuery, type Page } from '../api';
import { fmtTime } from '../format';
import type { PageContext } from '../page';
import { busy, button, confirmDialog, DataTable, field, h, input, MessageArea, notice, select } from '../ui';
import type { ApiKey, ApiKeyCreated } from '../types';

const ROLES: [string, string][] = [
  ['admin', 'admin: everything'],
  ['auditor', 'auditor: reads everything but API keys'],
  ['proxy', 'proxy: the hub’s front end (sessions, reading users)'],
];

export function render(_ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const secretSlot = h('div', { 'aria-live': 'polite' });
  const table = new DataTable<ApiKey>({
    caption: 'API keys',
    empty: 'No API key.',
    columns: [
      { label: 'Name', value: (k) => k.name },
      { label: 'Role', value: (k) => k.role },
      { label: 'Created', value: (k) => k.createdAt, render: (k) => fmtTime(k.createdAt) },
      { label: 'Last used', value: (k) => k.lastUsedAt, render: (k) => fmtTime(k.lastUsedAt) },
    ],
    load: async (limit, next) => {
      const page = await api<Page<ApiKey>>('GET', next ?? withQuery('/apikeys', { limit }));
      return { data: page.data, next: page.links.next };
    },
    actions: (k) => [button('Delete', () => void remove(k), { class: 'btn btn-small btn-danger', 'aria-label': `Delete API key ${k.name}` })],
  });

  async function remove(k: ApiKey): Promise<void> {
    const ok = await confirmDialog(`Delete the API key ${k.name}?`, [
      `Every client that uses it (role ${k.role}) is refused from now on. If it is the key you signed in with, you are signed out.`,
    ], 'Delete key');
    if (!ok) return;
    try {
      await api('DELETE', `/apikeys/${encodeURIComponent(k.id)}`);
      messages.success('API key deleted', `${k.name} no longer works.`);
      await table.reload();
    } catch (err) {
      messages.error(err);
    }
  }

  const nameIn = input({ name: 'name', required: true, maxlength: 200 });
  const roleSel = select(ROLES, 'auditor');
  const createBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create key');
  const form = h('form', { class: 'panel create', 'aria-labelledby': 'key-h', novalidate: true },
    h('h2', { id: 'key-h' }, 'New API key'),
    h('div', { class: 'form-grid' }, field('Name', nameIn, 'Who or what uses it, as “hub proxy 1”'), field('Role', roleSel)),
    createBtn);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = nameIn.value.trim();
    if (!name) {
      messages.show(notice('error', 'Give the key a name'));
      nameIn.focus();
      return;
    }
    void busy(createBtn, async () => {
      try {
        const k = await api<ApiKeyCreated>('POST', '/apikeys', { name, role: roleSel.value });
        nameIn.value = '';
        const secret = h('input', { type: 'text', readonly: true, value: k.key, class: 'mono secret', id: 'new-key-secret', 'aria-describedby': 'new-key-note' });
        const copy = button('Copy', () => {
          secret.select();
          void navigator.clipboard?.writeText(k.key).then(() => { copy.textContent = 'Copied'; }).catch(() => undefined);
        });
        secretSlot.replaceChildren(h('div', { class: 'alert alert-warning', role: 'alert' },
          h('p', { class: 'alert-title' }, `The secret of ${k.name} (${k.role})`),
          h('p', { id: 'new-key-note' }, 'Copy it now: it is shown this once. allotd keeps only its hash and cannot show it again.'),
          h('div', { class: 'inline' }, h('label', { for: 'new-key-secret', class: 'visually-hidden' }, 'New API key secret'), secret, copy),
          button('I have saved it', () => secretSlot.replaceChildren(), { class: 'btn' })));
        secret.focus();
        secret.select();
        await table.reload();
      } catch (err) {
        messages.error(err);
      }
    });
  });

  void table.reload();
  return h('div', {}, h('h1', {}, 'API keys'), messages.el, secretSlot, form, table.el);
}
