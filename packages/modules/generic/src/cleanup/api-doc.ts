import type { ModuleApiDoc } from '@forge/core';

/**
 * The OpenAPI description of the cleanup-rule API (routes.ts), paths relative to
 * `/api/packages/{owner}/generic`. The host merges it into `/api/swagger.v1.json`, and a test
 * checks it against the routes registered.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Record<string, unknown>, description: string) => ({ description, content: { 'application/json': { schema } } });
const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
const security = [{ AccessToken: [] }, { BasicAuth: [] }];
const tags = ['generic'];
const refusals = {
  '401': text('no credentials'),
  '403': text('only the owner and organisation admins manage cleanup rules'),
  '404': text('no such owner, no rule, or not visible to the caller'),
};

export const genericApiDoc: ModuleApiDoc = {
  paths: {
    '/-/cleanup-rule': {
      get: { operationId: 'genericGetCleanupRule', tags, summary: "The owner's cleanup rule for generic packages (admin role)", security, responses: { '200': json(ref('GenericCleanupRule'), 'GenericCleanupRule'), ...refusals } },
      put: {
        operationId: 'genericPutCleanupRule',
        tags,
        summary: 'Set the cleanup rule, Gitea semantics (admin role)',
        security,
        requestBody: { required: true, content: { 'application/json': { schema: ref('GenericCleanupRule') } } },
        responses: { '200': json(ref('GenericCleanupRule'), 'GenericCleanupRule'), '400': text('invalid rule (for example an unsafe or too long pattern)'), ...refusals },
      },
      delete: { operationId: 'genericDeleteCleanupRule', tags, summary: 'Remove the cleanup rule (admin role)', security, responses: { '204': { description: 'removed' }, ...refusals } },
    },
    '/-/cleanup-rule/preview': {
      post: {
        operationId: 'genericPreviewCleanupRule',
        tags,
        summary: 'What the stored rule, or the rule in the body, would remove now; nothing is removed (admin role)',
        security,
        requestBody: { content: { 'application/json': { schema: ref('GenericCleanupRule') } } },
        responses: { '200': json(ref('GenericCleanupOutcome'), 'GenericCleanupOutcome'), '400': text('invalid rule'), ...refusals },
      },
    },
    '/-/cleanup-rule/run': {
      post: { operationId: 'genericRunCleanupRule', tags, summary: 'Apply the stored rule now; answers what went (admin role)', security, responses: { '200': json(ref('GenericCleanupOutcome'), 'GenericCleanupOutcome'), ...refusals } },
    },
  },
  schemas: {
    GenericCleanupRule: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['generic'] },
        enabled: { type: 'boolean' },
        keep_count: { type: 'integer' },
        keep_pattern: { type: 'string' },
        remove_older_than: { type: 'string', description: 'a duration such as 30d; "0" = no age limit' },
        remove_pattern: { type: 'string' },
        match_full_name: { type: 'boolean' },
      },
    },
    GenericCleanupOutcome: {
      type: 'object',
      properties: {
        dry_run: { type: 'boolean' },
        count: { type: 'integer' },
        bytes: { type: 'integer' },
        truncated: { type: 'boolean' },
        versions: {
          type: 'array',
          items: { type: 'object', properties: { package: { type: 'string' }, version: { type: 'string' }, created_at: { type: 'string', format: 'date-time' }, size: { type: 'integer' } } },
        },
      },
    },
  },
};
