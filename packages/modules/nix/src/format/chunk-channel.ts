/**
 * A bounded channel of byte chunks from a producer that pushes (the NAR verifier's
 * `onListing`) to a consumer that pulls (`for await`, e.g. a blob store staging the
 * listing while the NAR is still arriving).
 *
 * `push` resolves at once while fewer than `highWater` bytes wait, and otherwise when the
 * consumer has taken enough: the producer slows down, memory does not grow. If the
 * consumer stops early (breaks out of its loop or fails), waiting and later pushes reject,
 * so a producer never waits forever for a reader that is gone.
 */
export class ChunkChannel implements AsyncIterable<Uint8Array> {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private ended = false;
  private failure: unknown;
  private abandoned = false;
  private wakeReader: (() => void) | undefined;
  private readonly writers: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(private readonly highWater = 1024 * 1024) {}

  /** Queues a chunk (which now belongs to the channel); resolves when there is room again. */
  push(chunk: Uint8Array): Promise<void> {
    if (this.abandoned) return Promise.reject(new Error('the channel was abandoned by its reader'));
    if (this.ended) return Promise.reject(new Error('push() after end() or fail()'));
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.wake();
    if (this.queued < this.highWater) return Promise.resolve();
    return new Promise((resolve, reject) => this.writers.push({ resolve, reject }));
  }

  /** No more chunks: the reader finishes once it has taken the queued ones. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Ends the channel with an error: the reader throws it (after nothing else). */
  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = err ?? new Error('the channel failed');
    this.queue.length = 0;
    this.queued = 0;
    for (const writer of this.writers.splice(0)) writer.reject(this.failure);
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      for (;;) {
        if (this.failure !== undefined) throw this.failure;
        const chunk = this.queue.shift();
        if (chunk !== undefined) {
          this.queued -= chunk.length;
          if (this.queued < this.highWater) this.releaseWriters();
          yield chunk;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
      }
    } finally {
      if (!this.ended || this.queue.length > 0) {
        // The reader stopped before the end: nobody will take what the producer pushes.
        this.abandoned = true;
        for (const writer of this.writers.splice(0)) writer.reject(new Error('the channel was abandoned by its reader'));
      }
    }
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }

  private releaseWriters(): void {
    for (const writer of this.writers.splice(0)) writer.resolve();
  }
}
