/** base64url (RFC 4648 §5) on web standards only. */

export function base64urlDecode(s: string): Uint8Array<ArrayBuffer> {
  // a length of 1 mod 4 holds no whole byte: atob would throw a DOMException, not this TypeError
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw new TypeError('not a base64url string');
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function base64urlEncode(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `bytes` random bytes, base64url. */
export function randomToken(bytes = 16): string {
  return base64urlEncode(crypto.getRandomValues(new Uint8Array(bytes)));
}
