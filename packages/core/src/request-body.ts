import type { IncomingMessage } from 'node:http';
import { ForgeError } from './errors.js';

/** The client stopped sending a body it had started (or took longer than allowed over it). */
export class RequestTimeoutError extends ForgeError {
  constructor(message: string) {
    super(408, 'request_timeout', message);
  }
}

export interface RequestBodyOptions {
  /**
   * Longest wait for the next bytes while the body is being read (`FORGE_BODY_IDLE_TIMEOUT`,
   * `HostInfo.bodyIdleTimeoutMs`). Time the handler spends elsewhere (waiting for a
   * verification slot, writing) does not count: only waits on the client do.
   */
  idleTimeoutMs: number;
  /** Longest time the whole body may take from the first read (small documents only). */
  deadlineMs?: number;
}

/**
 * A request body as chunks, refused with a 408 ({@link RequestTimeoutError}) when the
 * client sends nothing for `idleTimeoutMs` while it is read, or when reading it takes past
 * `deadlineMs`. The error reaches the consumer like a disconnect would, so whatever it was
 * staging is discarded; the host answers 408 with `Connection: close` (the rest of the body
 * is never read) and the connection goes. Without this, a client that starts a body and
 * stops holds its connection, its staging file, its memory and (for a NAR) a verification
 * slot for ever.
 */
export async function* requestBody(req: IncomingMessage, options: RequestBodyOptions): AsyncGenerator<Buffer> {
  const chunks = req.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]();
  const started = Date.now();
  for (;;) {
    const left = options.deadlineMs === undefined ? Infinity : options.deadlineMs - (Date.now() - started);
    const wait = Math.min(options.idleTimeoutMs, left);
    const next = chunks.next();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, wait));
    });
    const step = await Promise.race([next, timedOut]).finally(() => clearTimeout(timer));
    if (step === 'timeout') {
      // The read stays pending until the connection closes; its rejection then is expected.
      next.catch(() => {});
      throw new RequestTimeoutError(
        wait === options.idleTimeoutMs
          ? `the request body stalled: nothing arrived for ${Math.round(options.idleTimeoutMs / 1000)} s`
          : `the request body took longer than ${Math.round(options.deadlineMs! / 1000)} s`,
      );
    }
    if (step.done) return;
    yield step.value as Buffer;
  }
}
