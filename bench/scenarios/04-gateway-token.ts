/** The gateway with require.token, the same ES256 access token on every request (cache hits). */
import type { Scenario } from '../types.js';

export default {
  name: 'gateway + token (1 token)',
  description: 'require.token {audience, scopes}; one token repeated',
  compareTo: 'bare proxy, same request (bearer token)',
  start: async (ctx) => {
    const s = await ctx.spawnServer('gateway', { MODE: 'token', UPSTREAM_URL: ctx.upstreamUrl, ISSUER: ctx.issuer, KID: ctx.kid, PUBLIC_KEY_PEM_FILE: ctx.publicKeyPemFile });
    const [token] = await ctx.mint(1, 'bench-api', 'bench:read');
    return { load: { url: s.url, headers: { authorization: `Bearer ${token!}` } }, stop: s.stop };
  },
} satisfies Scenario;
