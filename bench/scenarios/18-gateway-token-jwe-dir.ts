import { messageScenario } from '../message-policies-lib.js';

export default messageScenario('gateway + token + JWE dir, 1 KiB', 'require.token + require.encryption: 1 KiB body as dir/A256GCM JWE with the app symmetric key, decrypted and forwarded', 'jwe-dir', 'bare proxy, same request (JWE dir)');
