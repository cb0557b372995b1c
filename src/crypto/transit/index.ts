/** Encryption as a service (transit): named, versioned keys and their operations. */
export { Transit, MAX_BATCH, type BatchResult, type Bytes, type HmacAlgorithm, type TransitKeyInfo, type TransitKeySettings, type TransitOperation, type TransitOptions } from './transit.js';
export type { TransitKeyConfigPatch, TransitKeyRecord, TransitKeyType, TransitKeyVersion, TransitStore } from './store.js';
export { MemoryTransitStore } from './memory-store.js';
export { gcmOpen, gcmSeal, GCM_IV_BYTES, GCM_TAG_BYTES } from './aes-gcm.js';
export { parseValue, formatValue } from './format.js';
