import { defineConfig } from 'vitest/config';

// Unit tests live next to the code; interop tests against real peers live in test/ and
// run one file at a time because they start servers on fixed loopback ports. Test helpers live
// in a folder named testing/ (test/testing/ for the interop suites; the test PKI kit, made with
// openssl, in certs/testing/), which the shipped build leaves out.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{core,certs,connector,container,directory,link,gateway,cloud,fuzz}/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
