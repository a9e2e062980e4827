import path from 'node:path';
import { DEFAULT_PASSWORD_HASHING, DEFAULT_SIGN_IN_LIMITS, type PasswordHashingLimits, type SignInLimits } from '@forge/auth';
import { parseTrustProxy } from './client-address.js';

/**
 * Server configuration, read from the environment only (twelve-factor: the same variables
 * drive `npm start`, docker-compose and tests). Every setting has a default that works
 * on a fresh machine: PGlite and local blobs under ./data.
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
  storage: { kind: 'local'; path: string };
  /** Upper bound for one uploaded body (`FORGE_MAX_UPLOAD_BYTES`, default 16 GiB). */
  maxUploadBytes: number;
  /** Bytes one owner may store (`FORGE_OWNER_QUOTA_BYTES`, default unlimited). */
  ownerQuotaBytes?: number;
  /** Server secret (`FORGE_SECRET`, ≥ 32 bytes as hex or base64); default: generated into dataDir/secret.key. */
  secret?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** One log line per request (`FORGE_ACCESS_LOG`, default on). */
  accessLog: boolean;
  /** Turns off self-registration in the web UI (`FORGE_DISABLE_REGISTRATION=1`); Gitea's default is on. */
  disableRegistration: boolean;
  /**
   * Which peers are reverse proxies whose `X-Forwarded-For` names the client
   * (`FORGE_TRUST_PROXY`: a hop count or addresses and subnets; default none).
   */
  trustProxy?: string;
  /** Failed sign-ins allowed per account and per client address in a window (docs/security.md). */
  signIn: SignInLimits;
  /** Password hashes computed at once and waiting (docs/security.md). */
  passwordHashing: PasswordHashingLimits;
}

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
  'FORGE_MAX_UPLOAD_BYTES',
  'FORGE_OWNER_QUOTA_BYTES',
  'FORGE_SECRET',
  'LOG_LEVEL',
  'FORGE_ACCESS_LOG',
  'FORGE_DISABLE_REGISTRATION',
  'FORGE_TRUST_PROXY',
  'FORGE_SIGNIN_ACCOUNT_LIMIT',
  'FORGE_SIGNIN_ADDRESS_LIMIT',
  'FORGE_SIGNIN_WINDOW_SECONDS',
  'FORGE_PASSWORD_HASH_CONCURRENCY',
  'FORGE_PASSWORD_HASH_QUEUE',
] as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ForgeConfig {
  const port = integer(env.PORT, 3000, 'PORT');
  const dataDir = path.resolve(cwd, env.FORGE_DATA_DIR ?? 'data');
  const baseUrl = (env.FORGE_BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    new URL(baseUrl);
  } catch {
    throw new Error(`FORGE_BASE_URL is not a URL: ${baseUrl}`);
  }
  const storageKind = env.FORGE_STORAGE ?? 'local';
  if (storageKind !== 'local') throw new Error(`FORGE_STORAGE=${storageKind} is not supported; use "local"`);
  const logLevel = (env.LOG_LEVEL ?? 'info') as ForgeConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) throw new Error(`LOG_LEVEL must be debug, info, warn, error or silent`);
  return {
    port,
    listen: env.FORGE_LISTEN ?? '0.0.0.0',
    baseUrl,
    dataDir,
    databaseUrl: env.DATABASE_URL || undefined,
    databasePoolSize: integer(env.FORGE_DB_POOL_SIZE, 10, 'FORGE_DB_POOL_SIZE'),
    storage: { kind: 'local', path: path.resolve(dataDir, env.FORGE_STORAGE_PATH ?? 'blobs') },
    maxUploadBytes: integer(env.FORGE_MAX_UPLOAD_BYTES, 16 * 1024 ** 3, 'FORGE_MAX_UPLOAD_BYTES'),
    ownerQuotaBytes: env.FORGE_OWNER_QUOTA_BYTES ? integer(env.FORGE_OWNER_QUOTA_BYTES, 0, 'FORGE_OWNER_QUOTA_BYTES') : undefined,
    secret: env.FORGE_SECRET || undefined,
    logLevel,
    accessLog: !['0', 'false', 'no', 'off'].includes(String(env.FORGE_ACCESS_LOG ?? '1').toLowerCase()),
    disableRegistration: ['1', 'true', 'yes', 'on'].includes(String(env.FORGE_DISABLE_REGISTRATION ?? '').toLowerCase()),
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
  };
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

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}
