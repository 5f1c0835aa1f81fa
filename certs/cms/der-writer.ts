/** Moved to certs/der-writer.ts (certificate building uses it too); kept for existing importers. */
export * from '../der-writer.js';
