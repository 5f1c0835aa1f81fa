export { readPkcs12 } from './read-pkcs12.js';
export type { Pkcs12Contents, Pkcs12Key } from './safe-bags.js';
