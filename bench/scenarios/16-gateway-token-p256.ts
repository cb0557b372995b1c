import { messageScenario } from '../message-policies-lib.js';

export default messageScenario('gateway + token + P-256 sig, 1 KiB', 'require.token + require.signature: ecdsa-p256-sha256 over @method, @target-uri, content-digest (1 KiB body), nonce consumed', 'p256', 'bare proxy, same request (P-256 sig)');
