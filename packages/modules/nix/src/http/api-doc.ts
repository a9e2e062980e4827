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
const query = (name: string, description: string, schema: Record<string, unknown>) => ({ name, in: 'query', required: false, description, schema });
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
    '/-/paths/': {
      get: {
        operationId: 'nixListPaths',
        tags,
        summary: 'List and search the store paths of the cache (read access); Link (cursor) and X-Total-Count headers',
        security,
        parameters: [query('q', 'name substring or hash prefix', { type: 'string' }), query('sort', 'created (default), name or size', { type: 'string', enum: ['created', 'name', 'size'] }), query('limit', 'page size, at most 200 (default 50)', { type: 'integer' }), query('cursor', 'from a Link rel="next"', { type: 'string' }), query('before', 'from a Link rel="prev"', { type: 'string' })],
        responses: { '200': json({ type: 'array', items: ref('NixStorePath') }, 'NixStorePathList'), ...refusals },
      },
    },
    '/-/paths/{hash}': {
      parameters: [param('hash', 'the hash part of the store path')],
      get: { operationId: 'nixGetPath', tags, summary: "One path's facts, provenance and closure figures (read access)", security, responses: { '200': json(ref('NixStorePathDetail'), 'NixStorePathDetail'), ...refusals } },
    },
    '/-/paths/{hash}/references': {
      parameters: [param('hash', 'the hash part of the store path')],
      get: {
        operationId: 'nixGetPathReferences',
        tags,
        summary: 'Its references; stored=false marks one an upstream serves (read access)',
        security,
        responses: { '200': json({ type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, hash: { type: 'string' }, name: { type: 'string' }, stored: { type: 'boolean' } } } }, 'NixReferenceList'), ...refusals },
      },
    },
    '/-/paths/{hash}/referrers': {
      parameters: [param('hash', 'the hash part of the store path')],
      get: {
        operationId: 'nixGetPathReferrers',
        tags,
        summary: 'Paths of this cache that reference it, paged (read access)',
        security,
        parameters: [query('limit', 'page size, at most 200', { type: 'integer' }), query('after', 'from a Link rel="next"', { type: 'string' })],
        responses: { '200': json({ type: 'array', items: ref('NixStorePath') }, 'NixStorePathList'), ...refusals },
      },
    },
    '/-/paths/{hash}/closure': {
      parameters: [param('hash', 'the hash part of the store path')],
      get: {
        operationId: 'nixGetPathClosure',
        tags,
        summary: 'Its closure in this cache, paged; X-Closure-Nar-Size carries the total NAR size (read access)',
        security,
        parameters: [query('limit', 'page size, at most 200', { type: 'integer' }), query('after', 'from a Link rel="next"', { type: 'string' })],
        responses: { '200': json({ type: 'array', items: ref('NixStorePath') }, 'NixStorePathList'), ...refusals },
      },
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
    NixStorePath: {
      type: 'object',
      properties: {
        path: { type: 'string' },
        hash: { type: 'string' },
        name: { type: 'string' },
        nar_hash: { type: 'string' },
        nar_size: { type: 'integer' },
        file_size: { type: 'integer' },
        compression: { type: 'string' },
        created_at: { type: 'string', format: 'date-time' },
        last_accessed_at: { type: 'string', format: 'date-time' },
      },
    },
    NixStorePathDetail: {
      allOf: [
        ref('NixStorePath'),
        {
          type: 'object',
          properties: {
            url: { type: 'string' },
            file_hash: { type: 'string' },
            deriver: { type: 'string', nullable: true },
            system: { type: 'string', nullable: true },
            ca: { type: 'string', nullable: true },
            references: { type: 'array', items: { type: 'string' } },
            signatures: { type: 'array', items: { type: 'string' } },
            pushed_by: { type: 'object', nullable: true, properties: { user: { type: 'string', nullable: true }, token: { type: 'string', nullable: true } } },
            pushed_at: { type: 'string', format: 'date-time' },
            pulled_from: { type: 'string', nullable: true },
            closure: { type: 'object', properties: { paths: { type: 'integer' }, nar_size: { type: 'integer' } } },
            referrers: { type: 'integer' },
          },
        },
      ],
    },
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
