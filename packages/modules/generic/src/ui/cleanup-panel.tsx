import { BadRequestError, Bytes, CsrfField, formatBytes, Time, type SettingsPanel } from '@forge/core';
import type { GenericCleanup } from '../cleanup/apply-rule.js';
import type { CleanupRuleStore } from '../cleanup/rule-store.js';
import { parseRule, ruleToApi } from '../cleanup/rules.js';

/** Preview rows shown on the settings page (the API lists up to 1 000). */
const PREVIEW_ROWS = 50;

/**
 * The cleanup rule in the owner's package settings: the form, a preview of what the rule
 * would remove now, and a button that runs it.
 */
export function cleanupPanel(store: CleanupRuleStore, cleanup: GenericCleanup): SettingsPanel {
  return {
    async render({ ctx, actionUrl }) {
      const rule = await store.get(ctx.owner.id);
      const api = rule ? ruleToApi(rule) : null;
      const preview = rule ? await cleanup.apply(ctx.owner.id, rule, { dryRun: true }) : null;
      const now = Date.now();
      return (
        <div class="stack" id="generic-cleanup">
          <p class="muted small">
            As Gitea's cleanup rules: in every generic package, the most recent versions are kept, then versions matching the keep pattern;
            of the rest, those older than the age and matching the remove pattern go. Patterns are RE2 regular expressions matched against the
            whole version (or <code>package/version</code>), ignoring case. The rule runs with every scheduled cleanup while enabled.
          </p>
          <form method="post" action={actionUrl} class="stack">
            <CsrfField token={ctx.csrfToken} />
            <label class="checkbox">
              <input type="checkbox" name="enabled" value="1" checked={api?.enabled ?? true} /> Enabled
            </label>
            <label>
              Keep the most recent <input type="number" name="keep_count" min={0} max={10000} value={api?.keep_count ?? 5} aria-label="Versions to keep" /> versions
            </label>
            <label>
              Keep versions matching <input type="text" name="keep_pattern" maxLength={256} value={api?.keep_pattern ?? ''} placeholder="e.g. v\d+\.0\.0" />
            </label>
            <label>
              Remove versions older than <input type="text" name="remove_older_than" maxLength={32} value={api?.remove_older_than ?? '30d'} placeholder="30d, 12h; 0 for any age" />
            </label>
            <label>
              Remove only versions matching <input type="text" name="remove_pattern" maxLength={256} value={api?.remove_pattern ?? ''} placeholder="e.g. .*-dev" />
            </label>
            <label class="checkbox">
              <input type="checkbox" name="match_full_name" value="1" checked={api?.match_full_name ?? false} /> Match <code>package/version</code>
            </label>
            <div>
              <button type="submit" name="action" value="save" class="btn btn-primary">
                Save rule
              </button>{' '}
              {rule ? (
                <button type="submit" name="action" value="delete" class="btn btn-danger-outline">
                  Remove rule
                </button>
              ) : null}
            </div>
          </form>
          {preview ? (
            <section id="cleanup-preview">
              <h3>What the rule would remove now</h3>
              {preview.count === 0 ? (
                <p class="muted">Nothing.</p>
              ) : (
                <>
                  <p>
                    {preview.count} {preview.count === 1 ? 'version' : 'versions'}, <Bytes bytes={preview.bytes} />:
                  </p>
                  <ul class="list list-compact">
                    {preview.versions.slice(0, PREVIEW_ROWS).map((v) => (
                      <li class="list-item" data-version={`${v.packageName}/${v.version}`}>
                        <span class="mono">
                          {v.packageName} {v.version}
                        </span>
                        <span class="muted small">
                          {formatBytes(v.size)} · <Time date={v.createdAt} now={now} />
                        </span>
                      </li>
                    ))}
                  </ul>
                  {preview.count > PREVIEW_ROWS ? <p class="muted small">… and {preview.count - PREVIEW_ROWS} more.</p> : null}
                  <form method="post" action={actionUrl} data-confirm={`Remove ${preview.count} versions now?`}>
                    <CsrfField token={ctx.csrfToken} />
                    <button type="submit" name="action" value="run" class="btn btn-danger">
                      Remove these now
                    </button>
                  </form>
                </>
              )}
            </section>
          ) : null}
        </div>
      );
    },

    async handlePost(req, ctx) {
      const body = req.body as Record<string, string | undefined>;
      if (body.action === 'delete') {
        await store.delete(ctx.owner.id);
        return 'The cleanup rule was removed.';
      }
      if (body.action === 'run') {
        const rule = await store.get(ctx.owner.id);
        if (!rule) throw new BadRequestError('there is no cleanup rule to run');
        const outcome = await cleanup.apply(ctx.owner.id, rule, { dryRun: false });
        return `Removed ${outcome.count} ${outcome.count === 1 ? 'version' : 'versions'} (${formatBytes(outcome.bytes)}).`;
      }
      const keepCount = Number(body.keep_count ?? 0);
      const rule = parseRule({
        enabled: body.enabled === '1',
        keep_count: Number.isFinite(keepCount) ? keepCount : -1,
        keep_pattern: body.keep_pattern ?? '',
        remove_older_than: body.remove_older_than ?? '',
        remove_pattern: body.remove_pattern ?? '',
        match_full_name: body.match_full_name === '1',
      });
      await store.put(ctx.owner.id, rule);
      return 'The cleanup rule was saved; the preview shows what it would remove now.';
    },
  };
}
