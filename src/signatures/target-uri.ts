/**
 * The target URI a request is sent with (RFC 9110 §7.1), for signers that cover
 * `@target-uri`: the URL as `fetch` puts it on the wire, so the signature covers what
 * the receiver rebuilds from the request line. A fragment is never sent, and an empty
 * query ("…/path?") is sent by some fetch implementations (Node 20's) as "…/path" and
 * by others as "…/path?": it is dropped, so every one sends, and the signer covers, the same.
 */

/**
 * @example sentTargetUri('https://api.example/orders?#top'); // 'https://api.example/orders'
 */
export function sentTargetUri(url: string): string {
  const hashAt = url.indexOf('#');
  const u = hashAt < 0 ? url : url.slice(0, hashAt);
  return u.endsWith('?') && u.indexOf('?') === u.length - 1 ? u.slice(0, -1) : u;
}
