// The console's shell: sign-in, the layout (header, navigation, main), the
// URL of each page (/console/<page>?<filters>, so a link or a reload lands on
// the same view) and the license banner every page shows.
import './style.css';
import 'uplot/dist/uPlot.min.css';

import { api, ApiError, setUnauthorizedHandler, signOut, storedKey, storedRole } from './api';
import { licenseBanner } from './license-state';
import type { PageContext, PageModule } from './page';
import { renderSignIn } from './pages/signin';
import { h } from './ui';
import type { License } from './types';

import * as overview from './pages/overview';
import * as allocations from './pages/allocations';
import * as rules from './pages/rules';
import * as users from './pages/users';
import * as sessions from './pages/sessions';
import * as audit from './pages/audit';
import * as usage from './pages/usage';
import * as licensePage from './pages/license';
import * as apikeys from './pages/apikeys';
import * as webhooks from './pages/webhooks';
import * as idleRelease from './pages/idle-release';

export const BASE = '/console/';

interface Route {
  path: string; // after /console/
  label: string;
  module: PageModule;
  adminOnly?: boolean;
}

const ROUTES: Route[] = [
  { path: '', label: 'Overview', module: overview },
  { path: 'allocations', label: 'Allocations', module: allocations },
  { path: 'rules', label: 'Rules', module: rules },
  { path: 'users', label: 'Users', module: users },
  { path: 'sessions', label: 'Sessions', module: sessions },
  { path: 'audit', label: 'Audit', module: audit },
  { path: 'usage', label: 'Usage', module: usage },
  { path: 'license', label: 'License', module: licensePage },
  { path: 'apikeys', label: 'API keys', module: apikeys, adminOnly: true },
  { path: 'webhooks', label: 'Webhooks', module: webhooks },
  { path: 'idle-release', label: 'Idle release', module: idleRelease },
];

const root = document.getElementById('app') as HTMLElement;
let leaveHooks: (() => void)[] = [];
let signInMessage: string | null = null;

function pagePath(): string {
  const p = location.pathname;
  const rest = p.startsWith(BASE) ? p.slice(BASE.length) : '';
  return rest.replace(/\/+$/, '');
}

export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  void render();
}

function leave(): void {
  for (const fn of leaveHooks) fn();
  leaveHooks = [];
}

setUnauthorizedHandler(() => {
  signOut();
  signInMessage = 'allotd no longer accepts your API key (401: unknown or deleted key). Sign in again.';
  const next = location.pathname + location.search;
  navigate(`${BASE}signin?next=${encodeURIComponent(next)}`, true);
});

async function render(): Promise<void> {
  leave();
  const path = pagePath();
  const key = storedKey();
  const role = storedRole();
  if (path === 'signin' || !key || !role) {
    if (path !== 'signin') {
      const next = location.pathname + location.search;
      history.replaceState(null, '', `${BASE}signin?next=${encodeURIComponent(next)}`);
    }
    document.title = 'Sign in · allot console';
    const msg = signInMessage;
    signInMessage = null;
    root.replaceChildren(renderSignIn(msg, (dest) => navigate(dest, true)));
    return;
  }

  const route = ROUTES.find((r) => r.path === path);
  const main = h('main', { id: 'main', tabindex: -1 });
  const bannerSlot = h('div', { class: 'banner-slot' });
  const statusChip = h('span', { class: 'license-chip', 'aria-live': 'polite' });
  const nav = h('nav', { 'aria-label': 'Console pages' },
    h('ul', {}, ...ROUTES.filter((r) => !r.adminOnly || role === 'admin').map((r) =>
      h('li', {}, h('a', {
        href: BASE + r.path,
        'data-link': '',
        'aria-current': route === r ? 'page' : null,
      }, r.label)))));
  const signOutBtn = h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => {
    signOut();
    signInMessage = 'You are signed out.';
    navigate(`${BASE}signin`, true);
  } }, 'Sign out');
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
    h('a', { class: 'brand', href: BASE, 'data-link': '' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'A'), 'allot console'),
    statusChip,
    h('span', { class: `role-badge role-${role}` }, role === 'admin' ? 'Admin' : 'Auditor (read-only)'),
    signOutBtn);
  root.replaceChildren(header, h('div', { class: 'layout' }, nav, h('div', { class: 'content' }, bannerSlot, main)));

  const ctx: PageContext = {
    role,
    canWrite: role === 'admin',
    query: new URLSearchParams(location.search),
    setQuery(params) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
      const s = q.toString();
      history.replaceState(null, '', location.pathname + (s ? `?${s}` : ''));
      this.query = q;
    },
    navigate: (url: string) => navigate(url),
    onLeave: (fn) => leaveHooks.push(fn),
    licenseChanged: (lic) => showLicense(lic, bannerSlot, statusChip, route === ROUTES[0]),
  };

  if (!route) {
    document.title = 'Not found · allot console';
    main.append(h('h1', {}, 'No such page'), h('p', {}, 'This address names no page of the console. ',
      h('a', { href: BASE, 'data-link': '' }, 'Go to the overview.')));
  } else if (route.adminOnly && role !== 'admin') {
    document.title = `${route.label} · allot console`;
    main.append(h('h1', {}, route.label), h('p', { class: 'alert alert-info', role: 'status' },
      'API keys are managed with an admin key. You are signed in with an auditor key, which cannot see them.'));
  } else {
    document.title = `${route.label} · allot console`;
    main.append(route.module.render(ctx));
  }
  // The license state, for the header and the banner of every page.
  api<License>('GET', '/license').then((lic) => ctx.licenseChanged(lic)).catch(() => undefined);
  if (document.activeElement === document.body || document.activeElement === null) main.focus({ preventScroll: true });
}

function showLicense(lic: License, slot: HTMLElement, chip: HTMLElement, onOverview: boolean): void {
  chip.replaceChildren(h('span', { class: 'visually-hidden' }, 'License status: '),
    h('span', { class: `chip chip-${lic.status}` }, `License ${lic.status}`));
  // The overview shows the license at length; the other pages a banner.
  slot.replaceChildren(...(onOverview ? [] : [licenseBanner(lic, false)].filter((x): x is HTMLElement => x !== null)));
}

document.addEventListener('click', (ev) => {
  const a = (ev.target as Element | null)?.closest?.('a[data-link]') as HTMLAnchorElement | null;
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(a.getAttribute('href') ?? BASE);
});
window.addEventListener('popstate', () => void render());

// A 401 is handled (back to sign-in) wherever a request was made; it is not
// an error for the browser's console.
window.addEventListener('unhandledrejection', (ev) => {
  if (ev.reason instanceof ApiError && ev.reason.status === 401) ev.preventDefault();
});

void render();
