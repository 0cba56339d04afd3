// Overview: the license status and why, the time left before licenses are
// disabled, the last sync and Sync now, each allotment, tokens, and the
// capacity minutes used this month.
import { api, apiWithStatus } from '../api';
import { fmtDuration, fmtNumber, fmtTime } from '../format';
import { licenseState } from '../license-state';
import type { PageContext } from '../page';
import { badge, busy, button, errorBox, h, MessageArea } from '../ui';
import type { Allotment, License } from '../types';

const REFRESH_MS = 15_000;

const ALLOTMENT_LABELS: Record<string, string> = {
  professional: 'Professional',
  analyzer: 'Analyzer',
  analyzer_time: 'Analyzer capacity (minutes this month)',
};

function meter(used: number, quarantined: number, total: number | null, label: string): HTMLElement {
  if (total === null || total <= 0) return h('span', {});
  const pct = (n: number) => `${Math.min(100, Math.max(0, (n / total) * 100)).toFixed(1)}%`;
  // Widths go through the CSSOM (allowed by the CSP), never a style attribute.
  const u = h('span', { class: 'meter-used' });
  const q = h('span', { class: 'meter-quarantined' });
  u.style.width = pct(used);
  q.style.width = pct(quarantined);
  return h('span', { class: 'meter', role: 'img', 'aria-label': label }, u, q);
}

function capacityOf(a: Allotment): number | null {
  return a.overage < 0 ? null : a.units + a.overage;
}

function allotmentsTable(lic: License): HTMLElement {
  if (lic.allotments.length === 0) return h('p', {}, 'The license names no allotments.');
  return h('div', { class: 'table-wrap caption-hidden', role: 'region', 'aria-label': 'Allotments', tabindex: 0 },
    h('table', { class: 'data' },
      h('caption', {}, 'Allotments'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Allotment'),
        h('th', { scope: 'col', class: 'num' }, 'Units'),
        h('th', { scope: 'col', class: 'num' }, 'Overage'),
        h('th', { scope: 'col', class: 'num' }, 'Used'),
        h('th', { scope: 'col', class: 'num' }, 'Quarantined'),
        h('th', { scope: 'col', class: 'num' }, 'Available'),
        h('th', { scope: 'col' }, 'In use'))),
      h('tbody', {}, ...lic.allotments.map((a) => h('tr', { 'data-allotment': a.name },
        h('th', { scope: 'row' }, ALLOTMENT_LABELS[a.name] ?? a.name),
        h('td', { class: 'num' }, fmtNumber(a.units)),
        h('td', { class: 'num' }, a.overage < 0 ? 'unbounded' : fmtNumber(a.overage)),
        h('td', { class: 'num' }, fmtNumber(a.used)),
        h('td', { class: 'num' }, fmtNumber(a.quarantined)),
        h('td', { class: 'num' }, a.available === null ? 'unbounded' : fmtNumber(a.available)),
        h('td', {}, meter(a.used, a.quarantined, capacityOf(a),
          `${a.used} used and ${a.quarantined} quarantined of ${capacityOf(a) ?? 'unbounded'}`)))))));
}

function tokensPanel(lic: License): HTMLElement {
  const t = lic.tokens;
  if (!t || t.total === 0) return h('p', {}, 'The license has no tokens.');
  const dl = h('dl', { class: 'facts' });
  const rows: [string, number, string][] = [
    ['Total', t.total, 'the tokens of the license'],
    ['Given to login access groups', t.allocated, 'login rules, ten passes a token'],
    ['Held by user access passes', t.used, 'one token each'],
    ['In quarantine', t.quarantined, 'removed user passes still counted'],
    ['Available', t.available, 'left to give'],
  ];
  for (const [label, n, hint] of rows) dl.append(h('dt', {}, label), h('dd', {}, fmtNumber(n), h('span', { class: 'hint' }, ` (${hint})`)));
  return dl;
}

function capacityPanel(lic: License): HTMLElement {
  const a = lic.allotments.find((x) => x.name === 'analyzer_time');
  if (!a) return h('p', {}, 'The license has no analyzer capacity.');
  const pool = capacityOf(a);
  const left = pool === null ? null : Math.max(0, pool - a.used);
  return h('div', {},
    h('p', { class: 'big-number' }, `${fmtNumber(a.used)} minutes`, h('span', { class: 'hint' }, pool === null ? ' used this month (unbounded pool)' : ` used of ${fmtNumber(pool)} this month`)),
    pool !== null ? meter(a.used, 0, pool, `${a.used} of ${pool} capacity minutes used this month`) : null,
    h('p', {}, left === null ? 'The pool is unbounded.' : `${fmtNumber(left)} minutes left until the pool resets at 00:00 UTC on the 1st.`));
}

function statusPanel(lic: License, ctx: PageContext, messages: MessageArea, reload: (lic?: License) => void): HTMLElement {
  const st = licenseState(lic);
  const kind = st.level === 'ok' ? 'ok' : st.level === 'warning' ? 'warn' : 'bad';
  const syncBtn = ctx.canWrite && lic.status !== 'missing'
    ? button('Sync now', () => {
      void busy(syncBtn, async () => {
        messages.clear();
        try {
          const res = await apiWithStatus<License>('POST', '/license/actions/sync');
          const fresh = res.body as License;
          reload(fresh);
          if (res.status === 202) {
            // Not over within ALLOT_SYNC_WAIT: it goes on in allotd.
            messages.info('Sync under way', 'The license backend has not answered yet. The sync goes on; reload this page in a little while to see its outcome under Last sync attempt.');
          } else {
            messages.success('Synced with the license backend', `The license is ${fresh.status}; last verified ${fmtTime(fresh.lastVerifiedAt)}.`);
          }
        } catch (err) {
          messages.error(err);
          reload();
        }
      });
    }, { class: 'btn btn-primary' })
    : null;
  const left = st.secondsLeft;
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Status'), h('dd', {}, badge(lic.status, kind)),
    h('dt', {}, 'Last verified'), h('dd', {}, fmtTime(lic.lastVerifiedAt)),
    h('dt', {}, 'Licenses disabled at'), h('dd', {}, fmtTime(lic.disabledAt)),
    h('dt', {}, 'Time left'), h('dd', { 'data-testid': 'time-left' }, left === null ? '—' : left > 0 ? fmtDuration(left) : 'none: licenses are disabled'),
    h('dt', {}, 'Last sync attempt'), h('dd', {}, fmtTime(lic.lastSyncAttemptAt)),
    h('dt', {}, 'Last sync error'), h('dd', { 'data-testid': 'sync-error' }, lic.lastSyncError ?? 'none'));
  return h('section', { class: `panel status-panel status-${st.level}`, 'aria-labelledby': 'status-h' },
    h('h2', { id: 'status-h' }, 'License status'),
    h('div', { class: `alert alert-${st.level === 'ok' ? 'success' : st.level === 'warning' ? 'warning' : 'error'}`, role: st.level === 'ok' ? 'status' : 'alert', 'data-license-level': st.level },
      h('p', { class: 'alert-title' }, st.title),
      h('p', {}, st.why)),
    facts,
    h('div', { class: 'actions-row' },
      syncBtn,
      button('Refresh', () => reload(), { class: 'btn' })));
}

export function render(ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const body = h('div', { class: 'overview' }, h('p', { role: 'status' }, 'Loading the license…'));
  let timer = 0;

  const show = (lic: License): void => {
    ctx.licenseChanged(lic);
    const ident = lic.status === 'missing' ? h('p', {}, 'No license yet. ', h('a', { href: '/console/license', 'data-link': '' }, 'Apply a license key.'))
      : h('p', { class: 'license-ident' }, `License ${lic.licenseNumber ?? '—'} · ${lic.organization ?? '—'} · ${lic.product ?? '—'} · valid ${fmtTime(lic.validFrom)} to ${fmtTime(lic.validTo)}`);
    body.replaceChildren(
      ident,
      statusPanel(lic, ctx, messages, reload),
      h('div', { class: 'grid-2' },
        h('section', { class: 'panel', 'aria-labelledby': 'cap-h' }, h('h2', { id: 'cap-h' }, 'Analyzer capacity this month'), capacityPanel(lic)),
        h('section', { class: 'panel', 'aria-labelledby': 'tok-h' }, h('h2', { id: 'tok-h' }, 'Tokens'), tokensPanel(lic))),
      h('section', { class: 'panel', 'aria-labelledby': 'allot-h' }, h('h2', { id: 'allot-h' }, 'Allotments'), allotmentsTable(lic)));
  };

  function reload(fresh?: License): void {
    if (fresh) {
      show(fresh);
      return;
    }
    api<License>('GET', '/license').then(show).catch((err) => body.replaceChildren(errorBox(err)));
  }

  reload();
  timer = window.setInterval(() => reload(), REFRESH_MS);
  ctx.onLeave(() => window.clearInterval(timer));
  return h('div', {}, h('h1', {}, 'Overview'), messages.el, body);
}
