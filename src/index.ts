/**
 * Portcullis as a library (the package's main entry, `portcullis`): start a node in
 * your own process, prepare its directory, and use the RFC 9421 / RFC 9530 protocol
 * code on its own. Apps that call a Portcullis node use `portcullis/sdk` instead.
 *
 * @example
 * import { initPortcullis, startPortcullis, CONFIG_FILE } from 'portcullis';
 * await initPortcullis('./pc');
 * const node = await startPortcullis({ configFile: `./pc/${CONFIG_FILE}` });
 * console.log(node.urls);
 * await node.close();
 */
export { startPortcullis, type Portcullis, type StartOptions } from './app.js';
export { initPortcullis, CONFIG_FILE, CA_FILE, type InitResult } from './init.js';
export { PortcullisError, isPortcullisError, type ErrorCode } from './core/errors.js';
export * from './signatures/index.js';
