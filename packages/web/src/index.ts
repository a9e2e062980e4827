export { UiContributions, type SettingsPanel } from './ui-registry.js';
export { createWebUi, type WebUiOptions } from './web-ui.js';
export { parseQuotaText, type StorageAdministration } from './admin/storage-admin.js';
