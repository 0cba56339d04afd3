// Audit: every grant, refusal and end, newest first, filtered by time, user,
// kind and result code, with CSV export (GET /sessions/events, Accept: text/csv).
import { api, withQuery, type Page } from '../api';
import { exportCsv } from '../csv';
import { accessLabel, fmtTime, isoToLocalInput, localInputToIso, resultLabel, userLabel } from '../format';
import type { PageContext } from '../page';
import { resolveUserFilter } from '../userpicker';
import { badge, busy, button, DataTable, field, h, input, MessageArea, notice, select } from '../ui';
import { RESULT_CODES, type SessionEvent } from '../types';

export function render(ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const q = ctx.query;
  const fromIn = input({ type: 'datetime-local', name: 'from', value: isoToLocalInput(q.get('from')) });
  const toIn = input({ type: 'datetime-local', name: 'to', value: isoToLocalInput(q.get('to')) });
  const userIn = input({ name: 'user', value: q.get('user') ?? '', placeholder: 'CORP\\alice' });
  const kindSel = select([['', 'All'], ['grant', 'Grants'], ['refusal', 'Refusals'], ['end', 'Ends'], ['release', 'Idle releases']], q.get('kind') ?? '');
  const resultSel = select([['', 'All'], ...RESULT_CODES.map((c): [string, string] => [c, `${resultLabel(c)} (${c})`])], q.get('resultCode') ?? '');
  const note = h('div', { 'aria-live': 'polite' });
  let params: Record<string, string | undefined> = {};
  let noUser = false;

  const table = new DataTable<SessionEvent>({
    caption: 'Audit trail, newest first',
    empty: 'No event matches.',
    pageSize: 50,
    columns: [
      { label: 'Time', value: (e) => e.at, render: (e) => fmtTime(e.at) },
      {
        label: 'Event', value: (e) => e.kind,
        render: (e) => badge(e.kind === 'grant' ? 'granted' : e.kind === 'refusal' ? 'refused' : e.kind === 'release' ? 'released' : 'ended', e.kind === 'grant' ? 'ok' : e.kind === 'refusal' ? 'bad' : 'neutral'),
      },
      { label: 'User', value: (e) => userLabel(e.user) },
      { label: 'Access type', value: (e) => accessLabel(e.accessType) },
      { label: 'Result', value: (e) => e.resultCode, render: (e) => h('span', { title: e.resultCode }, resultLabel(e.resultCode)) },
      { label: 'Sessions', value: (e) => e.sessionCount, numeric: true },
      { label: 'Detail', value: (e) => e.detail ?? '' },
    ],
    load: async (limit, next) => {
      if (noUser) return { data: [], next: null };
      const page = await api<Page<SessionEvent>>('GET', next ?? withQuery('/sessions/events', { ...params, limit }));
      return { data: page.data, next: page.links.next };
    },
  });

  async function apply(): Promise<void> {
    note.replaceChildren();
    noUser = false;
    const from = localInputToIso(fromIn.value);
    const to = localInputToIso(toIn.value);
    if (from && to && from >= to) {
      note.append(notice('error', '“From” must be before “To”'));
      return;
    }
    let user: string | null | undefined;
    const text = userIn.value.trim();
    try {
      user = await resolveUserFilter(text, note);
    } catch (err) {
      messages.error(err);
    }
    noUser = user === null;
    params = { from, to, user: user ?? undefined, kind: kindSel.value || undefined, resultCode: resultSel.value || undefined };
    ctx.setQuery({ from, to, user: text, kind: kindSel.value, resultCode: resultSel.value });
    await table.reload();
  }

  const exportBtn = button('Export CSV', () => void busy(exportBtn, async () => {
    if (noUser) {
      messages.show(notice('info', 'Nothing to export', 'No user matches the User filter.'));
      return;
    }
    await exportCsv(withQuery('/sessions/events', params), `allot-audit-${new Date().toISOString().slice(0, 10)}.csv`, messages);
  }));

  const filters = h('form', { class: 'filters', 'aria-label': 'Filter the audit trail' },
    field('From (UTC)', fromIn), field('To (UTC)', toIn), field('User', userIn, 'DIRECTORY\\userId (exact)'),
    field('Event', kindSel), field('Result', resultSel),
    h('button', { type: 'submit', class: 'btn' }, 'Apply filters'), exportBtn);
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void apply();
  });
  void apply();
  return h('div', {}, h('h1', {}, 'Audit'),
    h('p', { class: 'lede' }, 'Every session start granted or refused, and every end, with the user, the access type and the result code.'),
    messages.el, filters, note, table.el);
}
