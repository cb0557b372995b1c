import { bareSameRequestScenario } from '../message-policies-lib.js';

export default bareSameRequestScenario('bare proxy, same request (Ed25519 sig)', 'ed25519');
