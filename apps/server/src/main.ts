import cluster from 'node:cluster';
import { serveAdminSocket } from './admin/socket.js';
import { loadConfig, type ForgeConfig } from './config.js';
import { createForge } from './forge.js';
import { closeServer, listen } from './http-server.js';
import { createLogger } from './logger.js';
import { defaultModules } from './modules.js';
import { reportReady, runPrimary, workerIndex } from './workers.js';

/** A start-up failure is one line on stderr (the cause is in the message) and exit code 1. */
function fail(err: unknown): never {
  process.stderr.write(`forge: cannot start: ${(err as Error)?.message ?? String(err)}\n`);
  if (process.env.LOG_LEVEL === 'debug' && (err as Error)?.stack) process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
}

async function serve(config: ForgeConfig): Promise<void> {
  const index = workerIndex();
  const baseLogger = createLogger(config.logLevel);
  const logger = index === undefined ? baseLogger : baseLogger.child({ worker: index });
  const forge = await createForge({ config, modules: defaultModules(config), logger });
  const server = await listen(forge.handler, config.port, config.listen);
  // One admin socket per data directory: the first worker serves it.
  const adminSocket = index === undefined || index === 0 ? await serveAdminSocket(forge) : undefined;
  logger.info('forge listening', {
    url: config.baseUrl,
    port: config.port,
    database: forge.db.kind,
    storage: forge.blobs.kind,
    serveDirect: config.serveDirect.mode,
    dataDir: config.dataDir,
    modules: forge.modules.map((m) => m.id),
  });
  if (index === undefined || index === 0) {
    if ((await forge.owners.countUsers()) === 0) {
      const cli = 'create the first admin with `npx forge admin user create --admin --username … --password … --email …`';
      logger.warn(
        config.firstSignUpAdmin && !config.disableRegistration
          ? `no users yet: the first account registered at ${config.baseUrl}/user/sign_up becomes the administrator (FORGE_FIRST_SIGNUP_ADMIN), or ${cli}`
          : `no users yet: ${cli} (a sign-up in the web UI does not make an administrator here: FORGE_FIRST_SIGNUP_ADMIN)`,
      );
    }
  }
  reportReady();

  let stopping = false;
  async function stop(signal: string) {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    adminSocket?.close();
    await closeServer(server);
    await forge.close();
    process.exit(0);
  }
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

let config: ForgeConfig;
try {
  config = loadConfig();
} catch (err) {
  fail(err);
}
if (config.workers > 1 && cluster.isPrimary) {
  await runPrimary(config, createLogger(config.logLevel)).catch(fail);
} else {
  await serve(config).catch(fail);
}
