/** At most `limit` holders at once; the rest wait in arrival order. */
export class Semaphore {
  #available: number;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#available = limit;
  }

  async acquire(): Promise<() => void> {
    if (this.#available > 0) this.#available--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#available++;
    };
  }
}

/**
 * `limit` slots shared among keys (owners), each key holding at most `perKey` at once: one
 * owner's uploads (four trickling one byte a second, say) can never take every slot, and
 * another owner's upload gets the next free one. Waiters are served key by key in turn
 * (round robin), in arrival order within a key.
 */
export class FairSlots {
  #free: number;
  readonly #held = new Map<string, number>();
  /** Waiting acquirers by key; the map's order is the round-robin order. */
  readonly #waiting = new Map<string, Array<() => void>>();

  constructor(
    readonly limit: number,
    readonly perKey: number,
  ) {
    if (!(limit >= 1 && perKey >= 1)) throw new Error(`FairSlots needs at least one slot and one per key (got ${limit}, ${perKey})`);
    this.#free = limit;
  }

  /** Slots held by `key` now (for tests and metrics). */
  heldBy(key: string): number {
    return this.#held.get(key) ?? 0;
  }

  async acquire(key: string): Promise<() => void> {
    if (this.#free > 0 && this.heldBy(key) < this.perKey && !this.#waiting.has(key)) this.#take(key);
    else {
      await new Promise<void>((resolve) => {
        const queue = this.#waiting.get(key);
        if (queue) queue.push(resolve);
        else this.#waiting.set(key, [resolve]);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const held = this.heldBy(key) - 1;
      if (held === 0) this.#held.delete(key);
      else this.#held.set(key, held);
      this.#free++;
      this.#dispatch();
    };
  }

  #take(key: string): void {
    this.#free--;
    this.#held.set(key, this.heldBy(key) + 1);
  }

  /** Gives free slots to the waiting keys under their share, each in turn. */
  #dispatch(): void {
    let progress = true;
    while (this.#free > 0 && progress) {
      progress = false;
      for (const [key, queue] of this.#waiting) {
        if (this.#free === 0) break;
        if (this.heldBy(key) >= this.perKey) continue;
        const next = queue.shift()!;
        if (queue.length === 0) this.#waiting.delete(key);
        else {
          // Served: to the back of the turn order.
          this.#waiting.delete(key);
          this.#waiting.set(key, queue);
        }
        this.#take(key);
        next();
        progress = true;
      }
    }
  }
}
