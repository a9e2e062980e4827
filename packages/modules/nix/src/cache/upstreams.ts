import { BadRequestError, type Owner } from '@forge/core';
import { checkPathSignatures, formatPublicKey, serializeNarInfo, type NarInfo } from '../format/index.js';
import type { NewUpstream, UpstreamMode, UpstreamRecord, UpstreamStore } from '../store/upstreams.js';
import { parseTrustedKey } from './signing-keys.js';
import type { UpstreamClient } from './upstream-client.js';

/** Upstream URLs a cache owner may name unless the administrator says otherwise (`FORGE_UPSTREAM_ALLOW`). */
export const DEFAULT_UPSTREAM_ALLOW: readonly string[] = ['https://cache.nixos.org'];
/** Most upstreams one cache may name (each narinfo miss may ask all of them). */
export const MAX_UPSTREAMS = 8;
/** Most public keys one upstream may list. */
const MAX_UPSTREAM_KEYS = 8;
/** Most references of one narinfo upload that are looked up upstream. */
export const MAX_UPSTREAM_REFERENCE_LOOKUPS = 2_000;

/** A path an upstream serves, signed by one of the keys configured for that upstream. */
export interface UpstreamHit {
  upstream: UpstreamRecord;
  info: NarInfo;
}

/** Found upstream, known to be in no upstream, or not known (an upstream failed: never remembered). */
export type UpstreamLookup = UpstreamHit | 'absent' | 'unknown';

/**
 * Which upstream URLs owners may configure: a server makes requests to them, so an owner
 * could otherwise point it at internal addresses (SSRF). Each allowed entry is an origin
 * (`https://cache.nixos.org`, `http://127.0.0.1:8080`); `https://*` allows every HTTPS
 * origin. The server never follows an upstream's redirects.
 */
export class UpstreamPolicy {
  readonly #origins: Set<string>;
  readonly #anyHttps: boolean;

  constructor(allow: readonly string[] = DEFAULT_UPSTREAM_ALLOW) {
    this.#anyHttps = allow.includes('https://*');
    this.#origins = new Set(allow.filter((a) => a !== 'https://*').map((a) => new URL(a).origin));
  }

  /** Upstreams can be configured at all. */
  get enabled(): boolean {
    return this.#anyHttps || this.#origins.size > 0;
  }

  /** What an owner may enter, for the settings page. */
  describe(): string {
    if (!this.enabled) return 'upstreams are turned off on this server';
    return [...(this.#anyHttps ? ['any https:// URL'] : []), ...this.#origins].join(', ');
  }

  /** The URL normalised (no trailing slash), or a 400 saying what is allowed. */
  check(text: string): string {
    let url: URL;
    try {
      url = new URL(text.trim());
    } catch {
      throw new BadRequestError(`upstream URL "${text}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new BadRequestError(`upstream URL ${text}: only http(s) URLs`);
    if (url.username || url.password || url.search || url.hash) throw new BadRequestError(`upstream URL ${text}: no credentials, query or fragment`);
    const normalised = url.origin + url.pathname.replace(/\/+$/, '');
    if (normalised.length > 255) throw new BadRequestError('upstream URL: at most 255 characters');
    if (!(this.#origins.has(url.origin) || (this.#anyHttps && url.protocol === 'https:'))) {
      throw new BadRequestError(`upstream URL ${normalised} is not allowed on this server (allowed: ${this.describe()}; FORGE_UPSTREAM_ALLOW)`);
    }
    return normalised;
  }
}

/**
 * A cache's upstreams: configuring them, and asking them for paths the cache lacks. A
 * path counts as upstream only when its narinfo carries a valid signature by one of the
 * keys configured for that upstream (`nix copy` would otherwise skip uploading a path no
 * client can trust). Upstream answers are memoised by the client; failures are `unknown`,
 * never an exception.
 */
export class Upstreams {
  constructor(
    private readonly store: UpstreamStore,
    private readonly client: UpstreamClient,
    readonly policy: UpstreamPolicy,
  ) {}

  list(ownerId: number): Promise<UpstreamRecord[]> {
    return this.store.list(ownerId);
  }

  async byId(ownerId: number, upstreamId: number): Promise<UpstreamRecord | undefined> {
    return (await this.store.list(ownerId)).find((u) => u.id === upstreamId);
  }

  /**
   * Replaces the owner's upstream list. Each entry: `url`, `publicKeys` (or `public_keys`;
   * at least one: without a key nothing upstream can be trusted), `mode` (`skip`, the
   * default, or `pull-through`). 400 naming the first fault.
   */
  async configure(owner: Owner, input: unknown): Promise<UpstreamRecord[]> {
    await this.store.replace(owner.id, this.validate(input));
    return this.store.list(owner.id);
  }

  /** The list as it would be stored, or a 400 naming the first fault (nothing changes). */
  validate(input: unknown): NewUpstream[] {
    if (!Array.isArray(input)) throw new BadRequestError('upstreams must be a list of {"url", "publicKeys", "mode"}');
    if (input.length > MAX_UPSTREAMS) throw new BadRequestError(`at most ${MAX_UPSTREAMS} upstreams`);
    const seen = new Set<string>();
    const upstreams: NewUpstream[] = input.map((raw, i) => {
      if (typeof raw !== 'object' || raw === null) throw new BadRequestError(`upstreams[${i}] must be an object`);
      const entry = raw as Record<string, unknown>;
      if (typeof entry.url !== 'string') throw new BadRequestError(`upstreams[${i}].url must be a string`);
      const url = this.policy.check(entry.url);
      if (seen.has(url)) throw new BadRequestError(`upstream ${url} is listed twice`);
      seen.add(url);
      const keysIn = entry.publicKeys ?? entry.public_keys;
      const keyTexts = typeof keysIn === 'string' ? keysIn.split(/\s+/).filter(Boolean) : keysIn;
      if (!Array.isArray(keyTexts) || keyTexts.length === 0 || keyTexts.some((k) => typeof k !== 'string')) {
        throw new BadRequestError(`upstreams[${i}].publicKeys must list the keys ${url} signs with (e.g. cache.nixos.org-1:…)`);
      }
      if (keyTexts.length > MAX_UPSTREAM_KEYS) throw new BadRequestError(`upstreams[${i}]: at most ${MAX_UPSTREAM_KEYS} public keys`);
      const publicKeys = [...new Set((keyTexts as string[]).map((k) => formatPublicKey(parseTrustedKey(k))))];
      const mode = entry.mode ?? 'skip';
      if (mode !== 'skip' && mode !== 'pull-through') throw new BadRequestError(`upstreams[${i}].mode must be skip or pull-through`);
      return { url, publicKeys, mode: mode as UpstreamMode };
    });
    return upstreams;
  }

  /**
   * The first upstream (in the cache's order) serving `hashPart` with a valid signature by
   * one of its keys. All upstreams are asked at once; each answer is bounded by the
   * upstream timeout.
   */
  async find(ownerId: number, hashPart: string): Promise<UpstreamLookup> {
    const upstreams = await this.store.list(ownerId);
    if (upstreams.length === 0) return 'absent';
    const answers = await Promise.all(upstreams.map((u) => this.client.narinfo(u.url, hashPart)));
    let unknown = false;
    for (const [i, answer] of answers.entries()) {
      if (answer.kind === 'error') unknown = true;
      if (answer.kind !== 'hit') continue;
      const upstream = upstreams[i]!;
      if (trusted(answer.info, upstream)) return { upstream, info: answer.info };
    }
    return unknown ? 'unknown' : 'absent';
  }

  /**
   * Of `refs` (hash part → name), those served by an upstream under that name. At most
   * {@link MAX_UPSTREAM_REFERENCE_LOOKUPS} are looked up (400 beyond: push them instead).
   */
  async provided(ownerId: number, refs: ReadonlyMap<string, string>): Promise<{ provided: Set<string>; unknown: boolean }> {
    const provided = new Set<string>();
    if (refs.size === 0 || (await this.store.list(ownerId)).length === 0) return { provided, unknown: false };
    if (refs.size > MAX_UPSTREAM_REFERENCE_LOOKUPS) {
      throw new BadRequestError(`${refs.size} references are not in this cache; at most ${MAX_UPSTREAM_REFERENCE_LOOKUPS} are looked up in its upstreams`);
    }
    let unknown = false;
    await Promise.all(
      [...refs].map(async ([hashPart, name]) => {
        const found = await this.find(ownerId, hashPart);
        if (found === 'unknown') unknown = true;
        else if (found !== 'absent' && found.info.storePath.name === name) provided.add(hashPart);
      }),
    );
    return { provided, unknown };
  }

  /**
   * The narinfo served for an upstream path: the upstream's fields and signatures (clients
   * trust the upstream's key for it; this cache's key does not sign what it did not verify
   * byte for byte), and a NAR URL under this cache that redirects to the upstream.
   */
  render(hit: UpstreamHit): Buffer {
    const url = `${upstreamNarPrefix(hit.upstream.id, hit.info.storePath.hashPart)}${hit.info.url}`;
    return Buffer.from(serializeNarInfo({ ...hit.info, url, sigs: [...hit.info.sigs].sort() }), 'utf8');
  }

  /** Where `upstream/<id>/<hash>/nar/<file>` redirects to. */
  narLocation(upstream: UpstreamRecord, fileName: string): string {
    return `${upstream.url}/nar/${fileName}`;
  }
}

/** The NAR URL prefix of an upstream path in this cache's narinfos: `upstream/<id>/<hash part>/`. */
export function upstreamNarPrefix(upstreamId: number, hashPart: string): string {
  return `upstream/${upstreamId}/${hashPart}/`;
}

function trusted(info: NarInfo, upstream: UpstreamRecord): boolean {
  try {
    return checkPathSignatures(info, upstream.publicKeys.map((k) => parseTrustedKey(k))).valid.length > 0;
  } catch {
    return false;
  }
}
