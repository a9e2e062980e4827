import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { ClusterEvents, Logger } from '@forge/core';

const CHANNEL = 'forge_events';
const MAX_PAYLOAD = 7_000;

/**
 * One process: notices go straight to this process's subscribers (the embedded PGlite
 * database cannot be shared, so there is no other process to tell).
 */
export class LocalEvents implements ClusterEvents {
  protected readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(topic: string, payload: string): Promise<void> {
    check(payload);
    this.emitter.emit(topic, payload);
  }

  subscribe(topic: string, handler: (payload: string | null) => void): void {
    this.emitter.on(topic, handler);
  }

  protected resetAll(): void {
    for (const topic of this.emitter.eventNames()) this.emitter.emit(topic, null);
  }

  async close(): Promise<void> {}
}

/**
 * Several processes on one PostgreSQL: `NOTIFY forge_events` carries each notice to every
 * process LISTENing on its own connection. The publisher's subscribers run at once (read
 * your own writes); the notice coming back from the database is then a harmless repeat.
 * If the listening connection drops, subscribers get a reset (they may have missed
 * notices) and it reconnects with backoff.
 */
export class PostgresEvents extends LocalEvents {
  /** Marks this process's own notices, whose subscribers already ran when they were published. */
  readonly #origin = randomUUID();
  #client: pg.Client | null = null;
  #closed = false;
  #retryMs = 250;

  constructor(
    private readonly url: string,
    private readonly query: (sql: string, params: unknown[]) => Promise<unknown>,
    private readonly logger?: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      const [origin, topic, ...rest] = msg.payload.split('\n');
      if (origin === this.#origin || !topic) return;
      this.emitter.emit(topic, rest.join('\n'));
    });
    client.on('error', (err) => this.lost(err));
    client.on('end', () => this.lost(new Error('connection ended')));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.#client = client;
    this.#retryMs = 250;
  }

  private lost(err: Error): void {
    if (this.#closed || !this.#client) return;
    this.#client = null;
    this.logger?.warn('lost the change-notice connection; forgetting memos and reconnecting', { err: err.message });
    this.resetAll();
    const retry = () => {
      if (this.#closed) return;
      this.start().then(
        () => this.resetAll(),
        () => {
          this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
          setTimeout(retry, this.#retryMs).unref();
        },
      );
    };
    setTimeout(retry, this.#retryMs).unref();
  }

  override async publish(topic: string, payload: string): Promise<void> {
    await super.publish(topic, payload);
    await this.query('SELECT pg_notify($1, $2)', [CHANNEL, `${this.#origin}\n${topic}\n${payload}`]);
  }

  override async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }
}

function check(payload: string): void {
  if (Buffer.byteLength(payload) > MAX_PAYLOAD) throw new Error(`change notices carry at most ${MAX_PAYLOAD} bytes`);
}
