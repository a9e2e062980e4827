export * from './data-source.js';
export * from './entities.js';
export * from './errors.js';
export { pgliteDriver } from './pglite-pool.js';
export { LocalEvents, PostgresEvents } from './cluster-events.js';
