/**
 * Gateway metrics: requests by route and outcome (a prom-client Counter), and latency
 * by route (a histogram exposed on the same registry).
 *
 * The request path only adds to plain numbers of its route: no label hashing, no
 * allocation. Counts are folded into the Counter when the registry is scraped (its
 * `collect`), and the histogram's buckets are read from the route's numbers directly.
 */
import { Counter, Registry, type Histogram } from 'prom-client';

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
const BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One route's numbers: counts not yet folded into the Counter, and its whole histogram. */
class RouteState implements RouteMetrics {
  allowed = 0;
  denied = 0;
  upstreamError = 0;
  clientClosed = 0;
  error = 0;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets = new Float64Array(BUCKETS.length + 1);
  sum = 0;
  observations = 0;

  constructor(readonly route: string) {}

  count(outcome: Outcome): void {
    switch (outcome) {
      case 'allowed':
        this.allowed++;
        break;
      case 'denied':
        this.denied++;
        break;
      case 'upstream_error':
        this.upstreamError++;
        break;
      case 'client_closed':
        this.clientClosed++;
        break;
      case 'error':
        this.error++;
        break;
    }
  }

  observe(seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.observations++;
  }

  /** Moves the pending counts into the Counter. */
  fold(requests: Counter<'route' | 'outcome'>): void {
    const route = this.route;
    if (this.allowed > 0) requests.inc({ route, outcome: 'allowed' }, this.allowed);
    if (this.denied > 0) requests.inc({ route, outcome: 'denied' }, this.denied);
    if (this.upstreamError > 0) requests.inc({ route, outcome: 'upstream_error' }, this.upstreamError);
    if (this.clientClosed > 0) requests.inc({ route, outcome: 'client_closed' }, this.clientClosed);
    if (this.error > 0) requests.inc({ route, outcome: 'error' }, this.error);
    this.allowed = this.denied = this.upstreamError = this.clientClosed = this.error = 0;
  }
}

interface HistogramValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * The latency histogram as a registry metric whose values are read from the routes'
 * numbers at scrape time, in prom-client's histogram format (`_bucket` with `le`,
 * `_sum`, `_count`).
 */
class RouteHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly help = 'Latency of allowed gateway requests, through the end of the upstream response.';

  constructor(
    readonly name: string,
    readonly routes: Map<string, RouteState>,
  ) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    for (const s of this.routes.values()) {
      if (s.observations === 0) continue;
      let acc = 0;
      for (let i = 0; i <= BUCKETS.length; i++) {
        acc += s.buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: i < BUCKETS.length ? BUCKETS[i]! : '+Inf', route: s.route }, value: acc });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { route: s.route }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { route: s.route }, value: s.observations });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    for (const s of this.routes.values()) {
      s.buckets.fill(0);
      s.sum = 0;
      s.observations = 0;
    }
  }
}

/** The route numbers of each registry, shared by every gateway that reports to it. */
const statesOf = new WeakMap<Registry, Map<string, RouteState>>();

/**
 * Registers (or reuses) the gateway metrics on a registry.
 * @example const m = createGatewayMetrics(register); m.forRoute('orders').count('allowed')
 */
export function createGatewayMetrics(registry: Registry = new Registry()): GatewayMetrics {
  let routes = statesOf.get(registry);
  if (routes === undefined) statesOf.set(registry, (routes = new Map()));
  const states = routes;
  if (registry.getSingleMetric(REQUESTS) === undefined) {
    const requests: Counter<'route' | 'outcome'> = new Counter({
      name: REQUESTS,
      help: 'Gateway requests by route and outcome.',
      labelNames: ['route', 'outcome'] as const,
      registers: [registry],
      collect() {
        for (const s of states.values()) s.fold(requests);
      },
    });
  }
  // the registry formats any metric that has `get()`; its type admits only prom-client's own classes
  if (registry.getSingleMetric(DURATION) === undefined) registry.registerMetric(new RouteHistogram(DURATION, states) as unknown as Histogram);
  return {
    forRoute(route: string): RouteMetrics {
      let m = states.get(route);
      if (m === undefined) states.set(route, (m = new RouteState(route)));
      return m;
    },
  };
}
