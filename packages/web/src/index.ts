export { UiContributions, type SettingsPanel } from './ui-registry.js';
