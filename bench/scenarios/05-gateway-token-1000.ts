/** The gateway with require.token and 1,000 distinct tokens in rotation (cache of 10,000). */
import type { Scenario } from '../types.js';

export default {
  name: 'gateway + token (1,000 tokens)',
  description: 'require.token; 1,000 distinct ES256 tokens, round robin',
  start: async (ctx) => {
    const s = await ctx.spawnServer('gateway', { MODE: 'token', UPSTREAM_URL: ctx.upstreamUrl, ISSUER: ctx.issuer, KID: ctx.kid, PUBLIC_KEY_PEM_FILE: ctx.publicKeyPemFile });
    const tokens = await ctx.mint(1000, 'bench-api', 'bench:read');
    return { load: { url: s.url, tokens }, stop: s.stop };
  },
} satisfies Scenario;
