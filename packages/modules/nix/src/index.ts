export * from './format/index.js';
