// Builds the console into OUTDIR (meson's custom target; `npm run build` builds
// into dist/): type-checks with tsc, then bundles with Vite.  Everything comes
// from node_modules, installed by `npm ci` from package-lock.json (the scripts
// in ../scripts do that); nothing is fetched from a network at build time.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(root, 'dist'));

if (!existsSync(join(root, 'node_modules', 'vite'))) {
  console.error(`console: ${join(root, 'node_modules')} is missing: run \`npm ci\` in ${root} ` +
    '(./scripts/run and ./scripts/test do it)');
  process.exit(1);
}

const tsc = spawnSync(process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', root],
  { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('console: type errors (tsc)');
  process.exit(1);
}

const { build } = await import('vite');
await build({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn',
  build: { outDir, emptyOutDir: true } });
