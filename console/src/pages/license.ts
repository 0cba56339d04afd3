// License: the license in force, apply a key, upload an air-gapped
// definition, and the parameters in force.
import { api } from '../api';
import { fmtDuration, fmtNumber, fmtTime } from '../format';
import type { PageContext } from '../page';
import { busy, errorBox, field, h, MessageArea, notice } from '../ui';
import type { License } from '../types';

const PARAMS: [string, string, 'seconds' | 'count'][] = [
  ['offlineGraceSeconds', 'How long the license stays usable without a verification', 'seconds'],
  ['capacityUnitSeconds', 'The block in which analyzer capacity is charged', 'seconds'],
  ['loginPassSeconds', 'The window a login pass opens from its first use', 'seconds'],
  ['maxParallelSessions', 'The most sessions of one user active at once', 'count'],
  ['passReturnSeconds', 'How long after its use a login pass returns to its group', 'seconds'],
  ['sessionLingerSeconds', 'How long an ended session keeps its parallel-session slot', 'seconds'],
  ['quarantineSeconds', 'How long a removed allocation stays in quarantine after its last use', 'seconds'],
  ['definitionRefreshSeconds', 'How often the definition is re-read from the backend at the latest', 'seconds'],
];

function details(lic: License): HTMLElement {
  if (lic.status === 'missing') return h('p', {}, 'No license is applied yet.');
  const dl = h('dl', { class: 'facts' });
  const rows: [string, string][] = [
    ['License number', lic.licenseNumber ?? '—'], ['Organization', lic.organization ?? '—'], ['Product', lic.product ?? '—'],
    ['Status', lic.status], ['Valid from', fmtTime(lic.validFrom)], ['Valid to', fmtTime(lic.validTo)],
    ['Signed', fmtTime(lic.issuedAt)], ['Last verified', fmtTime(lic.lastVerifiedAt)],
    ['Tokens converted', lic.conversionDate ? fmtTime(lic.conversionDate) : 'never'],
  ];
  for (const [k, v] of rows) dl.append(h('dt', {}, k), h('dd', {}, v));
  return dl;
}

function parameters(lic: License): HTMLElement {
  const known = new Set(PARAMS.map((p) => p[0]));
  const extra = Object.keys(lic.parameters ?? {}).filter((k) => !known.has(k));
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Parameters in force', tabindex: 0 },
    h('table', { class: 'data' },
      h('caption', {}, 'Parameters in force (signed into the license; defaults where it names none)'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Parameter'), h('th', { scope: 'col', class: 'num' }, 'Value'), h('th', { scope: 'col' }, 'Meaning'))),
      h('tbody', {},
        ...PARAMS.map(([name, meaning, kind]) => {
          const v = lic.parameters?.[name];
          const shown = v === undefined ? '—' : kind === 'seconds' ? `${fmtNumber(v)} s (${fmtDuration(v)})` : fmtNumber(v);
          return h('tr', {}, h('th', { scope: 'row' }, h('code', {}, name)), h('td', { class: 'num' }, shown), h('td', {}, meaning));
        }),
        ...extra.map((name) => h('tr', {}, h('th', { scope: 'row' }, h('code', {}, name)), h('td', { class: 'num' }, fmtNumber(lic.parameters[name])), h('td', {}, ''))))));
}

export function render(ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const info = h('div', {}, h('p', { role: 'status' }, 'Loading the license…'));
  const params = h('div');

  const load = (fresh?: License): void => {
    const show = (lic: License) => {
      ctx.licenseChanged(lic);
      info.replaceChildren(details(lic));
      params.replaceChildren(parameters(lic));
    };
    if (fresh) show(fresh);
    else api<License>('GET', '/license').then(show).catch((err) => info.replaceChildren(errorBox(err)));
  };

  const forms: HTMLElement[] = [];
  if (ctx.canWrite) {
    const keyIn = h('textarea', { name: 'key', rows: 4, spellcheck: 'false', autocomplete: 'off', class: 'mono' });
    const applyBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply license key');
    const keyForm = h('form', { class: 'panel', 'aria-labelledby': 'key-h', novalidate: true },
      h('h2', { id: 'key-h' }, 'Apply a license key'),
      field('License key', keyIn, 'The signed key from your vendor (header.payload.signature). allotd verifies it, stores it and syncs.'),
      applyBtn);
    keyForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const key = keyIn.value.trim();
      if (!key) {
        messages.show(notice('error', 'Paste a license key first'));
        keyIn.focus();
        return;
      }
      void busy(applyBtn, async () => {
        try {
          const lic = await api<License>('PUT', '/license', { key });
          keyIn.value = '';
          load(lic);
          messages.success('License applied', `License ${lic.licenseNumber ?? ''} is ${lic.status}.` +
            (lic.lastSyncError ? ` The first sync failed: ${lic.lastSyncError}.` : ''));
        } catch (err) {
          messages.error(err);
        }
      });
    });

    const fileIn = h('input', { type: 'file', name: 'definition-file', accept: '.jws,.txt,text/plain,application/jose' });
    const defIn = h('textarea', { name: 'definition', rows: 4, spellcheck: 'false', autocomplete: 'off', class: 'mono' });
    fileIn.addEventListener('change', () => {
      const f = fileIn.files?.[0];
      if (!f) return;
      if (f.size > 256 * 1024) {
        messages.show(notice('error', 'This file is too large to be a definition', 'A definition printed by allot-authority export is a few kilobytes.'));
        return;
      }
      void f.text().then((t) => { defIn.value = t.trim(); });
    });
    const defBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply definition');
    const defForm = h('form', { class: 'panel', 'aria-labelledby': 'def-h', novalidate: true },
      h('h2', { id: 'def-h' }, 'Air-gapped site: apply a signed definition'),
      h('p', {}, 'Without a network path to the license backend, the vendor exports a signed definition (allot-authority export). It counts as a verification at the time it was signed.'),
      field('Definition file', fileIn), field('Or paste the definition', defIn), defBtn);
    defForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const definition = defIn.value.trim();
      if (!definition) {
        messages.show(notice('error', 'Choose a definition file or paste one first'));
        return;
      }
      void busy(defBtn, async () => {
        try {
          const lic = await api<License>('PUT', '/license/definition', { definition });
          defIn.value = '';
          fileIn.value = '';
          load(lic);
          messages.success('Definition applied', `License ${lic.licenseNumber ?? ''} is ${lic.status}; licenses are disabled at ${fmtTime(lic.disabledAt)} unless verified again.`);
        } catch (err) {
          messages.error(err);
        }
      });
    });
    forms.push(keyForm, defForm);
  }

  load();
  return h('div', {}, h('h1', {}, 'License'), messages.el,
    h('section', { class: 'panel', 'aria-labelledby': 'lic-h' }, h('h2', { id: 'lic-h' }, 'The license in force'), info),
    ...forms,
    h('section', { class: 'panel', 'aria-labelledby': 'par-h' }, h('h2', { id: 'par-h' }, 'Parameters'), params));
}
