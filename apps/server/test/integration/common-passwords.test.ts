import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { FormClient } from '../../../../packages/web/test/integration/form-client.js';

const kinds = await testDatabaseKinds();

/** The most common passwords are refused wherever a password is set (issue 16, item 11). */
describe.each(kinds)('common passwords on %s', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ db: kind });
  });
  afterAll(() => t?.close());

  it.each(['password', '12345678', 'qwertyuiop', 'Password1'])('refuses %j at sign-up with a 400 that says why', async (password) => {
    const c = new FormClient(t.url);
    const res = await c.post('/user/sign_up', { user_name: 'newcomer', email: 'newcomer@example.test', password, retype: password }, { from: '/user/sign_up' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/most common passwords|too easy to guess/);
    expect(await t.forge.owners.findByName('newcomer')).toBeNull();
  });

  it('refuses the user\'s own name as a password, and accepts a passphrase', async () => {
    const c = new FormClient(t.url);
    const own = await c.post('/user/sign_up', { user_name: 'bartholomew', email: 'b@example.test', password: 'bartholomew', retype: 'bartholomew' }, { from: '/user/sign_up' });
    expect(own.status).toBe(400);
    expect(await own.text()).toMatch(/user name or email/);
    const ok = await c.post('/user/sign_up', { user_name: 'bartholomew', email: 'b@example.test', password: 'lamp river cobalt', retype: 'lamp river cobalt' }, { from: '/user/sign_up' });
    expect(ok.status).toBe(303);
  });

  it('refuses a common password as a new password (the CLI\'s change-password)', async () => {
    const user = await t.createUser('changer');
    await expect(t.forge.owners.setPassword(user.id, '12345678')).rejects.toThrow(/most common/);
    await t.forge.owners.setPassword(user.id, 'lamp river cobalt');
    expect(await t.forge.owners.verifyLogin('changer', 'lamp river cobalt')).toMatchObject({ name: 'changer' });
  });
});
