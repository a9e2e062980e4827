/**
 * `nix-cache-info` (protocol reference §1; 2.8.0:src/libstore/binary-cache-store.cc:44-58).
 * Nix splits on `\n`, takes the key verbatim up to the first `:` and trims the value; it
 * ignores unknown keys and lines without a colon. A `Priority` that is not an integer
 * makes `std::stoi` abort every Nix command that lists the cache, so it is rejected here.
 */
import { NixCacheInfoFormatError } from './errors.js';
import { NIX_STORE_DIR } from './store-path.js';

/** The fields of `nix-cache-info`. All optional, as for Nix. */
export interface NixCacheInfo {
  /** Must equal the client's store directory, or the cache is unusable for it. */
  readonly storeDir?: string;
  /** `WantMassQuery: 1`: lets bulk validity queries (`nix-env -qa --status`) use the cache. */
  readonly wantMassQuery?: boolean;
  /** Lower is tried first; cache.nixos.org uses 40. */
  readonly priority?: number;
}

/** Renders the file, e.g. `StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n`. */
export function renderNixCacheInfo(info: NixCacheInfo = {}): string {
  const storeDir = info.storeDir ?? NIX_STORE_DIR;
  if (/[\s]/.test(storeDir)) throw new NixCacheInfoFormatError('StoreDir must not contain whitespace');
  let text = `StoreDir: ${storeDir}\n`;
  if (info.wantMassQuery !== undefined) text += `WantMassQuery: ${info.wantMassQuery ? 1 : 0}\n`;
  if (info.priority !== undefined) {
    if (!isInt32(info.priority)) throw new NixCacheInfoFormatError('Priority must be a 32-bit integer');
    text += `Priority: ${info.priority}\n`;
  }
  return text;
}

/**
 * Parses `nix-cache-info` with Nix's rules (CRLF tolerated, unknown keys ignored), except
 * that an unparseable `Priority` is an error instead of a crash in every client.
 */
export function parseNixCacheInfo(text: string): NixCacheInfo {
  let storeDir: string | undefined;
  let wantMassQuery: boolean | undefined;
  let priority: number | undefined;
  text.split('\n').forEach((line, index) => {
    const colon = line.indexOf(':');
    if (colon < 0) return;
    const name = line.slice(0, colon);
    // Nix's trim() strips space, tab, CR and LF.
    const value = line.slice(colon + 1).replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
    if (name === 'StoreDir') storeDir = value;
    else if (name === 'WantMassQuery') wantMassQuery = value === '1';
    else if (name === 'Priority') {
      // std::stoi accepts a leading sign and ignores trailing junk; we only take clean integers.
      if (!/^[+-]?[0-9]+$/.test(value) || !isInt32(Number(value))) {
        throw new NixCacheInfoFormatError(`line ${index + 1}: Priority must be an integer, got ${JSON.stringify(value)} (Nix 2.8 aborts on it)`);
      }
      priority = Number(value);
    }
  });
  return {
    ...(storeDir !== undefined && { storeDir }),
    ...(wantMassQuery !== undefined && { wantMassQuery }),
    ...(priority !== undefined && { priority }),
  };
}

function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff;
}
