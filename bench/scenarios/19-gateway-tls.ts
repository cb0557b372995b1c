/** The gateway of a whole node over TLS (its own CA), a route without policy; the client presents no certificate. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Scenario } from '../types.js';

export default {
  name: 'gateway over TLS',
  description: 'tls.mode auto, keep-alive HTTPS, route without policy, no client certificate (the listener asks for one, as in production)',
  start: async (ctx) => {
    const out = join(tmpdir(), `portcullis-bench-tls-${process.pid}-${Date.now()}.json`);
    const s = await ctx.spawnServer('gateway-tls', { OUT: out, UPSTREAM_URL: ctx.upstreamUrl });
    const { ca } = JSON.parse(readFileSync(out, 'utf8')) as { ca: string };
    rmSync(out, { force: true });
    return { load: { url: s.url.replace(/^http:/, 'https:'), path: '/plain/x', tls: { ca } }, stop: s.stop };
  },
} satisfies Scenario;
