import { bareSameRequestScenario } from '../message-policies-lib.js';

export default bareSameRequestScenario('bare proxy, same request (P-256 sig)', 'p256');
