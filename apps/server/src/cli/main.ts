import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { isForgeError, SCOPES } from '@forge/core';
import { adminCommands, type AdminArgs, type AdminCommand } from '../admin/commands.js';
import { callAdminSocket, outputOf } from '../admin/socket.js';
import { loadConfig } from '../config.js';
import { createForge } from '../forge.js';
import { defaultModules } from '../modules.js';
import { dumpCommand, migrateDbCommand, restoreCommand } from './data-commands.js';

/**
 * `forge`: the admin CLI, shaped like `gitea admin`. With a server running on the same
 * data directory the command goes through its admin socket; otherwise the CLI opens the
 * database itself (PostgreSQL, or the embedded PGlite when nothing else holds it).
 */
async function run(command: AdminCommand, args: AdminArgs): Promise<void> {
  const config = loadConfig();
  const bar = new ProgressBar();
  const viaServer = await callAdminSocket(config.dataDir, command, args, bar.update);
  bar.stop();
  if (viaServer) {
    if (viaServer.status !== 200) fail(viaServer.output);
    console.log(viaServer.output);
    if (viaServer.exitCode !== 0) process.exit(viaServer.exitCode);
    return;
  }
  const forge = await createForge({ config: { ...config, logLevel: 'warn', accessLog: false, cleanupIntervalMs: 0 }, modules: defaultModules(config) });
  let exitCode = 0;
  try {
    const local = new ProgressBar();
    const result = outputOf(await adminCommands[command](forge, args, local.update));
    local.stop();
    console.log(result.output);
    exitCode = result.exitCode;
  } catch (err) {
    fail(isForgeError(err) ? err.message : String((err as Error).stack ?? err));
  } finally {
    await forge.close();
  }
  if (exitCode !== 0) process.exit(exitCode);
}

/**
 * A progress bar on stderr for long commands, drawn from the first progress report on (short
 * commands report none); on a non-terminal, a line every 10 %.
 */
class ProgressBar {
  #bar: cliProgress.SingleBar | null = null;
  #lastTenth = -1;
  update = (done: number, total: number): void => {
    if (!process.stderr.isTTY) {
      const tenth = total > 0 ? Math.floor((done / total) * 10) : 10;
      if (tenth !== this.#lastTenth) process.stderr.write(`${done}/${total}\n`);
      this.#lastTenth = tenth;
      return;
    }
    if (!this.#bar) {
      this.#bar = new cliProgress.SingleBar({ format: ' {bar} {value}/{total} | {percentage}% | {eta_formatted} left', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
      this.#bar.start(total, done);
    }
    this.#bar.setTotal(total);
    this.#bar.update(done);
  };
  stop(): void {
    this.#bar?.stop();
    this.#bar = null;
  }
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(1);
}

const program = new Command('forge').description('Forge package registry administration').showHelpAfterError();
const admin = program.command('admin').description('administrative operations (as `gitea admin`)');

const user = admin.command('user').description('manage users');
user
  .command('create')
  .description('create a user')
  .requiredOption('--username <name>', 'user name')
  .requiredOption('--password <password>', 'password (at least 8 characters)')
  .requiredOption('--email <email>', 'email address')
  .option('--admin', 'make the user a site administrator', false)
  .addOption(new Option('--visibility <visibility>', 'who can see the user\'s packages').choices(['public', 'private']))
  .action((o) => run('user-create', o));
user.command('list').description('list users').action(() => run('user-list', {}));
user
  .command('change-password')
  .description('set a user\'s password')
  .requiredOption('--username <name>', 'user name')
  .requiredOption('--password <password>', 'new password')
  .action((o) => run('user-change-password', o));
user
  .command('generate-access-token')
  .description('create a personal access token for a user')
  .requiredOption('--username <name>', 'user name')
  .option('--token-name <name>', 'token name', 'gitea-admin')
  .option('--scopes <scopes>', `comma-separated scopes (${SCOPES.join(', ')}); write:X includes read:X`, 'all')
  .option('--expires <date>', 'expiry date (ISO 8601); default: never')
  .option('--raw', 'print only the token', false)
  .action((o) => run('user-generate-access-token', o));

const org = admin.command('org').description('manage organizations');
org
  .command('create')
  .description('create an organization with a user as its admin')
  .requiredOption('--name <name>', 'organization name')
  .requiredOption('--owner <user>', 'user who becomes the organization\'s admin')
  .addOption(new Option('--visibility <visibility>', 'who can see the organization\'s packages').choices(['public', 'private']))
  .action((o) => run('org-create', o));
org
  .command('add-member')
  .description('add a member, or change a member\'s role')
  .requiredOption('--org <name>', 'organization name')
  .requiredOption('--username <name>', 'user name')
  .addOption(new Option('--role <role>', 'read, write or admin').choices(['read', 'write', 'admin']).default('read'))
  .action((o) => run('org-add-member', o));
org
  .command('remove-member')
  .description('remove a member')
  .requiredOption('--org <name>', 'organization name')
  .requiredOption('--username <name>', 'user name')
  .action((o) => run('org-remove-member', o));

const owner = admin.command('owner').description('settings shared by users and organizations');
owner
  .command('set-visibility')
  .description('make an owner\'s packages public or private')
  .requiredOption('--name <name>', 'user or organization name')
  .addOption(new Option('--visibility <visibility>').choices(['public', 'private']).makeOptionMandatory())
  .action((o) => run('owner-set-visibility', o));

admin
  .command('cleanup')
  .description('collect garbage in Nix caches (retention, size limits, orphan uploads) and sweep unreferenced blobs now')
  .option('--owner <name>', 'only this owner\'s caches (the host-wide sweeps are skipped)')
  .option('--dry-run', 'list what would be removed, remove nothing', false)
  .action((o) => run('cleanup', o));
admin
  .command('doctor')
  .description('list every stored file whose blob is missing or damaged (downloads of them answer 404)')
  .option('--hashes', 'also read every blob and compare its sha256 (slow)', false)
  .action((o) => run('doctor', o));

/** Runs a data command (dump, restore, migrate-db) in this process; they open the data themselves. */
async function runData(action: () => Promise<string | { output: string; ok: boolean }>): Promise<void> {
  try {
    const result = await action();
    const { output, ok } = typeof result === 'string' ? { output: result, ok: true } : result;
    console.log(output);
    if (!ok) process.exit(1);
  } catch (err) {
    fail((err as Error).message);
  }
}

admin
  .command('dump')
  .description('write a consistent archive of the database, the secret and the blobs (works while the server runs)')
  .option('-f, --file <path>', 'archive to write (default: forge-dump-<date>-<time>.tar here)')
  .option('--no-blobs', 'list the blobs but leave their bytes out (for blob stores backed up on their own)')
  .action((o: { file?: string; blobs?: boolean }) => runData(() => dumpCommand(loadConfig(), defaultModules(), o)));
admin
  .command('restore')
  .description('read a dump into an empty data directory or database (the server must be stopped)')
  .requiredOption('-f, --file <path>', 'archive written by forge admin dump')
  .action((o: { file: string }) => runData(() => restoreCommand(loadConfig(), defaultModules(), o)));
admin
  .command('migrate-db')
  .description('move the embedded PGlite database into an empty PostgreSQL database (the server must be stopped)')
  .requiredOption('--to <url>', 'postgres://user:password@host:port/database')
  .action((o: { to: string }) => runData(() => migrateDbCommand(loadConfig(), defaultModules(), o)));
owner
  .command('set-quota')
  .description('set how many bytes an owner may store (docs/quotas.md)')
  .requiredOption('--name <name>', 'user or organization name')
  .requiredOption('--bytes <bytes>', 'bytes (or 500MiB, 10GiB), "unlimited", or "default" for FORGE_OWNER_QUOTA_BYTES')
  .action((o) => run('owner-set-quota', o));
owner
  .command('show-quota')
  .description('show an owner\'s quota and usage')
  .requiredOption('--name <name>', 'user or organization name')
  .action((o) => run('owner-show-quota', o));

await program.parseAsync(process.argv);
