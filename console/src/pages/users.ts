// Users: search, create, edit name and groups, delete (saying what happens to
// their allocations and sessions).
import { api, withQuery, type Page } from '../api';
import { exportCsv } from '../csv';
import { fmtTime, splitList, userLabel } from '../format';
import type { PageContext } from '../page';
import { parseUserQuery } from '../userpicker';
import { busy, button, confirmDialog, DataTable, field, h, input, MessageArea, notice } from '../ui';
import type { User } from '../types';

export function render(ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const searchIn = input({ name: 'search', value: ctx.query.get('q') ?? '', placeholder: 'CORP\\alice, alice or group:Sales' });
  let filter: Record<string, string> = parseUserQuery(searchIn.value);

  const table = new DataTable<User>({
    caption: 'Users',
    empty: 'No user matches.',
    columns: [
      { label: 'Directory', value: (u) => u.userDirectory },
      { label: 'User ID', value: (u) => u.userId },
      { label: 'Name', value: (u) => u.name },
      { label: 'Groups', value: (u) => u.groups.join(', ') },
      { label: 'Created', value: (u) => u.createdAt, render: (u) => fmtTime(u.createdAt) },
    ],
    load: async (limit, next) => {
      const page = await api<Page<User>>('GET', next ?? withQuery('/users', { ...filter, limit }));
      return { data: page.data, next: page.links.next };
    },
    actions: ctx.canWrite ? (u) => [
      button('Edit', () => edit(u), { class: 'btn btn-small', 'aria-label': `Edit ${userLabel(u)}` }),
      button('Delete', () => void remove(u), { class: 'btn btn-small btn-danger', 'aria-label': `Delete ${userLabel(u)}` }),
    ] : undefined,
  });

  const search = h('form', { class: 'filters', role: 'search', 'aria-label': 'Search users' },
    field('Search', searchIn, 'Exact: DIRECTORY\\userId, a userId, or group:NAME; empty lists everyone'),
    h('button', { type: 'submit', class: 'btn' }, 'Search'),
    button('Export CSV', (ev) => void busy(ev.currentTarget as HTMLButtonElement, () =>
      exportCsv(withQuery('/users', filter), 'allot-users.csv', messages))));
  search.addEventListener('submit', (ev) => {
    ev.preventDefault();
    filter = parseUserQuery(searchIn.value);
    ctx.setQuery({ q: searchIn.value.trim() });
    void table.reload();
  });

  // Create and edit share one form.
  let editing: User | null = null;
  const formTitle = h('h2', { id: 'user-h' }, 'New user');
  const dirIn = input({ name: 'userDirectory', required: true, maxlength: 255 });
  const idIn = input({ name: 'userId', required: true, maxlength: 255 });
  const nameIn = input({ name: 'name', maxlength: 255 });
  const groupsIn = input({ name: 'groups', placeholder: 'Sales, EMEA' });
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create user');
  const cancelBtn = button('Cancel editing', () => resetForm(), { class: 'btn', hidden: true });

  function resetForm(): void {
    editing = null;
    formTitle.textContent = 'New user';
    saveBtn.textContent = 'Create user';
    cancelBtn.hidden = true;
    dirIn.disabled = false;
    idIn.disabled = false;
    for (const el of [dirIn, idIn, nameIn, groupsIn]) el.value = '';
  }

  function edit(u: User): void {
    editing = u;
    formTitle.textContent = `Edit ${userLabel(u)}`;
    saveBtn.textContent = 'Save changes';
    cancelBtn.hidden = false;
    dirIn.value = u.userDirectory;
    idIn.value = u.userId;
    dirIn.disabled = true; // the directory account is the user's identity
    idIn.disabled = true;
    nameIn.value = u.name;
    groupsIn.value = u.groups.join(', ');
    groupsIn.focus();
  }

  async function remove(u: User): Promise<void> {
    const ok = await confirmDialog(`Delete ${userLabel(u)}?`, [
      'Their active sessions end now.',
      'Each of their allocations used within the quarantine period goes to quarantine and keeps counting as taken until it ends (shown as a deleted user); the others are released at once.',
    ], 'Delete user');
    if (!ok) return;
    try {
      await api('DELETE', `/users/${u.id}`);
      messages.success('User deleted', `${userLabel(u)} is gone; see Allocations for what stays in quarantine.`);
      if (editing?.id === u.id) resetForm();
      await table.reload();
    } catch (err) {
      messages.error(err);
    }
  }

  let form: HTMLElement | null = null;
  if (ctx.canWrite) {
    form = h('form', { class: 'panel create', 'aria-labelledby': 'user-h', novalidate: true },
      formTitle,
      h('div', { class: 'form-grid' },
        field('User directory', dirIn, 'As CORP'), field('User ID', idIn, 'As alice'),
        field('Name', nameIn), field('Groups', groupsIn, 'Comma-separated')),
      h('div', { class: 'actions-row' }, saveBtn, cancelBtn));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const groups = splitList(groupsIn.value);
      void busy(saveBtn, async () => {
        try {
          if (editing) {
            await api<User>('PATCH', `/users/${editing.id}`, { name: nameIn.value.trim(), groups });
            messages.success('User saved', `${userLabel(editing)} is changed.`);
          } else {
            if (!dirIn.value.trim() || !idIn.value.trim()) {
              messages.show(notice('error', 'A user needs a directory and a user ID'));
              (dirIn.value.trim() ? idIn : dirIn).focus();
              return;
            }
            const u = await api<User>('POST', '/users', {
              userDirectory: dirIn.value.trim(), userId: idIn.value.trim(), name: nameIn.value.trim(), groups,
            });
            messages.success('User created', `${userLabel(u)} can be given allocations now.`);
          }
          resetForm();
          await table.reload();
        } catch (err) {
          messages.error(err);
        }
      });
    });
  }

  void table.reload();
  return h('div', {}, h('h1', {}, 'Users'), messages.el, form, search, table.el);
}
