/** The gateway with a route and no policy: routing, header rules, metrics, proxy. */
import type { Scenario } from '../types.js';

export default {
  name: 'gateway, no policy',
  description: 'createGateway, one route, no require',
  start: async (ctx) => {
    const s = await ctx.spawnServer('gateway', { MODE: 'none', UPSTREAM_URL: ctx.upstreamUrl, ISSUER: ctx.issuer, KID: ctx.kid, PUBLIC_KEY_PEM_FILE: ctx.publicKeyPemFile });
    return { load: { url: s.url }, stop: s.stop };
  },
} satisfies Scenario;
