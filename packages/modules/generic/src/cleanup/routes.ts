import express, { type Request, type Response } from 'express';
import { NotFoundError, type ModuleContext } from '@forge/core';
import type { CleanupOutcome, GenericCleanup } from './apply-rule.js';
import type { CleanupRuleStore } from './rule-store.js';
import { parseRule, ruleToApi } from './rules.js';

/**
 * Cleanup rules over the API, for those who administer the owner (as Gitea's package
 * settings), mounted before the package routes (`-` is no package name here):
 *   GET    /-/cleanup-rule           the rule (404 when none)
 *   PUT    /-/cleanup-rule           set it: {"keep_count", "keep_pattern", "remove_older_than", "remove_pattern", "match_full_name", "enabled"}
 *   DELETE /-/cleanup-rule           remove it (204)
 *   POST   /-/cleanup-rule/preview   what the rule (the stored one, or the one in the body) would remove now: nothing is removed
 *   POST   /-/cleanup-rule/run       apply the stored rule now; answers what went
 */
export function registerCleanupRoutes(ctx: ModuleContext, store: CleanupRuleStore, cleanup: GenericCleanup): void {
  const { router, access } = ctx;
  const json = express.json({ limit: '8kb' });

  router.get('/-/cleanup-rule', async (req: Request, res: Response) => {
    const owner = await access.require(req, 'admin');
    const rule = await store.get(owner.id);
    if (!rule) throw new NotFoundError(`${owner.name} has no cleanup rule`);
    res.json(ruleToApi(rule));
  });

  router.put('/-/cleanup-rule', json, async (req: Request, res: Response) => {
    const owner = await access.require(req, 'admin');
    const rule = parseRule(req.body);
    await store.put(owner.id, rule);
    ctx.logger.info('cleanup rule set', { owner: owner.name, rule: ruleToApi(rule) });
    res.json(ruleToApi(rule));
  });

  router.delete('/-/cleanup-rule', async (req: Request, res: Response) => {
    const owner = await access.require(req, 'admin');
    if (!(await store.delete(owner.id))) throw new NotFoundError(`${owner.name} has no cleanup rule`);
    res.status(204).end();
  });

  router.post('/-/cleanup-rule/preview', json, async (req: Request, res: Response) => {
    const owner = await access.require(req, 'admin');
    const given = req.body && typeof req.body === 'object' && Object.keys(req.body as object).length > 0;
    const rule = given ? parseRule(req.body) : await store.get(owner.id);
    if (!rule) throw new NotFoundError(`${owner.name} has no cleanup rule (send one in the body to preview it)`);
    res.json(outcomeToApi(await cleanup.apply(owner.id, rule, { dryRun: true }), true));
  });

  router.post('/-/cleanup-rule/run', async (req: Request, res: Response) => {
    const owner = await access.require(req, 'admin');
    const rule = await store.get(owner.id);
    if (!rule) throw new NotFoundError(`${owner.name} has no cleanup rule`);
    const outcome = await cleanup.apply(owner.id, rule, { dryRun: false });
    ctx.logger.info('cleanup rule run', { owner: owner.name, versions: outcome.count, bytes: outcome.bytes });
    res.json(outcomeToApi(outcome, false));
  });
}

function outcomeToApi(outcome: CleanupOutcome, dryRun: boolean) {
  return {
    dry_run: dryRun,
    count: outcome.count,
    bytes: outcome.bytes,
    truncated: outcome.truncated,
    versions: outcome.versions.map((v) => ({ package: v.packageName, version: v.version, created_at: v.createdAt.toISOString(), size: v.size })),
  };
}
