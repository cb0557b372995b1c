import { messageScenario } from '../message-policies-lib.js';

export default messageScenario('gateway + token + JWE ECDH-ES+A256KW, 1 KiB', 'require.token + require.encryption: 1 KiB body as ECDH-ES+A256KW/A256GCM JWE (P-256) decrypted and forwarded as plaintext', 'jwe-ecdh', 'bare proxy, same request (JWE ECDH-ES)');
