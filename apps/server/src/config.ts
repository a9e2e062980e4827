import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PASSWORD_HASHING, DEFAULT_SIGN_IN_LIMITS, type PasswordHashingLimits, type SignInLimits } from '@forge/auth';
import { parseDuration } from '@forge/core';
import { parseTrustProxy } from './client-address.js';

/** Where blobs live: the local filesystem, or an S3-compatible bucket (uploads staged locally). */
export type StorageConfig =
  | { kind: 'local'; path: string }
  | {
      kind: 's3';
      /** Local directory whose `tmp/` holds uploads being staged (`FORGE_STORAGE_PATH`). */
      path: string;
      endpoint?: string;
      publicEndpoint?: string;
      region: string;
      bucket: string;
      prefix: string;
      accessKeyId?: string;
      secretAccessKey?: string;
      forcePathStyle: boolean;
    };

/** How blob downloads leave the server (`FORGE_SERVE_DIRECT`). */
export interface ServeDirectConfig {
  /** `off`: streamed by the server; `redirect`: 302 to a presigned S3 URL; `accel`: X-Accel-Redirect to nginx. */
  mode: 'off' | 'redirect' | 'accel';
  /** Lifetime of a presigned URL, seconds (`FORGE_SERVE_DIRECT_EXPIRY`, default 5m). */
  expirySeconds: number;
  /** nginx `internal` location that maps to the blob directory (`FORGE_ACCEL_LOCATION`). */
  accelLocation: string;
}

/**
 * Server configuration, read from the environment only (twelve-factor: the same variables
 * drive `npm start`, docker-compose and tests). Every setting has a default that works
 * on a fresh machine: PGlite and local blobs under ./data. A secret may come from a file
 * instead (`FORGE_SECRET_FILE`, `DATABASE_URL_FILE`, `FORGE_S3_*_FILE`: Docker secrets).
 */
export interface ForgeConfig {
  /** Port to listen on (`PORT`, default 3000). */
  port: number;
  /** Interface to bind (`FORGE_LISTEN`, default all interfaces). */
  listen: string;
  /** Public URL clients use (`FORGE_BASE_URL`, default http://localhost:PORT). */
  baseUrl: string;
  /** Everything local lives here (`FORGE_DATA_DIR`, default ./data). */
  dataDir: string;
  /** PostgreSQL URL (`DATABASE_URL`); unset means the embedded PGlite under dataDir. */
  databaseUrl?: string;
  databasePoolSize: number;
  storage: StorageConfig;
  serveDirect: ServeDirectConfig;
  /** Server processes sharing the port (`FORGE_WORKERS`, default 1; PostgreSQL only). */
  workers: number;
  /**
   * Age before unreferenced blobs, objects without a row and staging leftovers may be
   * removed (`FORGE_BLOB_GRACE`, default 1h). It must exceed the longest upload.
   */
  blobGraceMs: number;
  /** Age before a NAR, listing or log uploaded without what completes it is removed (`FORGE_UPLOAD_GRACE`, default 1h). */
  uploadGraceMs: number;
  /** Longest wait for the next bytes of a request body being read (`FORGE_BODY_IDLE_TIMEOUT`, default 30s). */
  bodyIdleTimeoutMs: number;
  /** How often cleanup runs (`FORGE_CLEANUP_INTERVAL`, default 1h; 0 = never, only on demand). */
  cleanupIntervalMs: number;
  /** Upper bound for one uploaded body (`FORGE_MAX_UPLOAD_BYTES`, default 16 GiB). */
  maxUploadBytes: number;
  /** Bytes one owner may store (`FORGE_OWNER_QUOTA_BYTES`, default unlimited). */
  ownerQuotaBytes?: number;
  /** Server secret (`FORGE_SECRET`, ≥ 32 bytes as hex or base64); default: generated into dataDir/secret.key. */
  secret?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** One log line per request (`FORGE_ACCESS_LOG`, default on). */
  accessLog: boolean;
  /** Access-log lines for health probes and metrics scrapes too (`FORGE_ACCESS_LOG_PROBES`, default off). */
  accessLogProbes: boolean;
  /** `/metrics` in Prometheus format (`FORGE_METRICS=1`, default off). */
  metrics: boolean;
  /** Bearer token a scrape of `/metrics` must send (`FORGE_METRICS_TOKEN`); unset: no token asked. */
  metricsToken?: string;
  /** How long transfers in flight may finish after SIGTERM/SIGINT (`FORGE_SHUTDOWN_GRACE`, default 60s). */
  shutdownGraceMs: number;
  /** Turns off self-registration in the web UI (`FORGE_DISABLE_REGISTRATION=1`); Gitea's default is on. */
  disableRegistration: boolean;
  /**
   * Whether the first account registered in the web UI becomes the site administrator
   * (`FORGE_FIRST_SIGNUP_ADMIN`: `on`, `off`, or `auto`, the default: on only when
   * FORGE_BASE_URL names a loopback host, so an instance on a public address never hands
   * its administration to whoever registers first; there the CLI makes the first admin).
   */
  firstSignUpAdmin: boolean;
  /**
   * Which peers are reverse proxies whose `X-Forwarded-For` names the client
   * (`FORGE_TRUST_PROXY`: a hop count or addresses and subnets; default none).
   */
  trustProxy?: string;
  /** Failed sign-ins allowed per account and per client address in a window (docs/security.md). */
  signIn: SignInLimits;
  /** Password hashes computed at once and waiting (docs/security.md). */
  passwordHashing: PasswordHashingLimits;
  /**
   * Upstream binary caches owners may name (`FORGE_UPSTREAM_ALLOW`: comma-separated origins,
   * `https://*` for any HTTPS URL, `none` for no upstreams; default https://cache.nixos.org).
   */
  upstreamAllow: string[];
  /** Longest wait for one upstream narinfo (`FORGE_UPSTREAM_TIMEOUT`, default 5s). */
  upstreamTimeoutMs: number;
}

/** Settings that may instead be read from the file named by `<NAME>_FILE`. */
export const SECRET_FILE_VARS = ['DATABASE_URL', 'FORGE_SECRET', 'FORGE_S3_ACCESS_KEY_ID', 'FORGE_S3_SECRET_ACCESS_KEY', 'FORGE_METRICS_TOKEN'] as const;

/** Every environment variable loadConfig reads (docs and the deployment test check against it). */
export const CONFIG_ENV_VARS = [
  'PORT',
  'FORGE_LISTEN',
  'FORGE_BASE_URL',
  'FORGE_DATA_DIR',
  'DATABASE_URL',
  'FORGE_DB_POOL_SIZE',
  'FORGE_STORAGE',
  'FORGE_STORAGE_PATH',
  'FORGE_S3_ENDPOINT',
  'FORGE_S3_PUBLIC_ENDPOINT',
  'FORGE_S3_REGION',
  'FORGE_S3_BUCKET',
  'FORGE_S3_PREFIX',
  'FORGE_S3_ACCESS_KEY_ID',
  'FORGE_S3_SECRET_ACCESS_KEY',
  'FORGE_S3_FORCE_PATH_STYLE',
  'FORGE_SERVE_DIRECT',
  'FORGE_SERVE_DIRECT_EXPIRY',
  'FORGE_ACCEL_LOCATION',
  'FORGE_WORKERS',
  'FORGE_BLOB_GRACE',
  'FORGE_UPLOAD_GRACE',
  'FORGE_CLEANUP_INTERVAL',
  'FORGE_BODY_IDLE_TIMEOUT',
  'FORGE_MAX_UPLOAD_BYTES',
  'FORGE_OWNER_QUOTA_BYTES',
  'FORGE_SECRET',
  'LOG_LEVEL',
  'FORGE_ACCESS_LOG',
  'FORGE_ACCESS_LOG_PROBES',
  'FORGE_METRICS',
  'FORGE_METRICS_TOKEN',
  'FORGE_SHUTDOWN_GRACE',
  'FORGE_DISABLE_REGISTRATION',
  'FORGE_FIRST_SIGNUP_ADMIN',
  'FORGE_TRUST_PROXY',
  'FORGE_SIGNIN_ACCOUNT_LIMIT',
  'FORGE_SIGNIN_ADDRESS_LIMIT',
  'FORGE_SIGNIN_WINDOW_SECONDS',
  'FORGE_PASSWORD_HASH_CONCURRENCY',
  'FORGE_PASSWORD_HASH_QUEUE',
  'FORGE_UPSTREAM_ALLOW',
  'FORGE_UPSTREAM_TIMEOUT',
  ...SECRET_FILE_VARS.map((name) => `${name}_FILE` as const),
] as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ForgeConfig {
  const read = (name: string): string | undefined => {
    const value = env[name];
    const file = (SECRET_FILE_VARS as readonly string[]).includes(name) ? env[`${name}_FILE`] : undefined;
    if (file) {
      if (value) throw new Error(`set either ${name} or ${name}_FILE, not both`);
      try {
        // A trailing newline (echo > file) is not part of the secret.
        return readFileSync(path.resolve(cwd, file), 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new Error(`${name}_FILE: cannot read ${file}: ${(err as Error).message}`);
      }
    }
    return value === '' ? undefined : value;
  };
  const port = integer(env.PORT, 3000, 'PORT');
  const dataDir = path.resolve(cwd, env.FORGE_DATA_DIR ?? 'data');
  const baseUrl = (env.FORGE_BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    new URL(baseUrl);
  } catch {
    throw new Error(`FORGE_BASE_URL is not a URL: ${baseUrl}`);
  }
  const logLevel = (env.LOG_LEVEL ?? 'info') as ForgeConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) throw new Error(`LOG_LEVEL must be debug, info, warn, error or silent`);
  const storage = loadStorage(env, read, dataDir);
  const serveDirect = loadServeDirect(env, storage);
  const databaseUrl = read('DATABASE_URL');
  const workers = integer(env.FORGE_WORKERS, 1, 'FORGE_WORKERS');
  if (workers < 1) throw new Error('FORGE_WORKERS must be at least 1');
  return {
    port,
    listen: env.FORGE_LISTEN ?? '0.0.0.0',
    baseUrl,
    dataDir,
    databaseUrl,
    databasePoolSize: integer(env.FORGE_DB_POOL_SIZE, 10, 'FORGE_DB_POOL_SIZE'),
    storage,
    serveDirect,
    workers,
    blobGraceMs: parseDuration(env.FORGE_BLOB_GRACE || '1h', 'FORGE_BLOB_GRACE'),
    uploadGraceMs: parseDuration(env.FORGE_UPLOAD_GRACE || '1h', 'FORGE_UPLOAD_GRACE'),
    bodyIdleTimeoutMs: positiveDuration(env.FORGE_BODY_IDLE_TIMEOUT || '30s', 'FORGE_BODY_IDLE_TIMEOUT'),
    cleanupIntervalMs: parseDuration(env.FORGE_CLEANUP_INTERVAL || '1h', 'FORGE_CLEANUP_INTERVAL'),
    maxUploadBytes: integer(env.FORGE_MAX_UPLOAD_BYTES, 16 * 1024 ** 3, 'FORGE_MAX_UPLOAD_BYTES'),
    ownerQuotaBytes: env.FORGE_OWNER_QUOTA_BYTES ? integer(env.FORGE_OWNER_QUOTA_BYTES, 0, 'FORGE_OWNER_QUOTA_BYTES') : undefined,
    secret: read('FORGE_SECRET'),
    logLevel,
    accessLog: !['0', 'false', 'no', 'off'].includes(String(env.FORGE_ACCESS_LOG ?? '1').toLowerCase()),
    accessLogProbes: flag(env.FORGE_ACCESS_LOG_PROBES, false, 'FORGE_ACCESS_LOG_PROBES'),
    metrics: flag(env.FORGE_METRICS, false, 'FORGE_METRICS'),
    metricsToken: read('FORGE_METRICS_TOKEN'),
    shutdownGraceMs: parseDuration(env.FORGE_SHUTDOWN_GRACE || '60s', 'FORGE_SHUTDOWN_GRACE'),
    disableRegistration: ['1', 'true', 'yes', 'on'].includes(String(env.FORGE_DISABLE_REGISTRATION ?? '').toLowerCase()),
    firstSignUpAdmin: firstSignUpAdmin(env.FORGE_FIRST_SIGNUP_ADMIN, baseUrl),
    trustProxy: validTrustProxy(env.FORGE_TRUST_PROXY),
    signIn: {
      perAccount: positive(env.FORGE_SIGNIN_ACCOUNT_LIMIT, DEFAULT_SIGN_IN_LIMITS.perAccount, 'FORGE_SIGNIN_ACCOUNT_LIMIT'),
      perAddress: positive(env.FORGE_SIGNIN_ADDRESS_LIMIT, DEFAULT_SIGN_IN_LIMITS.perAddress, 'FORGE_SIGNIN_ADDRESS_LIMIT'),
      windowSeconds: positive(env.FORGE_SIGNIN_WINDOW_SECONDS, DEFAULT_SIGN_IN_LIMITS.windowSeconds, 'FORGE_SIGNIN_WINDOW_SECONDS'),
    },
    passwordHashing: {
      concurrency: positive(env.FORGE_PASSWORD_HASH_CONCURRENCY, DEFAULT_PASSWORD_HASHING.concurrency, 'FORGE_PASSWORD_HASH_CONCURRENCY'),
      queue: integer(env.FORGE_PASSWORD_HASH_QUEUE, DEFAULT_PASSWORD_HASHING.queue, 'FORGE_PASSWORD_HASH_QUEUE'),
    },
    upstreamAllow: upstreamAllow(env.FORGE_UPSTREAM_ALLOW),
    upstreamTimeoutMs: parseDuration(env.FORGE_UPSTREAM_TIMEOUT || '5s', 'FORGE_UPSTREAM_TIMEOUT'),
  };
}

/** FORGE_UPSTREAM_ALLOW: origins (scheme://host[:port]), `https://*`, or `none`. */
function upstreamAllow(value: string | undefined): string[] {
  const text = value?.trim();
  if (!text) return ['https://cache.nixos.org'];
  if (text === 'none') return [];
  return text.split(',').map((entry) => {
    const e = entry.trim();
    if (e === 'https://*') return e;
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new Error(`FORGE_UPSTREAM_ALLOW: "${e}" is not an origin such as https://cache.nixos.org`);
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname.includes('*') || url.origin + '/' !== url.href.replace(/\/+$/, '/') ) {
      throw new Error(`FORGE_UPSTREAM_ALLOW: "${e}" must be an http(s) origin (scheme://host[:port], no path)`);
    }
    return url.origin;
  });
}

function validTrustProxy(value: string | undefined): string | undefined {
  parseTrustProxy(value);
  return value?.trim() || undefined;
}

function positive(value: string | undefined, fallback: number, name: string): number {
  const n = integer(value, fallback, name);
  if (n < 1) throw new Error(`${name} must be at least 1, got "${value}"`);
  return n;
}

function loadStorage(env: NodeJS.ProcessEnv, read: (name: string) => string | undefined, dataDir: string): StorageConfig {
  const kind = env.FORGE_STORAGE || 'local';
  const storagePath = path.resolve(dataDir, env.FORGE_STORAGE_PATH ?? 'blobs');
  if (kind === 'local') return { kind: 'local', path: storagePath };
  if (kind !== 's3') throw new Error(`FORGE_STORAGE=${kind} is not supported; use "local" or "s3"`);
  const bucket = env.FORGE_S3_BUCKET;
  if (!bucket) throw new Error('FORGE_STORAGE=s3 needs FORGE_S3_BUCKET');
  const endpoint = optionalUrl(env.FORGE_S3_ENDPOINT, 'FORGE_S3_ENDPOINT');
  const accessKeyId = read('FORGE_S3_ACCESS_KEY_ID');
  const secretAccessKey = read('FORGE_S3_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new Error('set both FORGE_S3_ACCESS_KEY_ID and FORGE_S3_SECRET_ACCESS_KEY, or neither (the AWS default credential chain)');
  }
  return {
    kind: 's3',
    path: storagePath,
    endpoint,
    publicEndpoint: optionalUrl(env.FORGE_S3_PUBLIC_ENDPOINT, 'FORGE_S3_PUBLIC_ENDPOINT'),
    region: env.FORGE_S3_REGION || 'us-east-1',
    bucket,
    prefix: env.FORGE_S3_PREFIX ?? '',
    accessKeyId,
    secretAccessKey,
    // MinIO, Garage and Ceph are usually reached by path; AWS by virtual host.
    forcePathStyle: flag(env.FORGE_S3_FORCE_PATH_STYLE, endpoint !== undefined, 'FORGE_S3_FORCE_PATH_STYLE'),
  };
}

function loadServeDirect(env: NodeJS.ProcessEnv, storage: StorageConfig): ServeDirectConfig {
  const mode = (env.FORGE_SERVE_DIRECT || 'off') as ServeDirectConfig['mode'];
  if (!['off', 'redirect', 'accel'].includes(mode)) throw new Error(`FORGE_SERVE_DIRECT must be off, redirect or accel, got "${mode}"`);
  if (mode === 'redirect' && storage.kind !== 's3') throw new Error('FORGE_SERVE_DIRECT=redirect needs FORGE_STORAGE=s3 (presigned URLs)');
  if (mode === 'accel' && storage.kind !== 'local') throw new Error('FORGE_SERVE_DIRECT=accel needs FORGE_STORAGE=local (nginx reads the blob files)');
  const expiryMs = parseDuration(env.FORGE_SERVE_DIRECT_EXPIRY || '5m', 'FORGE_SERVE_DIRECT_EXPIRY');
  // SigV4 presigned URLs live at most 7 days; less than a second cannot be signed.
  if (expiryMs < 1000 || expiryMs > 7 * 86_400_000) throw new Error('FORGE_SERVE_DIRECT_EXPIRY must be between 1s and 7d');
  const accelLocation = env.FORGE_ACCEL_LOCATION || '/_forge_blobs/';
  if (!/^\/[A-Za-z0-9._~/-]*\/$/.test(accelLocation)) throw new Error(`FORGE_ACCEL_LOCATION must be a path that starts and ends with "/", got "${accelLocation}"`);
  return { mode, expirySeconds: Math.floor(expiryMs / 1000), accelLocation };
}

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function flag(value: string | undefined, fallback: boolean, name: string): boolean {
  if (value === undefined || value === '') return fallback;
  const v = value.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error(`${name} must be 1 or 0 (true/false, yes/no, on/off), got "${value}"`);
}

function optionalUrl(value: string | undefined, name: string): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
  } catch {
    throw new Error(`${name} must be an http(s) URL, got "${value}"`);
  }
  return value.replace(/\/+$/, '');
}

/** A duration that must be above zero (a zero idle timeout would refuse every body). */
function positiveDuration(text: string, name: string): number {
  const ms = parseDuration(text, name);
  if (ms <= 0) throw new Error(`${name} must be above zero, got "${text}"`);
  return ms;
}

/** FORGE_FIRST_SIGNUP_ADMIN: `on`/`off`, or `auto` (on only for a loopback base URL). */
function firstSignUpAdmin(value: string | undefined, baseUrl: string): boolean {
  const v = (value ?? 'auto').trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  if (v !== 'auto') throw new Error(`FORGE_FIRST_SIGNUP_ADMIN must be on, off or auto, not "${value}"`);
  const host = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}
