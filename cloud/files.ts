/** The control plane keeps its CA key, signing key and admin token with the appliance's own file rules. */
export { ensurePrivateDir, readIfExists, writeFileAtomic } from '../core/private-files.js';
