// What an error means for an administrator and what to do about it: the
// console shows this, with the server's message, rather than a raw errorType.
import { ApiError } from './api';

export interface Explained {
  title: string;
  message: string;
  advice: string;
  detail: string; // errorType and corrId, for a support ticket
}

const ADVICE: Record<string, { title: string; advice: string }> = {
  'LICENSES-OutdatedLicense': {
    title: 'Licenses are disabled: the license could not be verified in time',
    advice: 'allotd has not reached the license backend for longer than the offline grace period. ' +
      'Make sure the backend is reachable (ALLOT_AUTHORITY_URL), then press “Sync now” on the Overview page, ' +
      'or apply an air-gapped definition on the License page. Nothing is lost: everything works again after the next good sync.',
  },
  'LICENSES-NoLicense': {
    title: 'No valid license',
    advice: 'Apply a license key on the License page. If the license expired or was revoked, ask your vendor for a new one.',
  },
  'LICENSES-NoAvailableAllotment': {
    title: 'Nothing left to allocate',
    advice: 'Every unit or token of this kind is taken (allocations in quarantine count too). ' +
      'Deallocate one that is not used, wait for a quarantine to end, or ask your vendor for more.',
  },
  'LICENSES-Conflict': {
    title: 'It already exists',
    advice: 'Something with the same identity is already there. Look it up in the list and change that one instead.',
  },
  'LICENSES-Forbidden': {
    title: 'Your key may not do this',
    advice: 'Your API key’s role does not allow this action. Sign in with an admin key to make changes.',
  },
  'LICENSES-Unauthorized': {
    title: 'The API key was refused',
    advice: 'Check the key (it is shown only once, when it is created) or ask an administrator for a new one.',
  },
  'LICENSES-BackendUnavailable': {
    title: 'The license backend could not be reached or verified',
    advice: 'Check that the backend runs and that ALLOT_AUTHORITY_URL, ALLOT_AUTHORITY_PUBLIC_KEY and the network are right, then try again. ' +
      'The Overview page shows when licenses would be disabled.',
  },
  'LICENSES-Unavailable': {
    title: 'allotd cannot reach its database',
    advice: 'Try again in a moment. If it lasts, check PostgreSQL and allotd’s log.',
  },
  'LICENSES-InvalidLicense': {
    title: 'The license key or definition does not verify',
    advice: 'Paste it again whole, exactly as the vendor sent it, and check that it was signed by the authority allotd trusts (ALLOT_AUTHORITY_PUBLIC_KEY).',
  },
  'LICENSES-BadRequest': {
    title: 'Some input is not valid',
    advice: 'Correct the field named and try again.',
  },
  'LICENSES-NotFound': {
    title: 'Not found',
    advice: 'It may have been removed meanwhile. Reload the list.',
  },
  'LICENSES-NoAccessPass': {
    title: 'No access pass',
    advice: 'Give the user an allocation, or add them to a group that a rule covers; the next session start uses it.',
  },
  'LICENSES-TooManySessions': {
    title: 'Too many sessions in parallel',
    advice: 'The user has the most sessions allowed at once. End one on the Sessions page, or wait for ended ones to release their slot.',
  },
  'LICENSES-PayloadTooLarge': {
    title: 'Too large',
    advice: 'The request is over 1 MiB. Check that the right file was chosen.',
  },
  'LICENSES-Internal': {
    title: 'allotd failed',
    advice: 'This is a bug. Give the correlation id below to whoever runs allotd: it names the log lines.',
  },
  network: {
    title: 'allotd cannot be reached',
    advice: 'Check that allotd runs and that this browser can reach it, then try again.',
  },
  NoCsv: {
    title: 'CSV export failed',
    advice: 'Reload the page (the console may be older than allotd) and export again.',
  },
};

export function explain(err: unknown): Explained {
  if (err instanceof ApiError) {
    const known = ADVICE[err.errorType];
    let message = err.message;
    if (err.field) message += ` (field: ${err.field})`;
    const detail = [err.errorType, err.status ? `HTTP ${err.status}` : '', err.corrId ? `correlation id ${err.corrId}` : '']
      .filter(Boolean).join(' · ');
    return {
      title: known?.title ?? `The request failed (HTTP ${err.status})`,
      message,
      advice: known?.advice ?? 'Try again; if it fails again, check allotd’s log for the correlation id below.',
      detail,
    };
  }
  return {
    title: 'Something went wrong in the console',
    message: err instanceof Error ? err.message : String(err),
    advice: 'Reload the page. If it happens again, it is a bug in the console.',
    detail: '',
  };
}
