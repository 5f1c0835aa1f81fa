import { MemorySessionStore } from './memory-session-store.js';
import { describeSessionStoreContract } from './testing/session-store-contract.js';

describeSessionStoreContract('memory', async () => new MemorySessionStore());
