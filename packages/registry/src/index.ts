export { Registry, type RegistryOptions } from './registry.js';
export { checkName } from './validation.js';
