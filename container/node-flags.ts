/**
 * The node flags the appliance runs with, wherever it is started: the container's ENTRYPOINT,
 * `npm start`, the `outpost` command's shebang, and the benchmarks that start gateways. V8 reads
 * heap sizes once, when the isolate is made: `v8.setFlagsFromString` at run time leaves the young
 * generation as it was, so the flags must be on the command line. node-flags.test.ts keeps every
 * launcher in step with this list. Tunnel workers are forked with the primary's execArgv, so
 * they get the same flags.
 *
 * `--max-semi-space-size=64` (MiB; Node 20's default is 16 on 64-bit hosts). A handshake, a
 * login and a resume each leave tens of KiB of short-lived objects (TLSSocket, parser, buffers,
 * promises). With 16 MiB semi-spaces a failover storm of thousands of reconnects scavenges so
 * often that objects still in flight are promoted and then marked and compacted in the old
 * generation. In `bench:sessions --site` (6,000 sessions, 2,000 logins, two alternated pairs)
 * this cut gateway A's CPU per resume from 1.96/2.18 to 1.84/1.76 ms and per certificate login
 * from 2.71/3.00 to 2.63/2.27 ms. The cost is memory under load only: the young generation grows
 * towards 2 × 64 MiB while allocation is heavy and V8's memory reducer shrinks it back when the
 * process goes idle.
 */
export const applianceNodeFlags: readonly string[] = ['--max-semi-space-size=64'];
