// The admin console in headless Chromium against a real allotd, a real
// PostgreSQL and a real allot-authority: what an administrator sees and does.
// Screenshots of every page go to ALLOT_SCREENSHOT_DIR; axe-core checks every
// page (nothing serious or critical).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import {
  ADMIN_KEY, axeSerious, check, diag, eq, launchBrowser, requireTools, run, Site, test, until,
} from './harness.mjs';

const SHOTS = process.env.ALLOT_SCREENSHOT_DIR || join(process.cwd(), 'browser-screenshots');
const PAGES = [
  ['overview', '/console/', 'Overview'],
  ['allocations', '/console/allocations', 'Allocations'],
  ['rules', '/console/rules', 'Rules'],
  ['users', '/console/users', 'Users'],
  ['sessions', '/console/sessions', 'Sessions'],
  ['audit', '/console/audit', 'Audit'],
  ['usage', '/console/usage', 'Usage'],
  ['license', '/console/license', 'License'],
  ['apikeys', '/console/apikeys', 'API keys'],
];
const GRACE = 15; // offlineGraceSeconds of the license of the stale scenario

let site;
let tools;
let browser;
let admin; // the admin's page, signed in once
const consoleErrors = [];

async function newPage(width = 1280, height = 800) {
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (msg) => {
    // A refused request (401 at sign-in, 403 role probes, 404, 409, 502) is
    // the API answering; anything else (a CSP violation, an exception) is not.
    if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of (4\d\d|502)/.test(msg.text())) {
      consoleErrors.push(`${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

async function signIn(page, key, path = '/console/') {
  await page.goto(site.base + path);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function shot(page, name) {
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function heading(page) {
  return (await page.locator('h1').first().textContent())?.trim();
}

// Navigates through the console's own links, as a person does.
async function open(page, label) {
  await page.getByRole('navigation', { name: 'Console pages' }).getByRole('link', { name: label, exact: true }).click();
  await until(`the ${label} page`, async () => (await heading(page)) === label);
}

test('a bad key is refused at sign-in; a deep link survives signing in', async () => {
  const page = await newPage();
  await page.goto(`${site.base}/console/users`);
  await page.waitForURL(/\/console\/signin\?next=/);
  await shot(page, 'signin');
  await page.getByLabel('API key').fill('allot_not_a_key_at_all_0000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('allotd does not know this API key').waitFor();
  check(await page.getByRole('alert').isVisible(), 'the refusal is an alert');
  // The right key: the console opens the page first asked for.
  await page.getByLabel('API key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${site.base}/console/users`);
  eq(await heading(page), 'Users', 'page after sign-in');
  // The key is kept for the tab: a reload stays on the page, signed in.
  await page.reload();
  await until('the Users page after a reload', async () => (await heading(page)) === 'Users');
  eq(await page.locator('.role-badge').textContent(), 'Admin', 'role shown');
  check(await page.evaluate(() => sessionStorage.getItem('allot.key')) === ADMIN_KEY, 'key in sessionStorage');
  check(await page.evaluate(() => localStorage.length) === 0, 'nothing in localStorage');
  admin = page;
});

test('a proxy key is refused with the reason', async () => {
  const proxyKey = await site.newKey('proxy', 'hub proxy');
  const page = await newPage();
  await signIn(page, proxyKey);
  await page.getByText('This key cannot sign in to the console').waitFor();
  check(await page.getByText('This is a proxy key').isVisible(), 'the proxy explanation is shown');
  eq(new URL(page.url()).pathname, '/console/signin', 'still on sign-in');
  check(await page.evaluate(() => sessionStorage.getItem('allot.key')) === null, 'no key kept');
  await shot(page, 'signin-proxy-refused');
  await page.context().close();
});

test('the overview of a fresh license', async () => {
  await site.applyLicense(['--license-number', '4242', '--professional', '3', '--analyzer', '2',
    '--tokens', '5', '--analyzer-time-minutes', '600', '--overage', 'professional=1']);
  await admin.goto(`${site.base}/console/`);
  await until('the overview', async () => (await heading(admin)) === 'Overview');
  await admin.getByText('The license is valid and verified').waitFor();
  check(await admin.getByText('License 4242 · Acme · Analytics Enterprise').isVisible(), 'license identity');
  const row = (name) => admin.locator(`tr[data-allotment="${name}"] td`).allTextContents();
  const pro = await row('professional');
  eq(pro.slice(0, 5).join('|'), '3|1|0|0|4', 'professional: units|overage|used|quarantined|available');
  const ana = await row('analyzer');
  eq(ana.slice(0, 5).join('|'), '2|0|0|0|2', 'analyzer row');
  check(await admin.getByText('0 minutes').first().isVisible(), 'capacity minutes used this month');
  check(await admin.getByText('600 this month').isVisible(), 'the capacity pool');
  const tokens = await admin.locator('section:has(h2:text("Tokens")) dd').allTextContents();
  check(tokens[0].startsWith('5'), `5 tokens in total (${tokens[0]})`);
  const left = await admin.getByTestId('time-left').textContent();
  check(/^\d+ days?\b/.test(left ?? ''), `time left before disabling is days (${left})`);
  eq(await admin.getByTestId('sync-error').textContent(), 'none', 'last sync error');
  check(await admin.locator('.license-chip').getByText('License ok').isVisible(), 'header chip');
});

test('allocate, deallocate into quarantine, reinstate (database checked)', async () => {
  const alice = await site.apiOk('POST', '/users', { userDirectory: 'CORP', userId: 'alice', name: 'Alice', groups: ['Sales'] }, 201);
  await open(admin, 'Allocations');
  await admin.getByLabel('User', { exact: true }).first().fill('CORP\\alice');
  await admin.getByRole('button', { name: 'Find user' }).click();
  await until('alice found', async () => (await admin.getByLabel('Matching user').inputValue()) === alice.id);
  await admin.getByLabel('Allocation type').selectOption('professional');
  await admin.getByRole('button', { name: 'Allocate', exact: true }).click();
  await admin.getByText('Allocated', { exact: true }).waitFor();
  const table = admin.getByRole('table', { name: 'Allocations' });
  await table.getByText('CORP\\alice').waitFor();
  const id = site.sql(`SELECT id FROM allocations WHERE user_ref = '${alice.id}' AND type = 'professional' AND quarantine_end IS NULL`);
  check(/^[0-9a-f-]{36}$/.test(id), `one live professional allocation in the database (${id})`);

  // alice uses it, so removing it puts it in quarantine.
  await site.apiOk('POST', '/sessions', { user: alice.id }, 201);
  await admin.getByRole('button', { name: 'Deallocate Professional of CORP\\alice' }).click();
  const dialog = admin.getByRole('dialog');
  await dialog.getByText('goes to quarantine').waitFor();
  await shot(admin, 'allocations-deallocate-dialog');
  await dialog.getByRole('button', { name: 'Deallocate' }).click();
  await admin.getByText(/^In quarantine until /).waitFor();
  await table.getByText('quarantined').waitFor();
  eq(site.sql(`SELECT quarantine_end IS NOT NULL AND quarantine_end > now() FROM allocations WHERE id = '${id}'`), 't', 'in quarantine in the database');
  await shot(admin, 'allocations-quarantined');

  await admin.getByRole('button', { name: 'Reinstate Professional of CORP\\alice' }).click();
  await admin.getByText('Reinstated', { exact: true }).waitFor();
  await table.getByText('active').waitFor();
  eq(site.sql(`SELECT count(*) FROM allocations WHERE user_ref = '${alice.id}' AND quarantine_end IS NULL`), '1', 'live again in the database');
  const lic = await site.apiOk('GET', '/license', undefined, 200);
  eq(lic.allotments.find((a) => a.name === 'professional').used, 1, 'license counts it used');
});

test('a login rule takes its tokens', async () => {
  await open(admin, 'Rules');
  await admin.getByLabel('Name').fill('Sales logins');
  await admin.getByLabel('Access type').selectOption('login');
  await admin.getByLabel('Groups').fill('Sales, EMEA');
  await admin.getByLabel('Tokens').fill('2');
  await admin.getByRole('button', { name: 'Create rule' }).click();
  await admin.getByText('Rule created').waitFor();
  check(await admin.getByText('took 2 token(s) from the license: 20 login passes').isVisible(), 'says what it took');
  const row = admin.getByRole('row', { name: /Sales logins/ });
  await row.waitFor();
  check((await row.textContent()).includes('Sales, EMEA'), 'groups shown');
  eq(site.sql("SELECT tokens || ' ' || access_type || ' ' || array_to_string(match_groups, ',') FROM rules WHERE name = 'Sales logins'"), '2 login Sales,EMEA', 'rule in the database');
  const lic = await site.apiOk('GET', '/license', undefined, 200);
  eq(lic.tokens.allocated, 2, 'tokens given to login groups');
  eq(lic.tokens.available, 3, 'tokens left');
  // A rule asking for more tokens than are left is refused with what to do.
  await admin.getByLabel('Name').fill('Too greedy');
  await admin.getByLabel('Access type').selectOption('login');
  await admin.getByLabel('Groups').fill('Ops');
  await admin.getByLabel('Tokens').fill('50');
  await admin.getByRole('button', { name: 'Create rule' }).click();
  await admin.getByText('Nothing left to allocate').waitFor();
  check(await admin.getByText('What to do:').first().isVisible(), 'advice shown');
  eq(site.sql("SELECT count(*) FROM rules WHERE name = 'Too greedy'"), '0', 'nothing stored');
});

test('a session started through the API appears in Sessions and in Audit', async () => {
  const bob = await site.apiOk('POST', '/users', { userDirectory: 'CORP', userId: 'bob', name: 'Bob', groups: [] }, 201);
  await site.apiOk('POST', '/allocations', { user: bob.id, type: 'analyzer' }, 201);
  const proxyKey = await site.newKey('proxy', 'hub');
  const r = await site.api('POST', '/sessions', { userDirectory: 'CORP', userId: 'bob' }, proxyKey);
  eq(r.status, 201, 'session start');
  const refused = await site.api('POST', '/sessions', { userDirectory: 'CORP', userId: 'nobody' }, proxyKey);
  eq(refused.status, 404, 'unknown user refused');
  await open(admin, 'Sessions');
  const row = admin.getByRole('row', { name: /CORP\\bob/ });
  await row.waitFor();
  check((await row.textContent()).includes('Analyzer'), 'access type shown');
  await shot(admin, 'sessions');
  await row.getByRole('button', { name: /End session of CORP\\bob/ }).click();
  await admin.getByRole('dialog').getByRole('button', { name: 'End session' }).click();
  await admin.getByText('Session ended', { exact: true }).waitFor();
  eq(site.sql(`SELECT end_reason FROM sessions WHERE id = '${r.body.id}'`), 'logout', 'ended in the database');
  await until('bob gone from the active sessions', async () => (await admin.getByRole('row', { name: /CORP\\bob/ }).count()) === 0);

  await open(admin, 'Audit');
  const audit = admin.getByRole('table', { name: /Audit trail/ });
  await audit.getByRole('row', { name: /CORP\\bob.*Analyzer.*Granted/ }).first().waitFor();
  await audit.getByRole('row', { name: /CORP\\nobody.*Unknown user/ }).first().waitFor();
  await admin.getByLabel('Result').selectOption('UnknownUser');
  await admin.getByRole('button', { name: 'Apply filters' }).click();
  await until('only refusals of unknown users', async () => {
    const rows = await audit.locator('tbody tr').allTextContents();
    return rows.length > 0 && rows.every((t) => t.includes('Unknown user'));
  });
  check(admin.url().includes('resultCode=UnknownUser'), 'the filter is in the URL');
  await admin.reload();
  await until('the filter after a reload', async () => (await admin.getByLabel('Result').inputValue()) === 'UnknownUser');
});

test('the usage charts from real events', async () => {
  // More sessions through the API, with the ones of the scenarios before: two
  // for carol, one on analyzer capacity for dave (a block of 6 minutes), a
  // refusal.
  const carol = await site.apiOk('POST', '/users', { userDirectory: 'CORP', userId: 'carol', name: 'Carol', groups: [] }, 201);
  await site.apiOk('POST', '/allocations', { user: carol.id, type: 'professional' }, 201);
  await site.apiOk('POST', '/sessions', { user: carol.id }, 201);
  await site.apiOk('POST', '/sessions', { user: carol.id }, 201);
  await site.apiOk('POST', '/allocations/rules', { name: 'Viewers', accessType: 'analyzer_time', match: { groups: ['Viewers'] } }, 201);
  const dave = await site.apiOk('POST', '/users', { userDirectory: 'CORP', userId: 'dave', name: 'Dave', groups: ['Viewers'] }, 201);
  eq((await site.apiOk('POST', '/sessions', { user: dave.id }, 201)).accessType, 'analyzer_time', 'dave on capacity');
  eq((await site.api('POST', '/sessions', { userDirectory: 'CORP', userId: 'nobody-else' })).status, 404, 'refused');
  const grants = Number(site.sql("SELECT count(*) FROM session_events WHERE kind = 'grant'"));
  const refusals = Number(site.sql("SELECT count(*) FROM session_events WHERE kind = 'refusal'"));
  // The most sessions active at once, by the trail: +1 a grant, -1 an end.
  const peak = Number(site.sql(`SELECT max(n) FROM (SELECT sum(CASE kind WHEN 'grant' THEN 1 WHEN 'end' THEN -1 ELSE 0 END)
    OVER (ORDER BY at, kind <> 'end', id) AS n FROM session_events) x`));
  check(grants >= 4 && refusals >= 2 && peak >= 2, `the trail: ${grants} grants, ${refusals} refusals, at most ${peak} at once`);
  const professional = Number(site.sql("SELECT count(*) FROM session_events WHERE kind = 'grant' AND access_type = 'professional'"));

  await open(admin, 'Usage');
  for (const [range, label] of [['24h', '24 hours'], ['7d', '7 days'], ['28d', '28 days'], ['90d', '90 days'], ['13m', '13 months']]) {
    await admin.getByRole('group', { name: 'Period' }).getByRole('button', { name: label, exact: true }).click();
    await until(`the ${label} charts drawn`, async () => (await admin.locator('figure[data-chart][data-rendered="true"]').count()) === 4);
    check(admin.url().endsWith(`range=${range}`), `the period is in the URL (${admin.url()})`);
    eq(await admin.locator('figure[data-chart] canvas').count() >= 4, true, 'a canvas per chart');
    const summary = (name) => admin.locator(`figure[data-chart="chart-${name}"] .chart-summary`).textContent();
    check((await summary('sessions-started')).startsWith(`${grants} sessions started`), `sessions started: ${await summary('sessions-started')}`);
    check((await summary('refusals')).startsWith(`${refusals} session starts refused`), `refusals: ${await summary('refusals')}`);
    eq(await summary('peak-concurrent-sessions'), `At most ${peak} sessions at once in this period.`, 'peak');
    eq(await summary('analyzer-capacity'), '6 capacity minutes charged in this period; the month’s pool is 600 minutes.', 'capacity');
    // The numbers behind the chart: the professional column adds up to the trail's.
    const table = admin.locator('figure[data-chart="chart-sessions-started"] table.data');
    const headers = await table.locator('thead th').allTextContents();
    const col = headers.indexOf('Professional');
    check(col > 0, `a Professional column (${headers.join(', ')})`);
    const cells = await table.locator(`tbody tr td:nth-child(${col + 1})`).allTextContents();
    eq(cells.reduce((a, t) => a + Number(t.replace(/,/g, '')), 0), professional, `professional sessions in the ${label} table`);
    await shot(admin, `usage-${range}`);
  }
});

test('CSV downloads of the audit trail, allocations and users', async () => {
  const { readFileSync } = await import('node:fs');
  const saveCsv = async (button) => {
    const [download] = await Promise.all([admin.waitForEvent('download'), button.click()]);
    return { name: download.suggestedFilename(), text: readFileSync(await download.path(), 'utf8') };
  };
  const lines = (text) => text.split('\r\n').filter((l) => l !== '');

  // The audit trail, which the server gives in pages of 1000: over a
  // thousand refusals of an unknown user, through the API.
  for (let i = 0; i < 1100; i += 25) {
    await Promise.all(Array.from({ length: 25 }, () => site.api('POST', '/sessions', { userDirectory: 'CORP', userId: 'ghost' })));
  }
  await open(admin, 'Audit');
  await admin.getByRole('table', { name: /Audit trail/ }).locator('tbody tr').first().waitFor();
  let csv = await saveCsv(admin.getByRole('button', { name: 'Export CSV' }));
  check(/^allot-audit-\d{4}-\d{2}-\d{2}\.csv$/.test(csv.name), `file name ${csv.name}`);
  let rows = lines(csv.text);
  eq(rows[0], 'id,at,kind,sessionId,user.id,user.userDirectory,user.userId,accessType,resultCode,sessionCount,detail', 'header line');
  const ids = site.sql('SELECT string_agg(id::text, \',\' ORDER BY at DESC, id DESC) FROM session_events').split(',');
  eq(rows.length - 1, ids.length, 'one row per event, the header once');
  eq(rows.slice(1).map((r) => r.slice(0, 36)).join(','), ids.join(','), 'every event, newest first');
  await admin.getByText(`${ids.length.toLocaleString('en-US')} rows saved as ${csv.name}`).waitFor();

  // Filtered by result code and time: what the table shows, nothing else.
  await admin.getByLabel('Result').selectOption('UnknownUser');
  await admin.getByLabel('From (UTC)').fill(new Date(Date.now() - 3600_000).toISOString().slice(0, 16));
  await admin.getByRole('button', { name: 'Apply filters' }).click();
  await until('the filtered table', async () => {
    const t = await admin.getByRole('table', { name: /Audit trail/ }).locator('tbody tr').allTextContents();
    return t.length > 0 && t.every((r) => r.includes('Unknown user'));
  });
  check(admin.url().includes('from='), 'the time filter is in the URL');
  csv = await saveCsv(admin.getByRole('button', { name: 'Export CSV' }));
  rows = lines(csv.text).slice(1);
  eq(rows.length, Number(site.sql("SELECT count(*) FROM session_events WHERE result_code = 'UnknownUser' AND at >= now() - interval '1 hour'")), 'unknown-user rows of the last hour');
  check(rows.every((r) => r.split(',')[8] === 'UnknownUser'), 'only UnknownUser');
  await shot(admin, 'audit-filtered');

  await open(admin, 'Allocations');
  await admin.getByRole('table', { name: 'Allocations' }).locator('tbody tr').first().waitFor();
  csv = await saveCsv(admin.getByRole('button', { name: 'Export CSV' }));
  eq(csv.name, 'allot-allocations.csv', 'allocations file name');
  rows = lines(csv.text);
  eq(rows[0], 'id,type,user.id,user.userDirectory,user.userId,user.deleted,createdAt,lastUsed,quarantined,quarantineEnd,ruleId', 'allocations header');
  eq(rows.length - 1, Number(site.sql('SELECT count(*) FROM allocations')), 'one row per allocation');
  check(rows.some((r) => r.includes(',professional,') && r.includes(',CORP,alice,')), 'alice\'s professional allocation');

  await open(admin, 'Users');
  await admin.getByRole('table', { name: /Users/ }).locator('tbody tr').first().waitFor();
  csv = await saveCsv(admin.getByRole('button', { name: 'Export CSV' }));
  eq(csv.name, 'allot-users.csv', 'users file name');
  rows = lines(csv.text);
  eq(rows[0], 'id,userDirectory,userId,name,groups,createdAt,modifiedAt', 'users header');
  eq(rows.length - 1, Number(site.sql('SELECT count(*) FROM users')), 'one row per user');
  check(rows.some((r) => r.includes(',CORP,alice,Alice,"[""Sales""]",')), 'alice with her groups');
});

test('an auditor sees every page and can change nothing', async () => {
  const key = await site.newKey('auditor', 'auditor');
  const page = await newPage();
  await signIn(page, key);
  await until('the overview', async () => (await heading(page)) === 'Overview');
  eq(await page.locator('.role-badge').textContent(), 'Auditor (read-only)', 'role shown');
  const navLinks = await page.getByRole('navigation', { name: 'Console pages' }).getByRole('link').allTextContents();
  check(!navLinks.includes('API keys'), 'no API keys page in the navigation');
  const changing = /^(Sync now|Allocate|Deallocate|Reinstate|Create rule|Save changes|Edit|Delete|Create user|End session|Apply license key|Apply definition|Create key)$/;
  for (const [name, path, title] of PAGES) {
    if (name === 'apikeys') continue;
    await open(page, title);
    await page.waitForLoadState('networkidle');
    await until(`${title} loaded`, async () => (await page.getByText(/Loading/).count()) === 0);
    const labels = (await page.getByRole('button').allTextContents()).map((t) => t.trim());
    const bad = labels.filter((t) => changing.test(t));
    check(bad.length === 0, `${path}: an auditor sees buttons that change things: ${bad.join(', ')}`);
    eq(await page.locator('form.create, textarea, input[type=file]').count(), 0, `${path}: forms that change things`);
    await shot(page, `auditor-${name}`);
  }
  await page.goto(`${site.base}/console/apikeys`);
  await page.getByText('API keys are managed with an admin key').waitFor();
  // The server agrees: the auditor's key cannot change anything either.
  const r = await site.api('POST', '/allocations/rules', { name: 'x', accessType: 'professional', match: { groups: ['a'] } }, key);
  eq(r.status, 403, 'auditor POST refused by allotd');
  await page.context().close();
});

test('every page at 1280x800 and 1024 wide: screenshot, axe-core finds nothing serious', async () => {
  const problems = [];
  for (const [name, path, title] of PAGES) {
    await admin.setViewportSize({ width: 1280, height: 800 });
    await admin.goto(site.base + path);
    await until(`${title} page`, async () => (await heading(admin)) === title);
    await admin.waitForLoadState('networkidle');
    await until(`${title} loaded`, async () => (await admin.getByText(/Loading/).count()) === 0);
    const file = await shot(admin, name);
    const serious = await axeSerious(admin, tools.axeSource);
    for (const v of serious) problems.push(`${path}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.join('; ')})`);
    await admin.setViewportSize({ width: 1024, height: 768 });
    const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0) problems.push(`${path}: ${overflow}px wider than a 1024 px window`);
    await shot(admin, `${name}-1024`);
    diag(`${title}: ${file}`);
  }
  await admin.setViewportSize({ width: 1280, height: 800 });
  check(problems.length === 0, problems.join('\n'));
  // Everything the console does is keyboard-reachable: every control has a name.
  await admin.goto(`${site.base}/console/allocations`);
  await until('allocations', async () => (await heading(admin)) === 'Allocations');
  const unnamed = await admin.evaluate(() => [...document.querySelectorAll('button, input, select, textarea, a[href]')]
    .filter((el) => !(el.getAttribute('aria-label') || el.labels?.length || el.textContent?.trim()))
    .map((el) => el.outerHTML.slice(0, 80)));
  check(unnamed.length === 0, `controls without a name: ${unnamed.join(' ')}`);
});

test('stale warning, stale state, then Sync now once the backend is back', async () => {
  await site.applyLicense(['--license-number', '4242', '--professional', '3', '--analyzer', '2', '--tokens', '5',
    '--param', `offlineGraceSeconds=${GRACE}`]);
  await admin.goto(`${site.base}/console/`);
  await admin.getByText('The license is valid and verified').waitFor();

  // The backend goes away: Sync now fails, and the console says when
  // licenses will be disabled.
  await site.stopAuthority();
  await admin.getByRole('button', { name: 'Sync now' }).click();
  await admin.getByText('The license backend could not be reached or verified').waitFor();
  const warning = admin.locator('.status-panel [data-license-level="warning"]');
  await warning.waitFor();
  check(/Licenses will be disabled in \d+ seconds? unless a sync succeeds/.test(await warning.textContent()), `warning names the time left: ${await warning.textContent()}`);
  check((await admin.getByTestId('sync-error').textContent()) !== 'none', 'the last sync error is shown');
  await shot(admin, 'overview-stale-warning');

  // The grace runs out: licenses are disabled, and every page says so.
  const lic = await site.apiOk('GET', '/license', undefined, 200);
  const disabledAt = Date.parse(lic.disabledAt);
  await until('the license to go stale', async () => (await site.apiOk('GET', '/license', undefined, 200)).status === 'stale', disabledAt - Date.now() + 15000, 250);
  await admin.getByRole('button', { name: 'Refresh' }).click();
  await admin.locator('.status-panel [data-license-level="disabled"]').getByText('Licenses are disabled: the license is out of date').waitFor();
  await shot(admin, 'overview-stale');
  await open(admin, 'Allocations');
  await admin.locator('.banner-slot').getByText('Licenses are disabled').waitFor();
  // An allocation now is refused with the message and what to do.
  await admin.getByLabel('User', { exact: true }).first().fill('CORP\\bob');
  await admin.getByRole('button', { name: 'Find user' }).click();
  await until('bob found', async () => (await admin.getByLabel('Matching user').inputValue()) !== '');
  await admin.getByLabel('Allocation type').selectOption('professional');
  await admin.getByRole('button', { name: 'Allocate', exact: true }).click();
  const alert = admin.locator('.messages .alert-error');
  await alert.getByText('Licenses are disabled: the license could not be verified in time').waitFor();
  check((await alert.textContent()).includes('Too much time has passed since the last license update'), 'the server message');
  check((await alert.textContent()).includes('Sync now'), 'what to do');
  await shot(admin, 'allocations-outdated-license');

  // The backend is back: Sync now restores everything.
  await site.startAuthority();
  await open(admin, 'Overview');
  await admin.getByRole('button', { name: 'Sync now' }).click();
  await admin.getByText('Synced with the license backend').waitFor();
  await admin.locator('.status-panel [data-license-level="ok"]').waitFor();
  eq((await site.apiOk('GET', '/license', undefined, 200)).status, 'ok', 'license ok again');
  await shot(admin, 'overview-synced');
});

test('a key deleted meanwhile sends the console back to sign-in', async () => {
  const key = await site.newKey('admin', 'temporary admin');
  const page = await newPage();
  await signIn(page, key, '/console/rules');
  await until('the rules page', async () => (await heading(page)) === 'Rules');
  const keys = await site.apiOk('GET', '/apikeys?limit=1000', undefined, 200);
  const id = keys.data.find((k) => k.name === 'temporary admin').id;
  await site.apiOk('DELETE', `/apikeys/${id}`, undefined, 204);
  await open(page, 'Users').catch(() => undefined);
  await page.waitForURL(/\/console\/signin\?next=/);
  await page.getByText('allotd no longer accepts your API key').waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('allot.key')) === null, 'the key is forgotten');
  await page.context().close();
});

test('no error in the browser console', async () => {
  check(consoleErrors.length === 0, consoleErrors.slice(0, 10).join('\n'));
});

run(async () => {
  tools = requireTools();
  rmSync(SHOTS, { recursive: true, force: true }); // only this run's pictures
  mkdirSync(SHOTS, { recursive: true });
  diag(`screenshots: ${SHOTS}`);
  site = new Site();
  await site.start();
  browser = await launchBrowser(tools);
  diag(`allotd ${site.base}, Chromium ${browser.version()}`);
  return {
    onFailure: async (name) => {
      if (!admin) return;
      await shot(admin, `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => undefined);
      await admin.goto(`${site.base}/console/`).catch(() => undefined); // no dialog left open
    },
  };
}, async (_ctx, keepLogs) => {
  await browser?.close().catch(() => undefined);
  await site?.stop(keepLogs);
});
