export { CONFIG_ENV_VARS, loadConfig, type ForgeConfig } from './config.js';
export { createForge, type Forge, type ForgeOptions } from './forge.js';
export { listen, boundPort, closeServer } from './http-server.js';
export { defaultModules } from './modules.js';
export { createLogger } from './logger.js';
export { ModuleLoadError, validateModules } from './load-modules.js';
export { adminCommands, type AdminArgs, type AdminOutput } from './admin/commands.js';
