/** Whether a sender's host is this machine, where a plaintext hop leaves no wire to read. */
import { isIP } from 'node:net';

/**
 * `localhost`, 127.0.0.0/8 and ::1 (bracketed or not, IPv4-mapped too).
 *
 * @example
 * isLoopbackHost('[::1]'); // true
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
