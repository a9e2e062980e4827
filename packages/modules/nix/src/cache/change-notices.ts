import type { ClusterEvents, Logger } from '@forge/core';

type OwnerHandler = (ownerId: number) => void;
type PathHandler = (ownerId: number, hashPart: string) => void;
type NarHandler = (ownerId: number, fileName: string) => void;

/**
 * What changed in the caches, told to every server process (the host's change notices:
 * LISTEN/NOTIFY on PostgreSQL, in-process on PGlite). The memos of narinfos, NAR files,
 * settings and keys subscribe here instead of expiring quickly, so a narinfo can be served
 * from memory for minutes and still never outlive its deletion in another process.
 */
export class NixChanges {
  readonly #owner: OwnerHandler[] = [];
  readonly #path: PathHandler[] = [];
  readonly #nar: NarHandler[] = [];
  readonly #reset: Array<() => void> = [];

  constructor(
    private readonly events: ClusterEvents,
    private readonly logger: Logger,
  ) {
    events.subscribe('nix', (payload) => this.apply(payload));
  }

  /** Settings, keys or trusted keys of an owner's cache changed. */
  owner(ownerId: number): void {
    this.publish(`owner ${ownerId}`);
  }

  /** A store path was added, replaced or deleted. */
  path(ownerId: number, hashPart: string): void {
    this.publish(`path ${ownerId} ${hashPart}`);
  }

  /** A NAR file of an owner was uploaded or deleted. */
  nar(ownerId: number, fileName: string): void {
    this.publish(`nar ${ownerId} ${fileName}`);
  }

  onOwner(handler: OwnerHandler): void {
    this.#owner.push(handler);
  }

  onPath(handler: PathHandler): void {
    this.#path.push(handler);
  }

  onNar(handler: NarHandler): void {
    this.#nar.push(handler);
  }

  /** Everything may have changed (a notice may have been lost). */
  onReset(handler: () => void): void {
    this.#reset.push(handler);
  }

  private publish(payload: string): void {
    // Subscribers in this process run synchronously inside publish(); the rest is delivery.
    this.events.publish('nix', payload).catch((err: Error) => this.logger.warn('change notice failed', { payload, err: err.message }));
  }

  private apply(payload: string | null): void {
    if (payload === null) {
      for (const h of this.#reset) h();
      return;
    }
    const [kind, owner, rest] = payload.split(' ');
    const ownerId = Number(owner);
    if (!Number.isInteger(ownerId)) return;
    if (kind === 'owner') for (const h of this.#owner) h(ownerId);
    else if (kind === 'path' && rest) for (const h of this.#path) h(ownerId, rest);
    else if (kind === 'nar' && rest) for (const h of this.#nar) h(ownerId, rest);
  }
}
