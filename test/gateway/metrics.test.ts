import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createGatewayMetrics } from '../../src/gateway/metrics.js';

function line(text: string, series: string): number | undefined {
  const l = text.split('\n').find((x) => x.startsWith(series + ' '));
  return l === undefined ? undefined : Number(l.slice(series.length + 1));
}

describe('gateway metrics (counts folded in at scrape time)', () => {
  it('exports counts by route and outcome, each counted once across scrapes', async () => {
    const r = new Registry();
    const m = createGatewayMetrics(r).forRoute('orders');
    m.count('allowed');
    m.count('allowed');
    m.count('denied');
    let text = await r.metrics();
    assert.equal(line(text, 'portcullis_gateway_requests_total{route="orders",outcome="allowed"}'), 2);
    assert.equal(line(text, 'portcullis_gateway_requests_total{route="orders",outcome="denied"}'), 1);
    // an outcome that never happened is not exported
    assert.equal(line(text, 'portcullis_gateway_requests_total{route="orders",outcome="error"}'), undefined);
    m.count('allowed');
    text = await r.metrics();
    assert.equal(line(text, 'portcullis_gateway_requests_total{route="orders",outcome="allowed"}'), 3);
    assert.equal(line(text, 'portcullis_gateway_requests_total{route="orders",outcome="denied"}'), 1);
  });

  it('exports a cumulative latency histogram with le buckets, +Inf, sum and count', async () => {
    const r = new Registry();
    const m = createGatewayMetrics(r).forRoute('orders');
    for (const s of [0.0001, 0.0005, 0.003, 0.2, 40]) m.observe(s);
    m.observe(Number.NaN);
    const text = await r.metrics();
    const b = (le: string) => line(text, `portcullis_gateway_request_duration_seconds_bucket{le="${le}",route="orders"}`);
    assert.equal(b('0.0005'), 2); // a value equal to a bound falls in that bucket
    assert.equal(b('0.001'), 2);
    assert.equal(b('0.005'), 3);
    assert.equal(b('0.25'), 4);
    assert.equal(b('30'), 4);
    assert.equal(b('+Inf'), 5);
    assert.equal(line(text, 'portcullis_gateway_request_duration_seconds_count{route="orders"}'), 5);
    assert.ok(Math.abs(line(text, 'portcullis_gateway_request_duration_seconds_sum{route="orders"}')! - 40.2036) < 1e-9);
    assert.match(text, /# TYPE portcullis_gateway_request_duration_seconds histogram/);
  });

  it('two gateways on one registry share the series of a route', async () => {
    const r = new Registry();
    createGatewayMetrics(r).forRoute('a').count('upstream_error');
    createGatewayMetrics(r).forRoute('a').count('upstream_error');
    createGatewayMetrics(r).forRoute('a').observe(0.01);
    createGatewayMetrics(r).forRoute('a').observe(0.01);
    const text = await r.metrics();
    assert.equal(line(text, 'portcullis_gateway_requests_total{route="a",outcome="upstream_error"}'), 2);
    assert.equal(line(text, 'portcullis_gateway_request_duration_seconds_count{route="a"}'), 2);
  });

  it('resetMetrics zeroes the histogram', async () => {
    const r = new Registry();
    createGatewayMetrics(r).forRoute('a').observe(0.01);
    r.resetMetrics();
    assert.equal(line(await r.metrics(), 'portcullis_gateway_request_duration_seconds_count{route="a"}'), undefined);
  });
});
