import { messageScenario } from '../message-policies-lib.js';

export default messageScenario('gateway + token POST 1 KiB', 'require.token, POST 1 KiB JSON (the gateway part of the signature/encryption scenarios)', 'token');
