import { formatBytes, Notice, quotaPercent, QUOTA_CRITICAL_AT, QUOTA_WARN_AT, quotaWarning, type StorageStatus } from '@forge/core';

/**
 * An owner's storage against its quota (docs/quotas.md): a bar with the numbers. A
 * `<meter>` colours itself from the thresholds (no inline style: the pages' CSP forbids it).
 */
export function StorageUsage({ status, ownerName }: { status: StorageStatus; ownerName: string }) {
  const used = formatBytes(status.usedBytes);
  if (status.limitBytes === null) {
    return (
      <div class="quota-usage" id="quota-usage" data-level="ok">
        <span>
          <strong>{used}</strong> stored by {ownerName} · no quota
        </span>
      </div>
    );
  }
  const limit = status.limitBytes;
  return (
    <div class="quota-usage" id="quota-usage" data-level={status.level}>
      <meter
        min={0}
        max={Math.max(limit, 1)}
        value={Math.min(status.usedBytes, limit)}
        low={limit * QUOTA_WARN_AT}
        high={limit * QUOTA_CRITICAL_AT}
        optimum={0}
        aria-label={`Storage used by ${ownerName}`}
      />
      <span class="storage-figures">
        <strong>{used}</strong> of {formatBytes(limit)} used ({quotaPercent(status)}%)
        {status.source === 'default' ? <span class="muted small"> · the server's default quota</span> : null}
      </span>
    </div>
  );
}

/** The banner every owner page shows its writers from 80 % on. */
export function QuotaBanner({ status, ownerName }: { status: StorageStatus; ownerName: string }) {
  const text = quotaWarning(ownerName, status);
  if (!text) return null;
  return (
    <div id="quota-banner" data-level={status.level}>
      <Notice kind={status.level === 'warning' ? 'warning' : 'error'}>
        {text}.{' '}
        {status.level === 'full' ? 'Delete packages, or ask a site administrator for more room.' : 'Uploads past the quota will be refused.'}
      </Notice>
    </div>
  );
}
