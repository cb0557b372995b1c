/**
 * `Retry-After` (RFC 9110 §10.2.3, whole seconds rounded up) on every refusal that says when
 * to come back: a 503 whose dependency is backed off, and a 429 (RFC 6585 §4: "MAY include
 * a Retry-After header"), which before carried `retryAfterMs` in its body alone, so clients
 * and proxies that honour the header retried at once. The fastify planes (`problem`) and the
 * gateway's own writer (`writeError`) answer alike.
 */
import assert from 'node:assert/strict';
import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { test } from 'node:test';
import { PortcullisError, retryAfterSeconds } from '../../src/core/errors.js';
import { writeError } from '../../src/gateway/errors.js';
import { problem } from '../../src/http/wire-errors.js';

const err = (code: ConstructorParameters<typeof PortcullisError>[0], retryAfterMs?: number) => new PortcullisError(code, 'x', retryAfterMs === undefined ? {} : { details: { retryAfterMs } });

test('a 429 with retryAfterMs: Retry-After in whole seconds, rounded up, at least 1', () => {
  assert.equal(retryAfterSeconds(err('pki.renewal-too-early', 299_001)), '300');
  assert.equal(retryAfterSeconds(err('auth.throttled', 1_000)), '1');
  assert.equal(retryAfterSeconds(err('auth.locked', 15 * 60_000 - 1)), '900');
  assert.equal(retryAfterSeconds(err('auth.throttled', 0)), '1');
  assert.equal(retryAfterSeconds(err('unavailable', 2_500)), '3');
});

test('no Retry-After without a finite retryAfterMs, or on a status that is neither 429 nor 503', () => {
  assert.equal(retryAfterSeconds(err('auth.throttled')), undefined);
  assert.equal(retryAfterSeconds(err('auth.throttled', Number.NaN)), undefined);
  assert.equal(retryAfterSeconds(err('request.malformed', 1_000)), undefined);
});

test('problem() (the fastify planes) and writeError() (the gateway) send it on a 429', () => {
  assert.equal(problem(err('auth.throttled', 1_500)).headers['retry-after'], '2');
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  let head: Record<string, unknown> = {};
  res.writeHead = ((status: number, headers: Record<string, unknown>) => ((head = { status, ...headers }), res)) as typeof res.writeHead;
  res.end = (() => res) as typeof res.end;
  writeError(res, err('pki.renewal-too-early', 61_001));
  assert.equal(head['status'], 429);
  assert.equal(head['retry-after'], '62');
});
