#!/usr/bin/env -S node --max-semi-space-size=32
import { processIo } from './cli/cli-io.js';
import { runCli } from './cli/program.js';
import { planEntrypoint } from './entrypoint.js';
import { realFsProbe } from './entrypoint-probe.js';

// The container's ENTRYPOINT: decide, check, then run the CLI in this same process (one PID to
// signal, no re-exec).
const plan = planEntrypoint(process.env, process.argv.slice(2), realFsProbe);
if (plan.kind === 'fail') {
  process.stderr.write(`${plan.message}\n`);
  process.exitCode = plan.exitCode;
} else {
  Object.assign(process.env, plan.env);
  process.exitCode = await runCli(plan.argv, { io: processIo, env: process.env });
}
