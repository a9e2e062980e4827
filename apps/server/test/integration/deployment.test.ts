import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CONFIG_ENV_VARS } from '@forge/server';

const run = promisify(execFile);
const root = path.resolve(fileURLToPath(import.meta.url), '../../../../..');

async function dockerComposeAvailable(): Promise<boolean> {
  try {
    await run('docker-compose', ['version']);
    return true;
  } catch {
    if (process.env.CI) throw new Error('docker-compose (Debian package docker-compose) is required in CI to validate docker-compose.yml');
    console.warn('\n!!! docker-compose is not installed: SKIPPING the docker-compose.yml validation. apt-get install docker-compose !!!\n');
    return false;
  }
}

const available = await dockerComposeAvailable();

describe.runIf(available)('docker-compose.yml', () => {
  const env = { ...process.env, FORGE_SECRET: 'ab'.repeat(32) };

  it('is a valid compose file with PostgreSQL, two forge processes and a load balancer', async () => {
    const { stdout } = await run('docker-compose', ['config', '--services'], { cwd: root, env });
    expect(stdout.trim().split('\n').sort()).toEqual(['forge-1', 'forge-2', 'postgres', 'proxy']);
  });

  it('configures the server only through variables the server reads', async () => {
    const { stdout } = await run('docker-compose', ['config'], { cwd: root, env });
    const forgeVars = [...stdout.matchAll(/^\s+(FORGE_[A-Z_]+|DATABASE_URL|LOG_LEVEL|PORT):/gm)].map((m) => m[1]);
    expect(forgeVars.length).toBeGreaterThan(5);
    for (const name of forgeVars) expect(CONFIG_ENV_VARS, name).toContain(name);
    expect(stdout).toContain('postgres://forge:forge@postgres:5432/forge');
  });

  it('refuses to render without the shared server secret', async () => {
    const noSecret = { ...process.env };
    delete noSecret.FORGE_SECRET;
    await expect(run('docker-compose', ['config', '-q'], { cwd: root, env: noSecret })).rejects.toThrow(/FORGE_SECRET/);
  });

  it('builds the image the way the README starts the server', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/apps\/server\/dist\/main\.js/);
  });
});
