import { BadRequestError, NotFoundError, type Owner, type RegistryService } from '@forge/core';
import { NixFormatError, parseStorePath } from '../format/index.js';
import { Pins, type PinHistoryEntry, type PinRecord } from '../store/pins.js';
import { StorePathWrites } from '../store/store-path-writes.js';

/** A pin name: what people call releases (`v1.2.0`, `stable`, `nixos-24.05`). */
const PIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;

export interface PinView extends PinRecord {
  /** The store paths it named, newest first (at most PIN_HISTORY_SHOWN). */
  history: PinHistoryEntry[];
}

/**
 * Pins: named roots of a cache (Cachix's pins). Garbage collection never takes a pinned
 * path or anything in its closure; moving a pin (PUT again) keeps the history of the store
 * paths it named. A pinned path cannot be deleted until it is unpinned.
 */
export class CachePins {
  constructor(private readonly deps: { registry: RegistryService; pins: Pins }) {}

  async list(owner: Owner): Promise<PinView[]> {
    const pins = await this.deps.pins.list(owner.id);
    return Promise.all(pins.map(async (pin) => ({ ...pin, history: await this.deps.pins.history(pin.id) })));
  }

  async get(owner: Owner, name: string): Promise<PinView> {
    const pin = await this.deps.pins.get(owner.id, checkName(name));
    if (!pin) throw new NotFoundError(`no pin named "${name}"`);
    return { ...pin, history: await this.deps.pins.history(pin.id) };
  }

  /** Names of the pins holding a path (for its page). */
  async pinning(owner: Owner, hashPart: string): Promise<string[]> {
    return (await this.deps.pins.pinning(owner.id, [hashPart])).get(hashPart) ?? [];
  }

  /**
   * Pins `storePath` (`/nix/store/<hash>-<name>`, which this cache must hold) under `name`,
   * or moves the pin there. The path's row is held FOR SHARE while the pin is written, so a
   * collection cannot delete it in between (it takes the row FOR UPDATE and then reads pins).
   */
  async put(owner: Owner, name: string, storePath: string, by: number | null): Promise<{ pin: PinView; created: boolean }> {
    checkName(name);
    let parsed;
    try {
      parsed = parseStorePath(String(storePath ?? ''));
    } catch (err) {
      if (err instanceof NixFormatError) throw new BadRequestError(`storePath: ${err.message}`, { cause: err });
      throw err;
    }
    const result = await this.deps.registry.write(async (tx) => {
      const present = await new StorePathWrites(tx.manager).presentForShare(owner.id, [parsed.hashPart]);
      if (present.get(parsed.hashPart) !== parsed.name) throw new NotFoundError(`${storePath} is not in this cache: push it before pinning it`);
      return new Pins(tx.manager).put(owner.id, name, parsed.hashPart, parsed.baseName, by);
    });
    return { pin: { ...result.pin, history: await this.deps.pins.history(result.pin.id) }, created: result.created };
  }

  async delete(owner: Owner, name: string): Promise<void> {
    if (!(await this.deps.pins.delete(owner.id, checkName(name)))) throw new NotFoundError(`no pin named "${name}"`);
  }
}

function checkName(name: string): string {
  if (!PIN_NAME.test(name)) throw new BadRequestError('a pin name is 1 to 100 letters, digits, ".", "_", "+" or "-", starting with a letter or digit');
  return name;
}
