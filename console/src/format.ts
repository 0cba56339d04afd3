// How values read for people.  Times are shown in UTC, as the API gives them.

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
}

// "4 days 23 hours", "12 minutes", "8 seconds": the two largest units.
export function fmtDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const units: [number, string][] = [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  const parts: string[] = [];
  let rest = s;
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || (size === 1 && parts.length === 0)) {
      parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
      rest -= n * size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

export function fmtNumber(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return n.toLocaleString('en-US');
}

export function userLabel(u: { userDirectory: string | null; userId: string | null } | null): string {
  if (!u || (!u.userDirectory && !u.userId)) return '(unknown user)';
  return `${u.userDirectory ?? '?'}\\${u.userId ?? '?'}`;
}

const ACCESS_LABELS: Record<string, string> = {
  professional: 'Professional',
  analyzer: 'Analyzer',
  analyzer_time: 'Analyzer capacity',
  user: 'User access pass',
  login: 'Login access pass',
};

export function accessLabel(t: string | null | undefined): string {
  if (!t) return '—';
  return ACCESS_LABELS[t] ?? t;
}

const RESULT_LABELS: Record<string, string> = {
  Ok: 'Granted',
  UnknownUser: 'Unknown user',
  LicenseNotAvailable: 'License not available',
  NoAvailableAccessType: 'No access pass',
  NoAvailableAccessTypePendingUserSync: 'No access pass (user sync pending)',
  MaxParallelSessionsExceeded: 'Too many parallel sessions',
  ExcessAssignment: 'Excess assignment',
};

export function resultLabel(code: string | null | undefined): string {
  if (!code) return '—';
  return RESULT_LABELS[code] ?? code;
}

// "2025-01-31T09:30" (a datetime-local value, read as UTC) to RFC 3339.
export function localInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value + (value.length === 16 ? ':00Z' : 'Z'));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace('.000Z', 'Z');
}

export function isoToLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 16);
}

export function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}
