/**
 * The host's part of the OpenAPI document: Gitea's `/api/v1` routes this server answers,
 * with Gitea's operation ids and schema names (so what was generated from Gitea's document
 * lines up), limited to the fields this server fills. docs/api.md says what differs.
 */
type Json = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('APIError'), description);
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const queryParam = (name: string, description: string, schema: Json) => ({ name, in: 'query', required: false, description, schema });
const string = { type: 'string' };
const dateTime = { type: 'string', format: 'date-time' };
const int64 = { type: 'integer', format: 'int64' };

const denied = {
  '401': error('no credentials, and the owner or package is not public'),
  '403': error('the token lacks the scope, or the caller may not write'),
  '404': error('not found, or not visible to the caller'),
};
const versionParams = [
  pathParam('owner', 'owner of the package'),
  pathParam('type', 'package type (`generic`, `nix`)'),
  pathParam('name', 'name of the package'),
  pathParam('version', 'version of the package (for `nix`: the store path base name, its hash part, or the URL-encoded full store path)'),
];

export const hostPaths: Record<string, Record<string, unknown>> = {
  '/api/v1/version': {
    get: { operationId: 'getVersion', tags: ['miscellaneous'], summary: "Returns the version of the Gitea API this server answers like (with this server's own version as build metadata)", responses: { '200': json(ref('ServerVersion'), 'ServerVersion') } },
  },
  '/api/v1/user': {
    get: { operationId: 'userGetCurrent', tags: ['user'], summary: 'Get the authenticated user (scope read:user)', security: [{ AccessToken: [] }, { BasicAuth: [] }], responses: { '200': json(ref('User'), 'User'), '401': error('no credentials'), '403': error('the token lacks read:user') } },
  },
  '/api/v1/users/{username}/tokens': {
    parameters: [pathParam('username', 'the user whose tokens these are')],
    get: {
      operationId: 'userGetTokens',
      tags: ['user'],
      summary: "List the user's access tokens (scope read:user; a site admin's token for others also needs read:admin)",
      security: [{ BasicAuth: [] }, { AccessToken: [] }],
      parameters: [queryParam('page', 'ignored: every token is listed', { type: 'integer' }), queryParam('limit', 'ignored: every token is listed', { type: 'integer' })],
      responses: { '200': json({ type: 'array', items: ref('AccessToken') }, 'AccessTokenList'), ...denied },
    },
    post: {
      operationId: 'userCreateToken',
      tags: ['user'],
      summary: 'Create an access token (the account password, Basic auth, only)',
      security: [{ BasicAuth: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('CreateAccessTokenOption') } } },
      responses: { '201': json(ref('AccessToken'), 'AccessToken'), '400': error('invalid name, scopes or expiry'), ...denied, '409': error('a token of that name exists') },
    },
  },
  '/api/v1/users/{username}/tokens/{token}': {
    parameters: [pathParam('username', 'the user whose token this is'), pathParam('token', 'token id or name')],
    delete: { operationId: 'userDeleteAccessToken', tags: ['user'], summary: 'Delete an access token (scope write:user)', security: [{ BasicAuth: [] }, { AccessToken: [] }], responses: { '204': { description: 'deleted' }, ...denied } },
  },
  '/api/v1/packages/{owner}': {
    parameters: [pathParam('owner', 'owner of the packages')],
    get: {
      operationId: 'listPackages',
      tags: ['package'],
      summary: "Gets all packages of an owner: one item per version, newest first (scope read:package)",
      security: [{ AccessToken: [] }, {}],
      parameters: [
        queryParam('page', 'page number of results to return (1-based)', { type: 'integer' }),
        queryParam('limit', 'page size of results (default 30, at most 50)', { type: 'integer' }),
        queryParam('type', 'package type filter', { type: 'string' }),
        queryParam('q', 'name filter (a case-insensitive substring)', { type: 'string' }),
      ],
      responses: {
        '200': {
          ...json({ type: 'array', items: ref('Package') }, 'PackageList'),
          headers: {
            'X-Total-Count': { description: 'versions matching the filters', schema: { type: 'integer' } },
            Link: { description: 'next, last, first and prev pages (RFC 8288)', schema: { type: 'string' } },
          },
        },
        ...denied,
      },
    },
  },
  '/api/v1/packages/{owner}/{type}/{name}': {
    parameters: versionParams.slice(0, 3),
    get: {
      operationId: 'listPackageVersions',
      tags: ['package'],
      summary: 'Gets all versions of a package, newest first (Gitea 1.24; scope read:package)',
      security: [{ AccessToken: [] }, {}],
      parameters: [queryParam('page', 'page number of results to return (1-based)', { type: 'integer' }), queryParam('limit', 'page size of results (default 30, at most 50)', { type: 'integer' })],
      responses: { '200': json({ type: 'array', items: ref('Package') }, 'PackageList'), ...denied },
    },
  },
  '/api/v1/packages/{owner}/{type}/{name}/-/latest': {
    parameters: versionParams.slice(0, 3),
    get: { operationId: 'getLatestPackageVersion', tags: ['package'], summary: 'Gets the latest version of a package (Gitea 1.24; scope read:package)', security: [{ AccessToken: [] }, {}], responses: { '200': json(ref('Package'), 'Package'), ...denied } },
  },
  '/api/v1/packages/{owner}/{type}/{name}/{version}': {
    parameters: versionParams,
    get: { operationId: 'getPackage', tags: ['package'], summary: 'Gets a package version (scope read:package)', security: [{ AccessToken: [] }, {}], responses: { '200': json(ref('Package'), 'Package'), ...denied } },
    delete: {
      operationId: 'deletePackage',
      tags: ['package'],
      summary: 'Delete a package version (scope write:package)',
      security: [{ AccessToken: [] }],
      parameters: [queryParam('recursive', 'an extension: also delete what depends on the version (nix store paths); without it such a version is refused with 409', { type: 'boolean' })],
      responses: { '204': { description: 'deleted' }, ...denied, '409': error('other versions depend on it (nix: referenced store paths)') },
    },
  },
  '/api/v1/packages/{owner}/{type}/{name}/{version}/files': {
    parameters: versionParams,
    get: { operationId: 'listPackageFiles', tags: ['package'], summary: 'Gets all files of a package version (scope read:package)', security: [{ AccessToken: [] }, {}], responses: { '200': json({ type: 'array', items: ref('PackageFile') }, 'PackageFileList'), ...denied } },
  },
  '/api/v1/admin/owners/{name}/quota': {
    parameters: [pathParam('name', 'the user or organisation')],
    get: { operationId: 'adminGetOwnerQuota', tags: ['admin'], summary: "An owner's storage usage and quota (site admin, scope read:admin; an extension, docs/quotas.md)", security: [{ AccessToken: [] }, { BasicAuth: [] }], responses: { '200': json(ref('OwnerQuota'), 'OwnerQuota'), ...denied } },
    put: {
      operationId: 'adminSetOwnerQuota',
      tags: ['admin'],
      summary: "Set an owner's quota in bytes, or null for unlimited (site admin, scope write:admin)",
      security: [{ AccessToken: [] }, { BasicAuth: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['limit_bytes'], properties: { limit_bytes: { ...int64, nullable: true } } } } } },
      responses: { '200': json(ref('OwnerQuota'), 'OwnerQuota'), '400': error('limit_bytes missing or not a whole number of bytes'), ...denied },
    },
    delete: { operationId: 'adminResetOwnerQuota', tags: ['admin'], summary: "Put an owner's quota back to the server default, FORGE_OWNER_QUOTA_BYTES (site admin, scope write:admin)", security: [{ AccessToken: [] }, { BasicAuth: [] }], responses: { '200': json(ref('OwnerQuota'), 'OwnerQuota'), ...denied } },
  },
  '/api/v1/admin/storage': {
    get: {
      operationId: 'adminGetStorage',
      tags: ['admin'],
      summary: 'The physical (deduplicated) bytes stored and every owner\'s usage, paged (site admin, scope read:admin; an extension)',
      security: [{ AccessToken: [] }, { BasicAuth: [] }],
      parameters: [queryParam('page', 'page number, from 1', { type: 'integer' }), queryParam('limit', 'page size (at most 500)', { type: 'integer' })],
      responses: { '200': json(ref('StorageTotals'), 'StorageTotals'), ...denied },
    },
  },
};


export const hostSchemas: Record<string, Record<string, unknown>> = {
  APIError: { type: 'object', description: 'APIError is an api error with a message', properties: { message: string, url: string } },
  ServerVersion: { type: 'object', description: 'ServerVersion wraps the version of the server', properties: { version: string } },
  User: {
    type: 'object',
    description: 'User represents a user (or an organisation, as a package owner)',
    properties: {
      id: int64,
      login: string,
      login_name: string,
      full_name: string,
      email: { type: 'string', format: 'email', description: 'only for the user themself and site admins; otherwise empty' },
      avatar_url: string,
      html_url: string,
      is_admin: { type: 'boolean' },
      created: dateTime,
      visibility: string,
      active: { type: 'boolean' },
      restricted: { type: 'boolean' },
      username: string,
    },
  },
  AccessToken: {
    type: 'object',
    description: 'AccessToken represents an API access token',
    properties: {
      id: int64,
      name: string,
      sha1: { type: 'string', description: 'the token, only in the answer that created it' },
      token_last_eight: string,
      scopes: { type: 'array', items: string },
      created_at: dateTime,
      expires_at: { ...dateTime, nullable: true },
      last_used_at: { ...dateTime, nullable: true },
    },
  },
  CreateAccessTokenOption: {
    type: 'object',
    required: ['name'],
    properties: { name: string, scopes: { type: 'array', items: string }, expires_at: { description: 'an ISO date or a Unix timestamp (an extension)', oneOf: [dateTime, { type: 'integer' }] } },
  },
  Package: {
    type: 'object',
    description: 'Package represents a package version',
    properties: {
      id: int64,
      owner: ref('User'),
      repository: { nullable: true, description: 'always null: this registry has no repositories' },
      creator: ref('User'),
      type: string,
      name: string,
      version: string,
      html_url: string,
      created_at: dateTime,
    },
  },
  PackageFile: {
    type: 'object',
    description: 'PackageFile represents a package file (Gitea spells the size field `Size`)',
    properties: { id: int64, Size: int64, name: string, md5: { type: 'string', description: 'empty: not computed' }, sha1: { type: 'string', description: 'empty: not computed' }, sha256: string, sha512: { type: 'string', description: 'empty: not computed' } },
  },
  OwnerQuota: {
    type: 'object',
    description: "An owner's storage usage against its quota (docs/quotas.md)",
    properties: { owner: string, used_bytes: int64, limit_bytes: { ...int64, nullable: true }, source: string, percent: { type: 'number', nullable: true }, level: string },
  },
  StorageTotals: {
    type: 'object',
    properties: { blobs: int64, physical_bytes: int64, charged_bytes: int64, owners: { type: 'array', items: ref('OwnerQuota') } },
  },
};
