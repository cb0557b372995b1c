import { messageScenario } from '../message-policies-lib.js';

export default messageScenario('gateway + token + Ed25519 sig, 1 KiB', 'require.token + require.signature: ed25519 over @method, @target-uri, content-digest (1 KiB body), nonce consumed', 'ed25519', 'bare proxy, same request (Ed25519 sig)');
