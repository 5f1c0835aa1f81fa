/**
 * The node flags the appliance runs with, wherever it is started: the container's ENTRYPOINT,
 * `npm start`, the `outpost` command's shebang, and the benchmarks that start gateways. V8 reads
 * heap sizes once, when the isolate is made: `v8.setFlagsFromString` at run time leaves the young
 * generation as it was, so the flags must be on the command line. node-flags.test.ts keeps every
 * launcher in step with this list. Tunnel workers are forked with the primary's execArgv, so
 * they get the same flags.
 *
 * `--max-semi-space-size=32` (MiB; Node 20's default is 16 on 64-bit hosts). A handshake, a
 * login and a resume each leave tens of KiB of short-lived objects (TLSSocket, parser, buffers,
 * promises). With 16 MiB semi-spaces a failover storm of thousands of reconnects scavenges so
 * often that objects still in flight are promoted and then marked and compacted in the old
 * generation. Measured with `bench:sessions --site` (6,000 sessions, 2,000 logins, gateway A's
 * CPU), runs alternated: 16 → 64 MiB took a resume from 1.96/2.18 to 1.84/1.76 ms and a
 * certificate login from 2.71/3.00 to 2.63/2.27 ms; 32 against 64 in the same hour, 1.64/1.66
 * against 1.97/1.79 per resume and 2.96/2.20 against 2.19/2.27 per login, no worse. The cost is
 * memory: the young generation stays grown after the load. `bench:sessions` with 18,000 idle
 * sessions: 17.39 KiB of RSS per session with the default, 18.36 with 32, 21.61 with 64 (over
 * the 20 KiB target), hence 32.
 */
export const applianceNodeFlags: readonly string[] = ['--max-semi-space-size=32'];
