// DOM helpers and the shared widgets: banners, forms, dialogs and the sortable,
// paged table.  Text always goes in as text (never as HTML), so data from the
// server cannot inject markup.
import { explain } from './errors';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = String(v);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el: HTMLElement, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

let idCounter = 0;
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// ---- messages ---------------------------------------------------------------

// An error box: what happened, the server's message, what to do.
export function errorBox(err: unknown): HTMLElement {
  const e = explain(err);
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('p', { class: 'alert-title' }, e.title),
    h('p', {}, e.message),
    h('p', { class: 'advice' }, h('strong', {}, 'What to do: '), e.advice),
    e.detail ? h('p', { class: 'detail' }, e.detail) : null);
}

export function notice(kind: 'info' | 'success' | 'warning' | 'error', title: string, ...body: Child[]): HTMLElement {
  return h('div', { class: `alert alert-${kind}`, role: kind === 'error' || kind === 'warning' ? 'alert' : 'status' },
    h('p', { class: 'alert-title' }, title), ...body.map((b) => (typeof b === 'string' ? h('p', {}, b) : b)));
}

// A place on a page where the outcome of the last action is said (a live region).
export class MessageArea {
  readonly el = h('div', { class: 'messages', 'aria-live': 'polite' });
  show(node: HTMLElement): void {
    this.el.replaceChildren(node);
    node.scrollIntoView?.({ block: 'nearest' });
  }
  success(title: string, ...body: Child[]): void {
    this.show(notice('success', title, ...body));
  }
  info(title: string, ...body: Child[]): void {
    this.show(notice('info', title, ...body));
  }
  error(err: unknown): void {
    this.show(errorBox(err));
  }
  clear(): void {
    this.el.replaceChildren();
  }
}

// ---- forms --------------------------------------------------------------------

export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  if (!control.id) control.id = uid('f');
  const hintEl = hint ? h('span', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

export function input(attrs: Attrs = {}): HTMLInputElement {
  return h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

export function select(options: [string, string][], value = '', attrs: Attrs = {}): HTMLSelectElement {
  const s = h('select', attrs);
  for (const [v, label] of options) s.append(h('option', { value: v }, label));
  s.value = value;
  return s;
}

export function button(label: string, onclick: (ev: Event) => void, attrs: Attrs = {}): HTMLButtonElement {
  return h('button', { type: 'button', class: 'btn', ...attrs, onclick: onclick as EventListener }, label);
}

// Runs an action with its button disabled meanwhile.
export async function busy<T>(btn: HTMLButtonElement | null, fn: () => Promise<T>): Promise<T> {
  if (btn) btn.disabled = true;
  try {
    return await fn();
  } finally {
    if (btn) btn.disabled = false;
  }
}

// ---- dialogs ------------------------------------------------------------------

// A modal question (the native <dialog>: focus is trapped and Escape cancels).
export function confirmDialog(title: string, body: (Node | string)[], confirmLabel: string, danger = true): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
    const ok = button(confirmLabel, () => dlg.close('ok'), { class: danger ? 'btn btn-danger' : 'btn btn-primary' });
    const cancel = button('Cancel', () => dlg.close('cancel'));
    dlg.append(
      h('h2', { id: titleId }, title),
      ...body.map((b) => (typeof b === 'string' ? h('p', {}, b) : b)),
      h('div', { class: 'dialog-actions' }, cancel, ok));
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

// ---- the table ----------------------------------------------------------------

export interface Column<T> {
  label: string;
  value: (row: T) => string | number | null; // what the column sorts by (and shows without render)
  render?: (row: T) => Node | string;
  numeric?: boolean;
}

export interface PageResult<T> {
  data: T[];
  next: string | null;
}

export interface TableOptions<T> {
  caption: string;
  columns: Column<T>[];
  // first page (cursorUrl undefined) or the page at links.next
  load: (limit: number, nextUrl?: string) => Promise<PageResult<T>>;
  actions?: (row: T) => (Node | null)[];
  empty: string;
  pageSize?: number;
}

// A table of one server page at a time (keyset pages: Next follows links.next,
// Previous goes back through the pages seen), sortable by any column within the
// page shown.
export class DataTable<T> {
  readonly el: HTMLElement;
  private readonly opts: TableOptions<T>;
  private rows: T[] = [];
  private pages: (string | undefined)[] = [undefined]; // the URL of each page seen
  private pageIndex = 0;
  private next: string | null = null;
  private sortCol = -1;
  private sortDir: 1 | -1 = 1;
  private limit: number;
  private readonly tbody = h('tbody');
  private readonly thead = h('thead');
  private readonly status = h('p', { class: 'table-status', 'aria-live': 'polite' });
  private readonly prevBtn: HTMLButtonElement;
  private readonly nextBtn: HTMLButtonElement;
  private readonly pageLabel = h('span', { class: 'page-label' });
  private readonly error = h('div');

  constructor(opts: TableOptions<T>) {
    this.opts = opts;
    this.limit = opts.pageSize ?? 25;
    const captionId = uid('cap');
    const table = h('table', { class: 'data' }, h('caption', { id: captionId }, opts.caption), this.thead, this.tbody);
    this.prevBtn = button('Previous page', () => void this.go(this.pageIndex - 1));
    this.nextBtn = button('Next page', () => void this.go(this.pageIndex + 1));
    const sizeSel = select([['10', '10'], ['25', '25'], ['50', '50'], ['100', '100']], String(this.limit));
    sizeSel.addEventListener('change', () => {
      this.limit = Number(sizeSel.value);
      void this.reload();
    });
    this.el = h('div', { class: 'table-block' },
      this.error,
      h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': captionId, tabindex: 0 }, table),
      h('div', { class: 'pager' },
        this.status,
        h('div', { class: 'pager-controls' },
          field('Rows per page', sizeSel), this.prevBtn, this.pageLabel, this.nextBtn)));
    this.renderHead();
  }

  async reload(): Promise<void> {
    this.pages = [undefined];
    await this.go(0);
  }

  private async go(index: number): Promise<void> {
    if (index < 0 || index >= this.pages.length + 1) return;
    const url = index < this.pages.length ? this.pages[index] : this.next ?? undefined;
    if (index > 0 && url === undefined) return;
    this.status.textContent = 'Loading…';
    this.prevBtn.disabled = true;
    this.nextBtn.disabled = true;
    try {
      const res = await this.opts.load(this.limit, url);
      this.error.replaceChildren();
      if (index === this.pages.length) this.pages.push(url);
      this.pages.length = index + 1;
      this.pageIndex = index;
      this.rows = res.data;
      this.next = res.next;
      this.renderBody();
    } catch (err) {
      this.error.replaceChildren(errorBox(err));
      this.status.textContent = 'Could not load.';
    } finally {
      this.prevBtn.disabled = this.pageIndex === 0;
      this.nextBtn.disabled = this.next === null;
    }
  }

  private renderHead(): void {
    const tr = h('tr');
    this.opts.columns.forEach((col, i) => {
      const sorted = this.sortCol === i;
      const sortBtn = button(col.label, () => this.sortBy(i), { class: 'sort' });
      sortBtn.append(h('span', { class: 'sort-arrow', 'aria-hidden': 'true' },
        sorted ? (this.sortDir === 1 ? ' ▲' : ' ▼') : ' ↕'));
      const th = h('th', {
        scope: 'col',
        class: col.numeric ? 'num' : '',
        'aria-sort': sorted ? (this.sortDir === 1 ? 'ascending' : 'descending') : 'none',
      }, sortBtn);
      tr.append(th);
    });
    if (this.opts.actions) tr.append(h('th', { scope: 'col' }, h('span', {}, 'Actions')));
    this.thead.replaceChildren(tr);
  }

  private sortBy(i: number): void {
    if (this.sortCol === i) this.sortDir = this.sortDir === 1 ? -1 : 1;
    else {
      this.sortCol = i;
      this.sortDir = 1;
    }
    this.renderHead();
    this.renderBody();
    (this.thead.querySelectorAll('th button')[i] as HTMLButtonElement | undefined)?.focus();
  }

  private renderBody(): void {
    const rows = this.rows.slice();
    if (this.sortCol >= 0) {
      const col = this.opts.columns[this.sortCol];
      rows.sort((a, b) => compare(col.value(a), col.value(b)) * this.sortDir);
    }
    const width = this.opts.columns.length + (this.opts.actions ? 1 : 0);
    if (rows.length === 0) {
      this.tbody.replaceChildren(h('tr', {}, h('td', { colspan: width, class: 'empty' }, this.opts.empty)));
    } else {
      this.tbody.replaceChildren(...rows.map((row) => {
        const tr = h('tr');
        for (const col of this.opts.columns) {
          const content = col.render ? col.render(row) : fmtCell(col.value(row));
          tr.append(h('td', { class: col.numeric ? 'num' : '' }, content));
        }
        if (this.opts.actions) tr.append(h('td', { class: 'actions' }, ...this.opts.actions(row)));
        return tr;
      }));
    }
    const first = this.pageIndex * this.limit + 1;
    const shown = this.rows.length;
    this.status.textContent = shown === 0 ? 'No rows.' :
      `Rows ${first}–${first + shown - 1}${this.next ? '' : ' (last page)'}. Sorting orders this page.`;
    this.pageLabel.textContent = `Page ${this.pageIndex + 1}`;
  }
}

function fmtCell(v: string | number | null): string {
  return v === null || v === '' ? '—' : String(v);
}

function compare(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

// A small "badge" for a state.
export function badge(text: string, kind: 'ok' | 'warn' | 'bad' | 'neutral' = 'neutral'): HTMLElement {
  return h('span', { class: `badge badge-${kind}` }, text);
}

// Saves a Blob as a file.
export function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, class: 'visually-hidden' }, filename);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
