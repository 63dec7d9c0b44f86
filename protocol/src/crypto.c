/* wolfCrypt behind sisp's own small interface. */
#include <sisp/crypto.h>
#include <sisp/error.h>
#include <sisp/names.h>

#include <wolfssl/options.h>

#include <wolfssl/version.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>

#include <nettle/sha2.h>

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct sha256_ctx) <= sizeof(((sisp_sha256_t *)0)->impl),
               "sisp_sha256_t too small");
_Static_assert(_Alignof(struct sha256_ctx) <= 16, "sisp_sha256_t alignment");
/* The headers must be those of the library linked: the accelerated build's options.h differs
 * from the system's, and so do some structure sizes. */
#if defined(SISP_WOLFSSL_ACCELERATED) && !defined(WOLFSSL_AESNI)
#error "linking the accelerated wolfSSL but compiling against another build's wolfssl/options.h"
#endif
#if !defined(SISP_WOLFSSL_ACCELERATED) && defined(WOLFSSL_AESNI)
#error "compiling against an accelerated wolfssl/options.h but linking the system library"
#endif

_Static_assert(ED25519_SIG_SIZE == SISP_SIG_SIZE, "Ed25519 signature size");

#if defined(WOLFSSL_AESNI)
#define BUILD_KIND "accelerated (AES-NI, AVX2, SP x86-64 assembly)"
#define SUITES_FIRST "TLS13-AES256-GCM-SHA384:TLS13-AES128-GCM-SHA256"
#define SUITES_THEN "TLS13-CHACHA20-POLY1305-SHA256"
#else
#define BUILD_KIND "system library (no assembly)"
#define SUITES_FIRST "TLS13-CHACHA20-POLY1305-SHA256"
#define SUITES_THEN "TLS13-AES256-GCM-SHA384:TLS13-AES128-GCM-SHA256"
#endif

const char *sisp_crypto_build(void) {
    return "wolfSSL " LIBWOLFSSL_VERSION_STRING ", " BUILD_KIND;
}

int sisp_crypto_accelerated(void) {
#if defined(WOLFSSL_AESNI)
    return 1;
#else
    return 0;
#endif
}

const char *sisp_tls13_suites(void) {
    return SUITES_FIRST ":" SUITES_THEN;
}

int sisp_rng_init(sisp_rng_t *rng) {
    WC_RNG *r = calloc(1, sizeof *r);
    rng->impl = NULL;
    if (r == NULL)
        return SISP_ENOMEM;
    if (wc_InitRng(r) != 0) {
        free(r);
        return SISP_ECRYPTO;
    }
    rng->impl = r;
    return 0;
}

void sisp_rng_free(sisp_rng_t *rng) {
    if (rng == NULL || rng->impl == NULL)
        return;
    wc_FreeRng(rng->impl);
    free(rng->impl);
    rng->impl = NULL;
}

int sisp_rng_bytes(sisp_rng_t *rng, uint8_t *out, size_t n) {
    while (n > 0) {
        word32 part = n > 0x10000 ? 0x10000 : (word32)n;
        if (wc_RNG_GenerateBlock(rng->impl, out, part) != 0)
            return SISP_ECRYPTO;
        out += part;
        n -= part;
    }
    return 0;
}

void sisp_wipe(void *p, size_t n) {
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

int sisp_ct_eq(const void *a, const void *b, size_t n) {
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}

/* ---- SHA-256 ----
 * Nettle's, not wolfCrypt's: the sealed-image hash runs over every ciphertext byte, and
 * Debian's nettle picks the CPU's SHA extensions at run time (2.5x wolfCrypt 5.5.4's AVX2 code
 * on this project's machines, docs/BENCHMARKS.md); the digest is the same SHA-256. */

int sisp_sha256_init(sisp_sha256_t *h) {
    sha256_init((struct sha256_ctx *)(void *)h->impl);
    return 0;
}

int sisp_sha256_update(sisp_sha256_t *h, const uint8_t *p, size_t n) {
    sha256_update((struct sha256_ctx *)(void *)h->impl, n, p);
    return 0;
}

int sisp_sha256_final(sisp_sha256_t *h, uint8_t out[SISP_SHA256_SIZE]) {
    sha256_digest((struct sha256_ctx *)(void *)h->impl, SISP_SHA256_SIZE, out);
    sisp_sha256_free(h);
    return 0;
}

void sisp_sha256_free(sisp_sha256_t *h) {
    if (h != NULL)
        sisp_wipe(h, sizeof *h); /* freeing again is then harmless */
}

int sisp_sha256(const uint8_t *p, size_t n, uint8_t out[SISP_SHA256_SIZE]) {
    sisp_sha256_t h;
    int rc = sisp_sha256_init(&h);
    if (rc == 0)
        rc = sisp_sha256_update(&h, p, n);
    if (rc == 0)
        return sisp_sha256_final(&h, out);
    sisp_sha256_free(&h);
    return rc;
}

/* ---- Ed25519 identity keys ---- */

int sisp_ident_generate(sisp_rng_t *rng, sisp_ident_key_t *key) {
    uint8_t seed[SISP_KEY_SIZE];
    int rc = sisp_rng_bytes(rng, seed, sizeof seed);
    if (rc == 0)
        rc = sisp_ident_from_seed(seed, key);
    sisp_wipe(seed, sizeof seed);
    return rc;
}

int sisp_ident_der(const sisp_ident_key_t *key, uint8_t *der, size_t cap, size_t *len) {
    ed25519_key k;
    int rc = SISP_ECRYPTO;
    if (wc_ed25519_init(&k) != 0)
        return SISP_ECRYPTO;
    if (wc_ed25519_import_private_key(key->seed, SISP_KEY_SIZE, key->pub, SISP_KEY_SIZE, &k) == 0) {
        int n = wc_Ed25519KeyToDer(&k, der, cap > UINT32_MAX ? UINT32_MAX : (word32)cap);
        if (n > 0) {
            *len = (size_t)n;
            rc = 0;
        }
    }
    wc_ed25519_free(&k);
    sisp_wipe(&k, sizeof k);
    return rc;
}

int sisp_ident_from_seed(const uint8_t seed[SISP_KEY_SIZE], sisp_ident_key_t *key) {
    ed25519_key k;
    word32 len = SISP_KEY_SIZE;
    int rc = SISP_ECRYPTO;
    if (wc_ed25519_init(&k) != 0)
        return SISP_ECRYPTO;
    if (wc_ed25519_import_private_only(seed, SISP_KEY_SIZE, &k) == 0 &&
        wc_ed25519_make_public(&k, key->pub, SISP_KEY_SIZE) == 0) {
        memcpy(key->seed, seed, SISP_KEY_SIZE);
        rc = 0;
    }
    (void)len;
    wc_ed25519_free(&k);
    sisp_wipe(&k, sizeof k);
    return rc;
}

/* domain || 0x00 || msg, in a heap buffer (messages are small: manifests, grants). */
static uint8_t *domain_message(const char *domain, const uint8_t *msg, size_t len, size_t *out) {
    size_t dl = strlen(domain), total;
    if (__builtin_add_overflow(dl + 1, len, &total) || total > UINT32_MAX)
        return NULL;
    uint8_t *m = malloc(total ? total : 1);
    if (m == NULL)
        return NULL;
    memcpy(m, domain, dl);
    m[dl] = 0;
    if (len > 0)
        memcpy(m + dl + 1, msg, len);
    *out = total;
    return m;
}

int sisp_ident_sign(const sisp_ident_key_t *key, const char *domain, const uint8_t *msg, size_t len,
                    uint8_t sig[SISP_SIG_SIZE]) {
    size_t mlen = 0;
    uint8_t *m = domain_message(domain, msg, len, &mlen);
    if (m == NULL)
        return SISP_ENOMEM;
    ed25519_key k;
    word32 slen = SISP_SIG_SIZE;
    int rc = SISP_ECRYPTO;
    if (wc_ed25519_init(&k) == 0) {
        if (wc_ed25519_import_private_key(key->seed, SISP_KEY_SIZE, key->pub, SISP_KEY_SIZE, &k) ==
                0 &&
            wc_ed25519_sign_msg(m, (word32)mlen, sig, &slen, &k) == 0 && slen == SISP_SIG_SIZE)
            rc = 0;
        wc_ed25519_free(&k);
    }
    sisp_wipe(&k, sizeof k);
    free(m);
    return rc;
}

int sisp_ident_verify(const uint8_t pub[SISP_KEY_SIZE], const char *domain, const uint8_t *msg,
                      size_t len, const uint8_t *sig, size_t sig_len) {
    if (sig_len != SISP_SIG_SIZE)
        return SISP_ESIG;
    size_t mlen = 0;
    uint8_t *m = domain_message(domain, msg, len, &mlen);
    if (m == NULL)
        return SISP_ENOMEM;
    ed25519_key k;
    int ok = 0, rc = SISP_ESIG;
    if (wc_ed25519_init(&k) == 0) {
        if (wc_ed25519_import_public(pub, SISP_KEY_SIZE, &k) == 0 &&
            wc_ed25519_verify_msg(sig, SISP_SIG_SIZE, m, (word32)mlen, &ok, &k) == 0 && ok == 1)
            rc = 0;
        wc_ed25519_free(&k);
    }
    free(m);
    return rc;
}

/* ---- X25519 ---- */

static void clamp(uint8_t k[SISP_KEY_SIZE]) {
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
}

int sisp_x25519_generate(sisp_rng_t *rng, sisp_x25519_key_t *key) {
    uint8_t priv[SISP_KEY_SIZE];
    int rc = sisp_rng_bytes(rng, priv, sizeof priv);
    if (rc == 0)
        rc = sisp_x25519_from_private(priv, key);
    sisp_wipe(priv, sizeof priv);
    return rc;
}

int sisp_x25519_from_private(const uint8_t priv[SISP_KEY_SIZE], sisp_x25519_key_t *key) {
    uint8_t k[SISP_KEY_SIZE];
    memcpy(k, priv, sizeof k);
    clamp(k); /* X25519 clamps anyway (RFC 7748 §5); clamping first gives the same result */
    int rc =
        wc_curve25519_make_pub(SISP_KEY_SIZE, key->pub, SISP_KEY_SIZE, k) == 0 ? 0 : SISP_ECRYPTO;
    if (rc == 0)
        memcpy(key->priv, k, SISP_KEY_SIZE);
    sisp_wipe(k, sizeof k);
    return rc;
}

int sisp_x25519_shared(const uint8_t priv[SISP_KEY_SIZE], const uint8_t peer_pub[SISP_KEY_SIZE],
                       uint8_t out[SISP_KEY_SIZE]) {
    uint8_t k[SISP_KEY_SIZE], u[SISP_KEY_SIZE];
    memcpy(k, priv, sizeof k);
    clamp(k);
    memcpy(u, peer_pub, sizeof u);
    u[31] &= 127; /* RFC 7748 §5: the top bit of u is ignored */
    int rc = wc_curve25519_generic(SISP_KEY_SIZE, out, SISP_KEY_SIZE, k, SISP_KEY_SIZE, u);
    sisp_wipe(k, sizeof k);
    if (rc != 0)
        return SISP_EKEY;
    uint8_t zero[SISP_KEY_SIZE] = {0};
    if (sisp_ct_eq(out, zero, SISP_KEY_SIZE)) {
        sisp_wipe(out, SISP_KEY_SIZE);
        return SISP_EKEY;
    }
    return 0;
}

static int x25519_message(sisp_slice_t user, const uint8_t pub[SISP_KEY_SIZE],
                          uint8_t m[1 + 255 + SISP_KEY_SIZE], size_t *len) {
    if (sisp_check_username((const char *)user.ptr, user.len) != 0)
        return SISP_EUSERNAME;
    m[0] = (uint8_t)user.len;
    memcpy(m + 1, user.ptr, user.len);
    memcpy(m + 1 + user.len, pub, SISP_KEY_SIZE);
    *len = 1 + user.len + SISP_KEY_SIZE;
    return 0;
}

int sisp_x25519_sign(const sisp_ident_key_t *id, sisp_slice_t user,
                     const uint8_t x25519_pub[SISP_KEY_SIZE], uint8_t sig[SISP_SIG_SIZE]) {
    uint8_t m[1 + 255 + SISP_KEY_SIZE];
    size_t len = 0;
    int rc = x25519_message(user, x25519_pub, m, &len);
    return rc ? rc : sisp_ident_sign(id, SISP_DOMAIN_X25519, m, len, sig);
}

int sisp_x25519_verify(const uint8_t ident_pub[SISP_KEY_SIZE], sisp_slice_t user,
                       const uint8_t x25519_pub[SISP_KEY_SIZE], const uint8_t *sig,
                       size_t sig_len) {
    uint8_t m[1 + 255 + SISP_KEY_SIZE];
    size_t len = 0;
    int rc = x25519_message(user, x25519_pub, m, &len);
    return rc ? rc : sisp_ident_verify(ident_pub, SISP_DOMAIN_X25519, m, len, sig, sig_len);
}

/* ---- AES-256-GCM and HKDF ---- */

int sisp_gcm_seal(const uint8_t key[SISP_KEY_SIZE], const uint8_t nonce[SISP_GCM_NONCE_SIZE],
                  const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                  uint8_t tag[SISP_GCM_TAG_SIZE]) {
    Aes aes;
    int rc = SISP_ECRYPTO;
    if (len > UINT32_MAX || aad_len > UINT32_MAX)
        return SISP_EINVAL;
    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
        return SISP_ECRYPTO;
    if (wc_AesGcmSetKey(&aes, key, SISP_KEY_SIZE) == 0 &&
        wc_AesGcmEncrypt(&aes, out, in, (word32)len, nonce, SISP_GCM_NONCE_SIZE, tag,
                         SISP_GCM_TAG_SIZE, aad, (word32)aad_len) == 0)
        rc = 0;
    wc_AesFree(&aes);
    sisp_wipe(&aes, sizeof aes);
    return rc;
}

int sisp_gcm_open(const uint8_t key[SISP_KEY_SIZE], const uint8_t nonce[SISP_GCM_NONCE_SIZE],
                  const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                  const uint8_t tag[SISP_GCM_TAG_SIZE]) {
    Aes aes;
    int rc = SISP_ECRYPTO;
    if (len > UINT32_MAX || aad_len > UINT32_MAX)
        return SISP_EINVAL;
    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
        return SISP_ECRYPTO;
    if (wc_AesGcmSetKey(&aes, key, SISP_KEY_SIZE) == 0) {
        int r = wc_AesGcmDecrypt(&aes, out, in, (word32)len, nonce, SISP_GCM_NONCE_SIZE, tag,
                                 SISP_GCM_TAG_SIZE, aad, (word32)aad_len);
        rc = r == 0 ? 0 : SISP_ETAG;
    }
    if (rc != 0 && len > 0)
        sisp_wipe(out, len);
    wc_AesFree(&aes);
    sisp_wipe(&aes, sizeof aes);
    return rc;
}

int sisp_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len) {
    if (ikm_len > UINT32_MAX || salt_len > UINT32_MAX || info_len > UINT32_MAX ||
        out_len > 255 * SISP_SHA256_SIZE)
        return SISP_EINVAL;
    return wc_HKDF(WC_SHA256, ikm, (word32)ikm_len, salt, (word32)salt_len, info, (word32)info_len,
                   out, (word32)out_len) == 0
               ? 0
               : SISP_ECRYPTO;
}
