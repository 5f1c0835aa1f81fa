#!/usr/bin/env -S node --max-semi-space-size=32
import { processIo } from './cli-io.js';
import { runCli } from './program.js';

// Every file Outpost creates in its data directory is private (0600, directories 0700), whatever
// the umask of the shell or the container runtime; explicit modes narrow further where needed.
process.umask(0o077);
// exitCode, not exit(): lets stdout drain, and lets `outpost run` keep serving after start-up.
process.exitCode = await runCli(process.argv.slice(2), { io: processIo, env: process.env });
