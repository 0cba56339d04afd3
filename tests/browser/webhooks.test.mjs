// The console's Webhooks page in headless Chromium, against a real allotd,
// PostgreSQL and a real receiver (tests/api/webhook_receiver.py, which checks
// the Standard Webhooks signature): an admin subscribes, sees the secret once,
// sends a test event and reads its delivery log; an auditor reads without a
// control that changes anything; the subscription is deleted.  Screenshots go
// to ALLOT_SCREENSHOT_DIR; axe-core finds nothing serious on the page.
import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import {
  ADMIN_KEY, axeSerious, check, diag, eq, freePort, launchBrowser, requireTools, run, Site,
  startProcess, test, until,
} from './harness.mjs';

const SHOTS = process.env.ALLOT_SCREENSHOT_DIR || join(process.cwd(), 'browser-screenshots-webhooks');

let site;
let tools;
let browser;
let admin;
let receiver;
let secretsPath;
let logPath;
let hookUrl;
const consoleErrors = [];

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) {
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
  await until('the Webhooks page', async () => (await page.locator('h1').first().textContent())?.trim() === 'Webhooks');
}

async function shot(page, name) {
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

function received() {
  let text = '';
  try {
    text = readFileSync(logPath, 'utf8');
  } catch { /* nothing yet */ }
  // (the start-up probe's POST carries no webhook-id: not a delivery)
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.id);
}

test('an admin subscribes a URL; the secret is shown once', async () => {
  await site.applyLicense(['--license-number', '77', '--professional', '3']);
  admin = await newPage();
  await signIn(admin, ADMIN_KEY, '/console/webhooks');
  await admin.getByText('No subscription: nobody is alerted.').waitFor();
  await admin.getByLabel('URL', { exact: true }).fill(hookUrl);
  await admin.getByLabel('Description').fill('on-call');
  await admin.getByLabel('The license is stale (licenses disabled)').check();
  await admin.getByLabel('Licenses will be disabled soon', { exact: true }).check();
  await admin.getByLabel('Licenses will be disabled soon: Hours before').fill('48');
  await admin.getByLabel('An allotment is running low', { exact: true }).check();
  await admin.getByLabel('An allotment is running low: Available below').fill('2');
  await admin.getByRole('button', { name: 'Subscribe' }).click();
  const secret = await admin.getByLabel('New webhook secret').inputValue();
  check(/^whsec_[A-Za-z0-9+/]{43}=$/.test(secret), `a Standard Webhooks secret (${secret.slice(0, 8)}...)`);
  appendFileSync(secretsPath, `${secret}\n`);
  const list = await site.apiOk('GET', '/webhooks', undefined, 200);
  eq(list.data.length, 1, 'one subscription');
  const hook = list.data[0];
  eq(hook.url, hookUrl, 'its URL');
  const canon = (events) => JSON.stringify(events.map((e) => Object.fromEntries(Object.entries(e).sort())));
  eq(canon(hook.events), canon([
    { type: 'license.disabling', hours: 48 }, { type: 'license.stale' },
    { type: 'allotment.low', allotment: 'professional', below: 2 }]), 'its events');
  check(!JSON.stringify(hook).includes('whsec_'), 'no secret in the list');
  await admin.getByRole('button', { name: 'I have saved it' }).click();
  check(!(await admin.content()).includes(secret), 'the secret is gone from the page');
  await admin.getByRole('cell', { name: hookUrl, exact: true }).waitFor();
});

test('a real event and a test event reach the receiver, signed; the delivery log shows them', async () => {
  // Two allocations of three take professional below 2: allotment.low.
  const users = [];
  for (const name of ['ann', 'ben']) {
    users.push((await site.apiOk('POST', '/users', { userDirectory: 'CORP', userId: name, name }, 201)).id);
  }
  for (const id of users) await site.apiOk('POST', '/allocations', { user: id, type: 'professional' }, 201);
  await admin.getByRole('button', { name: `Send test to ${hookUrl}` }).click();
  await admin.getByText('Test event written').waitFor();
  await until('both events at the receiver', async () => {
    const types = received().filter((r) => r.valid).map((r) => r.type);
    return types.includes('allotment.low') && types.includes('webhook.test');
  }, 20000);
  check(received().every((r) => r.valid), 'every delivery carried a valid signature');
  await admin.getByRole('button', { name: `Delivery log of ${hookUrl}` }).click();
  await until('the log shows both delivered', async () => {
    await admin.getByRole('button', { name: `Delivery log of ${hookUrl}` }).click();
    const text = await admin.locator('section[aria-labelledby="log-h"]').textContent();
    return text.includes('allotment.low') && text.includes('webhook.test') && !text.includes('No delivery attempt yet');
  }, 20000);
  const log = admin.locator('section[aria-labelledby="log-h"]');
  eq(await log.getByText('delivered').count(), 2, 'two delivered attempts');
  const serious = await axeSerious(admin, tools.axeSource);
  check(serious.length === 0, serious.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.join('; ')})`).join('\n'));
  diag(`screenshot: ${await shot(admin, 'webhooks')}`);
});

test('an auditor reads the subscriptions and their log, and changes nothing', async () => {
  const key = await site.newKey('auditor', 'webhook auditor');
  const page = await newPage();
  await signIn(page, key, '/console/webhooks');
  await page.getByRole('cell', { name: hookUrl, exact: true }).waitFor();
  eq(await page.getByRole('button', { name: 'Subscribe' }).count(), 0, 'no form');
  eq(await page.getByRole('button', { name: /^Delete/ }).count(), 0, 'no delete');
  eq(await page.getByRole('button', { name: /^Send test/ }).count(), 0, 'no test');
  await page.getByRole('button', { name: `Delivery log of ${hookUrl}` }).click();
  await page.locator('section[aria-labelledby="log-h"]').getByText('webhook.test').waitFor();
  await shot(page, 'webhooks-auditor');
  await page.context().close();
});

test('bad input is refused with the server\'s reason; deleting the subscription', async () => {
  await admin.getByLabel('URL', { exact: true }).fill('ftp://example.com/hook');
  await admin.getByLabel('The license is stale (licenses disabled)').check();
  await admin.getByRole('button', { name: 'Subscribe' }).click();
  await admin.locator('.messages .alert-error').getByText('url must be an http:// or https:// URL').waitFor();
  eq((await site.apiOk('GET', '/webhooks', undefined, 200)).data.length, 1, 'nothing added');
  await admin.getByRole('button', { name: `Delete the subscription of ${hookUrl}` }).click();
  await admin.getByRole('button', { name: 'Delete subscription' }).click();
  await admin.getByText('Subscription deleted').waitFor();
  await admin.getByText('No subscription: nobody is alerted.').waitFor();
  eq((await site.apiOk('GET', '/webhooks', undefined, 200)).data.length, 0, 'deleted');
  eq(site.sql('SELECT count(*) FROM webhook_outbox'), '0', 'its deliveries went with it');
});

test('no error in the browser console', async () => {
  check(consoleErrors.length === 0, consoleErrors.slice(0, 10).join('\n'));
});

run(async () => {
  tools = requireTools();
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  site = new Site();
  await site.start();
  secretsPath = join(site.dir, 'webhook-secrets');
  logPath = join(site.dir, 'webhook-received.jsonl');
  const port = await freePort();
  hookUrl = `http://127.0.0.1:${port}/allot`;
  receiver = startProcess('webhook receiver', '/usr/bin/python3',
    [join(process.env.ALLOT_SOURCE_ROOT || join(process.env.ALLOT_CONSOLE_SRC, '..'), 'tests/api/webhook_receiver.py'), String(port), secretsPath, logPath],
    {}, join(site.dir, 'receiver.log'));
  await until('the receiver to listen', async () => {
    if (receiver.exitCode !== null) throw new Error('the receiver exited');
    try {
      await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' });
      return true;
    } catch {
      return false;
    }
  });
  browser = await launchBrowser(tools);
  diag(`allotd ${site.base}, receiver ${hookUrl}`);
  return {
    onFailure: async (name) => {
      if (admin) await shot(admin, `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => undefined);
    },
  };
}, async (_ctx, keepLogs) => {
  await browser?.close().catch(() => undefined);
  await site?.stop(keepLogs);
});
