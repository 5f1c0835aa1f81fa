/** `/var/lib/outpost` inside the container image (a volume), `./data` in a checkout. */
export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  return env.OUTPOST_IN_CONTAINER === '1' ? '/var/lib/outpost' : './data';
}
