export { createLocalBlobStore, LocalBlobStore, type LocalBlobStoreOptions } from './local-blob-store.js';
export { createS3BlobStore, describeS3Error, S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.js';
export { assertSha256, blobKey, isSha256 } from './content-address.js';
