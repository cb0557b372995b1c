/**
 * HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530) on web standards
 * only (WebCrypto `CryptoKey`, `Headers`-like objects), shared by the gateway and the SDK.
 */
export * from './types.js';
export { SIGNATURE_ALGORITHMS, importParams, isSignatureAlgorithm, keyFits, signBytes, verifyBytes } from './algorithms.js';
export { componentValue, formEncode, isHostPort, registerStructuredField, type StructuredFieldType } from './components.js';
export { signatureBase } from './signature-base.js';
export {
  parseAcceptSignature,
  parseComponentId,
  parseSignature,
  parseSignatureInput,
  serializeAcceptSignature,
  serializeComponentId,
  serializeSignatureParams,
  type ComponentId,
  type SignatureInput,
  type SignatureRequest,
} from './signature-input.js';
export { signMessage, type SignOptions, type SignedMessage } from './sign.js';
export { SignatureVerifier, readSignatures, verifyMessage, type KeyLookup, type MessageSignatures, type VerificationKey, type VerifiedSignature, type VerifyPolicy } from './verify.js';
export * from './content-digest.js';
