export { createLocalBlobStore, LocalBlobStore, type LocalBlobStoreOptions } from './local-blob-store.js';
export { assertSha256, blobKey, isSha256 } from './content-address.js';
