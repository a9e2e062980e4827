import type { FoundVersion, Owner, PackageVersionHooks, RegistryService } from '@forge/core';

/**
 * The package types' version hooks (ModuleContext.versionHooks), with the defaults for a
 * type that registered none: the registry's version row of that name, deleted with its
 * files (the package goes with its last version). The host looks hooks up by type, so it
 * never needs to know what a type is.
 */
export class PackageVersions {
  readonly #hooks = new Map<string, PackageVersionHooks>();

  constructor(private readonly registry: RegistryService) {}

  register(type: string, hooks: PackageVersionHooks): void {
    this.#hooks.set(type, hooks);
  }

  async find(owner: Owner, type: string, name: string, version: string): Promise<FoundVersion | null> {
    const found = await this.#hooks.get(type)?.resolve?.(owner, name, version);
    if (found !== undefined) return found;
    const pkg = await this.registry.getPackage(owner.id, type, name);
    const row = pkg && (await this.registry.getVersion(pkg.id, version));
    return pkg && row ? { package: pkg, version: row } : null;
  }

  async delete(owner: Owner, found: FoundVersion, options: { recursive: boolean }): Promise<void> {
    const hook = this.#hooks.get(found.package.type)?.delete;
    if (hook) return hook(owner, found, options);
    await this.registry.write((tx) => tx.deleteVersion(found.version.id));
  }
}
