#!/usr/bin/env node
// The `forge` admin CLI. Built output lives in dist/ (`npm run build`, also run by `npm start`).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('forge: not built yet; run `npm run build` in the repository first');
  process.exit(1);
}
await import(entry.href);
