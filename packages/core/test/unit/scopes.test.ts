import { describe, expect, it } from 'vitest';
import { actorHasScope, ANONYMOUS, type Actor, type Scope } from '@forge/core';

const tokenActor = (...scopes: Scope[]): Actor => ({ user: null, via: 'token', scopes: new Set(scopes) });

describe('actorHasScope', () => {
  it('denies anonymous callers every scope', () => {
    expect(actorHasScope(ANONYMOUS, 'read:package')).toBe(false);
  });
  it('lets write imply read, but not the reverse', () => {
    expect(actorHasScope(tokenActor('write:package'), 'read:package')).toBe(true);
    expect(actorHasScope(tokenActor('read:package'), 'write:package')).toBe(false);
  });
  it('keeps scope families apart', () => {
    expect(actorHasScope(tokenActor('write:user'), 'read:package')).toBe(false);
  });
  it('grants everything to the all scope and to password or session callers', () => {
    expect(actorHasScope(tokenActor('all'), 'write:package')).toBe(true);
    expect(actorHasScope({ user: null, via: 'session' }, 'write:organization')).toBe(true);
  });
});
