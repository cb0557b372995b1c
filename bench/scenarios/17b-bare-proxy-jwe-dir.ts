import { bareSameRequestScenario } from '../message-policies-lib.js';

export default bareSameRequestScenario('bare proxy, same request (JWE dir)', 'jwe-dir');
