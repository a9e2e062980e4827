import type { ModuleApiDoc } from '@forge/core';

/**
 * The OpenAPI description of the cache's administration API (settings-api.ts and
 * lifecycle-api.ts), paths relative to `/api/packages/{owner}/nix`. The host merges it into
 * `/api/swagger.v1.json`, and a test checks it against the routes these files register.
 * The binary cache protocol itself is docs/nix-binary-cache-protocol.md.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Record<string, unknown>, description: string) => ({ description, content: { 'application/json': { schema } } });
const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
const param = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const security = [{ AccessToken: [] }, { BasicAuth: [] }];
const refusals = {
  '400': text('invalid input (plain text, as every error under /api/packages)'),
  '401': text('no credentials'),
  '403': text('the caller may not do this (admin role for settings and keys, write access for pins and collection)'),
  '404': text('no such owner, cache, key or pin, or not visible to the caller'),
};
const tags = ['nix'];

export const nixApiDoc: ModuleApiDoc = {
  paths: {
    '/-/settings': {
      get: { operationId: 'nixGetSettings', tags, summary: 'The cache settings, signing keys and substituter URL (read access)', security, responses: { '200': json(ref('NixCacheSettings'), 'NixCacheSettings'), ...refusals } },
      put: {
        operationId: 'nixPutSettings',
        tags,
        summary: 'Change settings; enables the cache (admin role). camelCase fields are accepted, deprecated (docs/api.md)',
        security,
        requestBody: { content: { 'application/json': { schema: ref('NixCacheSettingsOption') } } },
        responses: { '200': json(ref('NixCacheSettings'), 'NixCacheSettings'), ...refusals },
      },
    },
    '/-/public-key': {
      get: { operationId: 'nixGetPublicKey', tags, summary: 'The active public key, the line for trusted-public-keys (read access)', security, responses: { '200': text('name:base64'), ...refusals } },
    },
    '/-/keys/rotate': {
      post: { operationId: 'nixRotateKey', tags, summary: 'Make a new server signing key active; the old one is retired (admin role)', security, responses: { '201': json(ref('NixKey'), 'NixKey'), ...refusals } },
    },
    '/-/keys/import': {
      post: {
        operationId: 'nixImportKey',
        tags,
        summary: 'Bring your own signing key: a Nix secret key file (admin role)',
        security,
        requestBody: {
          content: {
            'text/plain': { schema: { type: 'string', description: 'the secret key file, name:base64' } },
            'application/json': { schema: { type: 'object', properties: { secret_key: { type: 'string' } } } },
          },
        },
        responses: { '201': json(ref('NixKey'), 'NixKey'), ...refusals, '409': text('a key of that name exists') },
      },
    },
    '/-/keys/{id}': {
      parameters: [param('id', 'key id (from settings)')],
      delete: { operationId: 'nixDropKey', tags, summary: 'Drop a retired key (admin role)', security, responses: { '204': { description: 'dropped' }, ...refusals, '409': text('the active key cannot be dropped') } },
    },
    '/-/trusted-keys': {
      post: {
        operationId: 'nixTrustKey',
        tags,
        summary: "Trust an uploader's public key: its signatures are kept and shown as trusted (admin role)",
        security,
        requestBody: {
          content: {
            'text/plain': { schema: { type: 'string', description: 'name:base64' } },
            'application/json': { schema: { type: 'object', properties: { public_key: { type: 'string' } } } },
          },
        },
        responses: { '201': json(ref('NixCacheSettings'), 'NixCacheSettings'), ...refusals, '409': text('already trusted') },
      },
    },
    '/-/trusted-keys/{name}': {
      parameters: [param('name', 'key name')],
      delete: { operationId: 'nixUntrustKey', tags, summary: 'Stop trusting an uploader key (admin role)', security, responses: { '204': { description: 'removed' }, ...refusals } },
    },
    '/-/pins': {
      get: { operationId: 'nixListPins', tags, summary: 'Named roots garbage collection never takes (read access)', security, responses: { '200': json({ type: 'object', properties: { pins: { type: 'array', items: ref('NixPin') } } }, 'NixPinList'), ...refusals } },
    },
    '/-/pins/{name}': {
      parameters: [param('name', 'pin name')],
      get: { operationId: 'nixGetPin', tags, summary: 'One pin with its history (read access)', security, responses: { '200': json(ref('NixPin'), 'NixPin'), ...refusals } },
      put: {
        operationId: 'nixPutPin',
        tags,
        summary: 'Pin a stored path, or move the pin (write access)',
        security,
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['store_path'], properties: { store_path: { type: 'string' } } } } } },
        responses: { '200': json(ref('NixPin'), 'moved'), '201': json(ref('NixPin'), 'created'), ...refusals },
      },
      delete: { operationId: 'nixDeletePin', tags, summary: 'Remove a pin (write access)', security, responses: { '204': { description: 'removed' }, ...refusals } },
    },
    '/-/gc': {
      post: {
        operationId: 'nixCollect',
        tags,
        summary: 'Collect garbage now, or with dry_run answer what would go (write access). docs/garbage-collection.md',
        security,
        requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { dry_run: { type: 'boolean' } } } } } },
        responses: { '200': json(ref('NixCollectionReport'), 'NixCollectionReport'), ...refusals },
      },
    },
  },
  schemas: {
    NixCacheSettings: {
      type: 'object',
      properties: {
        owner: { type: 'string' },
        enabled: { type: 'boolean' },
        substituter: { type: 'string', description: 'the URL for nix.conf substituters' },
        priority: { type: 'integer', nullable: true },
        visibility: { type: 'string', enum: ['inherit', 'public', 'private'] },
        effective_visibility: { type: 'string', enum: ['public', 'private'] },
        want_mass_query: { type: 'boolean', nullable: true },
        retention: { type: 'string', nullable: true, description: 'a duration such as 30d; null = keep forever' },
        max_size: { type: 'integer', nullable: true, description: 'bytes; null = no limit' },
        public_keys: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' }, public_key: { type: 'string' }, active: { type: 'boolean' }, created_at: { type: 'string', format: 'date-time' }, retired_at: { type: 'string', format: 'date-time', nullable: true } } } },
        trusted_keys: { type: 'array', items: { type: 'string' } },
      },
    },
    NixCacheSettingsOption: {
      type: 'object',
      properties: {
        priority: { type: 'integer' },
        visibility: { type: 'string', enum: ['inherit', 'public', 'private'] },
        want_mass_query: { type: 'boolean' },
        retention: { type: 'string', nullable: true },
        max_size: { type: 'integer', nullable: true },
      },
    },
    NixKey: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' }, public_key: { type: 'string' } } },
    NixPin: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        store_path: { type: 'string' },
        created_at: { type: 'string', format: 'date-time' },
        updated_at: { type: 'string', format: 'date-time' },
        history: { type: 'array', items: { type: 'object', properties: { store_path: { type: 'string' }, pinned_at: { type: 'string', format: 'date-time' } } } },
      },
    },
    NixCollectionReport: {
      type: 'object',
      properties: {
        dry_run: { type: 'boolean' },
        count: { type: 'integer' },
        bytes: { type: 'integer' },
        spared: { type: 'integer' },
        paths: {
          type: 'array',
          items: {
            type: 'object',
            properties: { store_path: { type: 'string', nullable: true }, file: { type: 'string', nullable: true }, nar_size: { type: 'integer', nullable: true }, bytes: { type: 'integer' }, reason: { type: 'string' } },
          },
        },
      },
    },
  },
};
