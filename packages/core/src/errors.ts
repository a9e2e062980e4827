/**
 * Typed errors. Every layer throws these; the host maps them to HTTP statuses in one
 * place (apps/server's error middleware), so handlers never pick status codes for
 * failures themselves.
 */
export class ForgeError extends Error {
  /** HTTP status the host answers with. */
  readonly status: number;
  /** Stable machine-readable code, e.g. `not_found`. */
  readonly code: string;
  /** Extra response headers (e.g. `WWW-Authenticate`). */
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export class BadRequestError extends ForgeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(400, 'bad_request', message, {}, options);
  }
}

/** No or invalid credentials. Always carries a Basic challenge: Nix and curl answer it with netrc. */
export class UnauthorizedError extends ForgeError {
  constructor(message = 'authentication required', realm = 'forge') {
    super(401, 'unauthorized', message, { 'WWW-Authenticate': `Basic realm="${realm}"` });
  }
}

export class ForbiddenError extends ForgeError {
  constructor(message = 'forbidden') {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends ForgeError {
  constructor(message = 'not found') {
    super(404, 'not_found', message);
  }
}

export class ConflictError extends ForgeError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

export class PayloadTooLargeError extends ForgeError {
  constructor(limit: number, message = `request body exceeds the limit of ${limit} bytes`, options?: { cause?: unknown }) {
    super(413, 'payload_too_large', message, {}, options);
  }
}

export class RangeNotSatisfiableError extends ForgeError {
  constructor(size: number) {
    super(416, 'range_not_satisfiable', 'requested range not satisfiable', { 'Content-Range': `bytes */${size}` });
  }
}

/**
 * An owner's quota would be exceeded. 403, the status Gitea's package routes answer a
 * quota refusal with (not 413: the request itself was within the upload limit).
 */
export class QuotaExceededError extends ForgeError {
  constructor(message: string) {
    super(403, 'quota_exceeded', message);
  }
}

/** A client did something too often (sign-in failures); `Retry-After` says when to try again. */
export class TooManyRequestsError extends ForgeError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, 'too_many_requests', message, { 'Retry-After': String(seconds) });
    this.retryAfterSeconds = seconds;
  }
}

/**
 * The server is busy with a bounded resource (password hashing), or a service a request
 * needs (the object store) is unreachable or failing; `Retry-After` says when to try
 * again. Nix and curl treat a 503 as transient and retry.
 */
export class ServiceUnavailableError extends ForgeError {
  constructor(message: string, retryAfterSeconds: number, options?: { cause?: unknown }) {
    super(503, 'unavailable', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) }, options);
  }
}

export function isForgeError(err: unknown): err is ForgeError {
  return err instanceof ForgeError;
}
