// What the license state means for an administrator: the Overview's status
// panel and the banner of every other page come from here.
import { fmtDuration, fmtTime } from './format';
import { h } from './ui';
import type { License } from './types';

export const DAY = 86400;

export interface LicenseState {
  level: 'ok' | 'warning' | 'disabled' | 'missing';
  title: string;
  why: string;
  secondsLeft: number | null; // until disabledAt; negative once past
}

function seconds(iso: string | null): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t / 1000;
}

// The warning starts once the last verification is more than a day old (or
// half the grace period, when the grace is shorter than two days), or as soon
// as a sync has failed.
export function licenseState(lic: License, now = Date.now() / 1000): LicenseState {
  const disabledAt = seconds(lic.disabledAt);
  const verified = seconds(lic.lastVerifiedAt);
  const left = disabledAt === null ? null : disabledAt - now;
  switch (lic.status) {
    case 'missing':
      return { level: 'missing', title: 'No license is applied', why: 'Sessions are refused until a license key is applied on the License page.', secondsLeft: null };
    case 'expired':
      return { level: 'disabled', title: 'The license has expired', why: `It was valid until ${fmtTime(lic.validTo)}. Sessions are refused; apply a new license key on the License page.`, secondsLeft: left };
    case 'revoked':
      return { level: 'disabled', title: 'The license was revoked', why: 'The license backend answered that this license is revoked. Sessions are refused; contact your vendor.', secondsLeft: left };
    case 'stale':
      return {
        level: 'disabled',
        title: 'Licenses are disabled: the license is out of date',
        why: `It was last verified ${fmtTime(lic.lastVerifiedAt)} and the offline grace period ended ${fmtTime(lic.disabledAt)}. ` +
          'Sessions, heartbeats, allocations and reinstatements are refused with “Too much time has passed since the last license update” until a sync succeeds. ' +
          'Nothing is lost: press “Sync now” once the license backend is reachable, or apply an air-gapped definition.',
        secondsLeft: left,
      };
    case 'ok':
    default: {
      const grace = lic.parameters?.offlineGraceSeconds ?? 5 * DAY;
      const age = verified === null ? 0 : now - verified;
      const threshold = Math.min(DAY, grace / 2);
      if (lic.lastSyncError || age > threshold) {
        const reason = lic.lastSyncError ? `The last sync failed: ${lic.lastSyncError}.` : 'No sync has succeeded lately.';
        return {
          level: 'warning',
          title: left !== null && left > 0
            ? `Licenses will be disabled in ${fmtDuration(left)} unless a sync succeeds`
            : 'Licenses are about to be disabled unless a sync succeeds',
          why: `${reason} The license was last verified ${fmtTime(lic.lastVerifiedAt)}; licenses are disabled at ${fmtTime(lic.disabledAt)}. ` +
            'Check that the license backend is reachable, then press “Sync now” on the Overview page.',
          secondsLeft: left,
        };
      }
      return { level: 'ok', title: 'The license is valid and verified', why: `Last verified ${fmtTime(lic.lastVerifiedAt)}.`, secondsLeft: left };
    }
  }
}

// A banner for a license that needs attention (null when all is well).
export function licenseBanner(lic: License, withTime: boolean): HTMLElement | null {
  const st = licenseState(lic);
  if (st.level === 'ok') return null;
  const kind = st.level === 'warning' ? 'warning' : 'error';
  return h('div', { class: `alert alert-${kind} license-banner`, role: 'alert', 'data-license-level': st.level },
    h('p', { class: 'alert-title' }, st.title),
    h('p', {}, st.why),
    withTime && st.secondsLeft !== null && st.secondsLeft > 0 ? h('p', {}, `Time left: ${fmtDuration(st.secondsLeft)}.`) : null,
    st.level !== 'missing' ? h('p', {}, h('a', { href: '/console/', 'data-link': '' }, 'See the license on the Overview')) : null);
}
