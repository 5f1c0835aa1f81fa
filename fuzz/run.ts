import { parseArgs } from 'node:util';
import { runFuzzTarget, summaryLine } from './runner.js';
import { fuzzTargets } from './targets/index.js';

/**
 * npm run fuzz -- [--runs N] [--seed S] [--target NAME[,NAME…]] [--hang-ms MS]
 * Runs each target in turn and prints one line per target:
 *   fuzz: target=<name> runs=<n> crashes=<k> max_ms=<x>
 * On a crash it prints the seed, the error and the shrunk counterexample, and exits 1.
 */
const usage = `usage: npm run fuzz -- [--runs N] [--seed S] [--target NAME[,NAME...]] [--hang-ms MS] [--list]
  --runs N      inputs per target (default 10000)
  --seed S      fast-check seed (default 11; fixed, so a run is reproducible)
  --target      only these targets (default: all; --list shows them)
  --hang-ms MS  an input that takes longer is a crash (default 2000)`;

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

let failed = false;
for (const entry of fuzzTargets) {
  if (wanted && !wanted.includes(entry.name)) continue;
  const result = runFuzzTarget(entry.create(), { runs, seed, hangMs });
  console.log(`${summaryLine(result)} wall_s=${(result.wallMs / 1000).toFixed(1)}`);
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
