import { defineConfig } from 'vite';

// allotd serves the build at /console/ (src/api/console.c).  Files under
// assets/ carry a content hash in their names and are cached for a year;
// nothing is inlined into index.html, so the strict Content-Security-Policy
// (no inline script or style) holds.
export default defineConfig({
  base: '/console/',
  build: {
    target: 'es2020',
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
