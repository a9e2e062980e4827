/**
 * The load generator, always run as its own process (`node --import tsx bench/loadgen.ts`),
 * never inside the server's. It reads one job as JSON on stdin and prints one result as
 * JSON on stdout.
 *
 * It speaks HTTP/1.1 over raw keep-alive sockets: a request is one write, a response is
 * parsed just far enough to find its status and Content-Length, and the body is counted
 * and dropped (drained, never decompressed). This keeps the client's own cost per request
 * in the tens of microseconds, so the figures are the servers', not the client's.
 *
 * Jobs:
 * - `seq`: GET every path in order on one connection; per-request latencies.
 * - `pool`: GET every path once with `concurrency` connections taking paths from one queue.
 */
import net from 'node:net';

export interface LoadJob {
  kind: 'seq' | 'pool';
  host: string;
  port: number;
  /** Request paths, e.g. /api/packages/bench/nix/<hash>.narinfo */
  paths: string[];
  concurrency?: number;
  /** Sent as `Authorization` on every request (a private cache). */
  authorization?: string;
  /** Repeat the whole list this many times (default 1); timings cover all passes. */
  passes?: number;
  /**
   * Follow `302`/`307` answers to their `Location` (an absolute http URL, e.g. a presigned
   * S3 URL), on keep-alive connections of their own; the followed answer is what counts.
   */
  followRedirects?: boolean;
}

export interface LoadResult {
  ms: number;
  requests: number;
  bytes: number;
  statuses: Record<string, number>;
  /** Per-request latencies in ms (seq jobs only). */
  latencies?: number[];
}

/** One keep-alive HTTP/1.1 connection that runs one request at a time. */
class Connection {
  #socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #state: 'head' | 'body' = 'head';
  #remaining = 0;
  #status = 0;
  #location: string | undefined;
  #bodyBytes = 0;
  #done: ((r: { status: number; bytes: number; location?: string }) => void) | null = null;
  #fail: ((e: Error) => void) | null = null;
  readonly ready: Promise<void>;

  constructor(host: string, port: number) {
    this.#socket = net.connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.#socket.once('connect', () => resolve());
      this.#socket.once('error', reject);
    });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (e) => this.#fail?.(e));
    this.#socket.on('close', () => this.#fail?.(new Error('connection closed by the server')));
  }

  request(head: string): Promise<{ status: number; bytes: number; location?: string }> {
    return new Promise((resolve, reject) => {
      this.#done = resolve;
      this.#fail = reject;
      this.#state = 'head';
      this.#bodyBytes = 0;
      this.#socket.write(head);
    });
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'body') {
      this.#consumeBody(chunk);
      return;
    }
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.#buf.toString('latin1', 0, end);
    const rest = this.#buf.subarray(end + 4);
    this.#buf = Buffer.alloc(0);
    this.#status = Number(head.slice(9, 12));
    this.#location = /\r\nlocation:\s*(\S+)/i.exec(head)?.[1];
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) {
      this.#fail?.(new Error(`response without Content-Length: ${head.split('\r\n')[0]}`));
      return;
    }
    this.#remaining = Number(m[1]);
    this.#state = 'body';
    this.#consumeBody(rest);
  }

  #consumeBody(chunk: Buffer): void {
    const n = Math.min(chunk.length, this.#remaining);
    this.#remaining -= n;
    this.#bodyBytes += n;
    if (this.#remaining > 0) return;
    if (chunk.length > n) {
      this.#fail?.(new Error('unexpected bytes after a response body'));
      return;
    }
    this.#state = 'head';
    const done = this.#done!;
    this.#done = null;
    this.#fail = null;
    done({ status: this.#status, bytes: this.#bodyBytes, location: this.#location });
  }

  close(): void {
    this.#fail = null;
    this.#socket.destroy();
  }
}

export async function runJob(job: LoadJob): Promise<LoadResult> {
  const auth = job.authorization ? `Authorization: ${job.authorization}\r\n` : '';
  const heads = job.paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: ${job.host}:${job.port}\r\nUser-Agent: forge-bench\r\nAccept: */*\r\n${auth}\r\n`);
  const passes = job.passes ?? 1;
  const all: string[] = [];
  for (let i = 0; i < passes; i++) all.push(...heads);
  const statuses: Record<string, number> = {};
  let bytes = 0;
  const concurrency = job.kind === 'seq' ? 1 : Math.max(1, job.concurrency ?? 1);
  const conns = Array.from({ length: Math.min(concurrency, all.length) }, () => new Connection(job.host, job.port));
  await Promise.all(conns.map((c) => c.ready));
  const latencies: number[] | undefined = job.kind === 'seq' ? [] : undefined;
  let next = 0;
  const started = performance.now();
  const redirected: Connection[] = [];
  await Promise.all(
    conns.map(async (c) => {
      // This worker's connections to the hosts it is redirected to, by origin.
      const elsewhere = new Map<string, Connection>();
      while (next < all.length) {
        const head = all[next++]!;
        const t0 = latencies ? performance.now() : 0;
        let r = await c.request(head);
        if (job.followRedirects && (r.status === 302 || r.status === 307) && r.location) {
          const url = new URL(r.location);
          let target = elsewhere.get(url.host);
          if (!target) {
            target = new Connection(url.hostname, Number(url.port || 80));
            await target.ready;
            elsewhere.set(url.host, target);
            redirected.push(target);
          }
          r = await target.request(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: forge-bench\r\nAccept: */*\r\n\r\n`);
        }
        if (latencies) latencies.push(performance.now() - t0);
        bytes += r.bytes;
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    }),
  );
  const ms = performance.now() - started;
  for (const c of [...conns, ...redirected]) c.close();
  return { ms, requests: all.length, bytes, statuses, latencies };
}

async function main(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const result = await runJob(JSON.parse(input) as LoadJob);
  process.stdout.write(JSON.stringify(result));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((err) => {
    process.stderr.write(String(err?.stack ?? err) + '\n');
    process.exit(1);
  });
}
