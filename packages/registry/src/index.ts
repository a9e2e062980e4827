export { Registry, type RegistryOptions } from './registry.js';
export { checkName } from './validation.js';
export { checkStoredBlobs, type BlobCheckOptions, type BlobCheckResult, type DamagedBlob, type DamagedBlobUse } from './blob-check.js';
export { StorageAccounting, type OwnerStorageRow, type StorageTotals } from './storage-accounting.js';
