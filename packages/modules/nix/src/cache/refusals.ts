import { BadRequestError, PayloadTooLargeError } from '@forge/core';
import { NixFormatError, SizeLimitError } from '../format/index.js';

/**
 * Format errors are the uploader's mistakes. The use cases turn them into the host's typed
 * errors (which the host maps to statuses in one place): 400 with the parser's message,
 * or 413 when the data inflates past a limit. The format error stays the `cause`, so a
 * log or a metric can tell the reasons apart (`NarVerificationError.field`, …).
 */
export function refusal(err: unknown, what: string): unknown {
  if (err instanceof SizeLimitError) return new PayloadTooLargeError(err.limit, `${what}: ${err.message}`, { cause: err });
  if (err instanceof NixFormatError) return new BadRequestError(`${what}: ${err.message}`, { cause: err });
  return err;
}

/** Runs `work`, turning a format error it throws into a refusal of `what`. */
export async function refuseBadInput<T>(what: string, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw refusal(err, what);
  }
}
