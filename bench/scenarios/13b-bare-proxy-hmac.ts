import { bareSameRequestScenario } from '../message-policies-lib.js';

export default bareSameRequestScenario('bare proxy, same request (HMAC sig)', 'hmac');
