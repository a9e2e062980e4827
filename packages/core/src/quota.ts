import { formatBytes } from './ui-format.js';

/**
 * Storage quotas per owner (docs/quotas.md). An owner is charged the size of every
 * distinct blob its files (version files and owner files, of every package type) name,
 * once, whoever else holds the same bytes. The registry keeps the count and refuses a
 * write that would take the owner past its limit; pages and upload responses warn first.
 */

/** Usage from this fraction of the quota on is a warning (UI banner, upload header). */
export const QUOTA_WARN_AT = 0.8;
/** From this fraction on the warning is urgent. */
export const QUOTA_CRITICAL_AT = 0.95;

/** The response header that carries a quota warning on upload responses. */
export const QUOTA_WARNING_HEADER = 'X-Forge-Quota-Warning';

/** `ok` below 80 %, `warning` from 80 %, `critical` from 95 %, `full` at or past the limit. */
export type QuotaLevel = 'ok' | 'warning' | 'critical' | 'full';

export interface StorageStatus {
  ownerId: number;
  /** Bytes the owner is charged: its distinct blobs. */
  usedBytes: number;
  /** The owner's limit, or null for none. */
  limitBytes: number | null;
  /** Where the limit comes from: the owner's own setting, the server default, or neither. */
  source: 'owner' | 'default' | 'none';
  level: QuotaLevel;
}

export function quotaLevel(usedBytes: number, limitBytes: number | null): QuotaLevel {
  if (limitBytes === null) return 'ok';
  if (usedBytes >= limitBytes) return 'full';
  const fraction = usedBytes / limitBytes;
  if (fraction >= QUOTA_CRITICAL_AT) return 'critical';
  if (fraction >= QUOTA_WARN_AT) return 'warning';
  return 'ok';
}

/** Whole percent used, rounded down (99.9 % is not "100 %"); null without a limit. */
export function quotaPercent(status: Pick<StorageStatus, 'usedBytes' | 'limitBytes'>): number | null {
  if (status.limitBytes === null) return null;
  if (status.limitBytes === 0) return status.usedBytes > 0 ? 100 : 0;
  return Math.floor((status.usedBytes / status.limitBytes) * 100);
}

/**
 * The one-line warning of the upload header and the UI banner, or null below 80 %.
 * Plain ASCII (it travels in an HTTP header).
 */
export function quotaWarning(ownerName: string, status: StorageStatus): string | null {
  if (status.level === 'ok' || status.limitBytes === null) return null;
  const figures = `${formatBytes(status.usedBytes)} of ${formatBytes(status.limitBytes)}`;
  if (status.level === 'full') return `${ownerName} has used its whole storage quota (${figures}): further uploads are refused`;
  return `${ownerName} has used ${quotaPercent(status)}% of its storage quota (${figures})`;
}

const QUOTA_ADVICE = 'delete packages or ask an administrator to raise the quota';

/**
 * The refusal Nix prints (`response body:`) and every other client shows. `atLeast`: the
 * upload was cut off while it arrived, so only a lower bound of its size is known.
 */
export function quotaRefusal(ownerName: string, usedBytes: number, addedBytes: number, limitBytes: number, atLeast = false): string {
  const more = atLeast ? 'more than' : '';
  return (
    `storage quota exceeded: ${ownerName} would use ${more ? 'more than ' : ''}${formatBytes(usedBytes + addedBytes)} of its ${formatBytes(limitBytes)} quota ` +
    `(${usedBytes} bytes used, this upload adds ${more ? 'more than ' + (addedBytes - 1) : addedBytes}, the quota is ${limitBytes}); ${QUOTA_ADVICE}`
  );
}

/** The refusal of an upload to an owner that has no room left at all. */
export function quotaFull(ownerName: string, usedBytes: number, limitBytes: number): string {
  return `storage quota exceeded: ${ownerName} uses ${formatBytes(usedBytes)} of its ${formatBytes(limitBytes)} quota (${usedBytes} of ${limitBytes} bytes); ${QUOTA_ADVICE}`;
}
