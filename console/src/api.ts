// The one way the console talks to allotd: same origin, `Authorization:
// Bearer <key>` from sessionStorage, JSON in and out, errors as ApiError with
// the server's errorType and message (API.md, "Conventions").

const KEY = 'allot.key';
const ROLE = 'allot.role';

export type Role = 'admin' | 'auditor';

export interface ErrorBody {
  errorType?: string;
  message?: string;
  statusCode?: number;
  corrId?: string;
  field?: string;
  resultCode?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly errorType: string;
  readonly field?: string;
  readonly resultCode?: string;
  readonly corrId?: string;

  constructor(status: number, body: ErrorBody, fallback: string) {
    super(body.message || fallback);
    this.status = status;
    this.errorType = body.errorType || (status === 0 ? 'network' : `HTTP ${status}`);
    this.field = body.field;
    this.resultCode = body.resultCode;
    this.corrId = body.corrId;
  }
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storedRole(): Role | null {
  const r = sessionStorage.getItem(ROLE);
  return r === 'admin' || r === 'auditor' ? r : null;
}

export function signIn(key: string, role: Role): void {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(ROLE, role);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ROLE);
}

// Called when the server answers 401 to a signed-in console: the key was
// deleted or is wrong; main.ts sends the person back to sign-in.
let onUnauthorized: (e: ApiError) => void = () => undefined;
export function setUnauthorizedHandler(fn: (e: ApiError) => void): void {
  onUnauthorized = fn;
}

export interface RequestOptions {
  key?: string;           // a key to try (sign-in) instead of the stored one
  accept?: string;        // default application/json
  signal?: AbortSignal;
}

export interface Page<T> {
  data: T[];
  links: { next: string | null };
}

async function send(method: string, path: string, body: unknown, opt: RequestOptions): Promise<Response> {
  const key = opt.key ?? storedKey();
  const headers: Record<string, string> = { Accept: opt.accept ?? 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      signal: opt.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, { message: 'allotd cannot be reached: check that it runs and that the network allows it' }, 'network');
  }
  if (!res.ok && res.status !== 304) {
    let parsed: ErrorBody = {};
    try {
      parsed = (await res.json()) as ErrorBody;
    } catch {
      parsed = {};
    }
    const e = new ApiError(res.status, parsed, `${method} ${path} failed with HTTP ${res.status}`);
    if (res.status === 401 && opt.key === undefined) onUnauthorized(e);
    throw e;
  }
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown, opt: RequestOptions = {}): Promise<T> {
  const res = await send(method, path, body, opt);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// Same as api() but also gives the status (DELETE /allocations/{id}: 204 released, 200 quarantined).
export async function apiWithStatus<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T | undefined }> {
  const res = await send(method, path, body, {});
  const text = res.status === 204 ? '' : await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as T) : undefined };
}

// The most rows one CSV export gathers: a browser holds the file in memory.
export const CSV_MAX_ROWS = 100_000;

export interface CsvExport {
  blob: Blob;
  rows: number;        // data rows in the file
  complete: boolean;   // false: stopped at CSV_MAX_ROWS, more rows matched
}

// The next page of a CSV list: `Link: <url>; rel="next"` (RFC 8288).
function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel="?next"?\s*(;|$)/i.test(m[2])) return m[1];
  }
  return null;
}

// Records in CSV text: line ends outside quoted fields (a field may hold one).
function csvRecords(text: string): number {
  let n = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === '\n' && !quoted) n += 1;
  }
  return n;
}

// Every row of a list as one CSV file: GET with `Accept: text/csv`, pages of
// 1000 followed through their Link headers, the header line kept once.
export async function getCsv(path: string): Promise<CsvExport> {
  const parts: string[] = [];
  let rows = 0;
  let url: string | null = path + (path.includes('?') ? '&' : '?') + 'limit=1000';
  while (url !== null) {
    const res = await send('GET', url, undefined, { accept: 'text/csv' });
    const type = res.headers.get('Content-Type') ?? '';
    if (!type.toLowerCase().startsWith('text/csv')) {
      throw new ApiError(res.status, {
        errorType: 'NoCsv',
        message: `allotd answered ${type || 'no Content-Type'} instead of CSV`,
      }, 'no CSV');
    }
    const text = await res.text();
    const body = parts.length === 0 ? text : text.slice(text.indexOf('\r\n') + 2); // one header line
    parts.push(body);
    rows += csvRecords(body) - (parts.length === 1 ? 1 : 0);
    url = nextLink(res.headers.get('Link'));
    if (url !== null && rows >= CSV_MAX_ROWS) {
      return { blob: new Blob(parts, { type: 'text/csv' }), rows, complete: false };
    }
  }
  return { blob: new Blob(parts, { type: 'text/csv' }), rows, complete: true };
}

// A path with query parameters; empty and undefined values are left out.
export function withQuery(path: string, params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
