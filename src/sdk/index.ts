/**
 * The Portcullis SDK for apps (`portcullis/sdk`), on web standards only (fetch,
 * WebCrypto), so it runs in Node and in browsers: sign requests (RFC 9421, with
 * RFC 9530 Content-Digest), verify signed responses and webhooks, and get access
 * tokens with the client-credentials grant.
 */
export { createSignedFetch, requestOf, type SignedFetchOptions } from './signed-fetch.js';
export { verifyResponse, verifyWebhook, WEBHOOK_TAG, OTP_TAG, DELIVERY_HEADER, type VerifyOptions, type VerifyResponseOptions, type VerifyWebhookOptions, type VerifiedBody } from './verify-response.js';
export { MemoryReplayStore, type ReplayStore, type MemoryReplayStoreOptions } from './replay.js';
export { getToken, clearTokenCache, TokenError, type GetTokenOptions } from './token.js';
export { importJwks, algorithmOfJwk, KeyResolver, type KeySource, type PublicJwk } from './keys.js';
export { base64urlDecode, base64urlEncode } from './base64url.js';
export { encryptForPortcullis, decryptFromPortcullis, selectEncryptionKey, type EncryptForPortcullisOptions, type DecryptedFromPortcullis, type JweContext, type PortcullisJweAlg } from './encrypt.js';
export { createTransitClient, type TransitClient, type TransitClientOptions } from './transit.js';
export { PortcullisError, isPortcullisError, type ErrorCode } from '../core/errors.js';
export type { SignatureAlgorithm } from '../signatures/types.js';
