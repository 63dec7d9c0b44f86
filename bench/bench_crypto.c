/* sisp-bench-crypto: the protocol library's cryptographic throughput, next to raw wolfCrypt
 * measured in the same run.
 *
 * Bulk: seal and open a PNG-prefixed buffer (16 MiB by default) fed in 64 KiB pieces, against
 * raw AES-256-GCM over the same 64 KiB chunks with the same key and nonces (so the reference
 * produces byte-identical ciphertext) and raw SHA-256 over that ciphertext, which is what a
 * seal hashes. Small operations: identity sign/verify, epoch-key wrap/unwrap and content-key
 * wrap/unwrap per second, against the raw wolfCrypt calls they are built on.
 *
 * Each measurement is repeated --reps times, reference and sisp interleaved (ref, sisp, ref,
 * sisp, ...) so that drift on a noisy machine affects both; ratios are taken per repetition
 * and the median, min and max are printed as a whitespace-separated table. MB/s is 10^6
 * plaintext bytes per second for every bulk row, references included. Fixed keys and nonces
 * are reused across repetitions: this is a benchmark, never a use of the format. */
#include "bench_stats.h"

#include <sisp/crypto.h>
#include <sisp/keys.h>
#include <sisp/seal.h>

#include "seal_fixture.h"

#include <wolfssl/options.h>

#include <wolfssl/version.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <nettle/sha2.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK SISP_CHUNK_SIZE_DEFAULT /* the seal's chunk size, and the reference's */
#define PIECE ((size_t)64 * 1024)     /* how much the caller feeds per update call */
#define MIB ((size_t)1024 * 1024)
#define SIZE_MIB_MAX 1024u
#define REPS_MAX 1000u
#define OP_TARGET_SECONDS 0.2 /* per repetition of a small operation */
#define OP_CALIBRATE_SECONDS 0.02
#define QUICK_ITERS 3u

/* ---- timing and statistics ---- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the benchmark's state ---- */

typedef struct {
    size_t size;       /* plaintext bytes */
    size_t cipher_len; /* size + 16 per chunk */
    uint8_t *plain;
    uint8_t *ref_cipher; /* raw GCM output: chunk || tag, ... */
    uint8_t *ref_plain;  /* raw GCM decrypt output */
    sisp_buf_t sealed;   /* the ciphertext sisp sealed once, untimed, for the open runs */
    sisp_buf_t manifest; /* its manifest */
    uint8_t sig[SISP_SIG_SIZE];
    sisp_buf_t sink;       /* the drained output of timed runs */
    sisp_buf_t manifest_t; /* the manifest of a timed seal, compared after the clock stops */
    /* small operations */
    sisp_rng_t rng;
    sisp_ident_key_t alice;
    sisp_x25519_key_t alice_x, bob; /* private halves clamped, as wolfCrypt requires */
    ed25519_key ed;                 /* alice's key, imported once, for the raw references */
    uint8_t *signed_m; /* SISP_DOMAIN_MANIFEST || 0 || manifest: what is really signed */
    size_t signed_len;
    uint8_t ed_sig[SISP_SIG_SIZE];
    uint8_t epoch_wrapped[SISP_WRAPPED_EPOCH_SIZE];
    uint8_t ck_wrapped[SISP_WRAPPED_CK_SIZE];
    uint8_t scratch[64];
} bench_t;

static size_t min_size(size_t a, size_t b) {
    return a < b ? a : b;
}

static void chunk_nonce(uint8_t nonce[SISP_GCM_NONCE_SIZE], uint32_t counter, int last) {
    memcpy(nonce, t_nonce_prefix, SISP_NONCE_PREFIX_SIZE);
    sisp_store32(nonce + SISP_NONCE_PREFIX_SIZE, counter);
    nonce[SISP_GCM_NONCE_SIZE - 1] = last ? 1 : 0;
}

/* ---- bulk: raw references ---- */

/* AES-256-GCM one-shot over each chunk, key set once: a seal without the hash. */
static int raw_gcm_encrypt(bench_t *b) {
    uint8_t nonce[SISP_GCM_NONCE_SIZE];
    Aes aes;
    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
        return -1;
    int rc = wc_AesGcmSetKey(&aes, t_content_key, SISP_KEY_SIZE);
    uint32_t i = 0;
    for (size_t off = 0; rc == 0 && off < b->size; off += CHUNK, i++) {
        size_t n = min_size(CHUNK, b->size - off);
        uint8_t *dst = b->ref_cipher + off + (size_t)i * SISP_GCM_TAG_SIZE;
        chunk_nonce(nonce, i, off + n == b->size);
        rc = wc_AesGcmEncrypt(&aes, dst, b->plain + off, (word32)n, nonce, sizeof nonce, dst + n,
                              SISP_GCM_TAG_SIZE, NULL, 0);
    }
    wc_AesFree(&aes);
    return rc == 0 ? 0 : -1;
}

static int raw_gcm_decrypt(bench_t *b) {
    uint8_t nonce[SISP_GCM_NONCE_SIZE];
    Aes aes;
    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
        return -1;
    int rc = wc_AesGcmSetKey(&aes, t_content_key, SISP_KEY_SIZE);
    uint32_t i = 0;
    for (size_t off = 0; rc == 0 && off < b->size; off += CHUNK, i++) {
        size_t n = min_size(CHUNK, b->size - off);
        const uint8_t *src = b->ref_cipher + off + (size_t)i * SISP_GCM_TAG_SIZE;
        chunk_nonce(nonce, i, off + n == b->size);
        rc = wc_AesGcmDecrypt(&aes, b->ref_plain + off, src, (word32)n, nonce, sizeof nonce,
                              src + n, SISP_GCM_TAG_SIZE, NULL, 0);
    }
    wc_AesFree(&aes);
    return rc == 0 ? 0 : -1;
}

/* SHA-256 over the whole ciphertext (tags included) in chunk + tag pieces, as a seal does, with
 * the implementation sisp uses (nettle, src/crypto.c). */
static int raw_sha256(bench_t *b) {
    uint8_t digest[SISP_SHA256_SIZE];
    struct sha256_ctx h;
    sha256_init(&h);
    for (size_t off = 0; off < b->cipher_len; off += CHUNK + SISP_GCM_TAG_SIZE)
        sha256_update(&h, min_size(CHUNK + SISP_GCM_TAG_SIZE, b->cipher_len - off),
                      b->ref_cipher + off);
    sha256_digest(&h, sizeof digest, digest);
    return 0;
}

/* The same with wolfCrypt's SHA-256, which sisp used before (for the record). */
static int raw_sha256_wolfcrypt(bench_t *b) {
    uint8_t digest[SISP_SHA256_SIZE];
    wc_Sha256 h;
    int rc = wc_InitSha256(&h);
    for (size_t off = 0; rc == 0 && off < b->cipher_len; off += CHUNK + SISP_GCM_TAG_SIZE) {
        size_t n = min_size(CHUNK + SISP_GCM_TAG_SIZE, b->cipher_len - off);
        rc = wc_Sha256Update(&h, b->ref_cipher + off, (word32)n);
    }
    if (rc == 0)
        rc = wc_Sha256Final(&h, digest);
    wc_Sha256Free(&h);
    return rc == 0 ? 0 : -1;
}

/* ---- bulk: sisp ---- */

/* The whole seal of one image, init to free, draining the output after every call. */
static int seal_run(bench_t *b) {
    sisp_seal_params_t p = t_seal_params(CHUNK);
    sisp_seal_t s;
    int rc = sisp_seal_init_fixed(&s, &p, t_epoch_key, t_content_key, t_nonce_prefix, t_wrap_nonce);
    for (size_t off = 0; rc == 0 && off < b->size; off += PIECE) {
        rc = sisp_seal_update(&s, b->plain + off, min_size(PIECE, b->size - off), &b->sink);
        sisp_buf_reset(&b->sink);
    }
    sisp_buf_reset(&b->manifest_t);
    if (rc == 0)
        rc = sisp_seal_final(&s, &b->sink, &b->manifest_t);
    sisp_buf_reset(&b->sink);
    sisp_seal_free(&s);
    return rc;
}

/* The whole open of one image: signature, key unwrap, every chunk, the final hash check. */
static int open_run(bench_t *b) {
    sisp_expect_t e = {sisp_slice_str("alice"), sisp_slice_str("beach.png"),
                       sisp_slice_str("family")};
    sisp_open_t o;
    int rc = sisp_open_init(&o, b->manifest.data, b->manifest.len, b->sig, sizeof b->sig,
                            b->alice.pub, &e);
    if (rc == 0)
        rc = sisp_open_key(&o, t_epoch_key);
    for (size_t off = 0; rc == 0 && off < b->sealed.len; off += PIECE) {
        rc = sisp_open_update(&o, b->sealed.data + off, min_size(PIECE, b->sealed.len - off),
                              &b->sink);
        sisp_buf_reset(&b->sink);
    }
    if (rc == 0)
        rc = sisp_open_final(&o);
    sisp_open_free(&o);
    return rc;
}

/* ---- small operations ---- */

static int raw_ed25519_sign(bench_t *b) {
    word32 len = SISP_SIG_SIZE;
    return wc_ed25519_sign_msg(b->signed_m, (word32)b->signed_len, b->scratch, &len, &b->ed);
}

static int op_ident_sign(bench_t *b) {
    return sisp_ident_sign(&b->alice, SISP_DOMAIN_MANIFEST, b->manifest.data, b->manifest.len,
                           b->scratch);
}

static int raw_ed25519_verify(bench_t *b) {
    int ok = 0;
    int rc = wc_ed25519_verify_msg(b->ed_sig, SISP_SIG_SIZE, b->signed_m, (word32)b->signed_len,
                                   &ok, &b->ed);
    return rc == 0 && ok == 1 ? 0 : -1;
}

static int op_ident_verify(bench_t *b) {
    return sisp_ident_verify(b->alice.pub, SISP_DOMAIN_MANIFEST, b->manifest.data, b->manifest.len,
                             b->sig, sizeof b->sig);
}

/* One X25519 scalar multiplication: an epoch wrap does two, an unwrap one. */
static int raw_x25519(bench_t *b) {
    return wc_curve25519_generic(SISP_KEY_SIZE, b->scratch, SISP_KEY_SIZE, b->alice_x.priv,
                                 SISP_KEY_SIZE, b->bob.pub);
}

static int op_epoch_wrap(bench_t *b) {
    return sisp_epoch_wrap(&b->rng, t_epoch_key, b->bob.pub, sisp_slice_str("family"), 1,
                           sisp_slice_str("bob"), b->epoch_wrapped);
}

static int op_epoch_unwrap(bench_t *b) {
    return sisp_epoch_unwrap(&b->bob, b->epoch_wrapped, sizeof b->epoch_wrapped,
                             sisp_slice_str("family"), 1, sisp_slice_str("bob"), b->scratch);
}

/* Key setup and a 32-byte AES-256-GCM encryption: what one content-key wrap costs raw. */
static int raw_gcm32(bench_t *b) {
    Aes aes;
    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
        return -1;
    int rc = wc_AesGcmSetKey(&aes, t_epoch_key, SISP_KEY_SIZE);
    if (rc == 0)
        rc = wc_AesGcmEncrypt(&aes, b->scratch, t_content_key, SISP_KEY_SIZE, t_wrap_nonce,
                              SISP_GCM_NONCE_SIZE, b->scratch + SISP_KEY_SIZE, SISP_GCM_TAG_SIZE,
                              NULL, 0);
    wc_AesFree(&aes);
    return rc;
}

static int op_ck_wrap(bench_t *b) {
    return sisp_ck_wrap(t_epoch_key, sisp_slice_str("family"), 1, t_nonce_prefix, t_content_key,
                        t_wrap_nonce, b->ck_wrapped);
}

static int op_ck_unwrap(bench_t *b) {
    return sisp_ck_unwrap(t_epoch_key, sisp_slice_str("family"), 1, t_nonce_prefix, b->ck_wrapped,
                          sizeof b->ck_wrapped, b->scratch);
}

/* ---- measurements ---- */

typedef struct {
    const char *name;
    int (*fn)(bench_t *);
    unsigned iters;     /* per repetition; bulk runs do 1 */
    double v[REPS_MAX]; /* MB/s or operations per second, per repetition */
} meas_t;

/* Runs m once per repetition slot r and records its rate; bytes 0 = count operations. */
static int measure(bench_t *b, meas_t *m, unsigned r, size_t bytes) {
    double t0 = now();
    for (unsigned i = 0; i < m->iters; i++) {
        int rc = m->fn(b);
        if (rc != 0) {
            fprintf(stderr, "sisp-bench-crypto: %s failed (%d)\n", m->name, rc);
            return -1;
        }
    }
    double dt = now() - t0;
    if (dt <= 0)
        dt = 1e-9;
    m->v[r] = bytes ? (double)bytes / dt / 1e6 : (double)m->iters / dt;
    return 0;
}

/* Chooses iterations so one repetition of m takes about OP_TARGET_SECONDS; warms up too. */
static int calibrate(bench_t *b, meas_t *m) {
    unsigned n = 1;
    for (;;) {
        double t0 = now();
        for (unsigned i = 0; i < n; i++)
            if (m->fn(b) != 0) {
                fprintf(stderr, "sisp-bench-crypto: %s failed\n", m->name);
                return -1;
            }
        double dt = now() - t0;
        if (dt >= OP_CALIBRATE_SECONDS || n >= (1u << 24)) {
            double want = (double)n * OP_TARGET_SECONDS / (dt > 0 ? dt : 1e-9);
            m->iters = want < 1 ? 1u : want > 1e7 ? 10000000u : (unsigned)want;
            return 0;
        }
        n *= 2;
    }
}

typedef struct {
    const char *name;
    const char *unit;
    double v[REPS_MAX];
    unsigned long work; /* bytes or iterations per repetition; unused for ratios */
} row_t;

static void print_row(const row_t *row, unsigned reps) {
    stats_t s = stats(row->v, reps);
    if (strcmp(row->unit, "ratio") == 0)
        printf("%-28s %-6s %10.3f %10.3f %10.3f %4u %10s\n", row->name, row->unit, s.median, s.min,
               s.max, reps, "-");
    else
        printf("%-28s %-6s %10.1f %10.1f %10.1f %4u %10lu\n", row->name, row->unit, s.median, s.min,
               s.max, reps, row->work);
}

/* A rate row straight from a measurement. */
static void rate_row(row_t *row, const meas_t *m, const char *unit, unsigned reps,
                     unsigned long work) {
    row->name = m->name;
    row->unit = unit;
    row->work = work;
    memcpy(row->v, m->v, reps * sizeof *row->v);
}

/* a / (b * scale), per repetition. */
static void ratio_row(row_t *row, const char *name, const double *a, const double *b, double scale,
                      unsigned reps) {
    row->name = name;
    row->unit = "ratio";
    row->work = 0;
    for (unsigned r = 0; r < reps; r++)
        row->v[r] = a[r] / (b[r] * scale);
}

/* 1 / (1/a + 1/b): the rate of doing both, one after the other, per repetition. */
static void combined_row(row_t *row, const char *name, const double *a, const double *b,
                         unsigned reps, unsigned long work) {
    row->name = name;
    row->unit = "MB/s";
    row->work = work;
    for (unsigned r = 0; r < reps; r++)
        row->v[r] = 1 / (1 / a[r] + 1 / b[r]);
}

/* ---- setup ---- */

static int setup(bench_t *b) {
    uint64_t x = 0x9e3779b97f4a7c15u;
    size_t chunks = (b->size - 1) / CHUNK + 1;
    b->cipher_len = b->size + chunks * SISP_GCM_TAG_SIZE;
    b->plain = malloc(b->size);
    b->ref_cipher = malloc(b->cipher_len);
    b->ref_plain = malloc(b->size);
    if (b->plain == NULL || b->ref_cipher == NULL || b->ref_plain == NULL)
        return -1;
    /* A real PNG's first bytes, then noise (xorshift64): sealing sniffs the type. */
    for (size_t i = 0; i < b->size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b->plain[i] = (uint8_t)x;
    }
    memcpy(b->plain, t_png_1x1, sizeof t_png_1x1);
    sisp_buf_init(&b->sealed, 0);
    sisp_buf_init(&b->manifest, 0);
    sisp_buf_init(&b->sink, 0);
    sisp_buf_init(&b->manifest_t, 0);

    /* The image sealed once, untimed, keeping the ciphertext; its manifest signed. */
    sisp_seal_params_t p = t_seal_params(CHUNK);
    sisp_seal_t s;
    int rc = sisp_seal_init_fixed(&s, &p, t_epoch_key, t_content_key, t_nonce_prefix, t_wrap_nonce);
    if (rc == 0)
        rc = sisp_seal_update(&s, b->plain, b->size, &b->sealed);
    if (rc == 0)
        rc = sisp_seal_final(&s, &b->sealed, &b->manifest);
    sisp_seal_free(&s);
    if (rc == 0)
        rc = sisp_ident_from_seed(t_alice_seed, &b->alice);
    if (rc == 0)
        rc = sisp_manifest_sign(&b->alice, b->manifest.data, b->manifest.len, b->sig);
    if (rc == 0)
        rc = sisp_x25519_from_private(t_bob_x25519, &b->bob);
    if (rc == 0)
        rc = sisp_x25519_from_private(t_alice_x25519, &b->alice_x);
    if (rc == 0)
        rc = sisp_rng_init(&b->rng);
    if (rc != 0)
        return rc;

    /* The references do the same work: identical ciphertext, and it decrypts. */
    if (raw_gcm_encrypt(b) != 0 || b->sealed.len != b->cipher_len ||
        memcmp(b->sealed.data, b->ref_cipher, b->cipher_len) != 0) {
        fprintf(stderr, "sisp-bench-crypto: raw GCM output differs from the seal's\n");
        return -1;
    }
    if (raw_gcm_decrypt(b) != 0 || memcmp(b->ref_plain, b->plain, b->size) != 0) {
        fprintf(stderr, "sisp-bench-crypto: raw GCM decrypt does not round-trip\n");
        return -1;
    }

    /* The raw Ed25519 references sign exactly what sisp_ident_sign signs. */
    size_t dl = sizeof SISP_DOMAIN_MANIFEST;
    b->signed_len = dl + b->manifest.len;
    if ((b->signed_m = malloc(b->signed_len)) == NULL)
        return -1;
    memcpy(b->signed_m, SISP_DOMAIN_MANIFEST, dl); /* with its NUL: the 0x00 separator */
    memcpy(b->signed_m + dl, b->manifest.data, b->manifest.len);
    word32 slen = SISP_SIG_SIZE;
    if (wc_ed25519_init(&b->ed) != 0 ||
        wc_ed25519_import_private_key(b->alice.seed, SISP_KEY_SIZE, b->alice.pub, SISP_KEY_SIZE,
                                      &b->ed) != 0 ||
        wc_ed25519_sign_msg(b->signed_m, (word32)b->signed_len, b->ed_sig, &slen, &b->ed) != 0 ||
        memcmp(b->ed_sig, b->sig, SISP_SIG_SIZE) != 0) {
        fprintf(stderr, "sisp-bench-crypto: raw Ed25519 signature differs from sisp's\n");
        return -1;
    }
    if (op_epoch_wrap(b) != 0 || op_ck_wrap(b) != 0)
        return -1;
    return 0;
}

static void teardown(bench_t *b) {
    free(b->plain);
    free(b->ref_cipher);
    free(b->ref_plain);
    free(b->signed_m);
    sisp_buf_free(&b->sealed);
    sisp_buf_free(&b->manifest);
    sisp_buf_free(&b->sink);
    sisp_buf_free(&b->manifest_t);
    wc_ed25519_free(&b->ed);
    sisp_rng_free(&b->rng);
}

/* ---- main ---- */

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: sisp-bench-crypto [--quick] [--size MiB (1..%u)] [--reps N (1..%u)]\n"
            "  --quick  1 MiB, 1 repetition, %u iterations per small operation: a smoke\n"
            "           run that exercises every path and measures nothing\n",
            SIZE_MIB_MAX, REPS_MAX, QUICK_ITERS);
}

static const char *aes_impl(void) {
#if defined(WOLFSSL_AESNI)
    return "aesni";
#elif defined(GCM_TABLE_4BIT)
    return "c-table-gcm4bit";
#else
    return "c";
#endif
}

int main(int argc, char **argv) {
    unsigned size_mib = 16, reps = 5, quick = 0, size_set = 0, reps_set = 0, v;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc &&
                   parse_uint(argv[i + 1], 1, SIZE_MIB_MAX, &v) == 0) {
            size_mib = v;
            size_set = 1;
            i++;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc &&
                   parse_uint(argv[i + 1], 1, REPS_MAX, &v) == 0) {
            reps = v;
            reps_set = 1;
            i++;
        } else {
            usage();
            return 2;
        }
    }
    if (quick) {
        size_mib = size_set ? size_mib : 1;
        reps = reps_set ? reps : 1;
    }

    static bench_t b; /* large: keep it off the stack */
    b.size = (size_t)size_mib * MIB;
    if (setup(&b) != 0) {
        fprintf(stderr, "sisp-bench-crypto: setup failed\n");
        teardown(&b);
        return 1;
    }

    /* Bulk, interleaved: each reference runs right before the sisp run it is compared to. */
    static meas_t bulk[] = {
        {"raw_gcm_encrypt", raw_gcm_encrypt, 1, {0}},
        {"seal", seal_run, 1, {0}},
        {"raw_gcm_decrypt", raw_gcm_decrypt, 1, {0}},
        {"open", open_run, 1, {0}},
        {"raw_sha256", raw_sha256, 1, {0}},
        {"raw_sha256_wolfcrypt", raw_sha256_wolfcrypt, 1, {0}},
    };
    enum { B_ENC, B_SEAL, B_DEC, B_OPEN, B_SHA, B_SHA_WC, B_N };
    static meas_t ops[] = {
        {"raw_ed25519_sign", raw_ed25519_sign, 0, {0}},
        {"ident_sign", op_ident_sign, 0, {0}},
        {"raw_ed25519_verify", raw_ed25519_verify, 0, {0}},
        {"ident_verify", op_ident_verify, 0, {0}},
        {"raw_x25519", raw_x25519, 0, {0}},
        {"epoch_wrap", op_epoch_wrap, 0, {0}},
        {"epoch_unwrap", op_epoch_unwrap, 0, {0}},
        {"raw_gcm32", raw_gcm32, 0, {0}},
        {"ck_wrap", op_ck_wrap, 0, {0}},
        {"ck_unwrap", op_ck_unwrap, 0, {0}},
    };
    enum {
        O_RSIGN,
        O_SIGN,
        O_RVERIFY,
        O_VERIFY,
        O_X25519,
        O_EWRAP,
        O_EUNWRAP,
        O_GCM32,
        O_CKWRAP,
        O_CKUNWRAP,
        O_N
    };
    int rc = 0;

    for (unsigned i = 0; rc == 0 && i < B_N; i++) /* warm-up: page in every buffer */
        rc = bulk[i].fn(&b);
    for (unsigned r = 0; rc == 0 && r < reps; r++)
        for (unsigned i = 0; rc == 0 && i < B_N; i++) {
            rc = measure(&b, &bulk[i], r, b.size);
            /* The timed seal's manifest (which holds the ciphertext hash) must be the
             * untimed one's: checked after the clock stopped. */
            if (rc == 0 && i == B_SEAL &&
                (b.manifest_t.len != b.manifest.len ||
                 memcmp(b.manifest_t.data, b.manifest.data, b.manifest.len) != 0)) {
                fprintf(stderr, "sisp-bench-crypto: timed seal produced another manifest\n");
                rc = -1;
            }
        }
    for (unsigned i = 0; rc == 0 && i < O_N; i++) {
        if (quick)
            ops[i].iters = QUICK_ITERS;
        else
            rc = calibrate(&b, &ops[i]);
    }
    for (unsigned r = 0; rc == 0 && r < reps; r++)
        for (unsigned i = 0; rc == 0 && i < O_N; i++)
            rc = measure(&b, &ops[i], r, 0);
    if (rc != 0) {
        teardown(&b);
        return 1;
    }

    static row_t rows[32];
    unsigned n = 0;
    unsigned long bytes = (unsigned long)b.size;
    double *enc = bulk[B_ENC].v, *dec = bulk[B_DEC].v, *sha = bulk[B_SHA].v;
    static double enc_sha[REPS_MAX], dec_sha[REPS_MAX];
    for (unsigned i = 0; i < B_N; i++)
        rate_row(&rows[n++], &bulk[i], "MB/s", reps, bytes);
    combined_row(&rows[n], "ref_gcm_encrypt+sha256", enc, sha, reps, bytes);
    memcpy(enc_sha, rows[n++].v, reps * sizeof *enc_sha);
    combined_row(&rows[n], "ref_gcm_decrypt+sha256", dec, sha, reps, bytes);
    memcpy(dec_sha, rows[n++].v, reps * sizeof *dec_sha);
    unsigned seal_ratio_row = n, open_ratio_row = n + 2;
    ratio_row(&rows[n++], "seal/raw_gcm_encrypt", bulk[B_SEAL].v, enc, 1, reps);
    ratio_row(&rows[n++], "seal/ref_gcm_encrypt+sha256", bulk[B_SEAL].v, enc_sha, 1, reps);
    ratio_row(&rows[n++], "open/raw_gcm_decrypt", bulk[B_OPEN].v, dec, 1, reps);
    ratio_row(&rows[n++], "open/ref_gcm_decrypt+sha256", bulk[B_OPEN].v, dec_sha, 1, reps);
    for (unsigned i = 0; i < O_N; i++)
        rate_row(&rows[n++], &ops[i], "ops/s", reps, ops[i].iters);
    ratio_row(&rows[n++], "ident_sign/raw", ops[O_SIGN].v, ops[O_RSIGN].v, 1, reps);
    ratio_row(&rows[n++], "ident_verify/raw", ops[O_VERIFY].v, ops[O_RVERIFY].v, 1, reps);
    ratio_row(&rows[n++], "epoch_wrap/raw_x25519_x2", ops[O_EWRAP].v, ops[O_X25519].v, 0.5, reps);
    ratio_row(&rows[n++], "epoch_unwrap/raw_x25519", ops[O_EUNWRAP].v, ops[O_X25519].v, 1, reps);
    ratio_row(&rows[n++], "ck_wrap/raw_gcm32", ops[O_CKWRAP].v, ops[O_GCM32].v, 1, reps);
    ratio_row(&rows[n++], "ck_unwrap/raw_gcm32", ops[O_CKUNWRAP].v, ops[O_GCM32].v, 1, reps);

    printf("# sisp-bench-crypto size_mib=%u reps=%u chunk=%u piece=%zu manifest_bytes=%zu "
           "wolfssl=%s build=%s aes=%s sha256=nettle%s\n",
           size_mib, reps, (unsigned)CHUNK, PIECE, b.manifest.len, LIBWOLFSSL_VERSION_STRING,
           sisp_crypto_accelerated() ? "accelerated" : "system", aes_impl(),
           quick ? " quick=1 (smoke run: figures are not measurements)" : "");
    printf("# MB/s = 1e6 plaintext bytes/s; ratios are per repetition, then median/min/max; "
           "work = bytes or iterations per repetition\n");
    printf("%-28s %-6s %10s %10s %10s %4s %10s\n", "metric", "unit", "median", "min", "max", "reps",
           "work");
    for (unsigned i = 0; i < n; i++)
        print_row(&rows[i], reps);
    stats_t seal_ratio = stats(rows[seal_ratio_row].v, reps);
    stats_t open_ratio = stats(rows[open_ratio_row].v, reps);
    printf("# goal seal,open >= 0.9x raw GCM: seal %.3f (%s), open %.3f (%s)\n", seal_ratio.median,
           seal_ratio.median >= 0.9 ? "met" : "not met", open_ratio.median,
           open_ratio.median >= 0.9 ? "met" : "not met");
    teardown(&b);
    return 0;
}
