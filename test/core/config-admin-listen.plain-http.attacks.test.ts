/**
 * The admin plane speaks plain HTTP only, and every admin request carries the admin bearer
 * token (full control of the deployment). `listen.admin` on an address other than loopback
 * (`0.0.0.0:8081`, a LAN address) was accepted without a word: the token then crossed the
 * network in clear. Such a listener is now `config.invalid`, naming `listen.admin`, unless
 * the operator opts in with `admin.allowInsecureHttp`; loopback stays allowed as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyEnvOverrides, validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

function configError(input: Record<string, unknown>): string {
  try {
    validateConfig(input);
  } catch (e) {
    assert.ok(isPortcullisError(e) && e.code === 'config.invalid', String(e));
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(input)}`);
}

for (const admin of ['0.0.0.0:8081', '[::]:8081', '10.0.0.5:8081', '192.168.1.20:0', 'admin.internal.example:8081', '[::ffff:10.0.0.5]:8081']) {
  test(`attack: admin token in clear — listen.admin ${admin} without the opt-in → config.invalid naming listen.admin`, () => {
    const msg = configError({ listen: { admin } });
    assert.match(msg, /^invalid configuration:\n {2}listen\.admin: /);
    assert.match(msg, /plain HTTP/);
    assert.match(msg, /admin\.allowInsecureHttp: true/);
  });
}

// only loopback IP literals and the name localhost are loopback: a name that merely starts or
// ends like one, a short or octal IPv4 form (which the resolver, not the config, would read),
// an IPv4-compatible or NAT64 IPv6 form, and the unspecified address in any form are not
for (const admin of ['localhost.:8081', 'localhost.evil.example:8081', 'evil-localhost:8081', '127.0.0.1.nip.io:8081', '127.1:8081', '0177.0.0.1:8081', '0x7f.0.0.1:8081', '2130706433:8081', '0:8081', '[::127.0.0.1]:8081', '[64:ff9b::7f00:1]:8081', '[::ffff:0.0.0.0]:8081', '[0:0:0:0:0:0:0:0]:8081', '[::2]:8081']) {
  test(`attack: listen.admin ${admin} is not loopback → config.invalid naming listen.admin`, () => {
    assert.match(configError({ listen: { admin } }), /^invalid configuration:\n {2}listen\.admin: /);
  });
}

test('attack: a non-loopback listen.admin set through the environment is refused too', () => {
  assert.throws(
    () => validateConfig(applyEnvOverrides({}, { PORTCULLIS_LISTEN__ADMIN: '0.0.0.0:8081' })),
    (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && /listen\.admin:/.test(e.message),
  );
});

for (const admin of ['127.0.0.1:8081', '127.1.2.3:0', '127.255.255.255:8081', '[::1]:8081', 'localhost:8081', 'LOCALHOST:8081', '[::ffff:127.0.0.1]:8081', '[0:0:0:0:0:0:0:1]:8081', '[0::1]:8081', '[::FFFF:7f00:1]:8081', '[0:0:0:0:0:ffff:127.0.0.1]:8081']) {
  test(`loopback listen.admin ${admin} needs no opt-in`, () => {
    assert.equal(validateConfig({ listen: { admin } }).listen.admin, admin);
  });
}

test('the default listen.admin (127.0.0.1:8081) is accepted and the opt-in is off', () => {
  const c = validateConfig({});
  assert.equal(c.listen.admin, '127.0.0.1:8081');
  assert.equal(c.admin.allowInsecureHttp, false);
});

test('admin.allowInsecureHttp: true admits a non-loopback plain-HTTP admin listener', () => {
  const c = validateConfig({ listen: { admin: '0.0.0.0:8081' }, admin: { allowInsecureHttp: true } });
  assert.equal(c.listen.admin, '0.0.0.0:8081');
  assert.equal(c.admin.allowInsecureHttp, true);
});
