import { BadRequestError, formatBytes, type OrgRole, type Visibility } from '@forge/core';
import { parseScopes } from '@forge/auth';
import { checkStoredBlobs, type DamagedBlob } from '@forge/registry';
import type { CleanupRunReport } from '../cleanup/cleanup-runner.js';
import { parseQuotaText } from '@forge/web';
import type { Forge } from '../forge.js';

/**
 * Administrative commands, following `gitea admin`. They run either inside the server
 * (reached through its admin socket, so the CLI works while `npm start` holds the
 * embedded database) or in the CLI process itself when no server is running.
 */
export type AdminCommand = keyof typeof adminCommands;
export type AdminArgs = Record<string, string | boolean | undefined>;

type Services = Pick<Forge, 'owners' | 'tokens' | 'registry' | 'db' | 'blobs' | 'cleanup'>;

/**
 * How far a long command got (`done` of `total`); the socket streams it to the CLI, which
 * draws a progress bar.
 */
export type AdminProgress = (done: number, total: number) => void;

const str = (args: AdminArgs, key: string, required = true): string => {
  const v = args[key];
  if (typeof v === 'string' && v !== '') return v;
  if (required) throw new BadRequestError(`--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  return '';
};

function visibilityOf(args: AdminArgs): Visibility | undefined {
  const v = args.visibility;
  if (v === undefined) return undefined;
  if (v !== 'public' && v !== 'private') throw new BadRequestError('--visibility must be public or private');
  return v;
}

export const adminCommands = {
  async 'user-create'(s: Services, args: AdminArgs): Promise<string> {
    const user = await s.owners.createUser({
      username: str(args, 'username'),
      email: str(args, 'email'),
      password: str(args, 'password'),
      isAdmin: args.admin === true,
      visibility: visibilityOf(args),
    });
    return `New user '${user.name}' has been successfully created!`;
  },

  async 'user-list'(s: Services, args: AdminArgs): Promise<string> {
    void args;
    const rows = await s.owners.listUsers();
    const lines = ['ID\tUsername\tEmail\tIsAdmin\tVisibility'];
    for (const u of rows) lines.push(`${u.id}\t${u.name}\t${u.email}\t${u.isAdmin}\t${u.visibility}`);
    return lines.join('\n');
  },

  async 'user-change-password'(s: Services, args: AdminArgs): Promise<string> {
    const user = await s.owners.requireUser(str(args, 'username'));
    await s.owners.setPassword(user.id, str(args, 'password'));
    return `${user.name}'s password has been successfully updated!`;
  },

  async 'user-generate-access-token'(s: Services, args: AdminArgs): Promise<string> {
    const user = await s.owners.requireUser(str(args, 'username'));
    const expires = str(args, 'expires', false);
    const expiresAt = expires ? new Date(expires) : null;
    if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new BadRequestError('--expires must be a date, e.g. 2027-01-31');
    const { token } = await s.tokens.create(user, {
      name: str(args, 'tokenName', false) || 'gitea-admin',
      scopes: parseScopes(str(args, 'scopes', false) || 'all'),
      expiresAt,
    });
    return args.raw === true ? token : `Access token was successfully created: ${token}`;
  },

  async 'org-create'(s: Services, args: AdminArgs): Promise<string> {
    const owner = await s.owners.requireUser(str(args, 'owner'));
    const org = await s.owners.createOrg({ name: str(args, 'name'), owner, visibility: visibilityOf(args) });
    return `Organization '${org.name}' has been successfully created, with '${owner.name}' as its admin.`;
  },

  async 'org-add-member'(s: Services, args: AdminArgs): Promise<string> {
    const org = await s.owners.requireOrg(str(args, 'org'));
    const user = await s.owners.requireUser(str(args, 'username'));
    const role = (str(args, 'role', false) || 'read') as OrgRole;
    await s.owners.setMember(org, user, role);
    return `'${user.name}' is now a member of '${org.name}' with role '${role}'.`;
  },

  async 'org-remove-member'(s: Services, args: AdminArgs): Promise<string> {
    const org = await s.owners.requireOrg(str(args, 'org'));
    const user = await s.owners.requireUser(str(args, 'username'));
    await s.owners.removeMember(org, user);
    return `'${user.name}' is no longer a member of '${org.name}'.`;
  },

  async 'owner-set-visibility'(s: Services, args: AdminArgs): Promise<string> {
    const owner = await s.owners.findByName(str(args, 'name'));
    if (!owner) throw new BadRequestError(`owner "${args.name}" does not exist`);
    const visibility = visibilityOf(args);
    if (!visibility) throw new BadRequestError('--visibility is required');
    await s.owners.setVisibility(owner.id, visibility);
    return `'${owner.name}' is now ${visibility}.`;
  },

  /**
   * Every stored file whose blob is missing from the blob store or holds other bytes than
   * recorded (size; with --hashes, sha256). Downloads of them answer 404.
   */
  async doctor(s: Services, args: AdminArgs, progress?: AdminProgress): Promise<AdminOutput> {
    const result = await checkStoredBlobs(s.db.dataSource, s.blobs, { verifyHashes: args.hashes === true, onProgress: progress });
    // Like fsck: a non-zero exit status when something is damaged, for scripts and monitoring.
    return { output: doctorReport(result.checked, result.damaged, args.hashes === true), exitCode: result.damaged.length > 0 ? 2 : 0 };
  },

  /**
   * Runs the cleanup tasks now (garbage collection of every cache or one owner's, the blob
   * and staging sweeps), waiting for a run another server process may be doing.
   */
  async cleanup(s: Services, args: AdminArgs, progress?: AdminProgress): Promise<AdminOutput> {
    const name = str(args, 'owner', false);
    const owner = name ? await s.owners.findByName(name) : null;
    if (name && !owner) throw new BadRequestError(`owner "${name}" does not exist`);
    const dryRun = args.dryRun === true;
    const report = await s.cleanup.run({
      dryRun,
      ownerId: owner?.id,
      wait: true,
      onProgress: progress && ((p) => progress(p.done, p.total ?? p.done)),
    });
    return cleanupReport(report!, dryRun);
  },

  async 'owner-set-quota'(s: Services, args: AdminArgs): Promise<string> {
    const owner = await s.owners.findByName(str(args, 'name'));
    if (!owner) throw new BadRequestError(`owner "${args.name}" does not exist`);
    const limit = parseQuota(str(args, 'bytes'));
    await s.registry.storage.setQuota(owner.id, limit, 'forge admin');
    return describeQuota(owner.name, await s.registry.storageStatus(owner.id));
  },

  async 'owner-show-quota'(s: Services, args: AdminArgs): Promise<string> {
    const owner = await s.owners.findByName(str(args, 'name'));
    if (!owner) throw new BadRequestError(`owner "${args.name}" does not exist`);
    return describeQuota(owner.name, await s.registry.storageStatus(owner.id));
  },
} satisfies Record<string, (s: Services, args: AdminArgs, progress?: AdminProgress) => Promise<AdminOutput>>;

/** What a cleanup run removed (or would): each task's lines and summary, then the bytes freed. */
function cleanupReport(report: CleanupRunReport, dryRun: boolean): AdminOutput {
  const lines: string[] = [];
  for (const task of report.tasks) {
    if (task.error) {
      lines.push(`${task.name}: FAILED: ${task.error}`);
      continue;
    }
    for (const line of task.result!.lines ?? []) lines.push(`  ${dryRun ? 'would remove' : 'removed'} ${line}`);
    lines.push(`${task.name}: ${task.result!.summary}`);
  }
  lines.push(`${dryRun ? 'Would free' : 'Freed'} ${report.bytes} bytes${dryRun ? ' (dry run: nothing was removed)' : ''}.`);
  return { output: lines.join('\n'), exitCode: report.tasks.some((t) => t.error) ? 1 : 0 };
}

/** What a command prints, and the CLI's exit status when it is not 0. */
export type AdminOutput = string | { output: string; exitCode: number };

function doctorReport(checked: number, damaged: DamagedBlob[], hashes: boolean): string {
  const how = hashes ? 'presence, size and sha256' : 'presence and size (--hashes also reads every byte)';
  if (damaged.length === 0) return `Checked ${checked} blobs (${how}): all good.`;
  const lines = [`Checked ${checked} blobs (${how}): ${damaged.length} damaged.`, 'PROBLEM\tSHA256\tOWNER\tTYPE\tVERSION\tFILE'];
  for (const blob of damaged) {
    const problem = blob.problem === 'missing' ? 'missing' : blob.problem === 'size' ? `size ${blob.storedSize} (recorded ${blob.recordedSize})` : 'hash mismatch';
    if (blob.uses.length === 0) lines.push(`${problem}\t${blob.sha256}\t-\t-\t-\t(no file uses it)`);
    for (const use of blob.uses) lines.push(`${problem}\t${blob.sha256}\t${use.owner}\t${use.type}\t${use.version || '-'}\t${use.file}`);
  }
  return lines.join('\n');
}

export function isAdminCommand(name: string): name is AdminCommand {
  return Object.hasOwn(adminCommands, name);
}

/** `--bytes`: bytes (`10GiB` too), `unlimited`, or `default` (FORGE_OWNER_QUOTA_BYTES); the UI's form reads the same. */
export function parseQuota(text: string): number | null | 'default' {
  try {
    return parseQuotaText(text);
  } catch {
    throw new BadRequestError(`--bytes must be a number of bytes (e.g. 1073741824 or 10GiB), "unlimited" or "default"; got "${text}"`);
  }
}

function describeQuota(name: string, status: { usedBytes: number; limitBytes: number | null; source: string }): string {
  const limit = status.limitBytes === null ? 'unlimited' : `${status.limitBytes} bytes (${formatBytes(status.limitBytes)})`;
  const from = status.source === 'default' ? ' (the server default, FORGE_OWNER_QUOTA_BYTES)' : status.source === 'none' ? ' (no default set)' : '';
  return `${name}: quota ${limit}${from}; using ${status.usedBytes} bytes (${formatBytes(status.usedBytes)})`;
}
