/**
 * A parse error (or a request/headers timeout) on a kept-alive connection: the 400/408
 * is written only when no response is pending or under way on that socket, as Node's own
 * handler does. Otherwise its bytes would land inside another response (a chunked body)
 * and desynchronise a front proxy that reuses the connection, or answer a valid request
 * the upstream still executes; the connection is closed instead, and the event audited.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawRequest, route, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

describe('clientError on a connection with a response in progress', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url === '/slow-head') {
        setTimeout(() => res.end('late'), 300);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first-half-of-body;');
      setTimeout(() => res.end('second-half-of-body'), 300);
    });
    gw = await startGateway([route({ name: 'public', match: { pathPrefix: '/' }, upstream: upstream.url })]);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  function pipelined(first: string, trigger: (buf: string) => boolean): Promise<string> {
    return new Promise<string>((resolve) => {
      const s = net.connect(gw.port, '127.0.0.1');
      let buf = '';
      let sent = false;
      s.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        if (!sent && trigger(buf)) {
          sent = true;
          s.write('GARBAGE\r\n\r\n');
        }
      });
      s.on('error', () => {});
      s.on('close', () => resolve(buf));
      setTimeout(() => {
        s.destroy();
        resolve(buf);
      }, 2000);
      s.write(first);
      if (trigger(buf)) {
        sent = true;
        s.write('GARBAGE\r\n\r\n');
      }
    });
  }

  it('a malformed request pipelined behind a streaming response does not splice a 400 into its body', async () => {
    const before = gw.audit.events.length;
    const out = await pipelined('GET /a HTTP/1.1\r\nHost: a\r\n\r\n', (b) => b.includes('first-half-of-body;'));
    assert.match(out, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(out, /HTTP\/1\.1 400/, out);
    assert.ok(gw.audit.events.slice(before).some((e) => e.type === 'gateway.denied' && e.reason === 'request.malformed'));
  });

  it('a malformed request pipelined behind one whose response has not started is not answered 400 in its place', async () => {
    const out = await pipelined('GET /slow-head HTTP/1.1\r\nHost: a\r\n\r\n', () => true);
    assert.doesNotMatch(out, /HTTP\/1\.1 400/, out);
  });

  it('control: a malformed request on an idle connection still gets a problem+json 400', async () => {
    const out = await rawRequest(gw.port, 'GARBAGE\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 400 /);
    assert.match(out, /"code":"request.malformed"/);
  });

  it('control: after a complete response on a kept-alive connection, a malformed request gets its 400', async () => {
    const out = await new Promise<string>((resolve) => {
      const s = net.connect(gw.port, '127.0.0.1');
      let buf = '';
      let sent = false;
      s.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        if (!sent && buf.includes('second-half-of-body')) {
          sent = true;
          // the response has ended; let the server detach it from the socket
          setTimeout(() => s.write('GARBAGE\r\n\r\n'), 50);
        }
      });
      s.on('error', () => {});
      s.on('close', () => resolve(buf));
      setTimeout(() => {
        s.destroy();
        resolve(buf);
      }, 2000);
      s.write('GET /b HTTP/1.1\r\nHost: a\r\n\r\n');
    });
    const second = out.slice(out.indexOf('second-half-of-body'));
    assert.match(second, /HTTP\/1\.1 400 /, out);
  });
});
