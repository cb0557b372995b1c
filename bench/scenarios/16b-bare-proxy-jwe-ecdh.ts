import { bareSameRequestScenario } from '../message-policies-lib.js';

export default bareSameRequestScenario('bare proxy, same request (JWE ECDH-ES)', 'jwe-ecdh');
