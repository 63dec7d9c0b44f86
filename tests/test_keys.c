/* test_keys: identity (Ed25519) and X25519 keys, epoch-key wrapping, grants, key files and
 * the primitives under them (SHA-256, HKDF, AES-256-GCM, ct_eq, wipe), against published
 * vectors where there are any:
 *   RFC 8032 section 7.1 TEST 1 and 2 (Ed25519), RFC 7748 sections 5.2 and 6.1 (X25519),
 *   FIPS 180-2 appendix B (SHA-256), RFC 5869 appendix A.1 (HKDF-SHA256), and the GCM
 *   specification's test cases 13, 14 and 16 (AES-256-GCM). */
#include "seal_fixture.h"
#include "testutil.h"

#include <sisp/crypto.h>
#include <sisp/error.h>
#include <sisp/keys.h>

#include <wolfssl/options.h>

#include <wolfssl/wolfcrypt/ed25519.h>

#include <string.h>

/* Details of a failure that one CHECK after the loop counts. */
#define T_NOTE(...)                                                                                \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
    } while (0)

/* Hex test vectors into bytes; a malformed vector is a bug in this file. */
static void unhex(const char *hex, uint8_t *out, size_t n) {
    if (strlen(hex) != 2 * n) {
        fprintf(stderr, "test_keys: vector has %zu hex digits, want %zu\n", strlen(hex), 2 * n);
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            abort();
        out[i] = (uint8_t)v;
    }
}

static int all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static const uint8_t msg_hello[] = "a message signed through sisp";

/* ---- Ed25519 ---- */

typedef struct {
    const char *seed, *pub, *msg, *sig;
    size_t msg_len;
} t_ed_vector_t;

/* RFC 8032 section 7.1, TEST 1 and TEST 2. */
static const t_ed_vector_t rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
     0},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
     1},
};

/* Raw wolfCrypt Ed25519 over exactly the bytes given: 1 valid, 0 not, -1 error. */
static int raw_ed25519_verify(const uint8_t pub[32], const uint8_t *m, size_t mlen,
                              const uint8_t sig[64]) {
    ed25519_key k;
    int ok = 0, rc = -1;
    if (wc_ed25519_init(&k) != 0)
        return -1;
    if (wc_ed25519_import_public(pub, 32, &k) == 0) {
        int r = wc_ed25519_verify_msg(sig, 64, m, (word32)mlen, &ok, &k);
        rc = r == 0 && ok == 1 ? 1 : 0;
    }
    wc_ed25519_free(&k);
    return rc;
}

/* Raw wolfCrypt Ed25519 signature over exactly the bytes given (no domain). */
static int raw_ed25519_sign(const sisp_ident_key_t *key, const uint8_t *m, size_t mlen,
                            uint8_t sig[64]) {
    ed25519_key k;
    word32 slen = 64;
    int rc = -1;
    if (wc_ed25519_init(&k) != 0)
        return -1;
    if (wc_ed25519_import_private_key(key->seed, 32, key->pub, 32, &k) == 0 &&
        wc_ed25519_sign_msg(m, (word32)mlen, sig, &slen, &k) == 0 && slen == 64)
        rc = 0;
    wc_ed25519_free(&k);
    return rc;
}

/* 1 if the 32 bytes k occur in p[0, n). */
static int holds(const uint8_t *p, size_t n, const uint8_t k[32]) {
    for (size_t i = 0; i + 32 <= n; i++)
        if (memcmp(p + i, k, 32) == 0)
            return 1;
    return 0;
}

static void test_ed25519_rfc8032(void) {
    for (size_t v = 0; v < sizeof rfc8032 / sizeof rfc8032[0]; v++) {
        const t_ed_vector_t *tv = &rfc8032[v];
        uint8_t seed[32], pub[32], msg[1], sig[64], raw[64];
        sisp_ident_key_t key;
        unhex(tv->seed, seed, sizeof seed);
        unhex(tv->pub, pub, sizeof pub);
        unhex(tv->msg, msg, tv->msg_len);
        unhex(tv->sig, sig, sizeof sig);

        memset(&key, 0xa5, sizeof key);
        CHECK_ERR(sisp_ident_from_seed(seed, &key), 0);
        CHECK_MEM(key.seed, 32, seed, 32);
        CHECK_MEM(key.pub, 32, pub, 32);

        /* The key signs the RFC message (without a domain) to the RFC signature. */
        CHECK_INT(raw_ed25519_sign(&key, msg, tv->msg_len, raw), 0);
        CHECK_MEM(raw, 64, sig, 64);
        CHECK_INT(raw_ed25519_verify(pub, msg, tv->msg_len, sig), 1);
        /* sisp never verifies a bare message: every domain, even "", adds a separator. */
        CHECK_ERR(sisp_ident_verify(pub, "", msg, tv->msg_len, sig, 64), SISP_ESIG);
        CHECK_ERR(sisp_ident_verify(pub, SISP_DOMAIN_MANIFEST, msg, tv->msg_len, sig, 64),
                  SISP_ESIG);

        /* The DER form for TLS holds the seed and the public key; a short buffer is refused. */
        uint8_t der[128];
        size_t dlen = 0;
        CHECK_ERR(sisp_ident_der(&key, der, sizeof der, &dlen), 0);
        CHECK(dlen > 64 && dlen <= sizeof der && holds(der, dlen, seed) && holds(der, dlen, pub));
        size_t short_len = dlen;
        CHECK_ERR(sisp_ident_der(&key, der, dlen - 1, &short_len), SISP_ECRYPTO);
        CHECK_U64(short_len, dlen); /* untouched on failure */
    }
    /* alice and mallory of the seal fixture are TEST 1 and TEST 2. */
    uint8_t seed[32];
    unhex(rfc8032[0].seed, seed, sizeof seed);
    CHECK_MEM(t_alice_seed, 32, seed, 32);
    unhex(rfc8032[1].seed, seed, sizeof seed);
    CHECK_MEM(t_mallory_seed, 32, seed, 32);
}

/* sisp_ident_sign output verifies under raw wolfCrypt over domain || 0x00 || msg, and
 * under nothing else. */
static void test_ed25519_domains(void) {
    sisp_ident_key_t alice, mallory;
    uint8_t sig[64], bad[64], m[128];
    const char *dom = "SISP-TEST-A";
    CHECK_ERR(sisp_ident_from_seed(t_alice_seed, &alice), 0);
    CHECK_ERR(sisp_ident_from_seed(t_mallory_seed, &mallory), 0);
    CHECK_ERR(sisp_ident_sign(&alice, dom, msg_hello, sizeof msg_hello, sig), 0);
    CHECK_ERR(sisp_ident_verify(alice.pub, dom, msg_hello, sizeof msg_hello, sig, 64), 0);

    /* Deterministic (RFC 8032): signing again gives the same bytes. */
    CHECK_ERR(sisp_ident_sign(&alice, dom, msg_hello, sizeof msg_hello, bad), 0);
    CHECK_MEM(bad, 64, sig, 64);

    /* The signed bytes are exactly domain || 0x00 || msg. */
    size_t dl = strlen(dom);
    memcpy(m, dom, dl);
    m[dl] = 0;
    memcpy(m + dl + 1, msg_hello, sizeof msg_hello);
    CHECK_INT(raw_ed25519_verify(alice.pub, m, dl + 1 + sizeof msg_hello, sig), 1);
    CHECK_INT(raw_ed25519_verify(alice.pub, msg_hello, sizeof msg_hello, sig), 0);
    CHECK_INT(raw_ed25519_verify(alice.pub, m, dl + sizeof msg_hello, sig), 0); /* no NUL */
    /* And a raw signature over those bytes is the very same signature. */
    CHECK_INT(raw_ed25519_sign(&alice, m, dl + 1 + sizeof msg_hello, bad), 0);
    CHECK_MEM(bad, 64, sig, 64);

    /* Another domain, the real domains, another message. */
    CHECK_ERR(sisp_ident_verify(alice.pub, "SISP-TEST-B", msg_hello, sizeof msg_hello, sig, 64),
              SISP_ESIG);
    CHECK_ERR(
        sisp_ident_verify(alice.pub, SISP_DOMAIN_MANIFEST, msg_hello, sizeof msg_hello, sig, 64),
        SISP_ESIG);
    CHECK_ERR(sisp_ident_verify(alice.pub, SISP_DOMAIN_GRANT, msg_hello, sizeof msg_hello, sig, 64),
              SISP_ESIG);
    CHECK_ERR(
        sisp_ident_verify(alice.pub, SISP_DOMAIN_X25519, msg_hello, sizeof msg_hello, sig, 64),
        SISP_ESIG);
    CHECK_ERR(sisp_ident_verify(alice.pub, dom, msg_hello, sizeof msg_hello - 1, sig, 64),
              SISP_ESIG);
    CHECK_ERR(sisp_ident_verify(alice.pub, dom, NULL, 0, sig, 64), SISP_ESIG);

    /* The separator keeps domain and message apart: ("SISP-AB", "C") is not ("SISP-A", "BC"),
     * which would be the same bytes without it. */
    CHECK_ERR(sisp_ident_sign(&alice, "SISP-AB", (const uint8_t *)"C", 1, bad), 0);
    CHECK_ERR(sisp_ident_verify(alice.pub, "SISP-AB", (const uint8_t *)"C", 1, bad, 64), 0);
    CHECK_ERR(sisp_ident_verify(alice.pub, "SISP-A", (const uint8_t *)"BC", 2, bad, 64), SISP_ESIG);
    CHECK_ERR(sisp_ident_verify(alice.pub, "SISP-ABC", NULL, 0, bad, 64), SISP_ESIG);

    /* Every single bit flip of the signature. */
    int flips_ok = 1;
    for (size_t i = 0; i < 64; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(bad, sig, 64);
            bad[i] ^= (uint8_t)(1u << b);
            int rc = sisp_ident_verify(alice.pub, dom, msg_hello, sizeof msg_hello, bad, 64);
            if (rc != SISP_ESIG) {
                flips_ok = 0;
                T_NOTE("signature with bit %u of byte %zu flipped: %s", b, i, t_errname(rc));
            }
        }
    CHECK(flips_ok);
    /* Every single bit flip of the message. */
    uint8_t mm[sizeof msg_hello];
    flips_ok = 1;
    for (size_t i = 0; i < sizeof mm; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(mm, msg_hello, sizeof mm);
            mm[i] ^= (uint8_t)(1u << b);
            if (sisp_ident_verify(alice.pub, dom, mm, sizeof mm, sig, 64) != SISP_ESIG)
                flips_ok = 0;
        }
    CHECK(flips_ok);

    /* Wrong key, wrong lengths. */
    CHECK_ERR(sisp_ident_verify(mallory.pub, dom, msg_hello, sizeof msg_hello, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_ident_verify(alice.pub, dom, msg_hello, sizeof msg_hello, sig, 63), SISP_ESIG);
    CHECK_ERR(sisp_ident_verify(alice.pub, dom, msg_hello, sizeof msg_hello, sig, 0), SISP_ESIG);
    uint8_t longer[65];
    memcpy(longer, sig, 64);
    longer[64] = 0;
    CHECK_ERR(sisp_ident_verify(alice.pub, dom, msg_hello, sizeof msg_hello, longer, 65),
              SISP_ESIG);
    /* An all-zero public key (a small-order point) verifies nothing. */
    uint8_t zero[64] = {0};
    CHECK_ERR(sisp_ident_verify(zero, dom, msg_hello, sizeof msg_hello, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_ident_verify(zero, dom, msg_hello, sizeof msg_hello, zero, 64), SISP_ESIG);

    /* Empty messages sign and verify. */
    CHECK_ERR(sisp_ident_sign(&alice, dom, NULL, 0, bad), 0);
    CHECK_ERR(sisp_ident_verify(alice.pub, dom, NULL, 0, bad, 64), 0);
    CHECK_INT(raw_ed25519_verify(alice.pub, (const uint8_t *)"SISP-TEST-A", dl + 1, bad), 1);

    /* A key whose public half is not its seed's must not sign: signing one message under two
     * public keys with one seed would leak the secret scalar. */
    sisp_ident_key_t mixed = alice;
    memcpy(mixed.pub, mallory.pub, 32);
    memset(bad, 0, sizeof bad);
    int rc = sisp_ident_sign(&mixed, dom, msg_hello, sizeof msg_hello, bad);
    CHECK(rc < 0);
    CHECK(sisp_err_known(rc));

    /* Generated keys: distinct, and they sign. */
    sisp_rng_t rng;
    sisp_ident_key_t g1, g2, again;
    CHECK_ERR(sisp_rng_init(&rng), 0);
    CHECK_ERR(sisp_ident_generate(&rng, &g1), 0);
    CHECK_ERR(sisp_ident_generate(&rng, &g2), 0);
    CHECK(memcmp(g1.seed, g2.seed, 32) != 0);
    CHECK(memcmp(g1.pub, g2.pub, 32) != 0);
    CHECK_ERR(sisp_ident_from_seed(g1.seed, &again), 0);
    CHECK_MEM(again.pub, 32, g1.pub, 32);
    CHECK_ERR(sisp_ident_sign(&g1, dom, msg_hello, sizeof msg_hello, bad), 0);
    CHECK_ERR(sisp_ident_verify(g1.pub, dom, msg_hello, sizeof msg_hello, bad, 64), 0);
    CHECK_ERR(sisp_ident_verify(g2.pub, dom, msg_hello, sizeof msg_hello, bad, 64), SISP_ESIG);
    sisp_rng_free(&rng);
}

/* ---- X25519 ---- */

static void test_x25519_rfc7748(void) {
    uint8_t a_priv[32], b_priv[32], a_pub[32], b_pub[32], k[32], out[32];
    sisp_x25519_key_t a, b;
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a_priv, 32);
    unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", a_pub, 32);
    unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b_priv, 32);
    unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", b_pub, 32);
    unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", k, 32);
    CHECK_MEM(t_alice_x25519, 32, a_priv, 32);
    CHECK_MEM(t_bob_x25519, 32, b_priv, 32);

    /* Section 6.1: both public keys and the shared secret, both ways round. */
    CHECK_ERR(sisp_x25519_from_private(a_priv, &a), 0);
    CHECK_ERR(sisp_x25519_from_private(b_priv, &b), 0);
    CHECK_MEM(a.pub, 32, a_pub, 32);
    CHECK_MEM(b.pub, 32, b_pub, 32);
    /* The stored private key is clamped (RFC 7748 section 5). */
    CHECK_INT(a.priv[0] & 7, 0);
    CHECK_INT(a.priv[31] & 0xc0, 0x40);
    CHECK_MEM(a.priv + 1, 30, a_priv + 1, 30);
    CHECK_ERR(sisp_x25519_shared(a_priv, b_pub, out), 0);
    CHECK_MEM(out, 32, k, 32);
    CHECK_ERR(sisp_x25519_shared(b_priv, a_pub, out), 0);
    CHECK_MEM(out, 32, k, 32);
    CHECK_ERR(sisp_x25519_shared(a.priv, b.pub, out), 0);
    CHECK_MEM(out, 32, k, 32);

    /* Section 5.2: the two scalar-multiplication vectors (the second u has its top bit set,
     * which must be ignored). */
    static const char *const v52[2][3] = {
        {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
        {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    };
    for (size_t i = 0; i < 2; i++) {
        uint8_t scalar[32], u[32], want[32];
        unhex(v52[i][0], scalar, 32);
        unhex(v52[i][1], u, 32);
        unhex(v52[i][2], want, 32);
        CHECK_ERR(sisp_x25519_shared(scalar, u, out), 0);
        CHECK_MEM(out, 32, want, 32);
        u[31] ^= 0x80; /* the top bit of u is ignored either way */
        CHECK_ERR(sisp_x25519_shared(scalar, u, out), 0);
        CHECK_MEM(out, 32, want, 32);
    }

    /* Low-order points give an all-zero secret: SISP_EKEY, and nothing is left in out. u = 0
     * and u = 1, the same with the ignored top bit set, and the order-8 points. */
    static const char *const low[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    };
    for (size_t i = 0; i < sizeof low / sizeof low[0]; i++) {
        uint8_t u[32];
        unhex(low[i], u, 32);
        memset(out, 0xa5, sizeof out);
        int rc = sisp_x25519_shared(a_priv, u, out);
        if (rc != SISP_EKEY)
            T_NOTE("low-order point %s: %s", low[i], t_errname(rc));
        CHECK_ERR(rc, SISP_EKEY);
        uint8_t untouched[32];
        memset(untouched, 0xa5, sizeof untouched);
        CHECK(all_zero(out, 32) || memcmp(out, untouched, 32) == 0);
        CHECK_ERR(sisp_x25519_shared(b.priv, u, out), SISP_EKEY);
    }

    /* Generated keys agree with each other. */
    sisp_rng_t rng;
    sisp_x25519_key_t g1, g2;
    uint8_t s1[32], s2[32];
    CHECK_ERR(sisp_rng_init(&rng), 0);
    CHECK_ERR(sisp_x25519_generate(&rng, &g1), 0);
    CHECK_ERR(sisp_x25519_generate(&rng, &g2), 0);
    CHECK(memcmp(g1.pub, g2.pub, 32) != 0);
    CHECK_ERR(sisp_x25519_shared(g1.priv, g2.pub, s1), 0);
    CHECK_ERR(sisp_x25519_shared(g2.priv, g1.pub, s2), 0);
    CHECK_MEM(s1, 32, s2, 32);
    sisp_rng_free(&rng);
}

/* The identity key's signature over a user's X25519 key. */
static void test_x25519_sig(void) {
    sisp_ident_key_t alice, mallory;
    sisp_x25519_key_t ax, bx;
    uint8_t sig[64], bad[64], m[1 + 5 + 32];
    sisp_slice_t user = sisp_slice_str("alice");
    CHECK_ERR(sisp_ident_from_seed(t_alice_seed, &alice), 0);
    CHECK_ERR(sisp_ident_from_seed(t_mallory_seed, &mallory), 0);
    CHECK_ERR(sisp_x25519_from_private(t_alice_x25519, &ax), 0);
    CHECK_ERR(sisp_x25519_from_private(t_bob_x25519, &bx), 0);

    CHECK_ERR(sisp_x25519_sign(&alice, user, ax.pub, sig), 0);
    CHECK_ERR(sisp_x25519_verify(alice.pub, user, ax.pub, sig, 64), 0);
    /* Layout: SISP_DOMAIN_X25519 || 0 || u8 len || user || pub. */
    m[0] = 5;
    memcpy(m + 1, "alice", 5);
    memcpy(m + 6, ax.pub, 32);
    CHECK_ERR(sisp_ident_verify(alice.pub, SISP_DOMAIN_X25519, m, sizeof m, sig, 64), 0);
    CHECK_ERR(sisp_ident_verify(alice.pub, SISP_DOMAIN_GRANT, m, sizeof m, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_ident_verify(alice.pub, SISP_DOMAIN_MANIFEST, m, sizeof m, sig, 64), SISP_ESIG);

    /* Wrong user, wrong X25519 key, wrong identity key, altered or short signature. */
    CHECK_ERR(sisp_x25519_verify(alice.pub, sisp_slice_str("bob"), ax.pub, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_x25519_verify(alice.pub, sisp_slice_str("alicea"), ax.pub, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_x25519_verify(alice.pub, sisp_slice("alic", 4), ax.pub, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_x25519_verify(alice.pub, user, bx.pub, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_x25519_verify(mallory.pub, user, ax.pub, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_x25519_verify(alice.pub, user, ax.pub, sig, 63), SISP_ESIG);
    int flips_ok = 1;
    for (size_t i = 0; i < 64; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(bad, sig, 64);
            bad[i] ^= (uint8_t)(1u << b);
            if (sisp_x25519_verify(alice.pub, user, ax.pub, bad, 64) != SISP_ESIG)
                flips_ok = 0;
        }
    CHECK(flips_ok);
    flips_ok = 1;
    for (size_t i = 0; i < 32; i++)
        for (unsigned b = 0; b < 8; b++) {
            uint8_t pub[32];
            memcpy(pub, ax.pub, 32);
            pub[i] ^= (uint8_t)(1u << b);
            if (sisp_x25519_verify(alice.pub, user, pub, sig, 64) != SISP_ESIG)
                flips_ok = 0;
        }
    CHECK(flips_ok);
    /* mallory's signature over alice's name and key is not alice's. */
    CHECK_ERR(sisp_x25519_sign(&mallory, user, ax.pub, bad), 0);
    CHECK_ERR(sisp_x25519_verify(alice.pub, user, ax.pub, bad, 64), SISP_ESIG);
    CHECK_ERR(sisp_x25519_verify(mallory.pub, user, ax.pub, bad, 64), 0);

    /* Invalid user names. */
    char longname[257];
    memset(longname, 'a', sizeof longname - 1);
    longname[256] = 0;
    CHECK_ERR(sisp_x25519_sign(&alice, SISP_SLICE_NULL, ax.pub, bad), SISP_EUSERNAME);
    CHECK_ERR(sisp_x25519_verify(alice.pub, SISP_SLICE_NULL, ax.pub, sig, 64), SISP_EUSERNAME);
    CHECK_ERR(sisp_x25519_sign(&alice, sisp_slice_str(longname), ax.pub, bad), SISP_EUSERNAME);
    CHECK_ERR(sisp_x25519_verify(alice.pub, sisp_slice_str(longname), ax.pub, sig, 64),
              SISP_EUSERNAME);
    /* Names that are not user names (names.h: ^[a-z0-9_-]{3,32}$) but are 1..255 bytes long.
     * The key-wrap and grant functions refuse them with SISP_EUSERNAME; these do not (see
     * the report: sisp_x25519_sign/verify check only the length). */
    static const char *const invalid[] = {"Alice", "ab", "bad name",
                                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        int rc = sisp_x25519_sign(&alice, sisp_slice_str(invalid[i]), ax.pub, bad);
        t_checks++;
        if (rc != SISP_EUSERNAME)
            T_FAIL_AT("sisp_x25519_sign accepts the invalid user name \"%s\": %s, want %s",
                      invalid[i], t_errname(rc), t_errname(SISP_EUSERNAME));
        rc = sisp_x25519_verify(alice.pub, sisp_slice_str(invalid[i]), ax.pub, sig, 64);
        CHECK(rc < 0);
    }
}

/* ---- epoch-key wrapping ---- */

static void test_epoch_wrap(void) {
    sisp_rng_t rng;
    sisp_x25519_key_t ax, bx;
    uint8_t w1[SISP_WRAPPED_EPOCH_SIZE], w2[SISP_WRAPPED_EPOCH_SIZE], bad[SISP_WRAPPED_EPOCH_SIZE];
    uint8_t key[32];
    sisp_slice_t fam = sisp_slice_str("family"), alice = sisp_slice_str("alice");
    CHECK_ERR(sisp_rng_init(&rng), 0);
    CHECK_ERR(sisp_x25519_from_private(t_alice_x25519, &ax), 0);
    CHECK_ERR(sisp_x25519_from_private(t_bob_x25519, &bx), 0);

    CHECK_ERR(sisp_epoch_wrap(&rng, t_epoch_key, ax.pub, fam, 1, alice, w1), 0);
    memset(key, 0, sizeof key);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, fam, 1, alice, key), 0);
    CHECK_MEM(key, 32, t_epoch_key, 32);
    /* The epoch key is not in the clear in the wrap. */
    for (size_t i = 0; i + 32 <= sizeof w1; i++)
        CHECK(memcmp(w1 + i, t_epoch_key, 32) != 0);

    /* A fresh ephemeral key each time. */
    CHECK_ERR(sisp_epoch_wrap(&rng, t_epoch_key, ax.pub, fam, 1, alice, w2), 0);
    CHECK(memcmp(w1, w2, 32) != 0);
    CHECK(memcmp(w1 + 32, w2 + 32, 48) != 0);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w2, sizeof w2, fam, 1, alice, key), 0);
    CHECK_MEM(key, 32, t_epoch_key, 32);

    /* Wrong recipient key, group, epoch, recipient name. */
    memset(key, 0xa5, sizeof key);
    CHECK_ERR(sisp_epoch_unwrap(&bx, w1, sizeof w1, fam, 1, alice, key), SISP_EUNWRAP);
    CHECK(memcmp(key, t_epoch_key, 32) != 0);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, sisp_slice_str("friends"), 1, alice, key),
              SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, sisp_slice_str("familx"), 1, alice, key),
              SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, fam, 2, alice, key), SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, fam, 0x01000001, alice, key), SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, fam, 0, alice, key), SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, fam, 1, sisp_slice_str("bob"), key),
              SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, fam, 1, sisp_slice_str("alice2"), key),
              SISP_EUNWRAP);
    /* A key pair whose public half is not its own: the HKDF salt binds the recipient's pub. */
    sisp_x25519_key_t mixed = ax;
    memcpy(mixed.pub, bx.pub, 32);
    CHECK_ERR(sisp_epoch_unwrap(&mixed, w1, sizeof w1, fam, 1, alice, key), SISP_EUNWRAP);
    CHECK(memcmp(key, t_epoch_key, 32) != 0);

    /* Invalid names: the name errors. */
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, sisp_slice_str("Family"), 1, alice, key),
              SISP_EGROUPNAME);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, SISP_SLICE_NULL, 1, alice, key),
              SISP_EGROUPNAME);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1, fam, 1, sisp_slice_str("a"), key),
              SISP_EUSERNAME);
    CHECK_ERR(sisp_epoch_wrap(&rng, t_epoch_key, ax.pub, sisp_slice_str("x/y"), 1, alice, bad),
              SISP_EGROUPNAME);
    CHECK_ERR(sisp_epoch_wrap(&rng, t_epoch_key, ax.pub, fam, 1, sisp_slice_str("Alice"), bad),
              SISP_EUSERNAME);

    /* Every single bit flip of the 80 bytes. */
    int flips_ok = 1;
    for (size_t i = 0; i < sizeof w1; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(bad, w1, sizeof bad);
            bad[i] ^= (uint8_t)(1u << b);
            memset(key, 0xa5, sizeof key);
            int rc = sisp_epoch_unwrap(&ax, bad, sizeof bad, fam, 1, alice, key);
            if (rc != SISP_EUNWRAP || memcmp(key, t_epoch_key, 32) == 0) {
                flips_ok = 0;
                T_NOTE("wrap with bit %u of byte %zu flipped: %s", b, i, t_errname(rc));
            }
        }
    CHECK(flips_ok);
    /* A low-order ephemeral key. */
    memcpy(bad, w1, sizeof bad);
    memset(bad, 0, 32);
    CHECK_ERR(sisp_epoch_unwrap(&ax, bad, sizeof bad, fam, 1, alice, key), SISP_EUNWRAP);
    bad[0] = 1;
    CHECK_ERR(sisp_epoch_unwrap(&ax, bad, sizeof bad, fam, 1, alice, key), SISP_EUNWRAP);

    /* Wrong lengths. */
    uint8_t longer[SISP_WRAPPED_EPOCH_SIZE + 1];
    memcpy(longer, w1, sizeof w1);
    longer[sizeof w1] = 0;
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, sizeof w1 - 1, fam, 1, alice, key), SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, longer, sizeof longer, fam, 1, alice, key), SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, 0, fam, 1, alice, key), SISP_EUNWRAP);
    CHECK_ERR(sisp_epoch_unwrap(&ax, w1, 32, fam, 1, alice, key), SISP_EUNWRAP);

    /* Wrapping to a low-order recipient key is refused. */
    uint8_t zero[32] = {0};
    CHECK_ERR(sisp_epoch_wrap(&rng, t_epoch_key, zero, fam, 1, alice, bad), SISP_EKEY);

    /* The fixed variant is deterministic, and it is the documented construction. */
    CHECK_ERR(
        sisp_epoch_wrap_fixed(t_eph_x25519, t_epoch_key, bx.pub, fam, 7, sisp_slice_str("bob"), w1),
        0);
    CHECK_ERR(
        sisp_epoch_wrap_fixed(t_eph_x25519, t_epoch_key, bx.pub, fam, 7, sisp_slice_str("bob"), w2),
        0);
    CHECK_MEM(w1, sizeof w1, w2, sizeof w2);
    CHECK_ERR(sisp_epoch_unwrap(&bx, w1, sizeof w1, fam, 7, sisp_slice_str("bob"), key), 0);
    CHECK_MEM(key, 32, t_epoch_key, 32);
    {
        sisp_x25519_key_t eph;
        uint8_t shared[32], salt[64], info[64], k[32], want[SISP_WRAPPED_EPOCH_SIZE];
        static const uint8_t zero_nonce[12];
        size_t n = 0;
        CHECK_ERR(sisp_x25519_from_private(t_eph_x25519, &eph), 0);
        CHECK_ERR(sisp_x25519_shared(eph.priv, bx.pub, shared), 0);
        memcpy(salt, eph.pub, 32);
        memcpy(salt + 32, bx.pub, 32);
        memcpy(info, "SISP-EPOCH-WRAP-1", 18); /* with its NUL */
        n = 18;
        info[n++] = 6;
        memcpy(info + n, "family", 6);
        n += 6;
        memcpy(info + n, "\x00\x00\x00\x07", 4);
        n += 4;
        info[n++] = 3;
        memcpy(info + n, "bob", 3);
        n += 3;
        CHECK_ERR(sisp_hkdf_sha256(shared, 32, salt, 64, info, n, k, 32), 0);
        memcpy(want, eph.pub, 32);
        CHECK_ERR(sisp_gcm_seal(k, zero_nonce, info, n, t_epoch_key, 32, want + 32, want + 64), 0);
        CHECK_MEM(w1, sizeof w1, want, sizeof want);
    }
    /* Other ephemeral keys give other wraps of the same key. */
    uint8_t eph2[32];
    memcpy(eph2, t_eph_x25519, 32);
    eph2[5] ^= 1;
    CHECK_ERR(sisp_epoch_wrap_fixed(eph2, t_epoch_key, bx.pub, fam, 7, sisp_slice_str("bob"), w2),
              0);
    CHECK(memcmp(w1, w2, sizeof w1) != 0);
    sisp_rng_free(&rng);
}

/* ---- grants ---- */

static void test_grants(void) {
    sisp_ident_key_t alice, mallory;
    sisp_x25519_key_t bx;
    uint8_t wrapped[SISP_WRAPPED_EPOCH_SIZE], w[SISP_WRAPPED_EPOCH_SIZE], sig[64], bad[64];
    sisp_slice_t fam = sisp_slice_str("family"), bob = sisp_slice_str("bob");
    CHECK_ERR(sisp_ident_from_seed(t_alice_seed, &alice), 0);
    CHECK_ERR(sisp_ident_from_seed(t_mallory_seed, &mallory), 0);
    CHECK_ERR(sisp_x25519_from_private(t_bob_x25519, &bx), 0);
    CHECK_ERR(sisp_epoch_wrap_fixed(t_eph_x25519, t_epoch_key, bx.pub, fam, 1, bob, wrapped), 0);
    sisp_slice_t ws = sisp_slice(wrapped, sizeof wrapped);

    CHECK_ERR(sisp_grant_sign(&alice, fam, 1, bob, ws, sig), 0);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 1, bob, ws, sig, 64), 0);

    /* Layout: SISP_DOMAIN_GRANT || 0 || u8 len || group || u32 epoch || u8 len || recipient
     * || wrapped. */
    uint8_t m[1 + 6 + 4 + 1 + 3 + SISP_WRAPPED_EPOCH_SIZE];
    m[0] = 6;
    memcpy(m + 1, "family", 6);
    memcpy(m + 7, "\x00\x00\x00\x01", 4);
    m[11] = 3;
    memcpy(m + 12, "bob", 3);
    memcpy(m + 15, wrapped, sizeof wrapped);
    CHECK_ERR(sisp_ident_verify(alice.pub, SISP_DOMAIN_GRANT, m, sizeof m, sig, 64), 0);
    CHECK_ERR(sisp_ident_verify(alice.pub, SISP_DOMAIN_X25519, m, sizeof m, sig, 64), SISP_ESIG);

    /* Each field changed. */
    CHECK_ERR(sisp_grant_verify(mallory.pub, fam, 1, bob, ws, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, sisp_slice_str("friends"), 1, bob, ws, sig, 64),
              SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, sisp_slice_str("famil"), 1, bob, ws, sig, 64),
              SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 2, bob, ws, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 0x80000001u, bob, ws, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 1, sisp_slice_str("carol"), ws, sig, 64),
              SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 1, sisp_slice_str("bobb"), ws, sig, 64), SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 1, bob, sisp_slice(wrapped, 79), sig, 64),
              SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 1, bob, SISP_SLICE_NULL, sig, 64), SISP_ESIG);
    /* Moving bytes between group and recipient does not verify either (length prefixes). */
    CHECK_ERR(sisp_grant_sign(&alice, sisp_slice_str("abc"), 1, sisp_slice_str("defg"), ws, bad),
              0);
    CHECK_ERR(
        sisp_grant_verify(alice.pub, sisp_slice_str("abcd"), 1, sisp_slice_str("efg"), ws, bad, 64),
        SISP_ESIG);
    int flips_ok = 1;
    for (size_t i = 0; i < sizeof wrapped; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(w, wrapped, sizeof w);
            w[i] ^= (uint8_t)(1u << b);
            if (sisp_grant_verify(alice.pub, fam, 1, bob, sisp_slice(w, sizeof w), sig, 64) !=
                SISP_ESIG)
                flips_ok = 0;
        }
    CHECK(flips_ok);
    flips_ok = 1;
    for (size_t i = 0; i < 64; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(bad, sig, 64);
            bad[i] ^= (uint8_t)(1u << b);
            if (sisp_grant_verify(alice.pub, fam, 1, bob, ws, bad, 64) != SISP_ESIG)
                flips_ok = 0;
        }
    CHECK(flips_ok);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 1, bob, ws, sig, 63), SISP_ESIG);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 1, bob, ws, sig, 0), SISP_ESIG);

    /* A grant signature is not a manifest or X25519-key signature over the same bytes. */
    CHECK_ERR(sisp_ident_verify(alice.pub, SISP_DOMAIN_MANIFEST, m, sizeof m, sig, 64), SISP_ESIG);

    /* Invalid names: refused when signing, never verified. */
    CHECK_ERR(sisp_grant_sign(&alice, sisp_slice_str("Fam"), 1, bob, ws, bad), SISP_EGROUPNAME);
    CHECK_ERR(sisp_grant_sign(&alice, fam, 1, sisp_slice_str("B"), ws, bad), SISP_EUSERNAME);
    CHECK_ERR(sisp_grant_verify(alice.pub, sisp_slice_str("Fam"), 1, bob, ws, sig, 64),
              SISP_EGROUPNAME);
    CHECK_ERR(sisp_grant_verify(alice.pub, fam, 1, sisp_slice_str("B"), ws, sig, 64),
              SISP_EUSERNAME);
}

/* ---- key files ---- */

#define KF_HEADER 41
#define KF_BODY 64

typedef struct {
    int kind;
    const char *name;
    sisp_key_pair_t pair;
} t_kf_case_t;

static void kf_cases(t_kf_case_t c[2]) {
    sisp_ident_key_t id;
    sisp_x25519_key_t x;
    if (sisp_ident_from_seed(t_alice_seed, &id) != 0 ||
        sisp_x25519_from_private(t_bob_x25519, &x) != 0)
        abort();
    c[0].kind = SISP_KEYFILE_IDENT;
    c[0].name = "identity";
    memcpy(c[0].pair.secret, id.seed, 32);
    memcpy(c[0].pair.pub, id.pub, 32);
    c[1].kind = SISP_KEYFILE_X25519;
    c[1].name = "x25519";
    memcpy(c[1].pair.secret, x.priv, 32);
    memcpy(c[1].pair.pub, x.pub, 32);
}

static int other_kind(int kind) {
    return kind == SISP_KEYFILE_IDENT ? SISP_KEYFILE_X25519 : SISP_KEYFILE_IDENT;
}

/* A bit of an X25519 private key that X25519 ignores (clamping, RFC 7748 section 5). */
static int clamped_bit(size_t byte, unsigned bit) {
    return (byte == 0 && bit < 3) || (byte == 31 && bit >= 6);
}

static void test_keyfile_clear(const t_kf_case_t *c) {
    uint8_t f[SISP_KEYFILE_SIZE], g[SISP_KEYFILE_SIZE + 1];
    sisp_key_pair_t out;
    int prot = -1;

    CHECK_ERR(sisp_keyfile_encode(NULL, c->kind, &c->pair, NULL, 0, f), 0);
    CHECK_MEM(f, 7, "SISPKEY", 7);
    CHECK_INT(f[7], 1);
    CHECK_INT(f[8], c->kind);
    CHECK_INT(f[9], 0);
    CHECK(all_zero(f + 10, KF_HEADER - 10));
    CHECK_MEM(f + KF_HEADER, 32, c->pair.secret, 32);
    CHECK_MEM(f + KF_HEADER + 32, 32, c->pair.pub, 32);
    CHECK(all_zero(f + KF_HEADER + KF_BODY, SISP_GCM_TAG_SIZE));
    /* An empty passphrase is no passphrase. */
    CHECK_ERR(sisp_keyfile_encode(NULL, c->kind, &c->pair, "", 0, g), 0);
    CHECK_MEM(g, SISP_KEYFILE_SIZE, f, SISP_KEYFILE_SIZE);

    memset(&out, 0, sizeof out);
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, c->kind, NULL, &out, &prot), 0);
    CHECK_INT(prot, 0);
    CHECK_MEM(out.secret, 32, c->pair.secret, 32);
    CHECK_MEM(out.pub, 32, c->pair.pub, 32);
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, c->kind, "", &out, &prot), 0);

    /* A bit flip in the secret: the public half no longer matches. For X25519 the five bits
     * that clamping ignores give the same public key, so the file still loads, as a key
     * that is the same X25519 key (see the report). */
    int flips_ok = 1;
    for (size_t i = 0; i < 32; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(g, f, sizeof f);
            g[KF_HEADER + i] ^= (uint8_t)(1u << b);
            int rc = sisp_keyfile_decode(g, sizeof f, c->kind, NULL, &out, &prot);
            if (c->kind == SISP_KEYFILE_X25519 && clamped_bit(i, b)) {
                sisp_x25519_key_t a, o;
                if (rc != 0 || sisp_x25519_from_private(out.secret, &o) != 0 ||
                    sisp_x25519_from_private(c->pair.secret, &a) != 0 ||
                    memcmp(a.priv, o.priv, 32) != 0 || memcmp(out.pub, c->pair.pub, 32) != 0) {
                    flips_ok = 0;
                    T_NOTE("%s: clamped secret bit %u of byte %zu: %s", c->name, b, i,
                           t_errname(rc));
                }
            } else if (rc != SISP_EKEYFILE) {
                flips_ok = 0;
                T_NOTE("%s: secret bit %u of byte %zu flipped: %s", c->name, b, i, t_errname(rc));
            }
        }
    CHECK(flips_ok);
    /* ... and in the public half. */
    flips_ok = 1;
    for (size_t i = 0; i < 32; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(g, f, sizeof f);
            g[KF_HEADER + 32 + i] ^= (uint8_t)(1u << b);
            if (sisp_keyfile_decode(g, sizeof f, c->kind, NULL, &out, &prot) != SISP_EKEYFILE)
                flips_ok = 0;
        }
    CHECK(flips_ok);
    /* A nonzero tag. */
    flips_ok = 1;
    for (size_t i = 0; i < SISP_GCM_TAG_SIZE; i++) {
        memcpy(g, f, sizeof f);
        g[KF_HEADER + KF_BODY + i] = 0x01;
        if (sisp_keyfile_decode(g, sizeof f, c->kind, NULL, &out, &prot) != SISP_EKEYFILE)
            flips_ok = 0;
        g[KF_HEADER + KF_BODY + i] = 0x80;
        if (sisp_keyfile_decode(g, sizeof f, c->kind, NULL, &out, &prot) != SISP_EKEYFILE)
            flips_ok = 0;
    }
    CHECK(flips_ok);
    /* Magic, version, kind, kdf: every bit. (Bytes 10..40 are unused with kdf 0 and not
     * checked; see the report.) */
    flips_ok = 1;
    for (size_t i = 0; i < 10; i++)
        for (unsigned b = 0; b < 8; b++) {
            memcpy(g, f, sizeof f);
            g[i] ^= (uint8_t)(1u << b);
            int rc = sisp_keyfile_decode(g, sizeof f, c->kind, NULL, &out, &prot);
            if (rc != SISP_EKEYFILE) {
                flips_ok = 0;
                T_NOTE("%s: header bit %u of byte %zu flipped: %s", c->name, b, i, t_errname(rc));
            }
        }
    CHECK(flips_ok);

    /* Wrong kind, wrong lengths. */
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, other_kind(c->kind), NULL, &out, &prot),
              SISP_EKEYFILE);
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, 0, NULL, &out, &prot), SISP_EKEYFILE);
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f - 1, c->kind, NULL, &out, &prot), SISP_EKEYFILE);
    memcpy(g, f, sizeof f);
    g[sizeof f] = 0;
    CHECK_ERR(sisp_keyfile_decode(g, sizeof g, c->kind, NULL, &out, &prot), SISP_EKEYFILE);
    CHECK_ERR(sisp_keyfile_decode(f, 0, c->kind, NULL, &out, &prot), SISP_EKEYFILE);
    uint8_t *guarded = t_guard_copy(f, 7);
    CHECK_ERR(sisp_keyfile_decode(guarded, 7, c->kind, NULL, &out, &prot), SISP_EKEYFILE);
    t_guard_free(guarded, 7);
    /* Bad arguments to encode. */
    CHECK_ERR(sisp_keyfile_encode(NULL, 3, &c->pair, NULL, 0, g), SISP_EINVAL);
    CHECK_ERR(sisp_keyfile_encode(NULL, 0, &c->pair, NULL, 0, g), SISP_EINVAL);
}

/* "SISP_EKEYFILE or SISP_EPASSPHRASE": either documented answer will do. */
#define T_EITHER 1

/* What decoding a passphrase-protected file (log2 N 10, r 8, p 1) returns once byte i has
 * become v. The fields range-checked before scrypt runs (keys.c: log2 N 10..20, r 1..32,
 * p 1..4) give SISP_EKEYFILE when out of range; everything from log2 N on is AAD or
 * ciphertext, so any other change is SISP_EPASSPHRASE. wolfCrypt's scrypt computes only
 * r <= 8 (and log2 N < 16 r): an r of 9..32 passes the range check but cannot be computed,
 * and keys.h allows only SISP_EKEYFILE or SISP_EPASSPHRASE for it (see the report). */
static int protected_change(size_t i, unsigned v) {
    if (i < 9)
        return SISP_EKEYFILE; /* magic, version, kind */
    if (i == 9)
        return SISP_EKEYFILE; /* kdf: 0 then has a nonzero tag; 2.. are unknown */
    if (i == 10)
        return v >= 10 && v <= SISP_SCRYPT_LOG2N_MAX ? SISP_EPASSPHRASE : SISP_EKEYFILE;
    if (i == 11)
        return v >= 1 && v <= 8 ? SISP_EPASSPHRASE : v <= 32 && v != 0 ? T_EITHER : SISP_EKEYFILE;
    if (i == 12)
        return v >= 1 && v <= 4 ? SISP_EPASSPHRASE : SISP_EKEYFILE;
    return SISP_EPASSPHRASE;
}

static int is_expected(int rc, int want) {
    return rc == want || (want == T_EITHER && (rc == SISP_EKEYFILE || rc == SISP_EPASSPHRASE));
}

static void test_keyfile_protected(const t_kf_case_t *c, sisp_rng_t *rng, int every_bit) {
    uint8_t f[SISP_KEYFILE_SIZE], g[SISP_KEYFILE_SIZE + 1];
    sisp_key_pair_t out;
    int prot = -1;
    const char *pass = "correct horse battery staple";

    CHECK_ERR(sisp_keyfile_encode(rng, c->kind, &c->pair, pass, 10, f), 0);
    CHECK_MEM(f, 7, "SISPKEY", 7);
    CHECK_INT(f[7], 1);
    CHECK_INT(f[8], c->kind);
    CHECK_INT(f[9], 1);
    CHECK_INT(f[10], 10);
    CHECK_INT(f[11], 8);
    CHECK_INT(f[12], 1);
    /* The secret is not in the clear. */
    for (size_t i = 0; i + 32 <= sizeof f; i++)
        CHECK(memcmp(f + i, c->pair.secret, 32) != 0);
    /* A fresh salt and nonce each time. */
    CHECK_ERR(sisp_keyfile_encode(rng, c->kind, &c->pair, pass, 10, g), 0);
    CHECK(memcmp(f + 13, g + 13, 28) != 0);
    CHECK(memcmp(f + KF_HEADER, g + KF_HEADER, KF_BODY) != 0);

    memset(&out, 0, sizeof out);
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, c->kind, pass, &out, &prot), 0);
    CHECK_INT(prot, 1);
    CHECK_MEM(out.secret, 32, c->pair.secret, 32);
    CHECK_MEM(out.pub, 32, c->pair.pub, 32);
    CHECK_ERR(sisp_keyfile_decode(g, sizeof g - 1, c->kind, pass, &out, &prot), 0);
    CHECK_MEM(out.secret, 32, c->pair.secret, 32);

    /* Wrong or missing passphrase. */
    static const char *const wrong[] = {"correct horse battery stapl",
                                        "Correct horse battery staple",
                                        "correct horse battery staple ", "x"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        prot = -1;
        memset(&out, 0xa5, sizeof out);
        CHECK_ERR(sisp_keyfile_decode(f, sizeof f, c->kind, wrong[i], &out, &prot),
                  SISP_EPASSPHRASE);
        CHECK_INT(prot, 1);
        CHECK(memcmp(out.secret, c->pair.secret, 32) != 0);
    }
    prot = -1;
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, c->kind, NULL, &out, &prot), SISP_EPASSPHRASE);
    CHECK_INT(prot, 1);
    prot = -1;
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, c->kind, "", &out, &prot), SISP_EPASSPHRASE);
    CHECK_INT(prot, 1);

    /* Any change to any byte: SISP_EKEYFILE or SISP_EPASSPHRASE, by region. Every bit of
     * the header; every bit of body and tag too, or one per byte (every_bit == 0). */
    int flips_ok = 1;
    for (size_t i = 0; i < sizeof f; i++)
        for (unsigned b = 0; b < 8; b++) {
            if (!every_bit && i >= KF_HEADER && b != i % 8)
                continue;
            memcpy(g, f, sizeof f);
            g[i] ^= (uint8_t)(1u << b);
            int want = protected_change(i, g[i]);
            prot = -1;
            int rc = sisp_keyfile_decode(g, sizeof f, c->kind, pass, &out, &prot);
            if (!is_expected(rc, want) || (i >= 10 && prot != 1)) {
                flips_ok = 0;
                T_NOTE("%s: bit %u of byte %zu flipped (now 0x%02x): %s, protected %d; want %s",
                       c->name, b, i, g[i], t_errname(rc), prot,
                       want == T_EITHER ? "EKEYFILE or EPASSPHRASE" : t_errname(want));
            }
        }
    CHECK(flips_ok);

    /* Cost out of range: refused before scrypt runs. With no passphrase the answer is
     * SISP_EKEYFILE, not SISP_EPASSPHRASE, which shows the range is checked first; with
     * log2 N 21 scrypt would need 2 GiB. */
    static const uint8_t bad_cost[] = {SISP_SCRYPT_LOG2N_MAX + 1, 31, 32, 63, 64, 255, 9, 1, 0};
    for (size_t i = 0; i < sizeof bad_cost; i++) {
        memcpy(g, f, sizeof f);
        g[10] = bad_cost[i];
        prot = -1;
        CHECK_ERR(sisp_keyfile_decode(g, sizeof f, c->kind, pass, &out, &prot), SISP_EKEYFILE);
        CHECK_INT(prot, 1);
        CHECK_ERR(sisp_keyfile_decode(g, sizeof f, c->kind, NULL, &out, &prot), SISP_EKEYFILE);
    }
    /* Parameters in range for keys.c that wolfCrypt's scrypt cannot compute: r 1 with
     * log2 N 16 (it needs log2 N < 16 r), and r 9 (it needs r <= 8). */
    static const uint8_t uncomputable[][2] = {{16, 1}, {20, 1}, {10, 9}, {10, 32}};
    for (size_t i = 0; i < sizeof uncomputable / sizeof uncomputable[0]; i++) {
        memcpy(g, f, sizeof f);
        g[10] = uncomputable[i][0];
        g[11] = uncomputable[i][1];
        prot = -1;
        int rc = sisp_keyfile_decode(g, sizeof f, c->kind, pass, &out, &prot);
        t_checks++;
        if (!is_expected(rc, T_EITHER))
            T_FAIL_AT("%s: log2 N %u, r %u: %s, want EKEYFILE or EPASSPHRASE", c->name,
                      uncomputable[i][0], uncomputable[i][1], t_errname(rc));
        CHECK_INT(prot, 1);
    }
    /* Encode refuses those costs too (0 is the default). */
    CHECK_ERR(sisp_keyfile_encode(rng, c->kind, &c->pair, pass, SISP_SCRYPT_LOG2N_MAX + 1, g),
              SISP_EINVAL);

    /* Wrong kind, wrong lengths. */
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, other_kind(c->kind), pass, &out, &prot),
              SISP_EKEYFILE);
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f - 1, c->kind, pass, &out, &prot), SISP_EKEYFILE);
    memcpy(g, f, sizeof f);
    g[sizeof f] = 0;
    CHECK_ERR(sisp_keyfile_decode(g, sizeof g, c->kind, pass, &out, &prot), SISP_EKEYFILE);

    /* A file whose kind byte was rewritten and then re-encrypted is still checked for a
     * matching public half: encode the identity's pair as X25519 (the pair is then wrong). */
    CHECK_ERR(sisp_keyfile_encode(rng, other_kind(c->kind), &c->pair, pass, 10, g), 0);
    CHECK_ERR(sisp_keyfile_decode(g, sizeof f, other_kind(c->kind), pass, &out, &prot),
              SISP_EKEYFILE);
    CHECK_INT(prot, 1);
}

static void test_keyfile_default_cost(const t_kf_case_t *c, sisp_rng_t *rng) {
#ifdef T_ASAN
    (void)c;
    (void)rng;
    printf("test_keys: skipping the default-cost (log2 N %d) key file round trip under ASan\n",
           SISP_SCRYPT_LOG2N_DEFAULT);
#else
    uint8_t f[SISP_KEYFILE_SIZE];
    sisp_key_pair_t out;
    int prot = -1;
    CHECK_ERR(sisp_keyfile_encode(rng, c->kind, &c->pair, "pw", 0, f), 0);
    CHECK_INT(f[10], SISP_SCRYPT_LOG2N_DEFAULT);
    CHECK_INT(f[11], 8);
    CHECK_INT(f[12], 1);
    CHECK_ERR(sisp_keyfile_decode(f, sizeof f, c->kind, "pw", &out, &prot), 0);
    CHECK_INT(prot, 1);
    CHECK_MEM(out.secret, 32, c->pair.secret, 32);
    CHECK_MEM(out.pub, 32, c->pair.pub, 32);
#endif
}

static void test_keyfiles(void) {
    t_kf_case_t cases[2];
    sisp_rng_t rng;
    kf_cases(cases);
    CHECK_ERR(sisp_rng_init(&rng), 0);
    for (size_t i = 0; i < 2; i++) {
        test_keyfile_clear(&cases[i]);
        test_keyfile_protected(&cases[i], &rng, i == 0);
    }
    test_keyfile_default_cost(&cases[0], &rng);
    sisp_rng_free(&rng);
}

/* ---- primitives ---- */

static void test_ct_eq_wipe(void) {
    uint8_t a[40], b[40];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (uint8_t)(i * 7 + 1);
    CHECK_INT(sisp_ct_eq(a, b, sizeof a), 1);
    CHECK_INT(sisp_ct_eq(a, b, 0), 1);
    int ok = 1;
    for (size_t i = 0; i < sizeof a; i++)
        for (unsigned bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            if (sisp_ct_eq(a, b, sizeof a) != 0 || sisp_ct_eq(a, b, i) != 1 ||
                sisp_ct_eq(a, b, i + 1) != 0)
                ok = 0;
            b[i] ^= (uint8_t)(1u << bit);
        }
    CHECK(ok);

    memset(a, 0xa5, sizeof a);
    sisp_wipe(a + 5, 20);
    for (size_t i = 0; i < sizeof a; i++)
        CHECK_INT(a[i], i >= 5 && i < 25 ? 0 : 0xa5);
    sisp_wipe(a, 0);
    CHECK_INT(a[0], 0xa5);
}

static void test_rng(void) {
    sisp_rng_t rng;
    uint8_t x[100], y[100];
    CHECK_ERR(sisp_rng_init(&rng), 0);
    memset(x, 0, sizeof x);
    memset(y, 0, sizeof y);
    CHECK_ERR(sisp_rng_bytes(&rng, x, sizeof x), 0);
    CHECK_ERR(sisp_rng_bytes(&rng, y, sizeof y), 0);
    CHECK(memcmp(x, y, sizeof x) != 0);
    CHECK(!all_zero(x, sizeof x));
    CHECK_ERR(sisp_rng_bytes(&rng, x, 0), 0);
    sisp_rng_free(&rng);
    sisp_rng_free(&rng); /* freeing again is a no-op */
    sisp_rng_free(NULL);
}

static void sha256_split(const uint8_t *m, size_t n, const uint8_t want[32]) {
    uint8_t out[32];
    int ok = 1;
    for (size_t cut = 0; cut <= n; cut++) {
        sisp_sha256_t h;
        if (sisp_sha256_init(&h) != 0 || sisp_sha256_update(&h, m, cut) != 0 ||
            sisp_sha256_update(&h, m + cut, n - cut) != 0 || sisp_sha256_final(&h, out) != 0 ||
            memcmp(out, want, 32) != 0) {
            ok = 0;
            T_NOTE("SHA-256 of %zu bytes split at %zu differs", n, cut);
        }
        /* Three pieces, and an empty update between them. */
        size_t cut2 = cut + (n - cut) / 2;
        if (sisp_sha256_init(&h) != 0 || sisp_sha256_update(&h, m, cut) != 0 ||
            sisp_sha256_update(&h, m + cut, 0) != 0 ||
            sisp_sha256_update(&h, m + cut, cut2 - cut) != 0 ||
            sisp_sha256_update(&h, m + cut2, n - cut2) != 0 || sisp_sha256_final(&h, out) != 0 ||
            memcmp(out, want, 32) != 0)
            ok = 0;
        sisp_sha256_free(&h); /* after final: harmless */
    }
    CHECK(ok);
}

static void test_sha256(void) {
    uint8_t want[32], out[32];
    /* FIPS 180-2 appendix B.1 and B.2, and the empty message. */
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    CHECK_ERR(sisp_sha256((const uint8_t *)"abc", 3, out), 0);
    CHECK_MEM(out, 32, want, 32);
    sha256_split((const uint8_t *)"abc", 3, want);

    const char *b2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want, 32);
    CHECK_ERR(sisp_sha256((const uint8_t *)b2, strlen(b2), out), 0);
    CHECK_MEM(out, 32, want, 32);
    sha256_split((const uint8_t *)b2, strlen(b2), want);

    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    CHECK_ERR(sisp_sha256(NULL, 0, out), 0);
    CHECK_MEM(out, 32, want, 32);

    /* A longer message, streamed, against the one-shot digest. */
    uint8_t big[1000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 131 + 7);
    CHECK_ERR(sisp_sha256(big, sizeof big, want), 0);
    sha256_split(big, sizeof big, want);

    sisp_sha256_free(NULL);
}

static void test_hkdf(void) {
    uint8_t ikm[22], salt[13], info[10], want[42], out[42];
    /* RFC 5869 appendix A.1. */
    memset(ikm, 0x0b, sizeof ikm);
    unhex("000102030405060708090a0b0c", salt, sizeof salt);
    unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof info);
    unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
          want, sizeof want);
    CHECK_ERR(sisp_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, out, 42), 0);
    CHECK_MEM(out, 42, want, 42);
    /* A shorter output is a prefix. */
    memset(out, 0, sizeof out);
    CHECK_ERR(sisp_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, out, 32), 0);
    CHECK_MEM(out, 32, want, 32);
    CHECK(all_zero(out + 32, 10));
    /* More than 255 blocks is not HKDF. */
    static uint8_t big[255 * 32 + 1];
    CHECK_ERR(
        sisp_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, big, sizeof big),
        SISP_EINVAL);
    CHECK_ERR(sisp_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, big,
                               sizeof big - 1),
              0);
    CHECK_MEM(big, 42, want, 42);
}

static void test_gcm(void) {
    /* The GCM specification (McGrew and Viega), test case 16: AES-256, 60-byte plaintext,
     * 20 bytes of AAD. */
    uint8_t key[32], iv[12], aad[20], p[60], c[60], tag[16], out[60], t2[16];
    unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
    unhex("cafebabefacedbaddecaf888", iv, 12);
    unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20);
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
          p, 60);
    unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
          "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
          c, 60);
    unhex("76fc6ece0f4e1768cddf8853bb2d551b", tag, 16);
    CHECK_ERR(sisp_gcm_seal(key, iv, aad, 20, p, 60, out, t2), 0);
    CHECK_MEM(out, 60, c, 60);
    CHECK_MEM(t2, 16, tag, 16);
    memset(out, 0, sizeof out);
    CHECK_ERR(sisp_gcm_open(key, iv, aad, 20, c, 60, out, tag), 0);
    CHECK_MEM(out, 60, p, 60);

    /* Tampering anywhere: SISP_ETAG, and out is wiped. */
    uint8_t x[60];
    int ok = 1;
    for (size_t i = 0; i < 60; i++) {
        memcpy(x, c, 60);
        x[i] ^= 0x01;
        memset(out, 0xa5, sizeof out);
        if (sisp_gcm_open(key, iv, aad, 20, x, 60, out, tag) != SISP_ETAG || !all_zero(out, 60))
            ok = 0;
    }
    for (size_t i = 0; i < 16; i++) {
        memcpy(t2, tag, 16);
        t2[i] ^= 0x80;
        memset(out, 0xa5, sizeof out);
        if (sisp_gcm_open(key, iv, aad, 20, c, 60, out, t2) != SISP_ETAG || !all_zero(out, 60))
            ok = 0;
    }
    CHECK(ok);
    memset(out, 0xa5, sizeof out);
    CHECK_ERR(sisp_gcm_open(key, iv, aad, 19, c, 60, out, tag), SISP_ETAG);
    CHECK(all_zero(out, 60));
    CHECK_ERR(sisp_gcm_open(key, iv, NULL, 0, c, 60, out, tag), SISP_ETAG);
    CHECK_ERR(sisp_gcm_open(key, iv, aad, 20, c, 59, out, tag), SISP_ETAG);
    aad[3] ^= 1;
    CHECK_ERR(sisp_gcm_open(key, iv, aad, 20, c, 60, out, tag), SISP_ETAG);
    aad[3] ^= 1;
    iv[11] ^= 1;
    CHECK_ERR(sisp_gcm_open(key, iv, aad, 20, c, 60, out, tag), SISP_ETAG);
    iv[11] ^= 1;
    key[31] ^= 1;
    CHECK_ERR(sisp_gcm_open(key, iv, aad, 20, c, 60, out, tag), SISP_ETAG);
    CHECK(all_zero(out, 60));
    key[31] ^= 1;

    /* Test cases 13 and 14: the all-zero key and nonce, with no plaintext and with one
     * zero block. */
    uint8_t zk[32] = {0}, zn[12] = {0}, zb[16] = {0}, want[16];
    unhex("530f8afbc74536b9a963b4f1c4cb738b", want, 16);
    CHECK_ERR(sisp_gcm_seal(zk, zn, NULL, 0, NULL, 0, NULL, t2), 0);
    CHECK_MEM(t2, 16, want, 16);
    CHECK_ERR(sisp_gcm_open(zk, zn, NULL, 0, NULL, 0, NULL, want), 0);
    want[0] ^= 1;
    CHECK_ERR(sisp_gcm_open(zk, zn, NULL, 0, NULL, 0, NULL, want), SISP_ETAG);
    unhex("cea7403d4d606b6e074ec5d3baf39d18", want, 16);
    CHECK_ERR(sisp_gcm_seal(zk, zn, NULL, 0, zb, 16, out, t2), 0);
    CHECK_MEM(out, 16, want, 16);
    unhex("d0d1c8a799996bf0265b98b5d48ab919", want, 16);
    CHECK_MEM(t2, 16, want, 16);
}

int main(void) {
    test_ed25519_rfc8032();
    test_ed25519_domains();
    test_x25519_rfc7748();
    test_x25519_sig();
    test_epoch_wrap();
    test_grants();
    test_keyfiles();
    test_ct_eq_wipe();
    test_rng();
    test_sha256();
    test_hkdf();
    test_gcm();
    return t_done("test_keys");
}
