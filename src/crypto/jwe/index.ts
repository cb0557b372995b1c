/** JWE for request/response bodies: policy, decrypt, encrypt, keys (RFC 7516/7518). */
export * from './policy.js';
export { decryptBody, type DecryptBodyOptions, type DecryptedBody, type JweDecryptionKey, type JweKeyLookup } from './decrypt.js';
export { encryptBody, type EncryptBodyOptions } from './encrypt.js';
export { generateEncryptionKey, generateSymmetricKey, ALG_FOR_TYPE, type EncryptionKeyPair, type EncryptionKeyType, type SymmetricEncryptionKey } from './generate.js';
export { EncryptionKeys, type EncryptionKeysOptions, type CurrentEncryptionKey } from './encryption-keys.js';
export { keyFacts, type JweKeyMaterial } from './key-check.js';
