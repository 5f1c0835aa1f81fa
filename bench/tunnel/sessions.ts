/**
 * `npm run bench:sessions`: idle sessions held and memory per session (idle-sessions.ts), or with
 * `--site` a failover storm between two gateways of a site (site-failover.ts).
 */
if (process.argv.includes('--site')) await import('./site-failover.js');
else await import('./idle-sessions.js');
