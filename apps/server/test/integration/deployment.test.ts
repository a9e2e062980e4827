import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
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

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  secrets?: Array<string | { source: string }>;
  volumes?: Array<string | { source?: string; target: string; type?: string }>;
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
  ports?: unknown[];
  restart?: string;
}

describe.runIf(available)('docker-compose.yml, the documented production deployment', () => {
  const rendered = async () => {
    const { stdout } = await run('docker-compose', ['config'], { cwd: root });
    return stdout;
  };
  // What docker-compose itself made of the file (anchors merged, variables substituted).
  const services = async (): Promise<Record<string, ComposeService>> => (parseYaml(await rendered()) as { services: Record<string, ComposeService> }).services;

  it('has PostgreSQL, MinIO with a bucket-creating init step, two forge replicas and nginx', async () => {
    const { stdout } = await run('docker-compose', ['config', '--services'], { cwd: root });
    expect(stdout.trim().split('\n').sort()).toEqual(['forge-1', 'forge-2', 'minio', 'minio-init', 'postgres', 'proxy']);
    const s = await services();
    expect(s['minio-init']!.depends_on?.minio?.condition).toBe('service_healthy');
    expect(JSON.stringify(s['minio-init'])).toMatch(/mc mb --ignore-existing forge\/forge/);
    for (const name of ['forge-1', 'forge-2']) {
      expect(s[name]!.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' }, 'minio-init': { condition: 'service_completed_successfully' } });
      expect(s[name]!.environment).toMatchObject({ FORGE_STORAGE: 's3', FORGE_S3_ENDPOINT: 'http://minio:9000', FORGE_S3_BUCKET: 'forge', FORGE_SERVE_DIRECT: 'redirect' });
    }
    expect(s.proxy!.depends_on).toMatchObject({ 'forge-1': { condition: 'service_healthy' }, 'forge-2': { condition: 'service_healthy' } });
  });

  it('gives every long-running service a health check and a named volume where it keeps state', async () => {
    const s = await services();
    for (const name of ['postgres', 'minio', 'forge-1', 'forge-2', 'proxy']) {
      expect(s[name]!.healthcheck?.test, name).toBeDefined();
      expect(s[name]!.restart, name).toBe('unless-stopped');
    }
    const volumeOf = (name: string) =>
      (s[name]!.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source)).filter((v) => v && !v.startsWith('/') && !v.startsWith('.'));
    expect(volumeOf('postgres')).toEqual(['pgdata']);
    expect(volumeOf('minio')).toEqual(['objects']);
    expect(volumeOf('forge-1')).toEqual(['forge-1-data']);
    expect(volumeOf('forge-2')).toEqual(['forge-2-data']);
  });

  it('configures the server only through variables the server reads, and secrets only through files', async () => {
    const s = await services();
    for (const name of ['forge-1', 'forge-2']) {
      const env = s[name]!.environment ?? {};
      const forgeVars = Object.keys(env).filter((k) => /^(FORGE_|DATABASE_URL|LOG_LEVEL|PORT)/.test(k));
      expect(forgeVars.length).toBeGreaterThan(10);
      for (const v of forgeVars) expect(CONFIG_ENV_VARS, v).toContain(v);
      for (const secret of ['DATABASE_URL', 'FORGE_SECRET', 'FORGE_S3_ACCESS_KEY_ID', 'FORGE_S3_SECRET_ACCESS_KEY']) {
        expect(env[secret], secret).toBeUndefined();
        expect(env[`${secret}_FILE`], `${secret}_FILE`).toMatch(/^\/run\/secrets\//);
      }
      const mounted = (s[name]!.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source)).sort();
      expect(mounted).toEqual(['database_url', 'forge_secret', 's3_access_key_id', 's3_secret_access_key']);
    }
    expect(s.postgres!.environment).toMatchObject({ POSTGRES_PASSWORD_FILE: '/run/secrets/postgres_password' });
    expect(s.postgres!.environment!.POSTGRES_PASSWORD).toBeUndefined();
    expect(s.minio!.environment).toMatchObject({ MINIO_ROOT_USER_FILE: 's3_access_key_id', MINIO_ROOT_PASSWORD_FILE: 's3_secret_access_key' });
    for (const [name, service] of Object.entries(s)) {
      for (const key of Object.keys(service.environment ?? {})) {
        if (/PASSWORD|SECRET|ACCESS_KEY|ROOT_USER|DATABASE_URL/.test(key)) expect(key, `${name}: ${key}`).toMatch(/_FILE$/);
      }
    }
  });

  it('puts nginx in front with the documented configuration, publishing the forge and the presigned-download endpoint', async () => {
    const s = await services();
    expect(JSON.stringify(s.proxy!.volumes)).toContain('deploy/nginx.conf');
    expect(JSON.stringify(s.proxy!.ports)).toMatch(/8080.*80/);
    expect(JSON.stringify(s.proxy!.ports)).toMatch(/9000.*9000/);
    const nginx = readFileSync(path.join(root, 'deploy/nginx.conf'), 'utf8');
    expect(nginx).toMatch(/server forge-1:3000/);
    expect(nginx).toMatch(/server forge-2:3000/);
    expect(nginx).toMatch(/proxy_request_buffering off;/);
    expect(nginx).toMatch(/proxy_pass http:\/\/minio:9000;/);
  });

  it('builds a non-root image on Node.js 24 LTS with npm 11, started the way the README starts the server', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThanOrEqual(1);
    for (const from of froms) expect(from).toMatch(/^node:24[.-]/);
    expect(dockerfile).toMatch(/npm install -g npm@11\./);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/^USER node$/m);
    // The last USER wins: nothing switches back to root after it.
    expect(dockerfile.slice(dockerfile.lastIndexOf('\nUSER ')).match(/^USER (\S+)/m)![1]).toBe('node');
    expect(dockerfile).toMatch(/apps\/server\/dist\/main\.js/);
    const pinned = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).packageManager as string;
    expect(dockerfile).toContain(`npm install -g ${pinned}`);
  });

  it('has a script that makes the secret files, and keeps them out of git and the image', () => {
    expect(readFileSync(path.join(root, 'deploy/make-secrets.sh'), 'utf8')).toMatch(/database_url[\s\S]*forge_secret[\s\S]*s3_secret_access_key/);
    expect(readFileSync(path.join(root, '.gitignore'), 'utf8')).toMatch(/^\/secrets\/$/m);
    expect(readFileSync(path.join(root, '.dockerignore'), 'utf8')).toMatch(/^secrets$/m);
  });
});
