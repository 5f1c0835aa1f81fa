import { parseArgs } from 'node:util';
import { runFuzzTarget, summaryLine } from './runner.js';
import { fuzzTargets } from './targets/index.js';

/**
 * npm run fuzz -- [--runs N] [--seed S] [--target NAME[,NAME…]] [--hang-ms MS]
 * Runs each target in turn and prints one line per target:
 *   fuzz: target=<name> runs=<n> crashes=<k> max_ms=<x>
 * On a crash it prints the seed, the error and the shrunk counterexample, and exits 1.
 */
const usage = `usage: npm run fuzz -- [--runs N] [--seed S] [--target NAME[,NAME...]] [--hang-ms MS] [--until TIME] [--list]
  --runs N      inputs per target (default 10000)
  --seed S      fast-check seed (default 11; fixed, so a run is reproducible)
  --target      only these targets (default: all; --list shows them)
  --hang-ms MS  an input that takes longer is a crash (default 2000)
  --until TIME  wall-clock budget (ISO 8601): the time left is shared among the targets still to run;
                a target out of time reports the inputs it reached (runs=... interrupted)`;

function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`fuzz: ${what} must be a non-negative integer, got ${text}\n${usage}`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '11' },
    target: { type: 'string' },
    'hang-ms': { type: 'string', default: '2000' },
    until: { type: 'string' },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (values.list) {
  for (const t of fuzzTargets) console.log(t.name);
  process.exit(0);
}
const runs = positiveInt(values.runs, '--runs');
const seed = positiveInt(values.seed, '--seed');
const hangMs = positiveInt(values['hang-ms'], '--hang-ms');
const wanted = values.target?.split(',').map((s) => s.trim());
const unknown = wanted?.filter((name) => !fuzzTargets.some((t) => t.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(
    `fuzz: unknown target ${unknown.join(', ')}; known: ${fuzzTargets.map((t) => t.name).join(', ')}`,
  );
  process.exit(2);
}

const until = values.until === undefined ? undefined : Date.parse(values.until);
if (until !== undefined && Number.isNaN(until)) {
  console.error(`fuzz: --until must be an ISO 8601 time, got ${values.until}`);
  process.exit(2);
}

let failed = false;
const selected = fuzzTargets.filter((t) => !wanted || wanted.includes(t.name));
for (const [i, entry] of selected.entries()) {
  const maxSeconds =
    until === undefined ? undefined : Math.max(1, (until - Date.now()) / 1000 / (selected.length - i));
  const result = runFuzzTarget(entry.create(), { runs, seed, hangMs, ...(maxSeconds ? { maxSeconds } : {}) });
  const rate = result.runs / (result.wallMs / 1000);
  const extra = `wall_s=${(result.wallMs / 1000).toFixed(1)} rate_per_s=${rate.toFixed(0)}${result.interrupted ? ' interrupted' : ''}`;
  console.log(`${summaryLine(result)} ${extra}`);
  if (result.wrapped.count > 0) {
    console.log(
      `fuzz: target=${entry.name} note: ${result.wrapped.count} decode errors wrap a ${result.wrapped.first}`,
    );
  }
  if (result.crash) {
    failed = true;
    console.log(`fuzz: target=${entry.name} CRASH seed=${result.crash.seed} path=${result.crash.path}`);
    console.log(`fuzz: error: ${result.crash.error}`);
    console.log(`fuzz: counterexample: ${result.crash.counterexample}`);
  }
}
process.exit(failed ? 1 : 0);
