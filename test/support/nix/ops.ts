/**
 * Typed wrappers around the Nix 2.8 commands an end-to-end test of a binary cache needs.
 * Client operations return `{ code, stdout, stderr, … }` and never throw on a non-zero exit
 * unless called with `{ check: true }` (or the result is passed to `client.assertOk`).
 */
import { lstatSync, mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NixClient, NixResult, NixSettingValue } from './client.js';

export interface CommonOptions {
  /** Throw (with the log tail) on a non-zero exit. */
  check?: boolean;
  /** `--option NAME VALUE` pairs for this command only. */
  options?: Record<string, NixSettingValue>;
  /** Extra raw arguments, inserted before the paths. */
  extraArgs?: string[];
  timeoutMs?: number;
}

export type Compression = 'xz' | 'zstd' | 'none' | 'bzip2' | 'gzip' | 'br' | 'lz4' | 'lzip' | 'lzma' | (string & {});

/** Appends query parameters to a store URL (keeping any it already has). */
export function withParams(url: string, params: Record<string, string | number | boolean | undefined>): string {
  const pairs = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v)}`);
  if (pairs.length === 0) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${pairs.join('&')}`;
}

/** `file:///abs/dir`, a local binary cache directory. */
export function fileStoreUrl(dir: string): string {
  return `file://${path.resolve(dir)}`;
}

function renderOption(v: NixSettingValue): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  return v.join(' ');
}

function optionArgs(options?: Record<string, NixSettingValue>): string[] {
  return Object.entries(options ?? {}).flatMap(([k, v]) => ['--option', k, renderOption(v)]);
}

function run(client: NixClient, program: 'nix' | 'nix-store', args: string[], o: CommonOptions, input?: string): Promise<NixResult> {
  return client.run(program, [...args, ...optionArgs(o.options)], { check: o.check, timeoutMs: o.timeoutMs, input });
}

// ---------------------------------------------------------------------------------------------
// nix copy

export interface CopyToOptions extends CommonOptions {
  /** `?compression=` (Nix's default is xz). */
  compression?: Compression;
  /** `?write-nar-listing=1`: also upload `<hash>.ls`. */
  writeNarListing?: boolean;
  /** `?secret-key=`: sign the narinfos with this key file (absolute path). */
  secretKeyFile?: string;
  /** Other store URL parameters (`index-debug-info`, `parallel-compression`, `compression-level`, …). */
  params?: Record<string, string | number | boolean | undefined>;
  /** Arguments after `nix copy`, e.g. `['--no-recursive']`. Same as extraArgs. */
  extraOptions?: string[];
}

/** `nix copy --to 'URL?compression=…&write-nar-listing=1&secret-key=…' PATHS` (copies closures). */
export function copyTo(client: NixClient, url: string, paths: readonly string[], o: CopyToOptions = {}): Promise<NixResult & { url: string }> {
  const full = withParams(url, {
    compression: o.compression,
    'write-nar-listing': o.writeNarListing === undefined ? undefined : o.writeNarListing ? 1 : 0,
    'secret-key': o.secretKeyFile ? path.resolve(o.secretKeyFile) : undefined,
    ...o.params,
  });
  return run(client, 'nix', ['copy', '--to', full, ...(o.extraOptions ?? []), ...(o.extraArgs ?? []), ...paths], o).then((r) => ({ ...r, url: full }));
}

export interface CopyFromOptions extends CommonOptions {
  /** Skip the local signature check (`--no-check-sigs`). */
  noCheckSigs?: boolean;
  /** Keys trusted for this copy (`--option trusted-public-keys`); default: the client's. */
  trustedPublicKeys?: string[];
  extraOptions?: string[];
}

/** `nix copy --from URL PATHS`: imports closures from a store into the local store. */
export function copyFrom(client: NixClient, url: string, paths: readonly string[], o: CopyFromOptions = {}): Promise<NixResult> {
  const args = ['copy', '--from', url, ...(o.noCheckSigs ? ['--no-check-sigs'] : []), ...(o.extraOptions ?? []), ...(o.extraArgs ?? []), ...paths];
  const options = { ...(o.trustedPublicKeys ? { 'trusted-public-keys': o.trustedPublicKeys } : {}), ...o.options };
  return run(client, 'nix', args, { ...o, options });
}

// ---------------------------------------------------------------------------------------------
// queries against a store URL (or the local store when storeUrl is undefined)

/** One element of `nix path-info --json` (Nix 2.8). Invalid paths come back as `{ path, valid: false }`. */
export interface PathInfo {
  path: string;
  valid?: boolean;
  narHash?: string;
  narSize?: number;
  references?: string[];
  deriver?: string;
  signatures?: string[];
  ca?: string;
  registrationTime?: number;
  ultimate?: boolean;
  /** Binary caches only (2.8 prints no `compression`; the URL's suffix tells it). */
  url?: string;
  downloadHash?: string;
  downloadSize?: number;
  /** With `closureSize: true`. */
  closureSize?: number;
  closureDownloadSize?: number;
}

export interface PathInfoOptions extends CommonOptions {
  /** `--json` and parse it (default true). */
  json?: boolean;
  /** `-r`: the whole closure. */
  recursive?: boolean;
  /** `--sigs` (the JSON always carries `signatures`). */
  sigs?: boolean;
  /** `-S`: closure sizes. */
  closureSize?: boolean;
}

export interface PathInfoResult extends NixResult {
  /** Parsed `--json` output (empty when the command failed or json is false). */
  info: PathInfo[];
  /** Paths reported `"valid": false` (2.8 exits 0 for those!). */
  invalid: string[];
}

function storeArgs(storeUrl: string | undefined): string[] {
  return storeUrl ? ['--store', storeUrl] : [];
}

/** `nix path-info [--store URL] --json [-r] [--sigs] [-S] PATHS`. */
export async function pathInfo(client: NixClient, storeUrl: string | undefined, paths: readonly string[], o: PathInfoOptions = {}): Promise<PathInfoResult> {
  const json = o.json ?? true;
  const args = ['path-info', ...storeArgs(storeUrl), ...(json ? ['--json'] : []), ...(o.recursive ? ['-r'] : []), ...(o.sigs ? ['--sigs'] : []), ...(o.closureSize ? ['-S'] : []), ...(o.extraArgs ?? []), ...paths];
  const r = await run(client, 'nix', args, o);
  let info: PathInfo[] = [];
  if (json && r.code === 0) {
    try {
      info = JSON.parse(r.stdout) as PathInfo[];
    } catch (e) {
      throw client.error(`nix path-info printed invalid JSON: ${(e as Error).message}`, r);
    }
  }
  return { ...r, info, invalid: info.filter((i) => i.valid === false).map((i) => i.path) };
}

export interface StoreLsOptions extends CommonOptions {
  recursive?: boolean;
  long?: boolean;
  /** `--json` and parse it into `listing`. */
  json?: boolean;
}

/** `nix store ls --store URL [-R] [-l] [--json] PATH[/SUB]` (2.8 downloads the whole NAR for this). */
export async function storeLs(client: NixClient, storeUrl: string | undefined, storePath: string, o: StoreLsOptions = {}): Promise<NixResult & { listing?: unknown }> {
  const args = ['store', 'ls', ...storeArgs(storeUrl), ...(o.recursive ? ['-R'] : []), ...(o.long ? ['-l'] : []), ...(o.json ? ['--json'] : []), ...(o.extraArgs ?? []), storePath];
  const r = await run(client, 'nix', args, o);
  return o.json && r.code === 0 ? { ...r, listing: JSON.parse(r.stdout) as unknown } : r;
}

/** `nix store cat --store URL PATH/FILE`; the bytes are in `stdoutBytes`. */
export function storeCat(client: NixClient, storeUrl: string | undefined, filePath: string, o: CommonOptions = {}): Promise<NixResult> {
  return run(client, 'nix', ['store', 'cat', ...storeArgs(storeUrl), ...(o.extraArgs ?? []), filePath], o);
}

/** `nix store copy-log --to URL INSTALLABLES` (uploads `log/<drv>`; give outputs or .drv paths). */
export function copyLog(client: NixClient, url: string, paths: readonly string[], o: CommonOptions = {}): Promise<NixResult> {
  return run(client, 'nix', ['store', 'copy-log', '--to', url, ...(o.extraArgs ?? []), ...paths], o);
}

/**
 * `nix log --store URL PATH`. Substituters are switched off (2.8 would otherwise also ask
 * every configured substituter, cache.nixos.org included); pass `options` to override.
 */
export function log(client: NixClient, storeUrl: string | undefined, storePath: string, o: CommonOptions = {}): Promise<NixResult> {
  return run(client, 'nix', ['log', ...storeArgs(storeUrl), ...(o.extraArgs ?? []), storePath], { ...o, options: { substituters: [], ...o.options } });
}

// ---------------------------------------------------------------------------------------------
// the local store

export interface RealiseOptions extends CommonOptions {
  /** One or more substituter URLs (`--option substituters`). Default: the client's. */
  substituter?: string | string[];
  /** `--option trusted-public-keys` (default: the client's). */
  trustedPublicKeys?: string[];
  /** `--option require-sigs` (default: the client's). */
  requireSigs?: boolean;
}

/** `nix-store --realise PATHS` with the given substituter(s): substitutes output paths that are not valid locally. */
export async function realiseFromSubstituter(client: NixClient, paths: readonly string[], o: RealiseOptions = {}): Promise<NixResult & { realised: string[] }> {
  const options: Record<string, NixSettingValue> = {};
  if (o.substituter !== undefined) options.substituters = Array.isArray(o.substituter) ? o.substituter : [o.substituter as string];
  if (o.trustedPublicKeys !== undefined) options['trusted-public-keys'] = o.trustedPublicKeys;
  if (o.requireSigs !== undefined) options['require-sigs'] = o.requireSigs;
  const r = await run(client, 'nix-store', ['--realise', ...(o.extraArgs ?? []), ...paths], { ...o, options: { ...options, ...o.options } });
  return { ...r, realised: r.code === 0 ? r.stdout.split('\n').filter(Boolean) : [] };
}

/** Which of `paths` are valid in the local store. */
export async function validPaths(client: NixClient, paths: readonly string[]): Promise<string[]> {
  if (paths.length === 0) return [];
  const r = await client.run('nix-store', ['--check-validity', '--print-invalid', ...paths], { check: true });
  const invalid = new Set(r.stdout.split('\n').filter(Boolean));
  return paths.filter((p) => !invalid.has(p));
}

export interface DeleteOptions extends CommonOptions {
  /** Also delete every path that references them, transitively (default true). */
  referrers?: boolean;
  /** Remove GC roots that keep them alive: nix-build `result` links and other indirect roots outside /nix/var/nix (default true). */
  removeRoots?: boolean;
}

/**
 * `nix-store --delete` of `paths` (outputs and/or .drv files). Invalid paths are ignored.
 * Referrers are deleted along with them, and indirect GC roots (`result` symlinks) pointing
 * into the set are unlinked first. Returns `deleted` (the paths that were valid and are gone).
 */
export async function deleteLocal(client: NixClient, paths: readonly string[], o: DeleteOptions = {}): Promise<NixResult & { deleted: string[]; removedRoots: string[] }> {
  const valid = await validPaths(client, paths);
  if (valid.length === 0) {
    return { code: 0, stdout: '', stderr: '', stdoutBytes: Buffer.alloc(0), command: '(nothing to delete)', durationMs: 0, deleted: [], removedRoots: [] };
  }
  let targets = valid;
  if (o.referrers ?? true) {
    const closure = await client.run('nix-store', ['--query', '--referrers-closure', ...valid], { check: true });
    targets = [...new Set([...valid, ...closure.stdout.split('\n').filter(Boolean)])];
  }
  const removedRoots: string[] = [];
  if (o.removeRoots ?? true) {
    const roots = await client.run('nix-store', ['--query', '--roots', ...targets], { check: true });
    for (const line of roots.stdout.split('\n')) {
      const link = line.split(' -> ')[0]?.trim();
      if (!link || !link.startsWith('/') || link.startsWith('/proc/') || link.startsWith('/nix/var/nix/profiles') || link.startsWith('/nix/var/nix/gcroots/per-user')) continue;
      try {
        if (lstatSync(link).isSymbolicLink()) {
          unlinkSync(link);
          removedRoots.push(link);
        }
      } catch {
        // already gone
      }
    }
    if (removedRoots.length) client.appendLog(`# removed GC roots: ${removedRoots.join(', ')}\n`);
  }
  const r = await run(client, 'nix-store', ['--delete', ...(o.extraArgs ?? []), ...targets], o);
  const stillValid = new Set(await validPaths(client, targets));
  return { ...r, deleted: targets.filter((p) => !stillValid.has(p)), removedRoots };
}

export interface VerifyOptions extends CommonOptions {
  /** Also require a trusted signature (default false: `--no-trust`, contents only). */
  checkSigs?: boolean;
  /** Skip the content hash check (`--no-contents`). */
  noContents?: boolean;
}

/** `nix store verify [--no-trust] PATHS`: recomputes NAR hashes of local paths. */
export function verifyLocal(client: NixClient, paths: readonly string[], o: VerifyOptions = {}): Promise<NixResult> {
  const args = ['store', 'verify', ...(o.checkSigs ? [] : ['--no-trust']), ...(o.noContents ? ['--no-contents'] : []), ...(o.extraArgs ?? []), ...paths];
  return run(client, 'nix', args, o);
}

export interface SigningKey {
  name: string;
  /** `name:base64(64 bytes)`, no trailing newline. */
  secretKey: string;
  /** `name:base64(32 bytes)` */
  publicKey: string;
  /** Absolute path, for `?secret-key=` and `secret-key-files`. */
  secretKeyFile: string;
  publicKeyFile: string;
}

/** `nix key generate-secret --key-name NAME` and `nix key convert-secret-to-public`; files under `<dir>/keys`. Throws on failure. */
export async function generateKey(client: NixClient, name: string): Promise<SigningKey> {
  const secret = await client.run('nix', ['key', 'generate-secret', '--key-name', name], { check: true });
  const secretKey = secret.stdout.trim();
  const pub = await client.run('nix', ['key', 'convert-secret-to-public'], { check: true, input: secretKey });
  const publicKey = pub.stdout.trim();
  mkdirSync(client.keysDir, { recursive: true });
  const base = path.join(client.keysDir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-${readdirSync(client.keysDir).length}`);
  writeFileSync(`${base}.secret`, secretKey, { mode: 0o600 });
  writeFileSync(`${base}.public`, publicKey);
  return { name, secretKey, publicKey, secretKeyFile: `${base}.secret`, publicKeyFile: `${base}.public` };
}

/**
 * `nix hash path PATH`: the NAR hash of a local path. `sri` (default; what `path-info --json`
 * prints), `nix32` (bare, as in `NarHash: sha256:<nix32>`), or `base16`. Throws on failure.
 */
export async function hashPath(client: NixClient, p: string, format: 'sri' | 'nix32' | 'base16' = 'sri'): Promise<string> {
  const flag = { sri: '--sri', nix32: '--base32', base16: '--base16' }[format];
  const r = await client.run('nix', ['hash', 'path', '--type', 'sha256', flag, p], { check: true });
  return r.stdout.trim();
}
