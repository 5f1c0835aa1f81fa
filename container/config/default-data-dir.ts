/** `/var/lib/outpost` inside the container image (a volume), `./data` in a checkout. */
export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  return env.OUTPOST_IN_CONTAINER === '1' ? '/var/lib/outpost' : './data';
}

/**
 * The gateway's port inside the container image: 443, the port the image EXPOSEs, the compose
 * file publishes and clients dial by default (`0.0.0.0:8443` elsewhere, where binding below 1024
 * needs privileges the process may not have).
 */
export function containerGatewayListen(env: NodeJS.ProcessEnv): string | undefined {
  return env.OUTPOST_IN_CONTAINER === '1' ? '0.0.0.0:443' : undefined;
}
