export * from './data-source.js';
export * from './entities.js';
// The SQL error helpers live in @forge/core (modules use them too); host packages find them here as well.
export { isUniqueViolation, queryRows } from '@forge/core';
export { pgliteDriver } from './pglite-pool.js';
export { LocalEvents, PostgresEvents } from './cluster-events.js';
export * from './logical-copy.js';
