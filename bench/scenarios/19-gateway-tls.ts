/** The gateway of a whole node over TLS (its own CA), a route without policy; the client presents no certificate. */
import { sharedTlsNode } from '../tls-node.js';
import type { Scenario } from '../types.js';

export default {
  name: 'gateway over TLS',
  description: 'tls.mode auto, keep-alive HTTPS, route without policy, no client certificate (the listener asks for one, as in production); the same node as "gateway over mTLS"',
  start: async (ctx) => {
    const n = await sharedTlsNode(ctx);
    return { load: { url: n.url, path: '/plain/x', tls: { ca: n.tls.ca } }, stop: n.release, pids: [n.pid] };
  },
} satisfies Scenario;
