// The browser suite's harness: a database of its own on the test PostgreSQL
// (ALLOT_TEST_PG), a real allot-authority and a real allotd started from the
// built binaries, headless Debian Chromium driven by playwright-core, axe-core
// for accessibility, screenshots, and a small TAP runner (one test point per
// scenario; meson reads TAP).  Everything it starts, it stops; it waits for
// conditions with deadlines, never for a fixed time.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = process.env;
export const ADMIN_KEY = `allot_browser_admin_${randomBytes(12).toString('hex')}`;

// ---- TAP ----------------------------------------------------------------------

const tests = [];
let failed = 0;

export function test(name, fn) {
  tests.push({ name, fn });
}

export function diag(text) {
  for (const line of String(text).split('\n')) console.log(`# ${line}`);
}

export class Failure extends Error {}

export function check(cond, what) {
  if (!cond) throw new Failure(what);
}

export function eq(actual, expected, what) {
  if (actual !== expected) throw new Failure(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

// Polls fn until it returns a truthy value; fails after timeoutMs with what.
export async function until(what, fn, timeoutMs = 15000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Failure(`timed out waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Runs the scenarios in order; a failed one does not stop the others.
export async function run(setup, teardown) {
  let ctx;
  try {
    ctx = await setup();
  } catch (e) {
    console.log(`Bail out! ${e instanceof Error ? e.message : e}`);
    if (e instanceof Error && e.stack) diag(e.stack);
    await teardown?.(null, true).catch(() => undefined);
    process.exitCode = 1;
    return;
  }
  let n = 0;
  for (const t of tests) {
    n += 1;
    try {
      await t.fn(ctx);
      console.log(`ok ${n} - ${t.name}`);
    } catch (e) {
      failed += 1;
      console.log(`not ok ${n} - ${t.name}`);
      diag(e instanceof Error ? (e instanceof Failure ? e.message : e.stack ?? e.message) : String(e));
      await ctx.onFailure?.(t.name).catch(() => undefined);
    }
  }
  console.log(`1..${n}`);
  await teardown?.(ctx, failed > 0).catch((e) => diag(`teardown: ${e.message}`));
  process.exitCode = failed > 0 ? 1 : 0;
}

// ---- what the machine must have --------------------------------------------

export function requireTools() {
  const need = {
    ALLOTD: env.ALLOTD, ALLOT_AUTHORITY: env.ALLOT_AUTHORITY, ALLOT_TEST_PG: env.ALLOT_TEST_PG,
    ALLOT_CONSOLE_DIR: env.ALLOT_CONSOLE_DIR, ALLOT_CONSOLE_SRC: env.ALLOT_CONSOLE_SRC,
  };
  const missing = Object.entries(need).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length) throw new Error(`not set: ${missing.join(', ')} (run through meson test or ./scripts/test)`);
  const chromium = env.ALLOT_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(chromium)) throw new Error(`no Chromium at ${chromium}: install Debian's chromium package (./scripts/test does)`);
  if (!existsSync(join(env.ALLOT_CONSOLE_DIR, 'index.html'))) throw new Error(`the console is not built: no ${env.ALLOT_CONSOLE_DIR}/index.html`);
  const req = createRequire(join(env.ALLOT_CONSOLE_SRC, 'package.json'));
  let playwright;
  try {
    playwright = req('playwright-core');
  } catch {
    throw new Error(`playwright-core is not installed in ${env.ALLOT_CONSOLE_SRC}/node_modules: run npm ci there (./scripts/test does)`);
  }
  const axeSource = readFileSync(req.resolve('axe-core/axe.min.js'), 'utf8');
  return { chromium, playwright, axeSource };
}

// ---- processes ------------------------------------------------------------------

const children = new Set();

export function freePort() {
  // Below the ephemeral range, like the C harness: no client socket takes it.
  let low = 20000;
  let high = 32767;
  try {
    const [eph] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (eph - 1 > low + 1000) high = eph - 1;
  } catch { /* keep the defaults */ }
  const tryPort = (port) => new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  return (async () => {
    for (let i = 0; i < 200; i += 1) {
      const port = low + Math.floor(Math.random() * (high - low + 1));
      if (await tryPort(port)) return port;
    }
    throw new Error('no free TCP port');
  })();
}

export function runTool(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || '').trim().slice(0, 400)}`);
  return r.stdout;
}

export function startProcess(name, cmd, args, extraEnv, logPath) {
  const fd = openSync(logPath, 'a');
  const child = spawn(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.allotName = name;
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export async function stopProcess(child, timeoutMs = 20000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
  const done = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig)));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await done;
  clearTimeout(t);
  return code;
}

export async function stopAll() {
  await Promise.all([...children].map((c) => stopProcess(c)));
}

// ---- PostgreSQL -------------------------------------------------------------------

function psqlPath() {
  const bin = env.ALLOT_TEST_PG_BIN;
  return bin && existsSync(join(bin, 'psql')) ? join(bin, 'psql') : 'psql';
}

export function sql(url, query) {
  return runTool(psqlPath(), ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', query]).trim();
}

export function createDatabase() {
  const name = `allot_browser_${process.pid}_${randomBytes(3).toString('hex')}`;
  sql(env.ALLOT_TEST_PG, `CREATE DATABASE ${name}`);
  const u = new URL(env.ALLOT_TEST_PG);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

export function dropDatabase(db) {
  if (db) sql(env.ALLOT_TEST_PG, `DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
}

// ---- the site: authority + allotd -----------------------------------------------

export class Site {
  // extraEnv: more variables for allotd (e.g. ALLOT_REAPER_INTERVAL).
  constructor(extraEnv = {}) {
    this.extraEnv = extraEnv;
    this.dir = mkdtempSync(join(tmpdir(), 'allot-browser-'));
    this.keyPath = join(this.dir, 'authority.key');
    this.pubPath = join(this.dir, 'authority.pub');
    this.stateDir = join(this.dir, 'authority-state');
    this.allotdLog = join(this.dir, 'allotd.log');
    this.authorityLog = join(this.dir, 'authority.log');
  }

  async start() {
    runTool(env.ALLOT_AUTHORITY, ['keygen', '--out', this.dir]);
    mkdirSync(this.stateDir);
    this.authorityPort = await freePort();
    await this.startAuthority();
    this.db = createDatabase();
    runTool(env.ALLOTD, ['migrate'], { env: { ...env, ALLOT_DATABASE_URL: this.db.url } });
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    this.allotd = startProcess('allotd', env.ALLOTD, [], {
      ALLOT_DATABASE_URL: this.db.url,
      ALLOT_LISTEN: `127.0.0.1:${this.port}`,
      ALLOT_ADMIN_KEY: ADMIN_KEY,
      ALLOT_AUTHORITY_URL: `http://127.0.0.1:${this.authorityPort}`,
      ALLOT_AUTHORITY_PUBLIC_KEY: this.pubPath,
      ALLOT_CONSOLE_DIR: env.ALLOT_CONSOLE_DIR,
      ALLOT_SYNC_INTERVAL: '1h',
      ALLOT_SYNC_TIMEOUT: '3s',
      ALLOT_THREADS: '4',
      ALLOT_DB_POOL_SIZE: '4',
      ...this.extraEnv,
    }, this.allotdLog);
    await until('allotd to be ready with its admin key', async () => {
      if (this.allotd.exitCode !== null) throw new Error(`allotd exited (${this.allotd.exitCode}); log ${this.allotdLog}`);
      const r = await this.api('GET', '/license');
      return r.status === 200;
    }, 30000);
  }

  async startAuthority() {
    this.authority = startProcess('allot-authority', env.ALLOT_AUTHORITY,
      ['serve', '--key', this.keyPath, '--listen', `127.0.0.1:${this.authorityPort}`, '--state-dir', this.stateDir],
      {}, this.authorityLog);
    await until('allot-authority to answer', async () => {
      if (this.authority.exitCode !== null) throw new Error(`allot-authority exited; log ${this.authorityLog}`);
      try {
        await fetch(`http://127.0.0.1:${this.authorityPort}/`);
        return true;
      } catch {
        return false;
      }
    }, 15000);
  }

  async stopAuthority() {
    await stopProcess(this.authority);
  }

  // One request to allotd; { status, body, headers }.
  async api(method, path, body, key = ADMIN_KEY, accept = 'application/json') {
    const headers = { Accept: accept };
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json, text, headers: res.headers };
  }

  async apiOk(method, path, body, expected) {
    const r = await this.api(method, path, body);
    if (r.status !== expected) throw new Failure(`${method} ${path}: HTTP ${r.status}, expected ${expected}: ${r.text.slice(0, 300)}`);
    return r.body;
  }

  // `allot-authority issue` with these options; the license key.
  issue(args) {
    return runTool(env.ALLOT_AUTHORITY, ['issue', '--key', this.keyPath, '--organization', 'Acme', '--product', 'Analytics Enterprise', ...args]).trim();
  }

  async applyLicense(args) {
    return this.apiOk('PUT', '/license', { key: this.issue(args) }, 200);
  }

  async newKey(role, name = `browser-${role}`) {
    return (await this.apiOk('POST', '/apikeys', { name, role }, 201)).key;
  }

  sql(query) {
    return sql(this.db.url, query);
  }

  async stop(keepLogs) {
    await stopAll();
    try {
      dropDatabase(this.db);
    } catch (e) {
      diag(`could not drop ${this.db?.name}: ${e.message}`);
    }
    if (keepLogs) diag(`logs kept in ${this.dir} (allotd.log, authority.log)`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- the browser --------------------------------------------------------------------

// Debian's Chromium, headless, with the network features that this machine's
// closed network would refuse turned off.  Playwright starts it with a fresh,
// empty --user-data-dir of its own (a temporary directory it removes), and
// each browser context is a separate profile on top.
export async function launchBrowser(tools) {
  return tools.playwright.chromium.launch({
    executablePath: tools.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// axe-core in the page: the violations of impact serious or critical.
export async function axeSerious(page, axeSource) {
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  // The console's CSP forbids inline scripts, so axe goes in through the
  // DevTools protocol's evaluation, which CSP does not govern.
  if (!loaded) await page.evaluate(axeSource);
  const results = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
