/**
 * Gateway metrics (prom-client): requests by route and outcome, and latency by route.
 * Label children are resolved once per route so the hot path only increments.
 */
import { Counter, Histogram, Registry } from 'prom-client';

export type Outcome = 'allowed' | 'denied' | 'upstream_error' | 'client_closed' | 'error';

export interface RouteMetrics {
  count(outcome: Outcome): void;
  /** Seconds from request start to the end of the relayed response. */
  observe(seconds: number): void;
}

export interface GatewayMetrics {
  forRoute(route: string): RouteMetrics;
}

const REQUESTS = 'portcullis_gateway_requests_total';
const DURATION = 'portcullis_gateway_request_duration_seconds';

/**
 * Registers (or reuses) the gateway metrics on a registry.
 * @example const m = createGatewayMetrics(register); m.forRoute('orders').count('allowed')
 */
export function createGatewayMetrics(registry: Registry = new Registry()): GatewayMetrics {
  const requests =
    (registry.getSingleMetric(REQUESTS) as Counter<'route' | 'outcome'> | undefined) ??
    new Counter({ name: REQUESTS, help: 'Gateway requests by route and outcome.', labelNames: ['route', 'outcome'] as const, registers: [registry] });
  const duration =
    (registry.getSingleMetric(DURATION) as Histogram<'route'> | undefined) ??
    new Histogram({
      name: DURATION,
      help: 'Latency of allowed gateway requests, through the end of the upstream response.',
      labelNames: ['route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  const byRoute = new Map<string, RouteMetrics>();
  return {
    forRoute(route: string): RouteMetrics {
      let m = byRoute.get(route);
      if (m !== undefined) return m;
      const children = {
        allowed: requests.labels({ route, outcome: 'allowed' }),
        denied: requests.labels({ route, outcome: 'denied' }),
        upstream_error: requests.labels({ route, outcome: 'upstream_error' }),
        client_closed: requests.labels({ route, outcome: 'client_closed' }),
        error: requests.labels({ route, outcome: 'error' }),
      };
      const hist = duration.labels({ route });
      m = {
        count: (o: Outcome) => children[o].inc(),
        observe: (s: number) => hist.observe(s),
      };
      byRoute.set(route, m);
      return m;
    },
  };
}
