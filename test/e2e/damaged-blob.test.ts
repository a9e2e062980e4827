/**
 * A NAR whose bytes are gone from storage, seen by the real Nix 2.8 (issue 16, finding 14):
 * the server answers its download with 404, so Nix falls back to building the path (with
 * 500s it stopped: "try --fallback"), substituting what is intact; `forge admin doctor`
 * names the damaged path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { adminCommands } from '@forge/server';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { buildClosure, copyTo, createNixClient, deleteLocal, realiseFromSubstituter, requireNix, validPaths, type BuiltClosure, type NixClient } from '../support/nix/index.js';

const nix = requireNix();
const kinds = nix.available ? await testDatabaseKinds() : ['pglite' as const];

describe.runIf(nix.available).each(kinds)('Nix 2.8 and a NAR missing from storage on %s', (kind) => {
  let t: TestServer;
  let dir: string;
  let client: NixClient;
  let cacheUrl: string;
  let closure: BuiltClosure;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const alice = await t.createUser('alice');
    const token = await t.token(alice, ['read:package', 'write:package']);
    dir = mkdtempSync(path.join(tmpdir(), 'forge-nix-damaged-'));
    client = createNixClient({ dir: path.join(dir, 'client'), netrc: [{ machine: '127.0.0.1', password: token }] });
    cacheUrl = `${t.url}/api/packages/alice/nix`;
    closure = await buildClosure(client, [
      { name: 'damaged-lib', size: 4096, content: 'text' },
      { name: 'damaged-app', size: 4096, content: 'text', bin: true, references: ['damaged-lib'] },
    ]);
    client.assertOk(await copyTo(client, cacheUrl, closure.roots, { compression: 'zstd' }));
  });

  afterAll(async () => {
    if (client && closure) await deleteLocal(client, [...closure.outPaths, ...closure.drvPaths]);
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers the lost NAR's download with 404, Nix builds the path instead, and doctor names it", async () => {
    const app = closure.byName['damaged-app']!;
    const lib = closure.byName['damaged-lib']!;
    const narinfo = await (await fetch(`${cacheUrl}/${path.basename(app.outPath).slice(0, 32)}.narinfo`)).text();
    const url = /^URL: (.*)$/m.exec(narinfo)![1]!;
    const owner = (await t.forge.owners.findByName('alice'))!;
    const nar = (await t.forge.registry.getOwnerFile(owner.id, 'nix', url))!;
    await fs.rm(t.forge.blobs.localPath(nar.sha256)!);
    expect((await fetch(`${cacheUrl}/${url}`)).status).toBe(404);

    const report = await adminCommands.doctor(t.forge, {});
    expect(typeof report === 'object' && report.exitCode).toBe(2);
    expect(typeof report === 'object' && report.output).toContain(`missing\t${nar.sha256}\talice\tnix\tdamaged-app@${path.basename(app.outPath)}`);

    await deleteLocal(client, closure.outPaths);
    const realised = await realiseFromSubstituter(client, [app.drvPath], { substituter: cacheUrl, requireSigs: false });
    expect(realised.code, realised.stderr).toBe(0);
    expect(await validPaths(client, [app.outPath, lib.outPath])).toEqual([app.outPath, lib.outPath]);
    // The library came from the cache, the application was built.
    expect(realised.stderr).toContain(`copying path '${lib.outPath}' from '${cacheUrl}'`);
    expect(realised.stderr).toMatch(new RegExp(`building '${app.drvPath.replace(/[.+]/g, '\\$&')}'`));
  });
});
