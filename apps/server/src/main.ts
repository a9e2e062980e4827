import { serveAdminSocket } from './admin/socket.js';
import { loadConfig } from './config.js';
import { createForge } from './forge.js';
import { closeServer, listen } from './http-server.js';
import { defaultModules } from './modules.js';

const config = loadConfig();
const forge = await createForge({ config, modules: defaultModules() });
const server = await listen(forge.handler, config.port, config.listen);
const adminSocket = await serveAdminSocket(forge);
forge.logger.info('forge listening', {
  url: config.baseUrl,
  port: config.port,
  database: forge.db.kind,
  dataDir: config.dataDir,
  modules: forge.modules.map((m) => m.id),
});
if ((await forge.owners.countUsers()) === 0) {
  forge.logger.warn('no users yet: create the first admin with `npx forge admin user create --admin --username … --password … --email …`');
}

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  forge.logger.info('shutting down', { signal });
  adminSocket.close();
  await closeServer(server);
  await forge.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
