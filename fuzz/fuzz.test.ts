import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../core/errors.js';
import { applyDerMutation, readSeed } from './der-mutations.js';
import { repoFile } from './repo-file.js';
import { runFuzzTarget, summaryLine } from './runner.js';
import { type FuzzTarget, showBytes } from './target.js';
import { fuzzTargets } from './targets/index.js';

/**
 * CI's share of `npm run fuzz`: every target, fewer inputs, the same fixed seed. The full run
 * (1,000,000 inputs per target) is `npm run fuzz -- --runs 1000000`; see README "Fuzzing".
 * A slow decoder (YAML + the whole config schema) gets fewer inputs to keep this under a minute.
 */
const ciRuns: Record<string, number> = { 'config-yaml': 200, 'link-message': 1000 };
const defaultRuns = 2000;

describe.each(fuzzTargets.map((t) => ({ name: t.name, entry: t })))(
  'fuzz target $name',
  ({ name, entry }) => {
    it('finds no crash on the CI share of the fixed-seed run', { timeout: 120_000 }, () => {
      const result = runFuzzTarget(entry.create(), {
        runs: ciRuns[name] ?? defaultRuns,
        seed: 11,
        hangMs: 5000,
      });
      expect(
        result.crash,
        result.crash && `${result.crash.error}\ncounterexample: ${result.crash.counterexample}`,
      ).toBeUndefined();
      expect(summaryLine(result)).toMatch(
        new RegExp(`^fuzz: target=${name} runs=\\d+ crashes=0 max_ms=\\d+\\.\\d$`),
      );
    });
  },
);

describe('the fuzz harness', () => {
  it('reports a crash, with the seed and a shrunk counterexample, when a decoder throws a non-typed error', () => {
    const broken: FuzzTarget<Buffer> = {
      name: 'broken',
      arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      check: (bytes) => {
        if (bytes.length === 0) throw new DecodeError('empty');
        if (bytes.includes(0x42)) throw new TypeError('cannot read properties of undefined');
      },
      isExpectedError: (e) => e instanceof DecodeError,
      show: showBytes,
    };
    const result = runFuzzTarget(broken, { runs: 5000, seed: 11, hangMs: 5000 });
    expect(result.crashes).toBe(1);
    expect(result.crash?.seed).toBe(11);
    expect(result.crash?.counterexample).toBe('42');
    expect(summaryLine(result)).toMatch(/^fuzz: target=broken runs=\d+ crashes=1 max_ms=/);
  });

  it('counts an input slower than hang-ms as a crash', () => {
    const slow: FuzzTarget<number> = {
      name: 'slow',
      arbitrary: fc.nat(10),
      check: (n) => {
        const until = performance.now() + (n === 7 ? 30 : 0);
        while (performance.now() < until);
      },
      isExpectedError: () => false,
      show: String,
    };
    const result = runFuzzTarget(slow, { runs: 500, seed: 11, hangMs: 20 });
    expect(result.crash?.error).toMatch(/HangError|took/);
    expect(result.crash?.counterexample).toBe('7');
  });

  it('rebuilds every DER seed byte for byte from its tree (so mutations start from the real message)', () => {
    for (const file of [
      'fuzz/fixtures/csr-rsa-extensions.der',
      'fuzz/fixtures/ocsp-request-signed.der',
      'connector/scep/codec/fixtures/scepclient-pkcsreq.der',
    ]) {
      const raw = repoFile(file);
      const seed = readSeed(raw);
      expect(seed.root).toBeDefined();
      const rebuilt = applyDerMutation([seed], [], {
        seed: 0,
        tree: [{ kind: 'swap', pick: 0 }],
        lengthLie: null,
        bytes: [],
      });
      expect(rebuilt.toString('hex')).toBe(raw.toString('hex'));
    }
  });
});
