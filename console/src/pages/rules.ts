// Rules (access groups): create, edit and delete professional, analyzer,
// login (with tokens) and capacity rules, matching by groups and directories.
import { api, withQuery, type Page } from '../api';
import { accessLabel, fmtTime, splitList } from '../format';
import type { PageContext } from '../page';
import { busy, button, confirmDialog, DataTable, field, h, input, MessageArea, notice, select } from '../ui';
import type { Rule, RuleAccessType } from '../types';

const KINDS: [RuleAccessType, string][] = [
  ['professional', 'Professional (assigns a unit at the next session)'],
  ['analyzer', 'Analyzer (assigns a unit at the next session)'],
  ['login', 'Login access passes (takes tokens)'],
  ['analyzer_time', 'Analyzer capacity (minutes from the monthly pool)'],
];

const KIND_SHORT: Record<string, string> = {
  professional: 'Professional', analyzer: 'Analyzer', login: 'Login passes', analyzer_time: 'Analyzer capacity',
};

export function render(ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const table = new DataTable<Rule>({
    caption: 'Rules',
    empty: 'No rule yet.',
    columns: [
      { label: 'Name', value: (r) => r.name },
      { label: 'Access type', value: (r) => KIND_SHORT[r.accessType] ?? accessLabel(r.accessType) },
      { label: 'Groups', value: (r) => r.match.groups.join(', ') },
      { label: 'Directories', value: (r) => r.match.userDirectories.join(', ') },
      { label: 'Tokens', value: (r) => r.tokens, numeric: true },
      { label: 'Modified', value: (r) => r.modifiedAt, render: (r) => fmtTime(r.modifiedAt) },
    ],
    load: async (limit, next) => {
      const page = await api<Page<Rule>>('GET', next ?? withQuery('/allocations/rules', { limit }));
      return { data: page.data, next: page.links.next };
    },
    actions: ctx.canWrite ? (r) => [
      button('Edit', () => edit(r), { class: 'btn btn-small', 'aria-label': `Edit rule ${r.name}` }),
      button('Delete', () => void remove(r), { class: 'btn btn-small btn-danger', 'aria-label': `Delete rule ${r.name}` }),
    ] : undefined,
  });

  // One form for create and edit.
  let editing: Rule | null = null;
  const formTitle = h('h2', { id: 'rule-h' }, 'New rule');
  const nameIn = input({ name: 'name', required: true, maxlength: 200 });
  const kindSel = select(KINDS, 'professional');
  const groupsIn = input({ name: 'groups', placeholder: 'Sales, EMEA' });
  const dirsIn = input({ name: 'directories', placeholder: 'CORP' });
  const tokensIn = input({ name: 'tokens', type: 'number', min: 0, step: 1, value: '1', inputmode: 'numeric' });
  const tokensField = field('Tokens', tokensIn, 'Each token buys ten login passes; they are taken from the license when the rule is saved.');
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create rule');
  const cancelBtn = button('Cancel editing', () => resetForm(), { class: 'btn', hidden: true });
  const syncTokens = (): void => {
    tokensField.hidden = kindSel.value !== 'login';
  };
  kindSel.addEventListener('change', syncTokens);

  function resetForm(): void {
    editing = null;
    formTitle.textContent = 'New rule';
    saveBtn.textContent = 'Create rule';
    cancelBtn.hidden = true;
    kindSel.disabled = false;
    nameIn.value = '';
    groupsIn.value = '';
    dirsIn.value = '';
    tokensIn.value = '1';
    kindSel.value = 'professional';
    syncTokens();
  }

  function edit(r: Rule): void {
    editing = r;
    formTitle.textContent = `Edit rule ${r.name}`;
    saveBtn.textContent = 'Save changes';
    cancelBtn.hidden = false;
    nameIn.value = r.name;
    kindSel.value = r.accessType;
    kindSel.disabled = true; // the access type of a rule does not change
    groupsIn.value = r.match.groups.join(', ');
    dirsIn.value = r.match.userDirectories.join(', ');
    tokensIn.value = r.tokens === null ? '0' : String(r.tokens);
    syncTokens();
    nameIn.focus();
  }

  async function remove(r: Rule): Promise<void> {
    const ok = await confirmDialog(`Delete rule ${r.name}?`, [
      r.accessType === 'login'
        ? 'The group’s tokens go back to the license: one token for every ten passes that are unused or have returned. Passes in use keep their tokens until they return.'
        : r.accessType === 'analyzer_time'
          ? 'Matching users no longer draw analyzer capacity minutes.'
          : 'Matching users are no longer given a unit at their next session. Allocations the rule already made stay.',
    ], 'Delete rule');
    if (!ok) return;
    try {
      await api('DELETE', `/allocations/rules/${r.id}`);
      messages.success('Rule deleted', `${r.name} is gone.`);
      if (editing?.id === r.id) resetForm();
      await table.reload();
    } catch (err) {
      messages.error(err);
    }
  }

  let form: HTMLElement | null = null;
  if (ctx.canWrite) {
    form = h('form', { class: 'panel create', 'aria-labelledby': 'rule-h', novalidate: true },
      formTitle,
      h('div', { class: 'form-grid' },
        field('Name', nameIn),
        field('Access type', kindSel),
        field('Groups', groupsIn, 'Comma-separated; users in any of them match'),
        field('User directories', dirsIn, 'Comma-separated; users of any of them match'),
        tokensField),
      h('div', { class: 'actions-row' }, saveBtn, cancelBtn));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = nameIn.value.trim();
      const match = { groups: splitList(groupsIn.value), userDirectories: splitList(dirsIn.value) };
      if (!name) {
        messages.show(notice('error', 'The rule needs a name'));
        nameIn.focus();
        return;
      }
      if (match.groups.length === 0 && match.userDirectories.length === 0) {
        messages.show(notice('error', 'Say whom the rule matches', 'Name at least one group or user directory.'));
        groupsIn.focus();
        return;
      }
      const accessType = (editing?.accessType ?? kindSel.value) as RuleAccessType;
      const body: Record<string, unknown> = { name, match };
      if (accessType === 'login') {
        const tokens = Number(tokensIn.value);
        if (!Number.isInteger(tokens) || tokens < 0) {
          messages.show(notice('error', 'Tokens must be a whole number, 0 or more'));
          tokensIn.focus();
          return;
        }
        body.tokens = tokens;
      }
      void busy(saveBtn, async () => {
        try {
          if (editing) {
            await api<Rule>('PATCH', `/allocations/rules/${editing.id}`, body);
            messages.success('Rule saved', `${name} is changed.`);
          } else {
            await api<Rule>('POST', '/allocations/rules', { ...body, accessType });
            messages.success('Rule created', accessType === 'login'
              ? `${name} took ${String(body.tokens)} token(s) from the license: ${Number(body.tokens) * 10} login passes for its users.`
              : `${name} applies from the next session start of a matching user.`);
          }
          resetForm();
          await table.reload();
        } catch (err) {
          messages.error(err);
        }
      });
    });
    syncTokens();
  }

  void table.reload();
  return h('div', {}, h('h1', {}, 'Rules'),
    h('p', { class: 'lede' }, 'Rules give access by user attributes: professional and analyzer rules assign a unit at the next session start if one is free, login rules hold tokens for login passes, capacity rules let users draw analyzer minutes.'),
    messages.el, form, table.el);
}
