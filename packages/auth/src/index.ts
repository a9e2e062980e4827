export * from './names.js';
export * from './passwords.js';
export * from './owners.js';
export * from './tokens.js';
export * from './actor.js';
export * from './access-guard.js';
export * from './authenticate.js';
export * from './token-api.js';
export { TtlCache } from './ttl-cache.js';
