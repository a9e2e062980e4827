/**
 * Signatures: the server signs every narinfo it serves with the owner's key (which
 * verifies with the format layer, as Nix would), keeps the uploader's signatures, checks
 * those by keys the owner trusts, rotates keys (the old signature is served until the old
 * key is dropped), imports an owner's own key, and signs lazily after a rotation, once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '@forge/core';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import {
  fingerprintPath,
  formatPublicKey,
  formatSecretKey,
  generateSigningKey,
  parseNarInfo,
  parsePublicKey,
  parseSecretKey,
  publicKeyOf,
  signPath,
  verifySignature,
  type PublicKey,
} from '../../src/format/index.js';
import { CacheClient, FIXTURES, expect400, expectNothingLeft, makePath, withInfo, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();

/** The served narinfo's signatures by key name, each checked against the fingerprint of what is served. */
async function servedSigs(client: CacheClient, p: TestPath): Promise<{ text: string; sigs: Map<string, string> }> {
  const text = await client.narinfo(p.hashPart);
  const info = parseNarInfo(text);
  expect(fingerprintPath(info)).toBe(fingerprintPath(p.info));
  const sigs = new Map<string, string>();
  for (const sig of info.sigs) sigs.set(sig.slice(0, sig.indexOf(':')), sig);
  expect(sigs.size, 'one signature per key name').toBe(info.sigs.length);
  return { text, sigs };
}

const verifies = (p: TestPath, sig: string | undefined, key: PublicKey) => sig !== undefined && verifySignature(fingerprintPath(p.info), sig, key);

describe.each(kinds)('nix signing on %s', (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
  });
  afterAll(() => t?.close());

  async function cacheOf(name: string): Promise<{ client: CacheClient; user: User }> {
    const user = await t.createUser(name);
    return { client: new CacheClient(t, name, basic(name, await t.token(user))), user };
  }

  describe('server signatures and uploaders\' signatures', () => {
    let alice: CacheClient;
    let serverKey: PublicKey;
    const uploader = generateSigningKey('uploader.example-1');
    const another = generateSigningKey('another.example-7');

    beforeAll(async () => {
      alice = (await cacheOf('alice')).client;
      expect((await alice.admin('settings', { method: 'PUT', json: {} })).status).toBe(200);
      serverKey = parsePublicKey(await alice.publicKey());
      expect(serverKey.name).toBe(`127.0.0.1-${t.port}-alice-1`);
    });

    it('signs every narinfo it serves with the server key, and keeps the uploader\'s signatures', async () => {
      const lib = makePath({ name: 'lib-1.0', compression: 'zstd' });
      const tool = makePath({ name: 'tool-1.0', references: [lib] });
      const app = makePath({ name: 'app-1.0', compression: 'gzip', references: [lib, tool], selfReference: true });
      const signedTool = withInfo(tool, { sigs: [signPath(tool.info, uploader)] });
      const signedApp = withInfo(app, { sigs: [signPath(app.info, uploader), signPath(app.info, another)] });
      await alice.push(lib, signedTool, signedApp);
      for (const p of [lib, signedTool, signedApp]) {
        const { sigs } = await servedSigs(alice, p);
        expect(verifies(p, sigs.get(serverKey.name), serverKey), p.baseName).toBe(true);
        for (const sig of p.info.sigs) expect(sigs.get(sig.slice(0, sig.indexOf(':')))).toBe(sig);
        expect(sigs.size).toBe(1 + p.info.sigs.length);
      }
      expect(verifies(signedApp, (await servedSigs(alice, signedApp)).sigs.get('another.example-7'), publicKeyOf(another))).toBe(true);
    });

    it('refuses a Sig in the name of the cache\'s own key', async () => {
      const p = makePath({ name: 'forged' });
      expect((await alice.putNar(p)).status).toBe(201);
      const impostor = generateSigningKey(serverKey.name);
      await expectNothingLeft(t, async () => {
        await expect400(alice.putNarInfo(withInfo(p, { sigs: [signPath(p.info, impostor)] })), /own key/);
      });
    });

    it('refuses a Sig in the name of the key a brand-new cache is about to get', async () => {
      const { client: carol } = await cacheOf('carol');
      const p = makePath({ name: 'first-push' });
      // The NAR enables the cache; the narinfo is the first thing that needs the cache's key.
      expect((await carol.putNar(p)).status).toBe(201);
      const impostor = generateSigningKey(`127.0.0.1-${t.port}-carol-1`);
      await expectNothingLeft(t, async () => {
        await expect400(carol.putNarInfo(withInfo(p, { sigs: [signPath(p.info, impostor)] })), /own key/);
      });
      expect((await carol.putNarInfo(p)).status).toBe(201);
      const key = parsePublicKey(await carol.publicKey());
      expect(key.name).toBe(`127.0.0.1-${t.port}-carol-1`);
      const { sigs } = await servedSigs(carol, p);
      expect([...sigs.keys()]).toEqual([key.name]);
      expect(verifies(p, sigs.get(key.name), key)).toBe(true);
    });

    it('takes back a narinfo exactly as it serves it, as `nix store sign` and re-pushes of substituted paths send it', async () => {
      const p = makePath({ name: 'round-trip' });
      await alice.push(p);
      const served = await alice.narinfo(p.hashPart);
      expect(served).toContain(`Sig: ${serverKey.name}:`);
      // GET, then PUT back unchanged (a path substituted from this cache carries its signature).
      const back = await alice.putNarInfo(p, served);
      expect(back.status, await back.clone().text()).toBe(200);
      expect(await alice.narinfo(p.hashPart)).toBe(served);
      // `nix store sign --store <cache> -k key`: GET, add a Sig, PUT.
      const signed = served + `Sig: ${signPath(p.info, uploader)}\n`;
      expect((await alice.putNarInfo(p, signed)).status).toBe(200);
      const { sigs } = await servedSigs(alice, p);
      expect([...sigs.keys()].sort()).toEqual([serverKey.name, uploader.name].sort());
      expect(verifies(p, sigs.get(serverKey.name), serverKey)).toBe(true);
      expect(verifies(p, sigs.get(uploader.name), publicKeyOf(uploader))).toBe(true);
    });

    it('checks signatures by keys the owner trusts: a bad one is refused (400), a good one kept and served', async () => {
      const trusted = generateSigningKey('ci.example-1');
      const added = await alice.admin('trusted-keys', { method: 'POST', body: formatPublicKey(publicKeyOf(trusted)) + '\n' });
      expect(added.status).toBe(201);
      expect(((await added.json()) as { trusted_keys: string[] }).trusted_keys).toEqual([formatPublicKey(publicKeyOf(trusted))]);

      const p = makePath({ name: 'ci-built' });
      expect((await alice.putNar(p)).status).toBe(201);
      // Signed by the trusted key's name, but over another path's fingerprint: does not verify.
      const other = makePath({ name: 'ci-built-other' });
      const bad = withInfo(p, { sigs: [signPath(other.info, trusted)] });
      await expectNothingLeft(t, async () => {
        await expect400(alice.putNarInfo(bad), /ci\.example-1.*does not verify/);
      });
      // A key of that name that is not the trusted one: same.
      const impostor = generateSigningKey('ci.example-1');
      await expectNothingLeft(t, async () => {
        await expect400(alice.putNarInfo(withInfo(p, { sigs: [signPath(p.info, impostor)] })), /ci\.example-1/);
      });
      // Malformed signatures are refused whoever they claim to be from.
      await expectNothingLeft(t, async () => {
        await expect400(alice.putNarInfo(p, p.narinfo + 'Sig: ci.example-1:AAAA\n'), /Sig|signature/);
      });

      const good = withInfo(p, { sigs: [signPath(p.info, trusted)] });
      expect((await alice.putNarInfo(good)).status).toBe(201);
      const { sigs } = await servedSigs(alice, good);
      expect(verifies(good, sigs.get('ci.example-1'), publicKeyOf(trusted))).toBe(true);
      expect(verifies(good, sigs.get(serverKey.name), serverKey)).toBe(true);
    });

    it('manages trusted keys: JSON or text, 409 for a duplicate name, 400 for nonsense, DELETE', async () => {
      const key = publicKeyOf(generateSigningKey('laptop-1'));
      const added = await alice.admin('trusted-keys', { method: 'POST', json: { public_key: formatPublicKey(key) } });
      expect(added.status).toBe(201);
      expect(((await added.json()) as { trusted_keys: string[] }).trusted_keys).toContain(formatPublicKey(key));
      expect((await alice.admin('trusted-keys', { method: 'POST', body: formatPublicKey(key) })).status).toBe(409);
      await expect400(alice.admin('trusted-keys', { method: 'POST', body: 'laptop-2:notbase64!' }), /public key/);
      await expect400(alice.admin('trusted-keys', { method: 'POST', body: `laptop-2:${Buffer.alloc(31).toString('base64')}` }), /public key/);
      expect((await alice.admin('trusted-keys/laptop-1', { method: 'DELETE' })).status).toBe(204);
      expect((await alice.admin('trusted-keys/laptop-1', { method: 'DELETE' })).status).toBe(404);
      const settings = (await (await alice.admin('settings')).json()) as { trusted_keys: string[] };
      expect(settings.trusted_keys).not.toContain(formatPublicKey(key));
    });
  });

  describe('key rotation', () => {
    let dave: CacheClient;
    let key1: PublicKey;
    let key1Id: number;
    let before: TestPath;

    beforeAll(async () => {
      dave = (await cacheOf('dave')).client;
      before = makePath({ name: 'before-rotation' });
      await dave.push(before);
      key1 = parsePublicKey(await dave.publicKey());
      const settings = (await (await dave.admin('settings')).json()) as { public_keys: Array<{ id: number; name: string }> };
      key1Id = settings.public_keys[0]!.id;
    });

    const signatureRows = async (keyId: number) =>
      Number((await t.forge.db.dataSource.query(`SELECT count(*)::int AS n FROM nix_path_signature WHERE key_id = $1`, [keyId]))[0].n);

    it('rotates: the new key signs from then on, the old signature is still served, reads sign lazily once', async () => {
      const rotated = await dave.admin('keys/rotate', { method: 'POST' });
      expect(rotated.status).toBe(201);
      const { id: key2Id, name, public_key: publicKey } = (await rotated.json()) as { id: number; name: string; public_key: string };
      expect(name).toBe(`127.0.0.1-${t.port}-dave-2`);
      const key2 = parsePublicKey(publicKey);
      expect(await dave.publicKey()).toBe(publicKey);
      expect(await signatureRows(key2Id)).toBe(0);

      // A path pushed before the rotation: signed by the old key (kept) and, from its first
      // read on, by the new one. The new signature is made once and kept.
      const first = await servedSigs(dave, before);
      expect(verifies(before, first.sigs.get(key1.name), key1)).toBe(true);
      expect(verifies(before, first.sigs.get(key2.name), key2)).toBe(true);
      expect(await signatureRows(key2Id)).toBe(1);
      const second = await servedSigs(dave, before);
      expect(second.text).toBe(first.text);
      // Force a fresh render (settings changes drop the rendered narinfos): same bytes, no new signature.
      expect((await dave.admin('settings', { method: 'PUT', json: { priority: 42 } })).status).toBe(200);
      expect((await servedSigs(dave, before)).text).toBe(first.text);
      expect(await signatureRows(key2Id)).toBe(1);
      // Sent back as served (nix store sign, a re-push): both server signatures stay.
      expect((await dave.putNarInfo(before, first.text)).status).toBe(200);
      expect((await servedSigs(dave, before)).text).toBe(first.text);
      // A retired key's name on a signature it did not make is still a forgery.
      const forged = generateSigningKey(key1.name);
      await expect400(dave.putNarInfo(withInfo(before, { sigs: [signPath(before.info, forged)] })), /own key/);

      // A path pushed after the rotation: the new key only.
      const after = makePath({ name: 'after-rotation', references: [before] });
      await dave.push(after);
      const { sigs } = await servedSigs(dave, after);
      expect([...sigs.keys()]).toEqual([key2.name]);
      expect(verifies(after, sigs.get(key2.name), key2)).toBe(true);

      const settings = (await (await dave.admin('settings')).json()) as { public_keys: Array<{ id: number; name: string; active: boolean; retired_at: string | null }> };
      expect(settings.public_keys.map((k) => [k.name, k.active, k.retired_at === null])).toEqual([
        [key2.name, true, true],
        [key1.name, false, false],
      ]);

      // Dropping the old key: only the new signature is served.
      await expect400(dave.admin(`keys/${key2Id}`, { method: 'DELETE' }), /active key/);
      expect((await dave.admin(`keys/${key1Id}`, { method: 'DELETE' })).status).toBe(204);
      expect((await dave.admin(`keys/${key1Id}`, { method: 'DELETE' })).status).toBe(404);
      expect((await dave.admin('keys/nonsense', { method: 'DELETE' })).status).toBe(404);
      for (const p of [before, after]) {
        const { sigs: now } = await servedSigs(dave, p);
        expect([...now.keys()]).toEqual([key2.name]);
        expect(verifies(p, now.get(key2.name), key2)).toBe(true);
      }
      // The next rotation takes the next number.
      const third = await dave.admin('keys/rotate', { method: 'POST' });
      expect(((await third.json()) as { name: string }).name).toBe(`127.0.0.1-${t.port}-dave-3`);
    });
  });

  describe('bringing one\'s own key', () => {
    let erin: CacheClient;
    let p: TestPath;

    beforeAll(async () => {
      erin = (await cacheOf('erin')).client;
      p = makePath({ name: 'own-key' });
      await erin.push(p);
    });

    it('imports a key file as `nix key generate-secret` writes it; the cache signs with it from then on', async () => {
      // Written by the real Nix 2.8 (no trailing newline).
      const secretText = readFileSync(path.join(FIXTURES, 'keys/test-2.secret'), 'utf8');
      const publicText = readFileSync(path.join(FIXTURES, 'keys/test-2.public'), 'utf8').trim();
      const imported = await erin.admin('keys/import', { method: 'POST', body: secretText });
      expect(imported.status).toBe(201);
      expect(await imported.json()).toMatchObject({ name: 'test-2', public_key: publicText });
      expect(await erin.publicKey()).toBe(publicText);
      const key = parsePublicKey(publicText);
      const { sigs } = await servedSigs(erin, p);
      expect(verifies(p, sigs.get('test-2'), key)).toBe(true);
      expect(sigs.has(`127.0.0.1-${t.port}-erin-1`)).toBe(true);
      // New pushes: the imported key only; a Sig in its name is the cache's own now: the
      // one its owner makes with the same secret is the server's, any other a forgery.
      const q = makePath({ name: 'after-import' });
      await erin.push(q);
      expect([...(await servedSigs(erin, q)).sigs.keys()]).toEqual(['test-2']);
      const r = makePath({ name: 'signed-by-owner' });
      expect((await erin.putNar(r)).status).toBe(201);
      await expect400(erin.putNarInfo(withInfo(r, { sigs: [signPath(r.info, generateSigningKey('test-2'))] })), /own key/);
      const own = signPath(r.info, parseSecretKey(secretText));
      expect((await erin.putNarInfo(withInfo(r, { sigs: [own] }))).status).toBe(201);
      expect(parseNarInfo(await erin.narinfo(r.hashPart)).sigs).toEqual([own]);
      // The same name twice is refused: clients could not tell the keys apart.
      expect((await erin.admin('keys/import', { method: 'POST', body: secretText })).status).toBe(409);
    });

    it('imports a key sent as JSON or with a trailing newline; refuses what is not a secret key', async () => {
      const own = generateSigningKey('erin.example.org-1');
      const res = await erin.admin('keys/import', { method: 'POST', json: { secret_key: formatSecretKey(own) } });
      expect(res.status).toBe(201);
      expect(res.headers.get('deprecation')).toBeNull();
      expect(await erin.publicKey()).toBe(formatPublicKey(publicKeyOf(own)));
      // The camelCase spelling of before is accepted for one release, and flagged as deprecated.
      const old = generateSigningKey('erin.example.org-old');
      const deprecated = await erin.admin('keys/import', { method: 'POST', json: { secretKey: formatSecretKey(old) } });
      expect(deprecated.status).toBe(201);
      expect(deprecated.headers.get('deprecation')).toBe('true');
      expect(deprecated.headers.get('warning')).toContain('use secret_key');
      expect(await erin.publicKey()).toBe(formatPublicKey(publicKeyOf(old)));
      const withNewline = generateSigningKey('erin.example.org-2');
      expect((await erin.admin('keys/import', { method: 'POST', body: formatSecretKey(withNewline) + '\n' })).status).toBe(201);
      expect(await erin.publicKey()).toBe(formatPublicKey(publicKeyOf(withNewline)));
      const { sigs } = await servedSigs(erin, p);
      expect(verifies(p, sigs.get('erin.example.org-2'), publicKeyOf(withNewline))).toBe(true);

      await expect400(erin.admin('keys/import', { method: 'POST', body: formatPublicKey(publicKeyOf(own)).replace('-1:', '-9:') }), /secret key/);
      await expect400(erin.admin('keys/import', { method: 'POST', body: '' }), /secret key/);
      const corrupt = Buffer.from(withNewline.bytes);
      corrupt[40] ^= 1; // public half no longer matches the seed
      await expect400(erin.admin('keys/import', { method: 'POST', body: `broken-1:${corrupt.toString('base64')}` }), /secret key|corrupt/);
    });
  });
});
