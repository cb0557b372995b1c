import { messageScenario } from '../message-policies-lib.js';

export default messageScenario('gateway + token + HMAC sig, 1 KiB', 'require.token + require.signature: hmac-sha256 over @method, @target-uri, content-digest (1 KiB body), nonce consumed', 'hmac', 'bare proxy, same request (HMAC sig)');
