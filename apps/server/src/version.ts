import { readFileSync } from 'node:fs';

/** This server's version: apps/server/package.json's (`forge --version`, the start-up line, `forge_info`). */
export const FORGE_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
