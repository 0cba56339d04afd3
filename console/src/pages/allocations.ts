// Allocations: filters by type, user and quarantine; allocate to a user found
// by search; deallocate (saying whether it went to quarantine and until when);
// reinstate.  Deleted users are shown as such.
import { api, apiWithStatus, withQuery, type Page } from '../api';
import { exportCsv } from '../csv';
import { accessLabel, fmtTime, userLabel } from '../format';
import type { PageContext } from '../page';
import { resolveUserFilter, userPicker } from '../userpicker';
import { badge, busy, button, confirmDialog, DataTable, field, h, input, MessageArea, notice, select } from '../ui';
import type { Allocation, AllocationType, License } from '../types';

const TYPES: [string, string][] = [['professional', 'Professional'], ['analyzer', 'Analyzer'], ['user', 'User access pass']];

function userCell(a: Allocation): Node {
  const label = h('span', {}, userLabel(a.user));
  return a.user.deleted ? h('span', {}, label, ' ', badge('deleted user', 'bad')) : label;
}

function stateCell(a: Allocation): Node {
  if (!a.quarantined) return badge('active', 'ok');
  return h('span', {}, badge('quarantined', 'warn'), ` until ${fmtTime(a.quarantineEnd)}`);
}

export function render(ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const typeSel = select([['', 'All types'], ...TYPES], ctx.query.get('type') ?? '');
  const quarSel = select([['', 'All'], ['false', 'Active only'], ['true', 'Quarantined only']], ctx.query.get('quarantined') ?? '');
  const userIn = input({ name: 'user', value: ctx.query.get('user') ?? '', placeholder: 'CORP\\alice' });
  let userFilter: string | null | undefined; // null: the user typed matches nobody
  const filterNote = h('div', { 'aria-live': 'polite' });

  const table = new DataTable<Allocation>({
    caption: 'Allocations',
    empty: 'No allocation matches.',
    columns: [
      { label: 'User', value: (a) => userLabel(a.user), render: userCell },
      { label: 'Type', value: (a) => accessLabel(a.type) },
      { label: 'Created', value: (a) => a.createdAt, render: (a) => fmtTime(a.createdAt) },
      { label: 'Last used', value: (a) => a.lastUsed, render: (a) => fmtTime(a.lastUsed) },
      { label: 'State', value: (a) => (a.quarantined ? `q ${a.quarantineEnd}` : 'active'), render: stateCell },
    ],
    load: async (limit, next) => {
      if (userFilter === null) return { data: [], next: null };
      const page = await api<Page<Allocation>>('GET', next ?? withQuery('/allocations', {
        type: typeSel.value, quarantined: quarSel.value, user: userFilter ?? undefined, limit,
      }));
      return { data: page.data, next: page.links.next };
    },
    actions: ctx.canWrite ? (a) => [
      !a.quarantined ? button('Deallocate', () => void deallocate(a), { class: 'btn btn-small', 'aria-label': `Deallocate ${accessLabel(a.type)} of ${userLabel(a.user)}` }) : null,
      a.quarantined && !a.user.deleted ? button('Reinstate', () => void reinstate(a), { class: 'btn btn-small', 'aria-label': `Reinstate ${accessLabel(a.type)} of ${userLabel(a.user)}` }) : null,
    ] : undefined,
  });

  async function applyFilters(): Promise<void> {
    filterNote.replaceChildren();
    const text = userIn.value.trim();
    try {
      userFilter = await resolveUserFilter(text, filterNote);
    } catch (err) {
      userFilter = undefined;
      messages.error(err);
    }
    ctx.setQuery({ type: typeSel.value, quarantined: quarSel.value, user: text });
    await table.reload();
  }

  async function deallocate(shown: Allocation): Promise<void> {
    // As it is now: a session may have used it since the list was loaded.
    const a = await api<Allocation>('GET', `/allocations/${shown.id}`).catch(() => shown);
    const lic = await api<License>('GET', '/license').catch(() => null);
    const q = lic?.parameters?.quarantineSeconds;
    const ok = await confirmDialog(`Deallocate ${accessLabel(a.type)} from ${userLabel(a.user)}?`, [
      a.lastUsed
        ? `It was last used ${fmtTime(a.lastUsed)}. An allocation used within the quarantine period${q ? ` (${Math.round(q / 86400 * 10) / 10} days)` : ''} goes to quarantine: it keeps counting as taken until then, and can be reinstated to the same user.`
        : 'It was never used, so it is released at once and its unit or token is free again.',
    ], 'Deallocate');
    if (!ok) return;
    try {
      const res = await apiWithStatus<Allocation>('DELETE', `/allocations/${a.id}`);
      if (res.status === 200 && res.body?.quarantined) {
        messages.success(`In quarantine until ${fmtTime(res.body.quarantineEnd)}`,
          `${accessLabel(a.type)} of ${userLabel(a.user)} was used recently, so it stays counted as taken until ${fmtTime(res.body.quarantineEnd)}. Reinstate it before then to give it back.`);
      } else {
        messages.success('Released', `${accessLabel(a.type)} of ${userLabel(a.user)} is free again.`);
      }
      await table.reload();
    } catch (err) {
      messages.error(err);
    }
  }

  async function reinstate(a: Allocation): Promise<void> {
    try {
      await api<Allocation>('POST', `/allocations/${a.id}/actions/reinstate`);
      messages.success('Reinstated', `${userLabel(a.user)} has the ${accessLabel(a.type)} allocation again.`);
      await table.reload();
    } catch (err) {
      messages.error(err);
    }
  }

  const filters = h('form', { class: 'filters', 'aria-label': 'Filter allocations' },
    field('Type', typeSel), field('State', quarSel), field('User', userIn, 'DIRECTORY\\userId (exact)'),
    h('button', { type: 'submit', class: 'btn' }, 'Apply filters'),
    button('Export CSV', (ev) => void busy(ev.currentTarget as HTMLButtonElement, async () => {
      if (userFilter === null) {
        messages.show(notice('info', 'Nothing to export', 'No user matches the User filter.'));
        return;
      }
      await exportCsv(withQuery('/allocations', { type: typeSel.value, quarantined: quarSel.value, user: userFilter }),
        'allot-allocations.csv', messages);
    })));
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void applyFilters();
  });

  let create: HTMLElement | null = null;
  if (ctx.canWrite) {
    const picker = userPicker('User');
    const typeNew = select(TYPES, 'professional');
    const allocBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Allocate');
    create = h('form', { class: 'panel create', 'aria-labelledby': 'alloc-h' },
      h('h2', { id: 'alloc-h' }, 'Allocate'),
      picker.el, field('Allocation type', typeNew), allocBtn);
    create.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const user = picker.selected();
      if (!user) {
        messages.show(notice('error', 'Choose a user first', 'Find the user by DIRECTORY\\userId, then choose them in “Matching user”.'));
        return;
      }
      void busy(allocBtn, async () => {
        try {
          await api<Allocation>('POST', '/allocations', { user: user.id, type: typeNew.value as AllocationType });
          messages.success('Allocated', `${userLabel(user)} now has a ${accessLabel(typeNew.value)} allocation.`);
          await table.reload();
        } catch (err) {
          messages.error(err);
        }
      });
    });
  }

  void applyFilters();
  return h('div', {}, h('h1', {}, 'Allocations'), messages.el, create, filters, filterNote, table.el);
}
