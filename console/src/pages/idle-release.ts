// Idle release: the policy, for professional and analyzer allocations, that
// releases an allocation not used for N days (the reaper applies it), the
// users it never touches (by group, directory or name), and its dry run: what
// it would release now.  Admins edit it; auditors read it.
import { api } from '../api';
import { fmtTime, splitList, userLabel } from '../format';
import type { PageContext } from '../page';
import { badge, busy, button, DataTable, field, h, input, MessageArea, notice } from '../ui';
import type { ExemptUser, IdleCandidate, IdleReleasePolicy, IdleReleasePreview, License } from '../types';

const TYPES: ['professional' | 'analyzer', string][] = [
  ['professional', 'Professional'],
  ['analyzer', 'Analyzer'],
];

// "CORP\ann, CORP\bob" and back.
function usersText(users: ExemptUser[]): string {
  return users.map((u) => `${u.userDirectory}\\${u.userId}`).join(', ');
}

function parseUsers(text: string): ExemptUser[] | string {
  const out: ExemptUser[] = [];
  for (const item of splitList(text)) {
    const i = item.indexOf('\\');
    if (i <= 0 || i === item.length - 1) return item;
    out.push({ userDirectory: item.slice(0, i), userId: item.slice(i + 1) });
  }
  return out;
}

function policyPanel(ctx: PageContext, type: 'professional' | 'analyzer', label: string,
  quarantineDays: () => number | null): HTMLElement {
  const messages = new MessageArea();
  const headingId = `idle-${type}-h`;
  const summary = h('p', { class: 'policy-summary', 'aria-live': 'polite' });
  const enabledIn = input({ type: 'checkbox', name: `${type}-enabled` });
  const daysIn = input({ type: 'number', name: `${type}-days`, min: 1, max: 3650, step: 1, inputmode: 'numeric', required: true });
  const groupsIn = input({ name: `${type}-groups`, placeholder: 'Board, Executives' });
  const dirsIn = input({ name: `${type}-directories`, placeholder: 'SERVICE' });
  const usersIn = input({ name: `${type}-users`, placeholder: 'CORP\\ceo' });
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, `Save ${label.toLowerCase()} policy`);
  const previewBtn = button('Dry run', () => void preview(), { class: 'btn', 'aria-label': `Dry run of the ${label.toLowerCase()} policy` });
  const previewOut = h('div', { class: 'preview' });
  let policy: IdleReleasePolicy | null = null;

  const show = (p: IdleReleasePolicy): void => {
    policy = p;
    const q = quarantineDays();
    const effective = q !== null && q > p.idleDays ? ` (the license’s quarantine, ${q} days, is longer: allocations used within it are kept)` : '';
    const ex = [
      p.exempt.groups.length ? `groups ${p.exempt.groups.join(', ')}` : '',
      p.exempt.userDirectories.length ? `directories ${p.exempt.userDirectories.join(', ')}` : '',
      p.exempt.users.length ? `users ${usersText(p.exempt.users)}` : '',
    ].filter(Boolean).join('; ');
    summary.replaceChildren(
      p.enabled ? badge('Enabled', 'ok') : badge('Disabled', 'neutral'), ' ',
      p.enabled
        ? `The reaper releases a ${label.toLowerCase()} allocation not used for ${p.idleDays} days${effective}.`
        : `Nothing is released. When enabled: allocations not used for ${p.idleDays} days${effective}.`,
      ' ', ex ? `Never released: ${ex}.` : 'No user is exempt.',
      h('span', { class: 'muted' }, ` Changed ${fmtTime(p.modifiedAt)}.`));
    enabledIn.checked = p.enabled;
    daysIn.value = String(p.idleDays);
    groupsIn.value = p.exempt.groups.join(', ');
    dirsIn.value = p.exempt.userDirectories.join(', ');
    usersIn.value = usersText(p.exempt.users);
  };

  const load = async (): Promise<void> => {
    try {
      show(await api<IdleReleasePolicy>('GET', `/allocations/idle-release/${type}`));
    } catch (err) {
      messages.error(err);
    }
  };

  async function preview(): Promise<void> {
    await busy(previewBtn, async () => {
      try {
        const p = await api<IdleReleasePreview>('GET', `/allocations/idle-release/${type}/preview?limit=1000`);
        const table = new DataTable<IdleCandidate>({
          caption: `${label} allocations the policy would release now`,
          empty: 'Nothing: no allocation is idle that long, or every idle one is exempt.',
          columns: [
            { label: 'User', value: (a) => userLabel(a.user) },
            { label: 'Idle since', value: (a) => a.idleSince, render: (a) => fmtTime(a.idleSince) },
            { label: 'Allocated', value: (a) => a.createdAt, render: (a) => fmtTime(a.createdAt) },
          ],
          load: async () => ({ data: p.data, next: null }),
          pageSize: 25,
        });
        const words = p.total === 1 ? '1 allocation' : `${p.total} allocations`;
        previewOut.replaceChildren(
          h('p', { role: 'status', class: 'preview-total' },
            `Dry run at ${fmtTime(p.at)}: ${words} would be released${policy?.enabled ? ' at the reaper’s next pass' : ' if the policy were enabled'}.`,
            p.total > p.data.length ? ` The ${p.data.length} idle longest are listed.` : ''),
          table.el);
        void table.reload();
      } catch (err) {
        messages.error(err);
      }
    });
  }

  let form: HTMLElement | null = null;
  if (ctx.canWrite) {
    form = h('form', { class: 'policy-form', 'aria-labelledby': headingId, novalidate: true },
      h('div', { class: 'form-grid' },
        h('div', { class: 'field field-check' }, h('label', {}, enabledIn, ` Release idle ${label.toLowerCase()} allocations`)),
        field('Days not used', daysIn, '1 to 3650; never less than the license’s quarantine'),
        field('Exempt groups', groupsIn, 'Comma-separated'),
        field('Exempt user directories', dirsIn, 'Comma-separated'),
        field('Exempt users', usersIn, 'Comma-separated DIRECTORY\\userId')),
      h('div', { class: 'actions-row' }, saveBtn));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const days = Number(daysIn.value);
      if (!Number.isInteger(days) || days < 1 || days > 3650) {
        messages.show(notice('error', 'Days not used must be a whole number from 1 to 3650'));
        daysIn.focus();
        return;
      }
      const users = parseUsers(usersIn.value);
      if (typeof users === 'string') {
        messages.show(notice('error', `Exempt users: “${users}” is not DIRECTORY\\userId`));
        usersIn.focus();
        return;
      }
      const body = {
        enabled: enabledIn.checked,
        idleDays: days,
        exempt: { groups: splitList(groupsIn.value), userDirectories: splitList(dirsIn.value), users },
      };
      void busy(saveBtn, async () => {
        try {
          show(await api<IdleReleasePolicy>('PUT', `/allocations/idle-release/${type}`, body));
          messages.success(`${label} policy saved`, body.enabled
            ? 'The reaper applies it at its next pass; each release goes to the audit trail.'
            : 'It is disabled: nothing is released.');
        } catch (err) {
          messages.error(err);
        }
      });
    });
  } else {
    enabledIn.disabled = true;
  }

  void load();
  return h('section', { class: 'panel', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, label),
    summary, messages.el, form,
    h('div', { class: 'actions-row' }, previewBtn),
    previewOut);
}

export function render(ctx: PageContext): HTMLElement {
  let quarantine: number | null = null;
  const panels = h('div', { class: 'policies' });
  const quarantineDays = (): number | null => quarantine;
  const build = (): void => {
    panels.replaceChildren(...TYPES.map(([t, l]) => policyPanel(ctx, t, l, quarantineDays)));
  };
  api<License>('GET', '/license').then((lic) => {
    const q = lic.parameters?.quarantineSeconds;
    quarantine = typeof q === 'number' ? Math.ceil(q / 86400) : null;
  }).catch(() => undefined).finally(build);
  return h('div', {}, h('h1', {}, 'Idle release'),
    h('p', { class: 'lede' }, 'Release professional and analyzer allocations nobody has used for a while, so that their units go to people who need them. The reaper applies an enabled policy on every pass; an allocation used within the license’s quarantine, one with a session running, and those of exempt users are never released. Each release is in the Audit page (event “release”).'),
    panels);
}
