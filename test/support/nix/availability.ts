/**
 * Is the real Nix client installed? `requireNix()` answers once per process.
 *
 * - Found: returns the absolute paths of the binaries and the version.
 * - Missing, with `CI` set: throws, because CI must run every tier.
 * - Missing, elsewhere: returns `{ available: false }` after a loud warning, so a suite can
 *   `describe.runIf(nix.available)` and skip.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';

export interface NixBinaries {
  nix: string;
  nixStore: string;
  nixInstantiate: string;
  nixBuild: string;
}

export interface NixInstallation {
  available: true;
  /** e.g. `2.8.0` */
  version: string;
  bin: NixBinaries;
  /** `/nix/store` */
  storeDir: string;
}

export interface NixUnavailable {
  available: false;
  reason: string;
}

export type NixAvailability = NixInstallation | NixUnavailable;

const INSTALL_HINT = 'Install Debian\'s nix-bin (apt-get install nix-bin) and run as root (single-user store at /nix/store).';

let cached: NixAvailability | undefined;

/** Finds an executable on `PATH` (or `NIX_BIN_DIR`, if set, first). */
export function findExecutable(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [process.env.NIX_BIN_DIR, ...searchPath.split(path.delimiter)].filter((d): d is string => !!d);
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function probe(): NixAvailability {
  const names = { nix: 'nix', nixStore: 'nix-store', nixInstantiate: 'nix-instantiate', nixBuild: 'nix-build' } as const;
  const bin: Partial<NixBinaries> = {};
  for (const [key, name] of Object.entries(names) as [keyof NixBinaries, string][]) {
    const found = findExecutable(name);
    if (!found) return { available: false, reason: `\`${name}\` is not on PATH` };
    bin[key] = found;
  }
  const version = spawnSync(bin.nix!, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (version.status !== 0) {
    return { available: false, reason: `\`nix --version\` failed: ${version.error?.message ?? version.stderr.trim()}` };
  }
  const match = /(\d+\.\d+(?:\.\d+)?)/.exec(version.stdout);
  const storeDir = '/nix/store';
  // A fresh `apt-get install nix-bin` has no store yet; as root, make the single-user one.
  if (!existsSync(storeDir) && process.getuid?.() === 0) {
    spawnSync(bin.nixStore!, ['--init'], { encoding: 'utf8', timeout: 60_000 });
  }
  try {
    accessSync(storeDir, constants.W_OK);
  } catch {
    return { available: false, reason: `${storeDir} is missing or not writable by this user (the harness needs a single-user store, i.e. root)` };
  }
  return { available: true, version: match?.[1] ?? version.stdout.trim(), bin: bin as NixBinaries, storeDir };
}

/**
 * Resolves the Nix binaries. Throws in CI when they are missing; elsewhere warns loudly and
 * returns a marker with `available: false`.
 */
export function requireNix(): NixInstallation | NixUnavailable {
  cached ??= probe();
  if (cached.available) return cached;
  const message = `Nix is not available: ${cached.reason}. ${INSTALL_HINT}`;
  if (process.env.CI) throw new Error(`${message} CI must run the end-to-end tests against the real nix client.`);
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!!! ${message}\n!!! SKIPPING every end-to-end test that drives the real nix client.\n${bar}\n`);
  return cached;
}

/** Like `requireNix()`, but throws when Nix is missing, CI or not (for benchmarks and helpers). */
export function nixOrThrow(): NixInstallation {
  cached ??= probe();
  if (!cached.available) throw new Error(`Nix is not available: ${cached.reason}. ${INSTALL_HINT}`);
  return cached;
}
