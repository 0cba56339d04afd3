// Sessions: the active ones (or all), by user; end one.
import { api, withQuery, type Page } from '../api';
import { accessLabel, fmtTime, userLabel } from '../format';
import type { PageContext } from '../page';
import { resolveUserFilter } from '../userpicker';
import { badge, button, confirmDialog, DataTable, field, h, input, MessageArea, select } from '../ui';
import type { Session } from '../types';

const END_REASONS: Record<string, string> = {
  logout: 'logged out', idle: 'idle', license_stale: 'license out of date', license_expired: 'license expired',
  license_revoked: 'license revoked', license_missing: 'no license', no_access_pass: 'no access pass left',
  user_deleted: 'user deleted', allocation_removed: 'allocation removed',
};

export function render(ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const activeSel = select([['true', 'Active'], ['false', 'Ended'], ['', 'All']], ctx.query.get('active') ?? 'true');
  const userIn = input({ name: 'user', value: ctx.query.get('user') ?? '', placeholder: 'CORP\\alice' });
  const note = h('div', { 'aria-live': 'polite' });
  let userFilter: string | null | undefined;

  const table = new DataTable<Session>({
    caption: 'Sessions',
    empty: 'No session matches.',
    columns: [
      { label: 'User', value: (s) => userLabel(s.user) },
      { label: 'Access type', value: (s) => accessLabel(s.accessType) },
      { label: 'Started', value: (s) => s.startedAt, render: (s) => fmtTime(s.startedAt) },
      { label: 'Last activity', value: (s) => s.lastActivity, render: (s) => fmtTime(s.lastActivity) },
      {
        label: 'State', value: (s) => s.endedAt ?? '',
        render: (s) => s.endedAt ? h('span', {}, badge('ended', 'neutral'), ` ${fmtTime(s.endedAt)} (${END_REASONS[s.endReason ?? ''] ?? s.endReason ?? ''})`) : badge('active', 'ok'),
      },
    ],
    load: async (limit, next) => {
      if (userFilter === null) return { data: [], next: null };
      const page = await api<Page<Session>>('GET', next ?? withQuery('/sessions', { active: activeSel.value, user: userFilter, limit }));
      return { data: page.data, next: page.links.next };
    },
    actions: ctx.canWrite ? (s) => [
      s.endedAt ? null : button('End session', () => void end(s), { class: 'btn btn-small btn-danger', 'aria-label': `End session of ${userLabel(s.user)} started ${fmtTime(s.startedAt)}` }),
    ] : undefined,
  });

  async function end(s: Session): Promise<void> {
    const ok = await confirmDialog(`End the session of ${userLabel(s.user)}?`, [
      'The user is logged out of the hub. The session keeps its parallel-session slot for a few minutes (sessionLingerSeconds), as a logout does.',
    ], 'End session');
    if (!ok) return;
    try {
      await api('DELETE', `/sessions/${s.id}`);
      messages.success('Session ended', `${userLabel(s.user)}’s session is ended.`);
      await table.reload();
    } catch (err) {
      messages.error(err);
    }
  }

  async function apply(): Promise<void> {
    note.replaceChildren();
    const text = userIn.value.trim();
    try {
      userFilter = await resolveUserFilter(text, note);
    } catch (err) {
      userFilter = undefined;
      messages.error(err);
    }
    ctx.setQuery({ active: activeSel.value === 'true' ? undefined : activeSel.value || 'all', user: text });
    await table.reload();
  }

  if (ctx.query.get('active') === 'all') activeSel.value = '';
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter sessions' },
    field('Sessions', activeSel), field('User', userIn, 'DIRECTORY\\userId (exact)'),
    h('button', { type: 'submit', class: 'btn' }, 'Apply filters'),
    button('Refresh', () => void table.reload()));
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void apply();
  });
  void apply();
  return h('div', {}, h('h1', {}, 'Sessions'), messages.el, filters, note, table.el);
}
