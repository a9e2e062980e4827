import { describe, expect, it } from 'vitest';
import { loadConfig } from '@forge/server';
import { parseRange } from '../../src/serve-blob.js';

describe('parseRange', () => {
  it('reads single byte ranges', () => {
    expect(parseRange('bytes=0-0', 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange('bytes=3-', 10)).toEqual({ start: 3, end: 9 });
    expect(parseRange('bytes=-4', 10)).toEqual({ start: 6, end: 9 });
    expect(parseRange('bytes=5-999', 10)).toEqual({ start: 5, end: 9 });
  });
  it('serves the whole body for what it does not understand (RFC 9110 allows it)', () => {
    expect(parseRange('bytes=0-1,3-4', 10)).toBeUndefined();
    expect(parseRange('items=0-1', 10)).toBeUndefined();
  });
  it('answers 416 for unsatisfiable ranges', () => {
    expect(() => parseRange('bytes=10-', 10)).toThrow(expect.objectContaining({ status: 416 }));
    expect(() => parseRange('bytes=5-2', 10)).toThrow(expect.objectContaining({ status: 416 }));
    expect(() => parseRange('bytes=-0', 10)).toThrow(expect.objectContaining({ status: 416 }));
  });
});

describe('loadConfig', () => {
  it('works with nothing set: PGlite and blobs under ./data, port 3000', () => {
    const c = loadConfig({}, '/srv/forge');
    expect(c.port).toBe(3000);
    expect(c.dataDir).toBe('/srv/forge/data');
    expect(c.storage).toEqual({ kind: 'local', path: '/srv/forge/data/blobs' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.baseUrl).toBe('http://localhost:3000');
  });
  it('reads the environment', () => {
    const c = loadConfig({ PORT: '8080', DATABASE_URL: 'postgres://x/y', FORGE_BASE_URL: 'https://f.example/', FORGE_ACCESS_LOG: 'off' }, '/');
    expect(c.port).toBe(8080);
    expect(c.databaseUrl).toBe('postgres://x/y');
    expect(c.baseUrl).toBe('https://f.example');
    expect(c.accessLog).toBe(false);
  });
  it('refuses nonsense with the variable named', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ FORGE_BASE_URL: 'not a url' })).toThrow(/FORGE_BASE_URL/);
    expect(() => loadConfig({ FORGE_STORAGE: 'ftp' })).toThrow(/FORGE_STORAGE/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});
