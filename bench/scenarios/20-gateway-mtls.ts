/** The same gateway over mutual TLS: a client certificate from the node's CA, require.clientCertificate { mapToApp }. Issue 6 target: ≥ 0.9× the gateway over TLS with connection reuse. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Scenario } from '../types.js';

export default {
  name: 'gateway over mTLS',
  description: 'as "gateway over TLS", on a route with require.clientCertificate { mapToApp: true }, the client presents its certificate (chain verified once per connection; expiry, revocation and app checked per request)',
  compareTo: 'gateway over TLS',
  start: async (ctx) => {
    const out = join(tmpdir(), `portcullis-bench-mtls-${process.pid}-${Date.now()}.json`);
    const s = await ctx.spawnServer('gateway-tls', { OUT: out, UPSTREAM_URL: ctx.upstreamUrl });
    const tls = JSON.parse(readFileSync(out, 'utf8')) as { ca: string; cert: string; key: string };
    rmSync(out, { force: true });
    return { load: { url: s.url.replace(/^http:/, 'https:'), path: '/mtls/x', tls }, stop: s.stop };
  },
} satisfies Scenario;
