import type { Scenario } from '../types.js';

/**
 * The baseline loaded with the gateway + token scenario's exact request: the same
 * ES256 bearer token (~600 bytes) in every request, relayed upstream as received. The
 * load tool, the proxy and the upstream then carry the same bytes as in that scenario,
 * so its ratio against this row is what the token check itself costs.
 */
export default {
  name: 'bare proxy, same request (bearer token)',
  description: 'as "bare proxy", with the Authorization header of "gateway + token (1 token)"',
  start: async (ctx) => {
    const s = await ctx.spawnServer('bare-proxy', { UPSTREAM_URL: ctx.upstreamUrl });
    const [token] = await ctx.mint(1, 'bench-api', 'bench:read');
    return { load: { url: s.url, headers: { authorization: `Bearer ${token!}` } }, stop: s.stop };
  },
} satisfies Scenario;
