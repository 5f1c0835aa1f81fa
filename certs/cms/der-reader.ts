/** Moved to certs/der-reader.ts (X.509 parsing uses it too); kept for existing importers. */
export * from '../der-reader.js';
