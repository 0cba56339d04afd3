// Finding a user: "CORP\alice" or "alice" (GET /users filters by exact
// userDirectory and userId), or a group name with "group:Sales".
import { api, withQuery, type Page } from './api';
import { userLabel } from './format';
import { busy, button, errorBox, field, h, input, notice, select } from './ui';
import type { User } from './types';

export function parseUserQuery(text: string): Record<string, string> {
  const t = text.trim();
  if (!t) return {};
  if (t.toLowerCase().startsWith('group:')) return { group: t.slice(6).trim() };
  const slash = t.indexOf('\\');
  if (slash > 0) return { userDirectory: t.slice(0, slash), userId: t.slice(slash + 1) };
  return { userId: t };
}

export async function findUsers(text: string, limit = 50): Promise<User[]> {
  const q = parseUserQuery(text);
  if (Object.keys(q).length === 0) return [];
  const page = await api<Page<User>>('GET', withQuery('/users', { ...q, limit }));
  return page.data;
}

// The user id a filter box names: undefined when it is empty, null when it
// names nobody (the list is then empty); what it found is said in note.
export async function resolveUserFilter(text: string, note: HTMLElement): Promise<string | null | undefined> {
  const t = text.trim();
  if (!t) return undefined;
  const users = await findUsers(t, 2);
  if (users.length === 0) {
    note.append(notice('warning', `No user ${t}`, 'Type DIRECTORY\\userId as CORP\\alice; the match is exact.'));
    return null;
  }
  if (users.length > 1) note.append(notice('info', `Several users are ${t}; showing ${userLabel(users[0])}. Add the directory to choose.`));
  return users[0].id;
}

export interface UserPicker {
  el: HTMLElement;
  selected(): User | null;
  reset(): void;
}

// A search box and the users it found, one to choose.
export function userPicker(label: string): UserPicker {
  const q = input({ name: 'user-search', placeholder: 'CORP\\alice' });
  const results = select([['', 'Search first']], '', { disabled: true });
  const found = new Map<string, User>();
  const out = h('div', { 'aria-live': 'polite' });
  const searchBtn = button('Find user', () => void search(), { class: 'btn' });
  async function search(): Promise<void> {
    out.replaceChildren();
    await busy(searchBtn, async () => {
      try {
        const users = await findUsers(q.value);
        found.clear();
        results.replaceChildren();
        if (users.length === 0) {
          results.append(h('option', { value: '' }, 'No user found'));
          results.disabled = true;
          out.append(h('p', { class: 'hint' }, 'No user matches exactly. Type DIRECTORY\\userId (as CORP\\alice) or a userId.'));
          return;
        }
        for (const u of users) {
          found.set(u.id, u);
          results.append(h('option', { value: u.id }, `${userLabel(u)}${u.name ? ` (${u.name})` : ''}`));
        }
        results.disabled = false;
        results.value = users[0].id;
        out.append(h('p', { class: 'hint' }, `${users.length} user${users.length === 1 ? '' : 's'} found.`));
      } catch (err) {
        out.append(errorBox(err));
      }
    });
  }
  q.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      void search();
    }
  });
  const el = h('div', { class: 'user-picker' },
    h('div', { class: 'inline' }, field(label, q, 'DIRECTORY\\userId, a userId, or group:NAME (exact)'), searchBtn),
    field('Matching user', results), out);
  return {
    el,
    selected: () => found.get(results.value) ?? null,
    reset: () => {
      q.value = '';
      found.clear();
      results.replaceChildren(h('option', { value: '' }, 'Search first'));
      results.disabled = true;
      out.replaceChildren();
    },
  };
}
