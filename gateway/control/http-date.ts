/**
 * The Date header's value, made once a second (as Node's HTTP server caches its own): every
 * answer of a login storm would otherwise format the same date again.
 */
let second = -1;
let text = '';

export function httpDate(now = Date.now()): string {
  const s = Math.floor(now / 1000);
  if (s !== second) {
    second = s;
    text = new Date(s * 1000).toUTCString();
  }
  return text;
}
