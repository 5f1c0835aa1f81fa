#!/usr/bin/env node
import { processIo } from './cli-io.js';
import { runCli } from './program.js';

// exitCode, not exit(): lets stdout drain, and lets `outpost run` keep serving after start-up.
process.exitCode = await runCli(process.argv.slice(2), { io: processIo, env: process.env });
