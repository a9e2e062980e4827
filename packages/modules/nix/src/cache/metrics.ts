import { isForgeError, noMetrics, type Metrics } from '@forge/core';
import { NarLimitError, NarVerificationError, NixFormatError, SizeLimitError } from '../format/index.js';

/**
 * What the Nix cache reports at `/metrics` (docs/operations.md lists them): narinfo hits
 * and misses, uploads accepted and refused by reason, NAR verification time and bytes,
 * signatures made. The memos report themselves (`forge_memo_lookups_total`).
 */
export class NixMetrics {
  readonly #narinfos;
  readonly #uploads;
  readonly #verificationSeconds;
  readonly #verifiedBytes;
  readonly #signatures;
  readonly #upstreamErrors;

  constructor(metrics: Metrics = noMetrics) {
    this.#narinfos = metrics.counter({
      name: 'forge_nix_narinfo_lookups_total',
      help: 'Narinfo lookups for serving, by result (hit: the cache has the path; miss: it does not) and whether the memo answered',
      labelNames: ['result', 'memo'],
    });
    this.#uploads = metrics.counter({
      name: 'forge_nix_uploads_total',
      help: 'Nix uploads (NARs, narinfos), by kind, outcome (accepted, refused) and the reason of a refusal',
      labelNames: ['kind', 'outcome', 'reason'],
    });
    this.#verificationSeconds = metrics.histogram({
      name: 'forge_nix_nar_verification_seconds',
      help: 'Time to receive, verify and stage one NAR upload (outcome accepted or refused)',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
    });
    this.#verifiedBytes = metrics.counter({
      name: 'forge_nix_nar_verified_bytes_total',
      help: 'NAR upload bytes verified (as sent, compressed), by outcome; with the seconds histogram, the verification throughput',
      labelNames: ['outcome'],
    });
    this.#signatures = metrics.counter({
      name: 'forge_nix_signatures_total',
      help: 'Narinfo signatures the server made, by occasion (publish: on upload; serve: a path the active key had not signed yet)',
      labelNames: ['occasion'],
    });
    // No label for the upstream: its URL is set by cache owners, and labels must come from a fixed set.
    this.#upstreamErrors = metrics.counter({
      name: 'forge_nix_upstream_errors_total',
      help: 'Upstream cache requests that failed (unreachable, timed out, refused, malformed): each answered as a miss, never an error',
    });
  }

  upstreamError(): void {
    this.#upstreamErrors.inc();
  }

  narinfoLookup(found: boolean, memoised: boolean): void {
    this.#narinfos.inc({ result: found ? 'hit' : 'miss', memo: memoised ? 'hit' : 'miss' });
  }

  accepted(kind: 'nar' | 'narinfo'): void {
    this.#uploads.inc({ kind, outcome: 'accepted', reason: '' });
  }

  refused(kind: 'nar' | 'narinfo', err: unknown): void {
    this.#uploads.inc({ kind, outcome: 'refused', reason: refusalReason(err) });
  }

  narVerified(outcome: 'accepted' | 'refused', seconds: number, bytes: number): void {
    this.#verificationSeconds.observe({ outcome }, seconds);
    this.#verifiedBytes.inc({ outcome }, bytes);
  }

  signed(occasion: 'publish' | 'serve'): void {
    this.#signatures.inc({ occasion });
  }
}

/**
 * A refusal's reason as a label: from a fixed set (class names, the verifier's claim
 * names, error codes), never from the upload's text, so labels stay few.
 */
export function refusalReason(err: unknown): string {
  const cause = isForgeError(err) ? (err as Error).cause : err;
  if (cause instanceof NarVerificationError) return `mismatch:${cause.field}`;
  if (cause instanceof NarLimitError) return `limit:${cause.limitName}`;
  if (cause instanceof SizeLimitError) return 'too_large';
  if (cause instanceof NixFormatError) return snake(cause.constructor.name.replace(/Error$/, ''));
  if (isForgeError(err)) return err.code;
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code === 'ECONNRESET' || e?.message === 'aborted') return 'client_aborted';
  return 'internal';
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
