/**
 * What the Nix cache keeps as an owner's files (`package_owner_file`, docs/architecture.md)
 * and as a store path's version files: their keys and names, built here and nowhere else,
 * and the conversions from a stored file to the blob a version file points at.
 */
import type { BlobRecord, OwnerFileRecord } from '@forge/core';
import { parseNix32Sha256, type NarVerification, type SupportedCompression } from '../format/index.js';

/** The owner-file keys of one cache. */
export const ownerFileKeys = {
  /** A NAR, named as uploaded (`<filehash>.nar[.ext]`); its properties are {@link NarFileFacts}. */
  nar: (fileName: string) => `nar/${fileName}`,
  /** The `.ls` listing the server computed from that NAR. */
  listing: (fileName: string) => `ls/${fileName}`,
  /** A build log, by the derivation's base name (`<hash>-<name>.drv`). */
  log: (drvBaseName: string) => `log/${drvBaseName}`,
  /** A debuginfo link (`<build id>.debug`, Nix's `?index-debug-info=1`). */
  debuginfo: (id: string) => `debuginfo/${id}`,
  /** A realisation of a CA derivation output, Nix up to 2.34 (`sha256:<hex>!<output>.doi`). */
  realisation: (id: string) => `realisations/${id}`,
  /** A build trace entry, Nix 2.35+ (`<drv>/<output>.doi`). */
  buildTrace: (drv: string, output: string) => `build-trace-v2/${drv}/${output}`,
};

/** The names of a store path's files in its package version. */
export const versionFileNames = {
  nar: (fileName: string) => `nar/${fileName}`,
  listing: (hashPart: string) => `${hashPart}.ls`,
  log: (drvBaseName: string) => `log/${drvBaseName}`,
};

/** A narinfo's `URL:` as this cache writes and accepts it: `nar/<file name>`. */
export const NAR_URL = /^nar\/([0-9a-df-np-sv-z]{52}\.nar(?:\.[a-z0-9]+)?)$/;

/** The NAR file name of a stored path's URL (`nar/<file name>`). */
export function narFileNameOf(url: string): string {
  return url.slice('nar/'.length);
}

/** Facts about an uploaded NAR file, kept with the owner's copy (`package_owner_file.properties`). */
export interface NarFileFacts {
  compression: string;
  /** nix32 */
  fileHash: string;
  fileSize: number;
  /** nix32 */
  narHash: string;
  narSize: number;
  /** sha256 (hex) of the server-computed `.ls` listing blob. */
  listingSha256: string;
}

/** The facts stored with a NAR owner file. */
export function narFactsOf(file: OwnerFileRecord): NarFileFacts {
  return file.properties as unknown as NarFileFacts;
}

/** Stored facts as the verifier's result, to compare a narinfo with (`assertNarInfoMatchesNar`). */
export function narVerificationOf(facts: NarFileFacts): Pick<NarVerification, 'narHash' | 'narSize' | 'compression' | 'fileHash' | 'fileSize'> {
  return {
    compression: facts.compression as SupportedCompression,
    fileHash: parseNix32Sha256(facts.fileHash),
    fileSize: facts.fileSize,
    narHash: parseNix32Sha256(facts.narHash),
    narSize: facts.narSize,
  };
}

/** The blob an owner file holds, to attach to a version file without copying it. */
export function blobOf(file: OwnerFileRecord): BlobRecord {
  return { id: file.blobId, sha256: file.sha256, size: file.size, createdAt: file.createdAt };
}
