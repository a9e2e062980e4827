/**
 * Drives the real `nix` client (Nix 2.8) for end-to-end tests and benchmarks.
 * See docs/testing.md.
 */
export { findExecutable, nixOrThrow, requireNix } from './availability.js';
export type { NixAvailability, NixBinaries, NixInstallation, NixUnavailable } from './availability.js';
export { createNixClient, NixClient, NixCommandError, renderNetrc, renderNixConf, shellQuote } from './client.js';
export type { NetrcEntry, NixClientOptions, NixClientSettings, NixProgram, NixResult, NixSettingValue, RunOptions } from './client.js';
export { addFile, addText, buildClosure, topoSort } from './closure.js';
export type { BuildClosureOptions, BuiltClosure, BuiltPath, ClosureSpec, ContentKind, PathSpec } from './closure.js';
export {
  copyFrom,
  copyLog,
  copyTo,
  deleteLocal,
  fileStoreUrl,
  generateKey,
  hashPath,
  log,
  pathInfo,
  realiseFromSubstituter,
  storeCat,
  storeLs,
  validPaths,
  verifyLocal,
  withParams,
} from './ops.js';
export type {
  CommonOptions,
  Compression,
  CopyFromOptions,
  CopyToOptions,
  DeleteOptions,
  PathInfo,
  PathInfoOptions,
  PathInfoResult,
  RealiseOptions,
  SigningKey,
  StoreLsOptions,
  VerifyOptions,
} from './ops.js';
export { prng, realisticClosureSpec, summarizeSpec } from './realistic.js';
export type { RealisticClosureSpec, RealisticOptions, SpecSummary } from './realistic.js';
