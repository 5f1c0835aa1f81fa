import type { OutpostError } from '../../core/errors.js';

/** ConfigError without importing it (the config module is loaded lazily). */
function problemsOf(error: OutpostError): readonly string[] | undefined {
  const problems = (error as { problems?: unknown }).problems;
  return Array.isArray(problems) ? (problems as string[]) : undefined;
}

/**
 * `error: <message> (<code>)` for people, one JSON object for scripts. Config errors list each
 * problem on its own indented line.
 */
export function renderError(error: OutpostError, json: boolean): string {
  const problems = problemsOf(error);
  if (json) {
    const message = problems ? error.clientMessage.replace(/:\n[\s\S]*$/, '') : error.message;
    return `${JSON.stringify({ error: { code: error.code, message, ...(problems ? { problems } : {}) } })}\n`;
  }
  if (problems) {
    return `error: invalid configuration (${error.code})\n${problems.map((p) => `  ${p}\n`).join('')}`;
  }
  return `error: ${error.message} (${error.code})\n`;
}
