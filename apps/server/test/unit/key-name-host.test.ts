import { describe, expect, it } from 'vitest';
import { keyNameHost } from '../../src/forge.js';

describe('keyNameHost: the instance in signing-key names', () => {
  it('keeps the port, so two instances on one host name their keys apart', () => {
    expect(keyNameHost('http://localhost:3000')).toBe('localhost-3000');
    expect(keyNameHost('http://localhost:3001')).toBe('localhost-3001');
    expect(keyNameHost('http://127.0.0.1:8080/')).toBe('127.0.0.1-8080');
  });
  it('is the host name alone on the scheme’s default port', () => {
    expect(keyNameHost('https://forge.example')).toBe('forge.example');
    expect(keyNameHost('https://forge.example:443')).toBe('forge.example');
    expect(keyNameHost('http://forge.example:80/sub')).toBe('forge.example');
  });
  it('never contains a colon (a Nix key name ends at the first one)', () => {
    expect(keyNameHost('http://[::1]:3000')).toBe('--1-3000');
    expect(keyNameHost('http://[2001:db8::2]')).toBe('2001-db8--2');
  });
});
