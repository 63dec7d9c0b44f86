/* Thin wrappers over wolfCrypt: randomness, hashing, identity (Ed25519) and X25519 keys,
 * wiping and constant-time comparison. Everything sisp signs is domain-separated: the
 * signed message is a label, a zero byte, then the bytes. */
#ifndef SISP_CRYPTO_H
#define SISP_CRYPTO_H

#include <sisp/buf.h>

#include <stddef.h>
#include <stdint.h>

#define SISP_KEY_SIZE 32 /* every symmetric and X25519/Ed25519 key */
#define SISP_SIG_SIZE 64 /* Ed25519 signature */
#define SISP_SHA256_SIZE 32

/* Signing domains (labels). A signature made for one can never verify for another. */
#define SISP_DOMAIN_MANIFEST "SISP-MANIFEST-1"
#define SISP_DOMAIN_X25519 "SISP-X25519-KEY-1"
#define SISP_DOMAIN_GRANT "SISP-GRANT-1"

/* The wolfSSL build linked in, for version lines and benchmark headers, e.g.
 * "wolfSSL 5.5.4, accelerated (AES-NI, AVX2, SP x86-64 assembly)". Static string. */
const char *sisp_crypto_build(void);
/* 1 when the linked wolfSSL has the x86-64 assembly (cmake/wolfssl.cmake), 0 when not. */
int sisp_crypto_accelerated(void);
/* TLS 1.3 cipher suites in sisp's order of preference for the linked build, in wolfSSL's
 * list syntax, for wolfSSL_CTX_set_cipher_list on both sides. Measured (docs/BENCHMARKS.md):
 * with AES-NI, AES-GCM runs 2.7x faster than ChaCha20-Poly1305 and leads; without assembly
 * ChaCha20-Poly1305 runs 2.9x faster than AES-GCM and leads. */
const char *sisp_tls13_suites(void);

/* A random generator (wolfCrypt's Hash-DRBG, seeded from the OS). Caller-allocated;
 * sisp_rng_init before use, sisp_rng_free after. Not thread-safe: one per thread. */
typedef struct {
    void *impl; /* owned WC_RNG */
} sisp_rng_t;

int sisp_rng_init(sisp_rng_t *rng);
void sisp_rng_free(sisp_rng_t *rng); /* NULL and an uninitialised-but-zeroed rng are no-ops */
int sisp_rng_bytes(sisp_rng_t *rng, uint8_t *out, size_t n);

/* Overwrites n bytes so the compiler cannot elide it. */
void sisp_wipe(void *p, size_t n);
/* 1 if equal; time depends only on n. */
int sisp_ct_eq(const void *a, const void *b, size_t n);

/* Streaming SHA-256. */
typedef struct {
    _Alignas(16) uint64_t impl[32]; /* wc_Sha256 lives here; checked by static asserts */
} sisp_sha256_t;

int sisp_sha256_init(sisp_sha256_t *h);
int sisp_sha256_update(sisp_sha256_t *h, const uint8_t *p, size_t n);
int sisp_sha256_final(sisp_sha256_t *h, uint8_t out[SISP_SHA256_SIZE]); /* also frees */
void sisp_sha256_free(sisp_sha256_t *h);
int sisp_sha256(const uint8_t *p, size_t n, uint8_t out[SISP_SHA256_SIZE]);

/* An identity key: Ed25519. The seed is the secret; pub is derived from it. */
typedef struct {
    uint8_t seed[SISP_KEY_SIZE];
    uint8_t pub[SISP_KEY_SIZE];
} sisp_ident_key_t;

int sisp_ident_generate(sisp_rng_t *rng, sisp_ident_key_t *key);
/* Rebuilds pub from seed. */
int sisp_ident_from_seed(const uint8_t seed[SISP_KEY_SIZE], sisp_ident_key_t *key);
/* The key as DER for TLS (wolfSSL's private-key form, which carries the public key too):
 * *len bytes of der[cap]. 0, or SISP_ECRYPTO (also when cap is too small). */
int sisp_ident_der(const sisp_ident_key_t *key, uint8_t *der, size_t cap, size_t *len);
/* sig = Ed25519(seed, domain || 0x00 || msg). */
int sisp_ident_sign(const sisp_ident_key_t *key, const char *domain, const uint8_t *msg, size_t len,
                    uint8_t sig[SISP_SIG_SIZE]);
/* 0 if sig is a valid signature by pub over domain || 0x00 || msg, else SISP_ESIG. */
int sisp_ident_verify(const uint8_t pub[SISP_KEY_SIZE], const char *domain, const uint8_t *msg,
                      size_t len, const uint8_t *sig, size_t sig_len);

/* An X25519 key (RFC 7748 byte order) for receiving wrapped group keys. */
typedef struct {
    uint8_t priv[SISP_KEY_SIZE];
    uint8_t pub[SISP_KEY_SIZE];
} sisp_x25519_key_t;

int sisp_x25519_generate(sisp_rng_t *rng, sisp_x25519_key_t *key);
int sisp_x25519_from_private(const uint8_t priv[SISP_KEY_SIZE], sisp_x25519_key_t *key);
/* out = X25519(priv, peer_pub). SISP_EKEY if the result is all zero (a low-order point). */
int sisp_x25519_shared(const uint8_t priv[SISP_KEY_SIZE], const uint8_t peer_pub[SISP_KEY_SIZE],
                       uint8_t out[SISP_KEY_SIZE]);

/* The identity key's signature over a user's X25519 key, sent at REGISTER and served by
 * USER_CERT: Ed25519 over SISP_DOMAIN_X25519 || 0 || u8 len || user || x25519 pub. */
int sisp_x25519_sign(const sisp_ident_key_t *id, sisp_slice_t user,
                     const uint8_t x25519_pub[SISP_KEY_SIZE], uint8_t sig[SISP_SIG_SIZE]);
int sisp_x25519_verify(const uint8_t ident_pub[SISP_KEY_SIZE], sisp_slice_t user,
                       const uint8_t x25519_pub[SISP_KEY_SIZE], const uint8_t *sig, size_t sig_len);

/* AES-256-GCM with a 12-byte nonce and a 16-byte tag, one shot. Open returns SISP_ETAG on
 * a bad tag and then leaves out wiped. */
#define SISP_GCM_NONCE_SIZE 12
#define SISP_GCM_TAG_SIZE 16
int sisp_gcm_seal(const uint8_t key[SISP_KEY_SIZE], const uint8_t nonce[SISP_GCM_NONCE_SIZE],
                  const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                  uint8_t tag[SISP_GCM_TAG_SIZE]);
int sisp_gcm_open(const uint8_t key[SISP_KEY_SIZE], const uint8_t nonce[SISP_GCM_NONCE_SIZE],
                  const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                  const uint8_t tag[SISP_GCM_TAG_SIZE]);

/* HKDF-SHA256 (RFC 5869). */
int sisp_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

#endif
