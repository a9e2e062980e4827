/**
 * Change notices between server processes. Every process keeps short-lived memos of hot
 * data (tokens, owners, rendered narinfos); when one process changes such data it
 * publishes a notice and every process (itself included) drops what it remembered.
 * Delivery is best effort and at most a few milliseconds late; a process whose
 * connection to the bus was interrupted receives `reset` and must forget everything.
 */
export interface ClusterEvents {
  /** Sends `payload` (at most 7 000 bytes) to the subscribers of `topic` in every process. */
  publish(topic: string, payload: string): Promise<void>;
  /** Calls `handler` for each notice on `topic`, and with `null` after a reset. */
  subscribe(topic: string, handler: (payload: string | null) => void): void;
}
