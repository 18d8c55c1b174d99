/** One-shot AES-256-GCM: a 16-byte tag appended to the ciphertext. */
export interface AesGcmOneShot {
  /** `ciphertext || tag`. Throws a TypeError unless key is 32 bytes and nonce 12. */
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The plaintext, or `null` when the tag does not verify. Same argument checks as `seal`. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

/** The built addon, checked against node:crypto at load; `undefined` when unavailable. */
export declare const aesGcm: AesGcmOneShot | undefined;
/** Why {@link aesGcm} is `undefined`; `undefined` when it is available. */
export declare const unavailableReason: string | undefined;
