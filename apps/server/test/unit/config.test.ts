import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '@forge/core';
import { CONFIG_ENV_VARS, loadConfig } from '@forge/server';

describe('durations', () => {
  it('reads the spellings the settings document', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration(' 5m ')).toBe(300_000);
    expect(parseDuration('0')).toBe(0);
  });
  it('refuses anything else, naming the setting', () => {
    for (const bad of ['', '60', '1.5h', '1 h', '-1h', '1w', 'h', '1h ago', '1H']) {
      expect(() => parseDuration(bad, 'FORGE_BLOB_GRACE'), bad).toThrow(/FORGE_BLOB_GRACE must be a duration such as 90s/);
    }
  });
  it('formats back to what it reads', () => {
    for (const ms of [0, 250, 90_000, 5_400_000, 30 * 86_400_000 + 1000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });
});

describe('loadConfig: storage, serving, workers, grace, secrets from files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forge-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const s3 = { FORGE_STORAGE: 's3', FORGE_S3_BUCKET: 'forge', FORGE_S3_ENDPOINT: 'http://minio:9000/' };

  it('defaults to local storage served through the server, one process, a one-hour grace', () => {
    const config = loadConfig({}, dir);
    expect(config.storage).toEqual({ kind: 'local', path: path.join(dir, 'data', 'blobs') });
    expect(config.serveDirect).toEqual({ mode: 'off', expirySeconds: 300, accelLocation: '/_forge_blobs/' });
    expect(config.workers).toBe(1);
    expect(config.blobGraceMs).toBe(3_600_000);
  });

  it('reads the S3 settings, with path style on by default for a custom endpoint', () => {
    const config = loadConfig({ ...s3, FORGE_S3_PREFIX: 'cache', FORGE_S3_ACCESS_KEY_ID: 'id', FORGE_S3_SECRET_ACCESS_KEY: 'secret', FORGE_S3_PUBLIC_ENDPOINT: 'https://s3.example.org' }, dir);
    expect(config.storage).toEqual({
      kind: 's3',
      path: path.join(dir, 'data', 'blobs'),
      endpoint: 'http://minio:9000',
      publicEndpoint: 'https://s3.example.org',
      region: 'us-east-1',
      bucket: 'forge',
      prefix: 'cache',
      accessKeyId: 'id',
      secretAccessKey: 'secret',
      forcePathStyle: true,
    });
    expect((loadConfig({ FORGE_STORAGE: 's3', FORGE_S3_BUCKET: 'b' }, dir).storage as { forcePathStyle: boolean }).forcePathStyle).toBe(false);
    expect((loadConfig({ ...s3, FORGE_S3_FORCE_PATH_STYLE: 'off' }, dir).storage as { forcePathStyle: boolean }).forcePathStyle).toBe(false);
  });

  it('refuses contradictory or incomplete settings with a message naming them', () => {
    expect(() => loadConfig({ FORGE_STORAGE: 'ftp' }, dir)).toThrow(/FORGE_STORAGE=ftp is not supported; use "local" or "s3"/);
    expect(() => loadConfig({ FORGE_STORAGE: 's3' }, dir)).toThrow(/needs FORGE_S3_BUCKET/);
    expect(() => loadConfig({ ...s3, FORGE_S3_ACCESS_KEY_ID: 'id' }, dir)).toThrow(/both FORGE_S3_ACCESS_KEY_ID and FORGE_S3_SECRET_ACCESS_KEY, or neither/);
    expect(() => loadConfig({ ...s3, FORGE_S3_ENDPOINT: 'minio:9000' }, dir)).toThrow(/FORGE_S3_ENDPOINT must be an http\(s\) URL/);
    expect(() => loadConfig({ FORGE_SERVE_DIRECT: 'redirect' }, dir)).toThrow(/redirect needs FORGE_STORAGE=s3/);
    expect(() => loadConfig({ ...s3, FORGE_SERVE_DIRECT: 'accel' }, dir)).toThrow(/accel needs FORGE_STORAGE=local/);
    expect(() => loadConfig({ FORGE_SERVE_DIRECT: 'sendfile' }, dir)).toThrow(/must be off, redirect or accel/);
    expect(() => loadConfig({ ...s3, FORGE_SERVE_DIRECT: 'redirect', FORGE_SERVE_DIRECT_EXPIRY: '8d' }, dir)).toThrow(/between 1s and 7d/);
    expect(() => loadConfig({ FORGE_ACCEL_LOCATION: 'blobs' }, dir)).toThrow(/FORGE_ACCEL_LOCATION must be a path/);
    expect(() => loadConfig({ FORGE_WORKERS: '0' }, dir)).toThrow(/at least 1/);
    expect(() => loadConfig({ FORGE_BLOB_GRACE: '60' }, dir)).toThrow(/FORGE_BLOB_GRACE must be a duration/);
    expect(() => loadConfig({ ...s3, FORGE_S3_FORCE_PATH_STYLE: 'maybe' }, dir)).toThrow(/FORGE_S3_FORCE_PATH_STYLE must be 1 or 0/);
  });

  it('reads secrets from files, without the trailing newline, and refuses both forms at once', () => {
    writeFileSync(path.join(dir, 'db-url'), 'postgres://forge:s3cret@db/forge\n');
    writeFileSync(path.join(dir, 'secret'), 'ab'.repeat(32));
    writeFileSync(path.join(dir, 'key-id'), 'id\n');
    writeFileSync(path.join(dir, 'key'), 'secret\n');
    const config = loadConfig(
      { ...s3, DATABASE_URL_FILE: 'db-url', FORGE_SECRET_FILE: path.join(dir, 'secret'), FORGE_S3_ACCESS_KEY_ID_FILE: 'key-id', FORGE_S3_SECRET_ACCESS_KEY_FILE: 'key' },
      dir,
    );
    expect(config.databaseUrl).toBe('postgres://forge:s3cret@db/forge');
    expect(config.secret).toBe('ab'.repeat(32));
    expect(config.storage).toMatchObject({ accessKeyId: 'id', secretAccessKey: 'secret' });
    expect(() => loadConfig({ FORGE_SECRET: 'x', FORGE_SECRET_FILE: 'secret' }, dir)).toThrow(/either FORGE_SECRET or FORGE_SECRET_FILE, not both/);
    expect(() => loadConfig({ FORGE_SECRET_FILE: 'missing' }, dir)).toThrow(/FORGE_SECRET_FILE: cannot read missing/);
  });

  it('lists every variable it reads', () => {
    for (const name of ['FORGE_S3_ENDPOINT', 'FORGE_S3_PUBLIC_ENDPOINT', 'FORGE_S3_REGION', 'FORGE_S3_BUCKET', 'FORGE_S3_PREFIX', 'FORGE_S3_ACCESS_KEY_ID', 'FORGE_S3_SECRET_ACCESS_KEY', 'FORGE_S3_FORCE_PATH_STYLE', 'FORGE_SERVE_DIRECT', 'FORGE_SERVE_DIRECT_EXPIRY', 'FORGE_ACCEL_LOCATION', 'FORGE_WORKERS', 'FORGE_BLOB_GRACE', 'DATABASE_URL_FILE', 'FORGE_SECRET_FILE', 'FORGE_S3_ACCESS_KEY_ID_FILE', 'FORGE_S3_SECRET_ACCESS_KEY_FILE']) {
      expect(CONFIG_ENV_VARS).toContain(name);
    }
  });
});

describe('README documents every setting', () => {
  it('has a row for each variable loadConfig reads', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../../../README.md'), 'utf8');
    for (const name of CONFIG_ENV_VARS) {
      if (name.endsWith('_FILE')) continue; // one row names them all
      expect(readme, name).toContain(`\`${name}\``);
    }
    expect(readme).toContain('`…_FILE`');
  });
});

describe('loadConfig: FORGE_FIRST_SIGNUP_ADMIN', () => {
  const dir = '/tmp/forge-config-test';
  it('by default (auto) lets the first sign-up administer only a server on a loopback address', () => {
    expect(loadConfig({}, dir).firstSignUpAdmin).toBe(true); // http://localhost:3000
    for (const url of ['http://127.0.0.1:3000', 'http://[::1]:3000', 'http://forge.localhost']) {
      expect(loadConfig({ FORGE_BASE_URL: url }, dir).firstSignUpAdmin, url).toBe(true);
    }
    for (const url of ['https://forge.example', 'http://192.168.1.5:3000', 'http://10.0.0.1']) {
      expect(loadConfig({ FORGE_BASE_URL: url }, dir).firstSignUpAdmin, url).toBe(false);
    }
  });
  it('is on or off when set, and refuses anything else', () => {
    expect(loadConfig({ FORGE_BASE_URL: 'https://forge.example', FORGE_FIRST_SIGNUP_ADMIN: 'on' }, dir).firstSignUpAdmin).toBe(true);
    expect(loadConfig({ FORGE_FIRST_SIGNUP_ADMIN: 'off' }, dir).firstSignUpAdmin).toBe(false);
    expect(() => loadConfig({ FORGE_FIRST_SIGNUP_ADMIN: 'maybe' }, dir)).toThrow(/FORGE_FIRST_SIGNUP_ADMIN must be on, off or auto/);
  });
});

describe('loadConfig: upstream caches', () => {
  it('allows cache.nixos.org by default, origins listed, any HTTPS with https://*, none with none', () => {
    expect(loadConfig({}).upstreamAllow).toEqual(['https://cache.nixos.org']);
    expect(loadConfig({ FORGE_UPSTREAM_ALLOW: 'https://cache.nixos.org, http://127.0.0.1:8080' }).upstreamAllow).toEqual(['https://cache.nixos.org', 'http://127.0.0.1:8080']);
    expect(loadConfig({ FORGE_UPSTREAM_ALLOW: 'https://*' }).upstreamAllow).toEqual(['https://*']);
    expect(loadConfig({ FORGE_UPSTREAM_ALLOW: 'none' }).upstreamAllow).toEqual([]);
    expect(loadConfig({}).upstreamTimeoutMs).toBe(5_000);
    expect(loadConfig({ FORGE_UPSTREAM_TIMEOUT: '2s' }).upstreamTimeoutMs).toBe(2_000);
  });

  it('refuses what is not an http(s) origin', () => {
    for (const bad of ['cache.nixos.org', 'ftp://cache.nixos.org', 'https://cache.nixos.org/some/path', 'http://*']) {
      expect(() => loadConfig({ FORGE_UPSTREAM_ALLOW: bad }), bad).toThrow(/FORGE_UPSTREAM_ALLOW/);
    }
  });
});
