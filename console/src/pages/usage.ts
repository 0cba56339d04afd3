// Usage: charts over 24 hours, 7, 28 and 90 days and 13 months (a year on
// year: the daily aggregates outlive the raw rows that ALLOT_RETENTION
// removes) from GET /reports/usage:
// sessions started per step by access type, refusals by result code, peak
// concurrent sessions, capacity minutes against the month's pool.  Each chart
// has its numbers in a table too (a canvas says nothing to a screen reader).
import uPlot from 'uplot';

import { api, ApiError, withQuery } from '../api';
import { accessLabel, fmtNumber, resultLabel } from '../format';
import type { PageContext } from '../page';
import { errorBox, h, notice } from '../ui';
import { ACCESS_TYPES, RESULT_CODES, type UsageReport } from '../types';

interface Range {
  id: string;
  label: string;
  step: 'hour' | 'day';
  steps: number;
}

const RANGES: Range[] = [
  { id: '24h', label: '24 hours', step: 'hour', steps: 24 },
  { id: '7d', label: '7 days', step: 'hour', steps: 7 * 24 },
  { id: '28d', label: '28 days', step: 'day', steps: 28 },
  { id: '90d', label: '90 days', step: 'day', steps: 90 },
  { id: '13m', label: '13 months', step: 'day', steps: 397 },
];

const COLORS = ['#1d4e89', '#c2410c', '#15803d', '#7e22ce', '#b45309', '#0e7490', '#be123c'];

function rangeBounds(r: Range, now = Date.now()): { from: string; to: string } {
  const size = r.step === 'hour' ? 3600_000 : 86400_000;
  const end = Math.floor(now / size) * size + size; // the current step, whole
  const start = end - r.steps * size;
  const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
  return { from: iso(start), to: iso(end) };
}

interface SeriesDef {
  label: string;
  values: number[];
  bars?: boolean;
  dash?: boolean;
}

function chart(title: string, summary: string, xs: number[], series: SeriesDef[], step: 'hour' | 'day', unit: string): HTMLElement {
  const id = `chart-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  const plotBox = h('div', { class: 'plot', 'aria-hidden': 'true' });
  const fmtX = (t: number) => {
    const iso = new Date(t * 1000).toISOString();
    return step === 'hour' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
  };
  const table = h('table', { class: 'data compact' },
    h('caption', {}, `${title} (${unit})`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, step === 'hour' ? 'Hour (UTC)' : 'Day (UTC)'),
      ...series.map((s) => h('th', { scope: 'col', class: 'num' }, s.label)))),
    h('tbody', {}, ...xs.map((x, i) => h('tr', {}, h('th', { scope: 'row' }, fmtX(x)),
      ...series.map((s) => h('td', { class: 'num' }, fmtNumber(s.values[i])))))));
  const fig = h('figure', { class: 'panel chart', 'aria-labelledby': `${id}-h`, 'data-chart': id },
    h('h2', { id: `${id}-h` }, title),
    h('figcaption', { class: 'chart-summary' }, summary),
    plotBox,
    h('details', {}, h('summary', {}, `The numbers of “${title}”`), h('div', { class: 'table-wrap', role: 'region', 'aria-label': `${title}: numbers`, tabindex: 0 }, table)));

  const bars = uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined;
  const half = step === 'hour' ? 1800 : 43200;
  const opts: uPlot.Options = {
    width: 600,
    height: 220,
    // Half a step of room at each end, so the first and last bars show whole.
    scales: {
      x: { time: true, range: (_u, min, max) => [min - half, max + half] },
      y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max)] },
    },
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: step === 'hour' ? 'Hour (UTC)' : 'Day (UTC)', value: (_u, v) => (v === null ? '—' : fmtX(v)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        fill: s.bars ? `${COLORS[i % COLORS.length]}55` : undefined,
        dash: s.dash ? [6, 4] : undefined,
        paths: s.bars ? bars : undefined,
        points: { show: !s.bars && xs.length <= 48 },
      })),
    ],
    // Hours read HH:MM, and a midnight its date (MM-DD); days read MM-DD, or
    // YYYY-MM-DD over 13 months.
    axes: [{
      values: (_u, splits) => splits.map((t) => {
        const iso = new Date(t * 1000).toISOString();
        if (step === 'hour' && iso.slice(11, 16) !== '00:00') return iso.slice(11, 16);
        return xs.length > 120 ? iso.slice(0, 10) : iso.slice(5, 10); // over a year: the year too
      }),
    }, {}],
  };
  const data: uPlot.AlignedData = [xs, ...series.map((s) => s.values)];
  // Drawn once the figure is in the page, at the width it has there.
  requestAnimationFrame(() => {
    const width = Math.max(320, Math.floor(plotBox.clientWidth || 600));
    const plot = new uPlot({ ...opts, width }, data, plotBox);
    const ro = new ResizeObserver(() => {
      const w = Math.max(320, Math.floor(plotBox.clientWidth));
      if (w && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height: 220 });
    });
    ro.observe(plotBox);
    fig.dataset.rendered = 'true';
  });
  return fig;
}

function keysWithData(rows: Record<string, number>[], preferred: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (v > 0) seen.add(k);
  const ordered = preferred.filter((k) => seen.has(k));
  for (const k of seen) if (!ordered.includes(k)) ordered.push(k);
  return ordered;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function charts(rep: UsageReport): HTMLElement[] {
  const xs = rep.points.map((p) => Date.parse(p.start) / 1000);
  const started = keysWithData(rep.points.map((p) => p.sessionsStarted), ACCESS_TYPES);
  const refused = keysWithData(rep.points.map((p) => p.refusals), RESULT_CODES);
  const startedSeries = (started.length ? started : ['professional']).map((k) => ({
    label: accessLabel(k), values: rep.points.map((p) => p.sessionsStarted[k] ?? 0),
  }));
  const refusedSeries = (refused.length ? refused : ['NoAvailableAccessType']).map((k) => ({
    label: resultLabel(k), values: rep.points.map((p) => p.refusals[k] ?? 0), bars: true,
  }));
  const peak = rep.points.map((p) => p.peakConcurrentSessions);
  const cap = rep.points.map((p) => p.capacityMinutes);
  const capMonth = rep.points.map((p) => p.capacityMinutesMonthToDate);
  const perStep = rep.step === 'hour' ? 'per hour' : 'per day';
  const capSeries: SeriesDef[] = [
    { label: `Minutes charged ${perStep}`, values: cap, bars: true },
    { label: 'Minutes this month so far', values: capMonth },
  ];
  if (rep.capacityPoolMinutes !== null) capSeries.push({ label: 'Month’s pool', values: rep.points.map(() => rep.capacityPoolMinutes ?? 0), dash: true });
  const totalStarted = sum(startedSeries.map((s) => sum(s.values)));
  const totalRefused = sum(refusedSeries.map((s) => sum(s.values)));
  return [
    chart('Sessions started', `${fmtNumber(totalStarted)} sessions started ${perStep === 'per hour' ? 'in' : 'over'} this period, ${perStep}, by access type.`, xs, startedSeries, rep.step, 'sessions'),
    chart('Refusals', `${fmtNumber(totalRefused)} session starts refused, ${perStep}, by result code.`, xs, refusedSeries, rep.step, 'refusals'),
    chart('Peak concurrent sessions', `At most ${fmtNumber(Math.max(0, ...peak))} sessions at once in this period.`, xs, [{ label: 'Peak sessions', values: peak }], rep.step, 'sessions'),
    chart('Analyzer capacity', rep.capacityPoolMinutes === null
      ? `${fmtNumber(sum(cap))} capacity minutes charged; the license has no capacity pool.`
      : `${fmtNumber(sum(cap))} capacity minutes charged in this period; the month’s pool is ${fmtNumber(rep.capacityPoolMinutes)} minutes.`, xs, capSeries, rep.step, 'minutes'),
  ];
}

export function render(ctx: PageContext): HTMLElement {
  const current = RANGES.find((r) => r.id === ctx.query.get('range')) ?? RANGES[1];
  const body = h('div', { class: 'charts', 'aria-live': 'polite' });
  const buttons = RANGES.map((r) => h('button', {
    type: 'button', class: 'btn seg', 'aria-pressed': r === current ? 'true' : 'false',
    onclick: () => {
      ctx.setQuery({ range: r.id });
      for (const b of buttons) b.setAttribute('aria-pressed', b === buttons[RANGES.indexOf(r)] ? 'true' : 'false');
      void load(r);
    },
  }, r.label));

  // allotd answers 503 while it rolls a long audit trail up (the first start
  // after an upgrade) or cannot reach its database: the page tries again.
  let retry: ReturnType<typeof setTimeout> | undefined;
  ctx.onLeave(() => clearTimeout(retry));
  let shown = current;

  async function load(r: Range): Promise<void> {
    shown = r;
    clearTimeout(retry);
    body.replaceChildren(h('p', { role: 'status' }, 'Loading the report…'));
    const { from, to } = rangeBounds(r);
    try {
      const rep = await api<UsageReport>('GET', withQuery('/reports/usage', { from, to, step: r.step }));
      if (shown !== r) return; // another period was chosen meanwhile
      body.replaceChildren(h('p', { class: 'hint' }, `From ${from.replace('T', ' ').replace('Z', ' UTC')} to ${to.replace('T', ' ').replace('Z', ' UTC')}, ${r.step === 'hour' ? 'hourly' : 'daily'}.`),
        h('div', { class: 'chart-grid' }, ...charts(rep)));
    } catch (err) {
      if (shown !== r) return;
      if (err instanceof ApiError && err.status === 503) {
        body.replaceChildren(notice('info', 'The usage history is not ready yet', err.message,
          'This page tries again in 10 seconds.'));
        retry = setTimeout(() => void load(r), 10_000);
      } else {
        body.replaceChildren(errorBox(err));
      }
    }
  }

  void load(current);
  return h('div', {}, h('h1', {}, 'Usage'),
    h('div', { class: 'segmented', role: 'group', 'aria-label': 'Period' }, ...buttons),
    body);
}
