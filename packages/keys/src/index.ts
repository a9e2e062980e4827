export { SecretBox, deriveSecret } from './secret-box.js';
export { OwnerKeyService } from './key-service.js';
