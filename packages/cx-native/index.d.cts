/** The symmetric half of IICP-CX in native code, one call per operation. */
export interface CxNative {
  /** AES-256-GCM: `ciphertext || tag` (16 bytes). TypeError unless key is 32 bytes, nonce 12. */
  aesGcmSeal(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
  ): Uint8Array;
  /** The plaintext, or `null` when the tag does not verify. Same argument checks as the seal. */
  aesGcmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array | null;
  /** HKDF-SHA256 (RFC 5869) to 32 bytes. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array;
}

/** The built addon, checked against node:crypto at load; `undefined` when unavailable. */
export declare const cxNative: CxNative | undefined;
/** Why {@link cxNative} is `undefined`; `undefined` when it is available. */
export declare const unavailableReason: string | undefined;
