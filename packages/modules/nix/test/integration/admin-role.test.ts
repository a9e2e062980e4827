/**
 * Cache administration (visibility, signing keys, trusted keys) takes the admin role: the
 * owner itself, an organisation's admins and site admins (docs/auth.md). A member with
 * the `write` role pushes and deletes paths but must not make a private cache public, bring
 * a signing key whose secret he holds, rotate or drop keys, or change whose signatures
 * are trusted (issue 16, item 7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { formatPublicKey, formatSecretKey, generateSigningKey, publicKeyOf } from '../../src/format/index.js';
import { putExpectingContinue } from './support.js';

const kinds = await testDatabaseKinds();

describe.each(kinds)('Nix cache administration needs the admin role on %s', (kind) => {
  let t: TestServer;
  const auth: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const founder = await t.createUser('founder');
    const writer = await t.createUser('writer');
    const reader = await t.createUser('reader');
    const orgAdmin = await t.createUser('orgadmin');
    const root = await t.createUser('root', { admin: true });
    const org = await t.forge.owners.createOrg({ name: 'acme', owner: founder, visibility: 'private' });
    await t.forge.owners.setMember(org, writer, 'write');
    await t.forge.owners.setMember(org, reader, 'read');
    await t.forge.owners.setMember(org, orgAdmin, 'admin');
    for (const [name, user] of [['founder', founder], ['writer', writer], ['reader', reader], ['orgadmin', orgAdmin], ['root', root]] as const) {
      auth[name] = basic(name, await t.token(user, ['write:package']));
    }
    // The founder enables the cache (private, as its organisation).
    expect((await call('founder', 'PUT', '-/settings', { json: { priority: 30 } })).status).toBe(200);
  });
  afterAll(() => t?.close());

  function call(who: string | null, method: string, rest: string, body: { json?: unknown; text?: string } = {}) {
    const headers: Record<string, string> = who ? { authorization: auth[who] } : {};
    let payload: string | undefined;
    if (body.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body.text !== undefined) {
      headers['content-type'] = 'text/plain';
      payload = body.text;
    }
    return fetch(`${t.url}/api/packages/acme/nix/${rest}`, { method, headers, body: payload });
  }

  async function state() {
    const res = await call('founder', 'GET', '-/settings');
    expect(res.status).toBe(200);
    const s = (await res.json()) as { visibility: string; priority: number; public_keys: Array<{ id: number; name: string }>; trusted_keys: string[] };
    return { visibility: s.visibility, priority: s.priority, keys: s.public_keys.map((k) => k.name), trusted: s.trusted_keys };
  }

  /** Every administrative request, with a body an admin's request would be accepted with. */
  async function adminRequests() {
    const keys = ((await (await call('founder', 'GET', '-/settings')).json()) as { public_keys: Array<{ id: number; active: boolean }> }).public_keys;
    const retired = keys.find((k) => !k.active)?.id ?? 999_999;
    const secret = generateSigningKey(`byo-${Math.random().toString(36).slice(2, 8)}`);
    const trusted = formatPublicKey(publicKeyOf(generateSigningKey(`ci-${Math.random().toString(36).slice(2, 8)}`)));
    return [
      ['PUT', '-/settings', { json: { visibility: 'public' } }],
      ['POST', '-/keys/rotate', {}],
      ['POST', '-/keys/import', { text: formatSecretKey(secret) }],
      ['DELETE', `-/keys/${retired}`, {}],
      ['POST', '-/trusted-keys', { text: trusted }],
      ['DELETE', `-/trusted-keys/${trusted.split(':')[0]}`, {}],
    ] as const;
  }

  it('refuses every administrative request of a write member with 403 and changes nothing', async () => {
    // One rotation gives a retired key that the DELETE could drop.
    expect((await call('founder', 'POST', '-/keys/rotate')).status).toBe(201);
    const before = await state();
    for (const [method, rest, body] of await adminRequests()) {
      const res = await call('writer', method, rest, body);
      expect(res.status, `${method} ${rest}`).toBe(403);
      expect(await res.text()).toMatch(/admin/);
    }
    expect(await state()).toEqual(before);
  });

  it('refuses them to a read member (403), anonymous callers (401) and outsiders (404)', async () => {
    const outsider = await t.createUser('outsider');
    auth.outsider = basic('outsider', await t.token(outsider, ['write:package']));
    const before = await state();
    for (const [method, rest, body] of await adminRequests()) {
      expect((await call('reader', method, rest, body)).status, `reader ${method} ${rest}`).toBe(403);
      expect((await call(null, method, rest, body)).status, `anonymous ${method} ${rest}`).toBe(401);
      expect((await call('outsider', method, rest, body)).status, `outsider ${method} ${rest}`).toBe(404);
    }
    expect(await state()).toEqual(before);
  });

  it('lets a write member read the settings and public key, and push', async () => {
    expect((await call('writer', 'GET', '-/settings')).status).toBe(200);
    expect((await call('writer', 'GET', '-/public-key')).status).toBe(200);
    // Nix PUTs nix-cache-info when it starts a push: still a writer's right.
    expect((await call('writer', 'PUT', 'nix-cache-info', { text: 'StoreDir: /nix/store\n' })).status).toBe(204);
  });

  it.each(['founder', 'orgadmin', 'root'])('lets %s administer the cache', async (who) => {
    for (const [method, rest, body] of await adminRequests()) {
      const res = await call(who, method, rest, body);
      expect(res.status, `${who} ${method} ${rest}: ${await res.clone().text()}`).toBeLessThan(300);
    }
    // Back to the organisation's visibility for the next admin.
    expect((await call(who, 'PUT', '-/settings', { json: { visibility: 'inherit' } })).status).toBe(200);
  });

  it('answers a write member\'s Expect: 100-continue with 403 before the body is sent', async () => {
    const url = `${t.url}/api/packages/acme/nix/-/settings`;
    const headers = { 'content-type': 'application/json' };
    expect(await putExpectingContinue(url, '{"visibility":"public"}', { ...headers, authorization: auth.writer })).toMatchObject({ status: 403, continued: false });
    expect(await putExpectingContinue(url, '{"priority":31}', { ...headers, authorization: auth.orgadmin })).toMatchObject({ status: 200, continued: true });
  });
});
