/*
 * The symmetric half of IICP-CX (iicp-confidentiality.md §5, §5a.3) in one call each:
 * AES-256-GCM seal and open and HKDF-SHA256, through the OpenSSL that Node itself links
 * and exports, as a Node-API addon.
 *
 * Written by hand because no maintained package offers it: Node's crypto API builds a
 * cipher object and crosses into C++ five times per AES-GCM operation (create, setAAD,
 * update, final, getAuthTag), about 17 us per seal or open in a live proxy or node;
 * libsodium's binding has no AES-GCM; HKDF in JS costs about 8 us per key there. Here
 * each is one crossing with the cipher fetched once.
 *
 *   aesGcmSeal(key[32], nonce[12], aad, plaintext) -> Uint8Array(ciphertext || tag[16])
 *   aesGcmOpen(key[32], nonce[12], aad, sealed)    -> Uint8Array(plaintext), or null when
 *                                                     the tag does not verify
 *   hkdfSha256(ikm, salt, info)                    -> Uint8Array(32), RFC 5869, L = 32
 *
 * Wrong argument types or lengths throw a TypeError; nothing here logs or keeps data,
 * and every key-dependent buffer of our own is cleansed before it is released.
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co.: no per-call provider fetch */
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16

static EVP_CIPHER *aes_256_gcm = NULL;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_cipher(void) { aes_256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL); }

typedef struct {
  uint8_t *data;
  size_t length;
} bytes_t;

/* A Uint8Array argument (a Buffer is one) as pointer and length; 0 if it is not one. */
static int read_bytes(napi_env env, napi_value value, bytes_t *out) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *data = NULL;
  if (napi_get_typedarray_info(env, value, &type, &out->length, &data, &buffer, &offset) !=
      napi_ok)
    return 0;
  if (type != napi_uint8_array || out->length > INT_MAX) return 0;
  out->data = (uint8_t *)data;
  return 1;
}

/* The four arguments of seal and open; throws a TypeError and returns 0 when they are wrong. */
static int read_args(napi_env env, napi_callback_info info, bytes_t args[4], size_t min_last) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) {
    napi_throw_type_error(env, NULL, "expected (key, nonce, aad, data) as four Uint8Arrays");
    return 0;
  }
  for (int i = 0; i < 4; i++) {
    if (!read_bytes(env, argv[i], &args[i])) {
      napi_throw_type_error(env, NULL, "expected (key, nonce, aad, data) as four Uint8Arrays");
      return 0;
    }
  }
  if (args[0].length != KEY_BYTES || args[1].length != NONCE_BYTES ||
      args[3].length < min_last) {
    napi_throw_type_error(env, NULL, "an AES-256-GCM key is 32 bytes and its nonce 12");
    return 0;
  }
  if (aes_256_gcm == NULL) {
    napi_throw_error(env, NULL, "this OpenSSL has no AES-256-GCM");
    return 0;
  }
  return 1;
}

static napi_value new_array(napi_env env, size_t length, uint8_t **data) {
  napi_value buffer, array;
  void *raw = NULL;
  if (napi_create_arraybuffer(env, length, &raw, &buffer) != napi_ok) return NULL;
  if (napi_create_typedarray(env, napi_uint8_array, length, buffer, 0, &array) != napi_ok)
    return NULL;
  *data = (uint8_t *)raw;
  return array;
}

static napi_value seal(napi_env env, napi_callback_info info) {
  bytes_t a[4];
  if (!read_args(env, info, a, 0)) return NULL;
  uint8_t *out = NULL;
  napi_value result = new_array(env, a[3].length + TAG_BYTES, &out);
  if (result == NULL) return NULL;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  int ok = ctx != NULL && EVP_EncryptInit_ex2(ctx, aes_256_gcm, a[0].data, a[1].data, NULL) &&
           (a[2].length == 0 || EVP_EncryptUpdate(ctx, NULL, &n, a[2].data, (int)a[2].length)) &&
           (a[3].length == 0 ||
            EVP_EncryptUpdate(ctx, out, &n, a[3].data, (int)a[3].length)) &&
           EVP_EncryptFinal_ex(ctx, out + a[3].length, &n) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, out + a[3].length);
  EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
  if (!ok) {
    OPENSSL_cleanse(out, a[3].length + TAG_BYTES);
    napi_throw_error(env, NULL, "AES-256-GCM encryption failed");
    return NULL;
  }
  return result;
}

static napi_value open_sealed(napi_env env, napi_callback_info info) {
  bytes_t a[4];
  if (!read_args(env, info, a, TAG_BYTES)) return NULL;
  size_t length = a[3].length - TAG_BYTES;
  uint8_t *out = NULL;
  napi_value result = new_array(env, length, &out);
  if (result == NULL) return NULL;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  uint8_t tag[TAG_BYTES];
  memcpy(tag, a[3].data + length, TAG_BYTES);
  int n = 0;
  int ok = ctx != NULL && EVP_DecryptInit_ex2(ctx, aes_256_gcm, a[0].data, a[1].data, NULL) &&
           (a[2].length == 0 || EVP_DecryptUpdate(ctx, NULL, &n, a[2].data, (int)a[2].length)) &&
           (length == 0 || EVP_DecryptUpdate(ctx, out, &n, a[3].data, (int)length)) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) &&
           EVP_DecryptFinal_ex(ctx, out + length, &n) > 0;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    /* Never hand out plaintext whose tag failed. */
    OPENSSL_cleanse(out, length);
    napi_value null_value;
    napi_get_null(env, &null_value);
    return null_value;
  }
  return result;
}

/* HMAC-SHA256 (RFC 2104) of m1 || m2 under key, into out[32]. */
static void hmac_sha256(const uint8_t *key, size_t key_length, const uint8_t *m1, size_t l1,
                        const uint8_t *m2, size_t l2, uint8_t out[32]) {
  uint8_t k[64] = {0};
  uint8_t pad[64];
  SHA256_CTX c;
  if (key_length > 64) {
    SHA256_Init(&c);
    SHA256_Update(&c, key, key_length);
    SHA256_Final(k, &c);
  } else if (key_length > 0) {
    memcpy(k, key, key_length);
  }
  for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
  SHA256_Init(&c);
  SHA256_Update(&c, pad, 64);
  if (l1) SHA256_Update(&c, m1, l1);
  if (l2) SHA256_Update(&c, m2, l2);
  SHA256_Final(out, &c);
  for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
  SHA256_Init(&c);
  SHA256_Update(&c, pad, 64);
  SHA256_Update(&c, out, 32);
  SHA256_Final(out, &c);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
  OPENSSL_cleanse(&c, sizeof c);
}

/* hkdfSha256(ikm, salt, info) -> Uint8Array(32): HKDF-SHA256 (RFC 5869) with L = 32. */
static napi_value hkdf(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  bytes_t a[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      !read_bytes(env, argv[0], &a[0]) || !read_bytes(env, argv[1], &a[1]) ||
      !read_bytes(env, argv[2], &a[2])) {
    napi_throw_type_error(env, NULL, "expected (ikm, salt, info) as three Uint8Arrays");
    return NULL;
  }
  uint8_t *out = NULL;
  napi_value result = new_array(env, 32, &out);
  if (result == NULL) return NULL;
  uint8_t prk[32];
  static const uint8_t one = 1;
  hmac_sha256(a[1].data, a[1].length, a[0].data, a[0].length, NULL, 0, prk);
  hmac_sha256(prk, 32, a[2].data, a[2].length, &one, 1, out);
  OPENSSL_cleanse(prk, sizeof prk);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  pthread_once(&fetch_once, fetch_cipher);
  napi_property_descriptor props[] = {
      {"aesGcmSeal", NULL, seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aesGcmOpen", NULL, open_sealed, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hkdfSha256", NULL, hkdf, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 3, props) != napi_ok) return NULL;
  return exports;
}
