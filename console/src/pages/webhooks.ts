// Webhooks: subscriptions to alerts (license disabled soon, stale, syncs,
// revocation, validTo near, an allotment running low, refusals) and the
// delivery log of each.  Admins subscribe (the signing secret is shown once),
// send a test event and unsubscribe; auditors read.
import { api, withQuery, type Page } from '../api';
import { fmtTime } from '../format';
import type { PageContext } from '../page';
import { badge, busy, button, confirmDialog, DataTable, field, h, input, MessageArea, notice, select } from '../ui';
import type { Webhook, WebhookCreated, WebhookDelivery, WebhookEvent } from '../types';

interface EventChoice {
  type: string;
  label: string;
  params: { name: keyof WebhookEvent; label: string; def: string; min: number; max: number }[];
}

const EVENTS: EventChoice[] = [
  { type: 'license.disabling', label: 'Licenses will be disabled soon', params: [{ name: 'hours', label: 'Hours before', def: '24', min: 1, max: 8760 }] },
  { type: 'license.stale', label: 'The license is stale (licenses disabled)', params: [] },
  { type: 'sync.failed', label: 'Syncs with the license backend failed', params: [{ name: 'failures', label: 'Failures in a row', def: '1', min: 1, max: 1000 }] },
  { type: 'sync.recovered', label: 'A sync succeeded again after failures', params: [] },
  { type: 'license.revoked', label: 'The license was revoked', params: [] },
  { type: 'license.expiring', label: 'validTo is near', params: [{ name: 'days', label: 'Days before', def: '30', min: 1, max: 3650 }] },
  { type: 'allotment.low', label: 'An allotment is running low', params: [{ name: 'below', label: 'Available below', def: '5', min: 1, max: 1000000000 }] },
  { type: 'refusals.high', label: 'Many session starts refused', params: [{ name: 'count', label: 'More than', def: '50', min: 1, max: 1000000 }, { name: 'seconds', label: 'Within seconds', def: '60', min: 1, max: 86400 }] },
];

function describe(e: WebhookEvent): string {
  switch (e.type) {
    case 'license.disabling': return `disabled within ${e.hours} h`;
    case 'license.expiring': return `validTo within ${e.days} d`;
    case 'sync.failed': return `sync failed ×${e.failures}`;
    case 'allotment.low': return `${e.allotment} below ${e.below}`;
    case 'refusals.high': return `> ${e.count} refusals / ${e.seconds} s`;
    default: return e.type;
  }
}

function outcomeBadge(d: WebhookDelivery): HTMLElement {
  return badge(d.outcome, d.outcome === 'delivered' ? 'ok' : d.outcome === 'retrying' ? 'warn' : 'bad');
}

export function render(ctx: PageContext): HTMLElement {
  const messages = new MessageArea();
  const secretSlot = h('div', { 'aria-live': 'polite' });
  const logTitle = h('h2', { id: 'log-h' }, 'Delivery log');
  let selected: Webhook | null = null;

  const log = new DataTable<WebhookDelivery>({
    caption: 'Delivery attempts, newest first',
    empty: 'No delivery attempt yet.',
    columns: [
      { label: 'Attempted', value: (d) => d.attemptedAt, render: (d) => fmtTime(d.attemptedAt) },
      { label: 'Event', value: (d) => d.eventType, render: (d) => h('span', { class: 'mono', title: d.eventId }, d.eventType) },
      { label: 'Attempt', value: (d) => d.attempt },
      { label: 'Outcome', value: (d) => d.outcome, render: outcomeBadge },
      { label: 'HTTP', value: (d) => d.statusCode ?? 0, render: (d) => d.statusCode === null ? '—' : String(d.statusCode) },
      { label: 'Error', value: (d) => d.error ?? '', render: (d) => d.error ?? '' },
      { label: 'ms', value: (d) => d.durationMs },
      { label: 'Next attempt', value: (d) => d.nextAttemptAt ?? '', render: (d) => fmtTime(d.nextAttemptAt) },
    ],
    load: async (limit, next) => {
      if (!selected) return { data: [], next: null };
      const page = await api<Page<WebhookDelivery>>('GET', next ?? withQuery(`/webhooks/${encodeURIComponent(selected.id)}/deliveries`, { limit }));
      return { data: page.data, next: page.links.next };
    },
  });
  const logBlock = h('section', { class: 'panel', 'aria-labelledby': 'log-h', hidden: true }, logTitle, log.el);

  function showLog(w: Webhook): void {
    selected = w;
    ctx.setQuery({ webhook: w.id });
    logTitle.textContent = `Delivery log of ${w.description || w.url}`;
    logBlock.hidden = false;
    void log.reload();
  }

  const table = new DataTable<Webhook>({
    caption: 'Subscriptions',
    empty: 'No subscription: nobody is alerted.',
    columns: [
      { label: 'URL', value: (w) => w.url, render: (w) => h('span', { class: 'mono' }, w.url) },
      { label: 'Description', value: (w) => w.description },
      { label: 'Events', value: (w) => w.events.map(describe).join(', ') },
      { label: 'Pending', value: (w) => w.pendingDeliveries },
      { label: 'Failed', value: (w) => w.failedDeliveries, render: (w) => w.failedDeliveries > 0 ? badge(String(w.failedDeliveries), 'bad') : '0' },
      { label: 'Created', value: (w) => w.createdAt, render: (w) => fmtTime(w.createdAt) },
    ],
    load: async (limit, next) => {
      const page = await api<Page<Webhook>>('GET', next ?? withQuery('/webhooks', { limit }));
      const wanted = ctx.query.get('webhook');
      const hit = page.data.find((w) => w.id === wanted);
      if (hit && !selected) showLog(hit);
      return { data: page.data, next: page.links.next };
    },
    actions: (w) => [
      button('Delivery log', () => showLog(w), { class: 'btn btn-small', 'aria-label': `Delivery log of ${w.url}` }),
      ctx.canWrite ? button('Send test', () => void sendTest(w), { class: 'btn btn-small', 'aria-label': `Send test to ${w.url}` }) : null,
      ctx.canWrite ? button('Delete', () => void remove(w), { class: 'btn btn-small btn-danger', 'aria-label': `Delete the subscription of ${w.url}` }) : null,
    ],
  });

  async function sendTest(w: Webhook): Promise<void> {
    try {
      await api('POST', `/webhooks/${encodeURIComponent(w.id)}/actions/test`);
      messages.success('Test event written', 'It is sent at once; the delivery log shows how it went.');
      showLog(w);
      setTimeout(() => { if (selected?.id === w.id) void log.reload(); }, 1500);
    } catch (err) {
      messages.error(err);
    }
  }

  async function remove(w: Webhook): Promise<void> {
    const ok = await confirmDialog(`Delete the subscription of ${w.url}?`, [
      'It is alerted no more; its pending deliveries and its delivery log go with it.',
    ], 'Delete subscription');
    if (!ok) return;
    try {
      await api('DELETE', `/webhooks/${encodeURIComponent(w.id)}`);
      messages.success('Subscription deleted', w.url);
      if (selected?.id === w.id) {
        selected = null;
        logBlock.hidden = true;
        ctx.setQuery({ webhook: undefined });
      }
      await table.reload();
    } catch (err) {
      messages.error(err);
    }
  }

  const parts: HTMLElement[] = [h('h1', {}, 'Webhooks'),
    h('p', {}, 'allotd POSTs each alert to the URLs subscribed here, signed in the Standard Webhooks form (webhook-id, webhook-timestamp, webhook-signature), and retries with a growing wait until the receiver answers 2xx.'),
    messages.el, secretSlot];

  if (ctx.canWrite) {
    const urlIn = input({ name: 'url', type: 'url', required: true, maxlength: 2048, placeholder: 'https://alerts.example.com/allot' });
    const descIn = input({ name: 'description', maxlength: 200 });
    const rows: { choice: EventChoice; box: HTMLInputElement; inputs: HTMLInputElement[]; allot?: HTMLSelectElement }[] = [];
    const list = h('div', { class: 'event-choices' });
    for (const choice of EVENTS) {
      const id = `ev-${choice.type.replace('.', '-')}`;
      const box = h('input', { type: 'checkbox', id, name: choice.type });
      const inputs = choice.params.map((p) => input({ type: 'number', name: `${choice.type}.${p.name}`, value: p.def, min: p.min, max: p.max, class: 'narrow', 'aria-label': `${choice.label}: ${p.label}` }));
      const allot = choice.type === 'allotment.low' ? select([['professional', 'professional'], ['analyzer', 'analyzer']], 'professional', { 'aria-label': 'Allotment' }) : undefined;
      rows.push({ choice, box, inputs, allot });
      list.append(h('div', { class: 'event-choice inline' },
        box, h('label', { for: id }, choice.label),
        ...(allot ? [allot] : []),
        ...choice.params.map((p, i) => h('span', { class: 'param' }, `${p.label} `, inputs[i]))));
    }
    const createBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Subscribe');
    const form = h('form', { class: 'panel create', 'aria-labelledby': 'hook-h', novalidate: true },
      h('h2', { id: 'hook-h' }, 'New subscription'),
      h('div', { class: 'form-grid' }, field('URL', urlIn, 'allotd POSTs to it from the server: use a receiver you trust'), field('Description', descIn)),
      h('fieldset', {}, h('legend', {}, 'Events'), list),
      createBtn);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const url = urlIn.value.trim();
      const events: WebhookEvent[] = [];
      for (const r of rows) {
        if (!r.box.checked) continue;
        const e: WebhookEvent = { type: r.choice.type };
        r.choice.params.forEach((p, i) => { (e as unknown as Record<string, number>)[p.name] = Number(r.inputs[i].value); });
        if (r.allot) e.allotment = r.allot.value as 'professional' | 'analyzer';
        events.push(e);
      }
      if (!url || events.length === 0) {
        messages.show(notice('error', !url ? 'Give the URL to alert' : 'Choose at least one event'));
        (url ? rows[0].box : urlIn).focus();
        return;
      }
      void busy(createBtn, async () => {
        try {
          const w = await api<WebhookCreated>('POST', '/webhooks', { url, description: descIn.value.trim(), events });
          urlIn.value = '';
          descIn.value = '';
          const secret = h('input', { type: 'text', readonly: true, value: w.secret, class: 'mono secret', id: 'new-hook-secret', 'aria-describedby': 'new-hook-note' });
          secretSlot.replaceChildren(h('div', { class: 'alert alert-warning', role: 'alert' },
            h('p', { class: 'alert-title' }, `The signing secret of ${w.url}`),
            h('p', { id: 'new-hook-note' }, 'Give it to the receiver now: it is shown this once. The receiver checks webhook-signature with it.'),
            h('div', { class: 'inline' }, h('label', { for: 'new-hook-secret', class: 'visually-hidden' }, 'New webhook secret'), secret),
            button('I have saved it', () => secretSlot.replaceChildren(), { class: 'btn' })));
          secret.focus();
          secret.select();
          await table.reload();
        } catch (err) {
          messages.error(err);
        }
      });
    });
    parts.push(form);
  }
  parts.push(table.el, logBlock);
  void table.reload();
  return h('div', {}, ...parts);
}
