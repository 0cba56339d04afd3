// The console's Idle release page in headless Chromium against a real allotd
// (its reaper every second) and PostgreSQL: an administrator reads the
// policies, sets one with exemptions, runs the dry run, enables it and sees
// the reaper release what the dry run listed (in the database and on the
// Audit page); an auditor reads the same page without a form.  axe-core on
// each view; screenshots in ALLOT_SCREENSHOT_DIR.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import {
  ADMIN_KEY, axeSerious, check, diag, eq, launchBrowser, requireTools, run, Site, test, until,
} from './harness.mjs';

const SHOTS = process.env.ALLOT_SCREENSHOT_DIR || join(process.cwd(), 'browser-screenshots-idle-release');

let site;
let tools;
let browser;
let admin;
const consoleErrors = [];
const ids = {};

async function newPage(width = 1280, height = 800) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of (4\d\d|502)/.test(msg.text())) {
      consoleErrors.push(`${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

async function signIn(page, key, path) {
  await page.goto(site.base + path);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await until('the Idle release page', async () => (await page.locator('h1').first().textContent())?.trim() === 'Idle release');
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function noSeriousAxe(page, where) {
  const found = await axeSerious(page, tools.axeSource);
  check(found.length === 0, `${where}: axe found ${JSON.stringify(found).slice(0, 600)}`);
}

// A user with a professional allocation last used `days` ago.
async function idleUser(userId, groups, days) {
  const u = await site.apiOk('POST', '/users', { userDirectory: 'CORP', userId, name: userId, groups }, 201);
  const a = await site.apiOk('POST', '/allocations', { user: u.id, type: 'professional' }, 201);
  site.sql(`UPDATE allocations SET last_used = now() - interval '${days} days', created_at = now() - interval '90 days' WHERE id = '${a.id}'`);
  ids[userId] = a.id;
}

const panel = (page, name) => page.getByRole('region', { name });

test('the policies as they are: both disabled, 30 days', async () => {
  admin = await newPage();
  await signIn(admin, ADMIN_KEY, '/console/idle-release');
  const pro = panel(admin, 'Professional');
  await pro.getByText('Nothing is released. When enabled: allocations not used for 30 days').waitFor();
  await panel(admin, 'Analyzer').getByText('Nothing is released.').waitFor();
  eq(await pro.getByLabel('Days not used').inputValue(), '30', 'the days in the form');
  check(!(await pro.getByLabel('Release idle professional allocations').isChecked()), 'disabled');
  await noSeriousAxe(admin, 'idle release (admin)');
  await shot(admin, 'idle-release-admin');
});

test('an admin sets a policy with exemptions; the dry run lists what it would release', async () => {
  const pro = panel(admin, 'Professional');
  await pro.getByLabel('Days not used').fill('14');
  await pro.getByLabel('Exempt groups').fill('Board');
  await pro.getByLabel('Exempt users').fill('CORP\\ceo');
  await pro.getByRole('button', { name: 'Save professional policy' }).click();
  await pro.getByText('Professional policy saved').waitFor();
  await pro.getByText('Never released: groups Board; users CORP\\ceo.').waitFor();
  eq(site.sql("SELECT idle_days || ' ' || enabled || ' ' || exempt_groups::text || ' ' || exempt_users::text FROM idle_release_policies WHERE type = 'professional'"),
    '14 false {Board} [{"userId": "ceo", "userDirectory": "CORP"}]', 'the policy in the database');
  // a malformed exempt user is refused in the page, nothing sent
  await pro.getByLabel('Exempt users').fill('ceo');
  await pro.getByRole('button', { name: 'Save professional policy' }).click();
  await pro.getByText('Exempt users: “ceo” is not DIRECTORY\\userId').waitFor();
  await pro.getByLabel('Exempt users').fill('CORP\\ceo');

  await pro.getByRole('button', { name: 'Dry run of the professional policy' }).click();
  await pro.getByText('1 allocation would be released if the policy were enabled').waitFor();
  const rows = pro.locator('table.data tbody tr');
  await until('one row', async () => (await rows.count()) === 1);
  check((await rows.first().textContent()).includes('CORP\\ann'), 'ann is listed');
  eq(Number(site.sql('SELECT count(*) FROM allocations')), 4, 'a dry run changes nothing');
  await noSeriousAxe(admin, 'idle release dry run');
  await shot(admin, 'idle-release-dry-run');
});

test('enabled, the reaper releases what the dry run listed; the audit trail says why', async () => {
  const pro = panel(admin, 'Professional');
  await pro.getByLabel('Release idle professional allocations').check();
  await pro.getByRole('button', { name: 'Save professional policy' }).click();
  await pro.getByText('The reaper releases a professional allocation not used for 14 days').waitFor();
  await until('the reaper released ann’s allocation', async () =>
    site.sql(`SELECT count(*) FROM allocations WHERE id = '${ids.ann}'`) === '0', 15000);
  eq(site.sql('SELECT string_agg(user_id, \',\' ORDER BY user_id) FROM allocations'), 'bob,carol,ceo', 'the others stay');
  await pro.getByRole('button', { name: 'Dry run of the professional policy' }).click();
  await pro.getByText('0 allocations would be released at the reaper’s next pass').waitFor();
  await shot(admin, 'idle-release-enabled');
  await admin.goto(`${site.base}/console/audit?kind=release`);
  await admin.getByRole('cell', { name: 'released' }).first().waitFor();
  check((await admin.locator('table.data').textContent()).includes('idle_release: not used since'), 'the reason in the trail');
  await shot(admin, 'idle-release-audit');
});

test('an auditor reads the policies and runs the dry run, with nothing to change', async () => {
  const key = await site.newKey('auditor');
  const page = await newPage();
  await signIn(page, key, '/console/idle-release');
  const pro = panel(page, 'Professional');
  await pro.getByText('The reaper releases a professional allocation not used for 14 days').waitFor();
  eq(await page.getByRole('button', { name: /^Save/ }).count(), 0, 'no save button');
  eq(await page.locator('form').count(), 0, 'no form');
  await pro.getByRole('button', { name: 'Dry run of the professional policy' }).click();
  await pro.getByText('0 allocations would be released').waitFor();
  await noSeriousAxe(page, 'idle release (auditor)');
  await shot(page, 'idle-release-auditor');
  await page.setViewportSize({ width: 1024, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
  check(!overflow, 'no horizontal overflow at 1024 px');
  await shot(page, 'idle-release-auditor-1024');
  await page.context().close();
});

test('no error in the browser console', async () => {
  check(consoleErrors.length === 0, consoleErrors.slice(0, 10).join('\n'));
});

run(async () => {
  tools = requireTools();
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  diag(`screenshots: ${SHOTS}`);
  site = new Site({ ALLOT_REAPER_INTERVAL: '1s' });
  await site.start();
  await site.applyLicense(['--license-number', '4242', '--professional', '10', '--analyzer', '5']);
  await idleUser('ann', [], 40);
  await idleUser('bob', ['Board'], 40);
  await idleUser('ceo', [], 40);
  await idleUser('carol', [], 2);
  browser = await launchBrowser(tools);
  diag(`allotd ${site.base}, Chromium ${browser.version()}`);
  return {
    onFailure: async (name) => {
      if (!admin) return;
      await shot(admin, `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => undefined);
    },
  };
}, async (_ctx, keepLogs) => {
  await browser?.close().catch(() => undefined);
  await site?.stop(keepLogs);
});
