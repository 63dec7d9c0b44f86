/* Sealed images (seal.h): round trips over chunk boundaries fed in random pieces, content
 * sniffing, the sealed-file header parser, a mutation matrix over a downloader's whole open
 * path (every mutation rejected with its specific error, and no plaintext of a failed chunk
 * released), (key, nonce) uniqueness over 100,000 seals, a 64 MiB streaming pass whose heap
 * stays bounded (glibc mallinfo2 counters), and API misuse.
 * Replay a failure with SISP_TEST_SEED=<seed>. */
#include "seal_fixture.h"
#include "testutil.h"

#include <sisp/error.h>
#include <sisp/frame.h>  /* SISP_NEED_MORE */
#include <sisp/packet.h> /* SISP_MANIFEST_MAX, SISP_SIG_MAX */
#include <sisp/schema.h> /* field header layout, to patch encoded manifests */
#include <sisp/seal.h>

#include <malloc.h> /* mallinfo2 (glibc) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef T_ASAN
#define T_ASAN 0
#endif
#if T_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define TAG SISP_GCM_TAG_SIZE
#define SMALL_CHUNK 4096u
#define NONCE_SEALS 100000u
#define STREAM_SIZE (64u * 1024u * 1024u)
#define STREAM_PIECE (64u * 1024u)
#define STREAM_LIMIT (2u * 1024u * 1024u)

static const uint8_t png_magic[8] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a};
static const uint8_t jpeg_magic[3] = {0xff, 0xd8, 0xff};

static sisp_ident_key_t alice, mallory;
static sisp_rng_t rng;

/* ---- small helpers ---- */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n) {
    uint8_t *d = xmalloc(n);
    if (n > 0)
        memcpy(d, p, n);
    return d;
}

static void fill_random(uint8_t *p, size_t n) {
    while (n > 0) {
        uint64_t r = t_rand();
        size_t k = n < 8 ? n : 8;
        memcpy(p, &r, k);
        p += k;
        n -= k;
    }
}

/* len bytes: the PNG or JPEG magic, then random bytes. Caller frees. */
static uint8_t *make_plain(int jpeg, size_t len) {
    uint8_t *p = xmalloc(len);
    fill_random(p, len);
    const uint8_t *m = jpeg ? jpeg_magic : png_magic;
    size_t ml = jpeg ? sizeof jpeg_magic : sizeof png_magic;
    memcpy(p, m, len < ml ? len : ml);
    return p;
}

/* A piece length for feeding a stream: often one or a few bytes, sometimes exactly a chunk
 * (with or without its tag), up to three chunks. */
static size_t piece_len(size_t chunk, size_t left) {
    size_t n;
    switch (t_rand_below(6)) {
    case 0:
        n = 1;
        break;
    case 1:
        n = 1 + (size_t)t_rand_below(16);
        break;
    case 2:
        n = chunk;
        break;
    case 3:
        n = chunk + TAG;
        break;
    default:
        n = 1 + (size_t)t_rand_below(3 * (uint64_t)chunk);
        break;
    }
    return n < left ? n : left;
}

static uint64_t chunks_for(uint64_t plain, uint32_t chunk) {
    return plain == 0 ? 1 : (plain - 1) / chunk + 1;
}

/* Plaintext bytes open_update must have released once `c` ciphertext bytes were consumed:
 * every complete chunk, and nothing of an incomplete one. */
static uint64_t released_after(const sisp_manifest_t *m, uint64_t c) {
    if (c >= m->cipher_size)
        return m->plain_size;
    uint64_t full = c / ((uint64_t)m->chunk_size + TAG) * m->chunk_size;
    return full < m->plain_size ? full : m->plain_size;
}

static int slice_is(sisp_slice_t s, const char *str) {
    return sisp_slice_eq(s, sisp_slice_str(str));
}

/* ---- sealing and opening with random splits ---- */

typedef struct {
    uint8_t content_key[SISP_KEY_SIZE];
    uint8_t nonce_prefix[SISP_NONCE_PREFIX_SIZE];
    uint8_t wrapped_key[SISP_WRAPPED_CK_SIZE];
} seal_keys_t;

/* Seals plain in random pieces: with r NULL, with the fixture's keys (variant 0), else with
 * sisp_seal_init. After every update checks the streaming contract: only complete chunks
 * known not to be last are emitted, and at most one chunk of plaintext stays buffered. */
static int seal_split(const sisp_seal_params_t *p, const uint8_t *plain, size_t len, sisp_rng_t *r,
                      sisp_buf_t *cipher, sisp_buf_t *manifest, seal_keys_t *keys) {
    sisp_seal_t s;
    int rc =
        r ? sisp_seal_init(&s, p, t_epoch_key, r)
          : sisp_seal_init_fixed(&s, p, t_epoch_key, t_content_key, t_nonce_prefix, t_wrap_nonce);
    size_t chunk = p->chunk_size ? p->chunk_size : SISP_CHUNK_SIZE_DEFAULT;
    size_t fed = 0, start = cipher->len;
    while (rc == 0 && fed < len) {
        size_t n = piece_len(chunk, len - fed);
        if ((rc = sisp_seal_update(&s, plain + fed, n, cipher)) != 0)
            break;
        fed += n;
        CHECK_U64(cipher->len - start, (fed - 1) / chunk * (chunk + TAG));
        CHECK(s.fill <= chunk);
    }
    if (rc == 0)
        rc = sisp_seal_final(&s, cipher, manifest);
    if (rc == 0 && keys != NULL) {
        memcpy(keys->content_key, s.content_key, sizeof keys->content_key);
        memcpy(keys->nonce_prefix, s.nonce_prefix, sizeof keys->nonce_prefix);
        memcpy(keys->wrapped_key, s.wrapped_key, sizeof keys->wrapped_key);
    }
    sisp_seal_free(&s);
    return rc;
}

/* header(manifest, sig) || chunks, appended to out. */
static int write_file(sisp_buf_t *out, sisp_slice_t manifest, sisp_slice_t sig,
                      sisp_slice_t chunks) {
    int rc = sisp_sealed_header_write(out, manifest.ptr, manifest.len, sig.ptr, sig.len);
    if (rc == 0)
        rc = sisp_buf_append(out, chunks.ptr, chunks.len);
    return rc;
}

/* What a downloader is told and holds. name/group "" = not checked. */
typedef struct {
    const char *owner, *name, *group;
    const uint8_t *pub;
    const uint8_t *epoch_key;
} opener_t;

static opener_t default_opener(void) {
    opener_t op = {"alice", "beach.png", "family", alice.pub, t_epoch_key};
    return op;
}

/* A downloader's whole open path over a sealed file in memory (a guard-page copy, so any read
 * past its end faults): header parse, open_init, open_key, open_update in random pieces,
 * open_final. Returns 0 or the first error (SISP_NEED_MORE if the header is incomplete); out
 * (empty on entry) receives the released plaintext. Checks after every update that exactly
 * the complete chunks were released, and after an error that it is sticky. */
static int open_file(const uint8_t *file, size_t len, const opener_t *op, sisp_buf_t *out) {
    sisp_slice_t manifest = SISP_SLICE_NULL, sig = SISP_SLICE_NULL;
    size_t hlen = 0;
    uint8_t *g = t_guard_copy(file, len);
    int rc = sisp_sealed_header_parse(g, len, &manifest, &sig, &hlen);
    if (rc != 0) {
        t_guard_free(g, len);
        return rc;
    }
    CHECK(hlen <= len);
    sisp_expect_t ex = {sisp_slice_str(op->owner), sisp_slice_str(op->name),
                        sisp_slice_str(op->group)};
    sisp_open_t o;
    rc = sisp_open_init(&o, manifest.ptr, manifest.len, sig.ptr, sig.len, op->pub, &ex);
    if (rc == 0)
        rc = sisp_open_key(&o, op->epoch_key);
    size_t at = hlen;
    while (rc == 0 && at < len) {
        size_t n = piece_len(o.m.chunk_size, len - at);
        if ((rc = sisp_open_update(&o, g + at, n, out)) != 0)
            break;
        at += n;
        CHECK_U64(out->len, released_after(&o.m, at - hlen));
    }
    if (rc == 0) {
        rc = sisp_open_final(&o);
    } else {
        /* Sticky: every later call returns the same error and releases nothing. */
        size_t keep = out->len;
        uint8_t z = 0;
        CHECK_ERR(sisp_open_key(&o, op->epoch_key), rc);
        CHECK_ERR(sisp_open_update(&o, &z, 1, out), rc);
        CHECK_ERR(sisp_open_final(&o), rc);
        CHECK_U64(out->len, keep);
    }
    sisp_open_free(&o);
    t_guard_free(g, len);
    return rc;
}

/* ---- 1. round trips ---- */

static void roundtrip_one(uint32_t chunk, size_t len, int jpeg, int use_rng) {
    int before = t_failures;
    uint8_t *plain = make_plain(jpeg, len);
    sisp_seal_params_t p = t_seal_params(chunk);
    uint32_t eff = chunk ? chunk : SISP_CHUNK_SIZE_DEFAULT;
    sisp_buf_t cipher, manifest, file, ref, out;
    seal_keys_t k;
    sisp_buf_init(&cipher, 0);
    sisp_buf_init(&manifest, 0);
    sisp_buf_init(&file, 0);
    sisp_buf_init(&ref, 0);
    sisp_buf_init(&out, 0);

    CHECK_ERR(seal_split(&p, plain, len, use_rng ? &rng : NULL, &cipher, &manifest, &k), 0);
    uint64_t n_chunks = chunks_for(len, eff);
    CHECK_U64(cipher.len, len + TAG * n_chunks);

    /* The manifest describes exactly what was sealed. */
    sisp_manifest_t m;
    uint8_t digest[SISP_SHA256_SIZE], ck[SISP_KEY_SIZE];
    CHECK_ERR(sisp_manifest_decode(manifest.data, manifest.len, &m), 0);
    CHECK_INT(m.version, SISP_SEAL_VERSION);
    CHECK(slice_is(m.owner, "alice"));
    CHECK(slice_is(m.name, "beach.png"));
    CHECK(slice_is(m.group, "family"));
    CHECK_U64(m.epoch, 1);
    CHECK_U64(m.created, T_CREATED);
    CHECK(slice_is(m.content_type, jpeg ? SISP_CT_JPEG : SISP_CT_PNG));
    CHECK_U64(m.plain_size, len);
    CHECK_U64(m.cipher_size, len + TAG * n_chunks);
    CHECK_U64(m.cipher_size, cipher.len);
    CHECK_U64(m.chunk_size, eff);
    CHECK_MEM(m.nonce_prefix.ptr, m.nonce_prefix.len, k.nonce_prefix, sizeof k.nonce_prefix);
    CHECK_MEM(m.wrapped_key.ptr, m.wrapped_key.len, k.wrapped_key, sizeof k.wrapped_key);
    CHECK_ERR(sisp_sha256(cipher.data, cipher.len, digest), 0);
    CHECK_MEM(m.cipher_sha256.ptr, m.cipher_sha256.len, digest, sizeof digest);
    CHECK_ERR(sisp_ck_unwrap(t_epoch_key, m.group, m.epoch, m.nonce_prefix.ptr, m.wrapped_key.ptr,
                             m.wrapped_key.len, ck),
              0);
    CHECK_MEM(ck, sizeof ck, k.content_key, sizeof k.content_key);
    if (!use_rng)
        CHECK_MEM(k.content_key, sizeof k.content_key, t_content_key, sizeof t_content_key);

    uint8_t sig[SISP_SIG_SIZE];
    CHECK_ERR(sisp_manifest_sign(&alice, manifest.data, manifest.len, sig), 0);
    CHECK_ERR(write_file(&file, sisp_slice(manifest.data, manifest.len),
                         sisp_slice(sig, sizeof sig), sisp_slice(cipher.data, cipher.len)),
              0);
    if (!use_rng) {
        /* Splitting the input does not change a byte of the output. */
        CHECK_ERR(t_seal_fixed(plain, len, chunk, 0, t_alice_seed, &ref), 0);
        CHECK_MEM(file.data, file.len, ref.data, ref.len);
    }

    opener_t op = default_opener();
    CHECK_ERR(open_file(file.data, file.len, &op, &out), 0);
    CHECK_MEM(out.data, out.len, plain, len);
    sisp_buf_reset(&out);
    op.name = "";
    op.group = "";
    CHECK_ERR(open_file(file.data, file.len, &op, &out), 0);
    CHECK_MEM(out.data, out.len, plain, len);

    if (t_failures != before)
        fprintf(stderr, "  ^ in round trip chunk %u, %zu bytes, %s, %s keys\n", (unsigned)eff, len,
                jpeg ? "JPEG" : "PNG", use_rng ? "random" : "fixed");
    free(plain);
    sisp_buf_free(&cipher);
    sisp_buf_free(&manifest);
    sisp_buf_free(&file);
    sisp_buf_free(&ref);
    sisp_buf_free(&out);
}

static void test_roundtrip(void) {
    static const size_t small[] = {
        3, 8, SMALL_CHUNK - 1, SMALL_CHUNK, SMALL_CHUNK + 1, 2 * SMALL_CHUNK, 3 * SMALL_CHUNK + 1};
    static const size_t large[] = {SISP_CHUNK_SIZE_DEFAULT, 200 * 1024 + 77};
    int n = 0;
    for (int use_rng = 0; use_rng < 2; use_rng++) {
        for (int jpeg = 0; jpeg < 2; jpeg++) {
            for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
                if (small[i] < (jpeg ? sizeof jpeg_magic : sizeof png_magic))
                    continue;
                roundtrip_one(SMALL_CHUNK, small[i], jpeg, use_rng);
                n++;
            }
            for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
                roundtrip_one(0, large[i], jpeg, use_rng);
                n++;
            }
        }
    }
    printf("round trips: %d (chunk 4096 and default, PNG and JPEG, fixed and random keys)\n", n);
}

/* ---- 2. content sniffing ---- */

static void sniff_expect(const uint8_t *p, size_t len, int want, const char *want_type) {
    const char *type = NULL;
    CHECK_ERR(sisp_sniff_content_type(p, len, &type), want);
    if (want == 0)
        CHECK(type != NULL && strcmp(type, want_type) == 0);
}

/* Seals `in` fed `piece` bytes at a time (0 = all at once); the error must be SISP_ECONTENT,
 * from update if at least 8 bytes were given (the sniffer waits for 8), else from final, and
 * no ciphertext may have been emitted. */
static void seal_rejects(const uint8_t *in, size_t len, size_t piece, const char *what) {
    int before = t_failures;
    sisp_seal_params_t p = t_seal_params(SMALL_CHUNK);
    sisp_seal_t s;
    sisp_buf_t cipher, manifest;
    sisp_buf_init(&cipher, 0);
    sisp_buf_init(&manifest, 0);
    CHECK_ERR(
        sisp_seal_init_fixed(&s, &p, t_epoch_key, t_content_key, t_nonce_prefix, t_wrap_nonce), 0);
    size_t fed = 0;
    int rc = 0;
    while (rc == 0 && fed < len) {
        size_t n = piece ? (piece < len - fed ? piece : len - fed) : len;
        rc = sisp_seal_update(&s, in + fed, n, &cipher);
        fed += n;
        CHECK_INT(rc != 0, fed >= 8); /* refused by the update that completes 8 bytes */
    }
    if (rc == 0) {
        CHECK(len < 8);
        rc = sisp_seal_final(&s, &cipher, &manifest);
    }
    CHECK_ERR(rc, SISP_ECONTENT);
    CHECK_ERR(sisp_seal_update(&s, png_magic, sizeof png_magic, &cipher), SISP_ECONTENT);
    CHECK_ERR(sisp_seal_final(&s, &cipher, &manifest), SISP_ECONTENT);
    CHECK_U64(cipher.len, 0);
    CHECK_U64(manifest.len, 0);
    sisp_seal_free(&s);
    sisp_buf_free(&cipher);
    sisp_buf_free(&manifest);
    if (t_failures != before)
        fprintf(stderr, "  ^ in content case %s\n", what);
}

static void test_content(void) {
    static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!";
    static const char text[] = "hello, this is plain text and certainly not an image";
    static const uint8_t png_bad_last[8] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x00};
    static const uint8_t jpeg_bad[3] = {0xff, 0xd8, 0xfe};

    sniff_expect(png_magic, 8, 0, SISP_CT_PNG);
    sniff_expect(jpeg_magic, 3, 0, SISP_CT_JPEG);
    sniff_expect(t_png_1x1, sizeof t_png_1x1, 0, SISP_CT_PNG);
    sniff_expect(png_magic, 7, SISP_ECONTENT, NULL);
    sniff_expect(png_bad_last, 8, SISP_ECONTENT, NULL);
    sniff_expect(jpeg_magic, 2, SISP_ECONTENT, NULL);
    sniff_expect(jpeg_bad, 3, SISP_ECONTENT, NULL);
    sniff_expect(gif, sizeof gif - 1, SISP_ECONTENT, NULL);
    sniff_expect((const uint8_t *)text, sizeof text - 1, SISP_ECONTENT, NULL);
    sniff_expect(NULL, 0, SISP_ECONTENT, NULL);
    sniff_expect(png_magic, 0, SISP_ECONTENT, NULL);

    uint8_t *big_text = xmalloc(3 * SMALL_CHUNK);
    memset(big_text, 'a', 3 * SMALL_CHUNK);
    seal_rejects(gif, sizeof gif - 1, 0, "GIF, whole");
    seal_rejects(gif, sizeof gif - 1, 1, "GIF, byte by byte");
    seal_rejects((const uint8_t *)text, sizeof text - 1, 0, "text");
    seal_rejects((const uint8_t *)text, sizeof text - 1, 3, "text in 3-byte pieces");
    seal_rejects(big_text, 3 * SMALL_CHUNK, 0, "3 chunks of text");
    seal_rejects(png_magic, 0, 0, "empty");
    seal_rejects(jpeg_magic, 2, 0, "FF D8");
    seal_rejects(png_magic, 7, 1, "7 bytes of the PNG magic");
    seal_rejects(png_bad_last, 8, 0, "PNG magic with a wrong last byte");
    free(big_text);
    printf("content: sniffer and 9 non-image inputs rejected with ECONTENT\n");
}

/* ---- sealed files for the header and mutation tests ---- */

typedef struct {
    uint8_t *plain;
    size_t plain_len;
    uint32_t chunk;
    sisp_buf_t file;
    size_t hlen;         /* header length */
    sisp_slice_t mbytes; /* the manifest, in file */
    sisp_slice_t sig;    /* in file */
    sisp_manifest_t m;   /* borrows from file */
} sealed_t;

static void sealed_make(sealed_t *f, const uint8_t *plain, size_t len, uint32_t chunk,
                        unsigned variant) {
    memset(f, 0, sizeof *f);
    f->plain = dup_bytes(plain, len);
    f->plain_len = len;
    f->chunk = chunk;
    sisp_buf_init(&f->file, 0);
    if (t_seal_fixed(plain, len, chunk, variant, t_alice_seed, &f->file) != 0 ||
        sisp_sealed_header_parse(f->file.data, f->file.len, &f->mbytes, &f->sig, &f->hlen) != 0 ||
        sisp_manifest_decode(f->mbytes.ptr, f->mbytes.len, &f->m) != 0) {
        fprintf(stderr, "cannot build the sealed fixture\n");
        abort();
    }
}

static void sealed_free(sealed_t *f) {
    free(f->plain);
    sisp_buf_free(&f->file);
}

static size_t chunk_off(const sealed_t *f, size_t k) {
    return f->hlen + k * ((size_t)f->chunk + TAG);
}

/* Ciphertext length of chunk k, tag included. */
static size_t chunk_len(const sealed_t *f, size_t k) {
    size_t left = f->plain_len - k * f->chunk;
    return (left < f->chunk ? left : f->chunk) + TAG;
}

static size_t n_chunks(const sealed_t *f) {
    return (size_t)chunks_for(f->plain_len, f->chunk);
}

static sisp_slice_t chunks_of(const sealed_t *f) {
    return sisp_slice(f->file.data + f->hlen, f->file.len - f->hlen);
}

/* A file with f's chunks under the manifest m (encoded afresh), signed by signer, or with
 * f's own signature if signer is NULL. */
static void file_with_manifest(const sealed_t *f, const sisp_manifest_t *m,
                               const sisp_ident_key_t *signer, sisp_buf_t *out) {
    sisp_buf_t mb;
    uint8_t sig[SISP_SIG_SIZE];
    sisp_buf_init(&mb, 0);
    sisp_buf_reset(out);
    CHECK_ERR(sisp_manifest_encode(&mb, m), 0);
    if (signer != NULL)
        CHECK_ERR(sisp_manifest_sign(signer, mb.data, mb.len, sig), 0);
    CHECK_ERR(write_file(out, sisp_slice(mb.data, mb.len),
                         signer ? sisp_slice(sig, sizeof sig) : f->sig, chunks_of(f)),
              0);
    sisp_buf_free(&mb);
}

/* Where field `id`'s value sits in encoded manifest bytes (its length in *vlen). */
static size_t field_at(const uint8_t *p, size_t len, unsigned id, size_t *vlen) {
    size_t at = 0;
    while (at + SISP_FIELD_HEADER_SIZE <= len) {
        size_t n = sisp_load32(p + at + 2);
        if ((p[at] & SISP_FIELD_ID_MASK) == id) {
            *vlen = n;
            return at + SISP_FIELD_HEADER_SIZE;
        }
        at += SISP_FIELD_HEADER_SIZE + n;
    }
    fprintf(stderr, "manifest field %u not found\n", id);
    abort();
}

/* A file with f's chunks whose manifest has field id's value overwritten in place by val
 * (same length: sisp_manifest_encode refuses inconsistent manifests), re-signed by alice. */
static void file_with_patch(const sealed_t *f, unsigned id, const void *val, size_t len,
                            sisp_buf_t *out) {
    uint8_t *mb = dup_bytes(f->mbytes.ptr, f->mbytes.len);
    uint8_t sig[SISP_SIG_SIZE];
    size_t vlen = 0, at = field_at(mb, f->mbytes.len, id, &vlen);
    CHECK_U64(vlen, len);
    memcpy(mb + at, val, len);
    CHECK_ERR(sisp_manifest_sign(&alice, mb, f->mbytes.len, sig), 0);
    sisp_buf_reset(out);
    CHECK_ERR(
        write_file(out, sisp_slice(mb, f->mbytes.len), sisp_slice(sig, sizeof sig), chunks_of(f)),
        0);
    free(mb);
}

/* ---- 3. the mutation matrix ---- */

static sealed_t fx, fx1; /* 3.5 chunks of 4096; fx1 = another image (variant 1), same text */

/* Runs the open path over a mutated file: the error must be `want`, and the released
 * plaintext exactly the first `want_chunks` verified chunks of ref's plaintext (all of it if
 * want_chunks covers it). The output's spare capacity is pre-filled with 0xAA: afterwards the
 * bytes past out.len that a failed chunk could have been decrypted into must be 0xAA
 * (untouched) or 0 (wiped), never plaintext. Returns 1 if every check held. */
static int mcase(const sealed_t *ref, const char *name, const uint8_t *file, size_t len,
                 const opener_t *op, int want, size_t want_chunks) {
    int before = t_failures;
    opener_t def = default_opener();
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    if (sisp_buf_reserve(&out, ref->plain_len + 4 * (size_t)ref->chunk) != 0)
        abort();
    memset(out.data, 0xaa, out.cap);
    size_t cap = out.cap;
    int rc = open_file(file, len, op ? op : &def, &out);
    CHECK_ERR(rc, want);
    CHECK(rc != 0 || want == 0);
    size_t want_len = want_chunks * ref->chunk;
    if (want_len > ref->plain_len)
        want_len = ref->plain_len;
    CHECK_U64(out.len, want_len);
    CHECK(out.len == ref->plain_len || out.len % ref->chunk == 0);
    CHECK_MEM(out.data, out.len, ref->plain, want_len);
    if (out.cap == cap && out.len < cap) {
        size_t end = out.len + ref->chunk < cap ? out.len + ref->chunk : cap, bad = 0;
        for (size_t i = out.len; i < end; i++)
            bad += out.data[i] != 0xaa && out.data[i] != 0;
        CHECK_U64(bad, 0);
    }
    sisp_buf_free(&out);
    if (t_failures != before)
        fprintf(stderr, "  ^ in mutation case \"%s\"\n", name);
    return t_failures == before;
}

static void report(const char *name, unsigned variants, int want) {
    printf("  %-52s %4u variant%s -> %s\n", name, variants, variants == 1 ? " " : "s",
           want == 0 ? "opens" : t_errname(want));
}

/* Bit flips in the fixed header fields. Magic and version: SISP_ESEALFMT from the parser.
 * manifest_len (u32) and sig_len (u16): a flip either puts the value out of range (0, or
 * above SISP_MANIFEST_MAX / SISP_SIG_MAX: SISP_ESEALFMT) or moves the boundaries, so the
 * parser reads the signature length at another offset (out of range there: SISP_ESEALFMT)
 * or hands open_init a manifest and signature that are not the signed ones: SISP_ESIG
 * (sisp_ident_verify rejects any signature length but 64 before anything else). With this
 * fixture sig_len = 64 = 0x0040: flipping bit 6 (0) and bits 9-15 (> 512) gives ESEALFMT,
 * bits 0-5, 7 and 8 give lengths 65..320 and ESIG. The file is longer than any header the
 * flipped lengths describe, so SISP_NEED_MORE cannot occur. */
static void case_header_fields(void) {
    const size_t fixed = SISP_SEALED_MAGIC_LEN + 1 + 4;
    const size_t sl_at = fixed + fx.mbytes.len;
    unsigned n_fmt = 0, n_sig = 0;
    char name[96];
    for (size_t byte = 0; byte < sl_at + 2; byte++) {
        if (byte == fixed)
            byte = sl_at; /* the manifest's own bytes are the next case */
        for (unsigned bit = 0; bit < 8; bit++) {
            uint8_t *m = dup_bytes(fx.file.data, fx.file.len);
            m[byte] ^= (uint8_t)(1u << bit);
            int want = SISP_ESEALFMT;
            if (byte >= SISP_SEALED_MAGIC_LEN + 1 && byte < fixed) {
                uint32_t mlen = sisp_load32(m + SISP_SEALED_MAGIC_LEN + 1);
                if (mlen != 0 && mlen <= SISP_MANIFEST_MAX) {
                    uint16_t slen = sisp_load16(m + fixed + mlen);
                    want = slen == 0 || slen > SISP_SIG_MAX ? SISP_ESEALFMT : SISP_ESIG;
                }
            } else if (byte >= sl_at) {
                uint16_t slen = sisp_load16(m + sl_at);
                want = slen == 0 || slen > SISP_SIG_MAX ? SISP_ESEALFMT : SISP_ESIG;
                if (byte == sl_at + 1)
                    CHECK_ERR(want, bit == 6 ? SISP_ESEALFMT : SISP_ESIG);
                else
                    CHECK_ERR(want, bit == 0 ? SISP_ESIG : SISP_ESEALFMT);
            }
            snprintf(name, sizeof name, "header byte %zu bit %u", byte, bit);
            mcase(&fx, name, m, fx.file.len, NULL, want, 0);
            if (want == SISP_ESEALFMT)
                n_fmt++;
            else
                n_sig++;
            free(m);
        }
    }
    report("bit flip in header magic/version/lengths", n_fmt, SISP_ESEALFMT);
    report("bit flip in header lengths (misframed manifest)", n_sig, SISP_ESIG);
}

/* Every bit of every manifest byte: the signature is checked before anything is decoded. */
static void case_manifest_bits(void) {
    const size_t at = SISP_SEALED_MAGIC_LEN + 1 + 4;
    char name[64];
    unsigned n = 0;
    for (size_t i = 0; i < fx.mbytes.len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            uint8_t *m = dup_bytes(fx.file.data, fx.file.len);
            m[at + i] ^= (uint8_t)(1u << bit);
            snprintf(name, sizeof name, "manifest byte %zu bit %u", i, bit);
            mcase(&fx, name, m, fx.file.len, NULL, SISP_ESIG, 0);
            free(m);
            n++;
        }
    }
    report("bit flip in the manifest (every bit)", n, SISP_ESIG);
}

static void case_signature_bits(void) {
    const size_t at = (size_t)(fx.sig.ptr - fx.file.data);
    char name[64];
    unsigned n = 0;
    for (size_t i = 0; i < fx.sig.len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            uint8_t *m = dup_bytes(fx.file.data, fx.file.len);
            m[at + i] ^= (uint8_t)(1u << bit);
            snprintf(name, sizeof name, "signature byte %zu bit %u", i, bit);
            mcase(&fx, name, m, fx.file.len, NULL, SISP_ESIG, 0);
            free(m);
            n++;
        }
    }
    report("bit flip in the signature (every bit)", n, SISP_ESIG);
}

/* Chunk k's ciphertext (first, last and 62 random bytes) or tag (every byte): SISP_ETAG at
 * chunk k, with chunks 0..k-1 released. */
static void case_chunk_bits(int in_tag) {
    char name[80];
    unsigned n = 0;
    for (size_t k = 0; k < n_chunks(&fx); k++) {
        size_t clen = chunk_len(&fx, k) - TAG;
        size_t count = in_tag ? TAG : 64;
        for (size_t j = 0; j < count; j++) {
            size_t pos = in_tag   ? clen + j
                         : j == 0 ? 0
                         : j == 1 ? clen - 1
                                  : (size_t)t_rand_below(clen);
            unsigned bit = (unsigned)t_rand_below(8);
            uint8_t *m = dup_bytes(fx.file.data, fx.file.len);
            m[chunk_off(&fx, k) + pos] ^= (uint8_t)(1u << bit);
            snprintf(name, sizeof name, "chunk %zu %s byte %zu bit %u", k,
                     in_tag ? "tag" : "ciphertext", pos, bit);
            mcase(&fx, name, m, fx.file.len, NULL, SISP_ETAG, k);
            free(m);
            n++;
        }
    }
    report(in_tag ? "bit flip in each chunk's tag" : "bit flip in each chunk's ciphertext", n,
           SISP_ETAG);
}

/* Cut inside the header: the parser asks for more (a reader at EOF reports it as truncated).
 * Cut in the chunks: open_update only decrypts complete chunks, so the complete ones are
 * released and open_final says SISP_ETRUNCATED, at a chunk boundary or inside a chunk. */
static void case_truncation(void) {
    char name[64];
    unsigned n_hdr = 0, n_body = 0;
    size_t hdr_cuts[] = {0, 1, 7, 8, 11, 12, 13, fx.hlen - SISP_SIG_SIZE - 1, fx.hlen - 1};
    for (size_t i = 0; i < sizeof hdr_cuts / sizeof hdr_cuts[0]; i++) {
        snprintf(name, sizeof name, "truncated at %zu (header)", hdr_cuts[i]);
        mcase(&fx, name, fx.file.data, hdr_cuts[i], NULL, SISP_NEED_MORE, 0);
        n_hdr++;
    }
    size_t body = fx.file.len - fx.hlen, cuts[64], nc = 0;
    cuts[nc++] = 0;
    cuts[nc++] = 1;
    for (size_t k = 1; k < n_chunks(&fx); k++) {
        size_t b = k * ((size_t)fx.chunk + TAG);
        cuts[nc++] = b;     /* at a boundary */
        cuts[nc++] = b - 1; /* one byte of the tag missing */
        cuts[nc++] = b - TAG;
        cuts[nc++] = b + 1;
    }
    cuts[nc++] = body - 1;
    cuts[nc++] = body - TAG;
    while (nc < 40)
        cuts[nc++] = (size_t)t_rand_below(body);
    for (size_t i = 0; i < nc; i++) {
        snprintf(name, sizeof name, "truncated at body offset %zu", cuts[i]);
        mcase(&fx, name, fx.file.data, fx.hlen + cuts[i], NULL, SISP_ETRUNCATED,
              cuts[i] / ((size_t)fx.chunk + TAG));
        n_body++;
    }
    report("truncated inside the header", n_hdr, SISP_NEED_MORE);
    report("truncated at/inside chunks", n_body, SISP_ETRUNCATED);
}

/* Bytes after the final chunk: every chunk verifies and is released, then SISP_EEXTRA. */
static void case_extra(void) {
    size_t extras[] = {1, TAG, fx.chunk + TAG};
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) {
        uint8_t *m = xmalloc(fx.file.len + extras[i]);
        memcpy(m, fx.file.data, fx.file.len);
        /* a copy of chunk 0 (whole, when it fits), else random bytes */
        if (extras[i] == (size_t)fx.chunk + TAG)
            memcpy(m + fx.file.len, fx.file.data + chunk_off(&fx, 0), extras[i]);
        else
            fill_random(m + fx.file.len, extras[i]);
        mcase(&fx, "extra bytes appended", m, fx.file.len + extras[i], NULL, SISP_EEXTRA,
              n_chunks(&fx));
        free(m);
    }
    report("extra bytes / a whole extra chunk appended", 3, SISP_EEXTRA);
}

/* Chunks reordered, dropped or duplicated: SISP_ETAG at the first chunk out of place. */
static void case_reorder(void) {
    const size_t cs = (size_t)fx.chunk + TAG;
    unsigned n = 0;
    for (size_t a = 0; a + 1 < n_chunks(&fx); a++) {
        size_t b = a + 1;
        uint8_t *m = dup_bytes(fx.file.data, fx.file.len);
        /* swap chunks a and b; the last one is shorter, so swap by rebuilding the tail */
        size_t la = chunk_len(&fx, a), lb = chunk_len(&fx, b);
        memcpy(m + chunk_off(&fx, a), fx.file.data + chunk_off(&fx, b), lb);
        memcpy(m + chunk_off(&fx, a) + lb, fx.file.data + chunk_off(&fx, a), la);
        mcase(&fx, "two chunks swapped", m, fx.file.len, NULL, SISP_ETAG, a);
        free(m);
        n++;
    }
    report("two adjacent chunks swapped", n, SISP_ETAG);

    /* chunk 1 dropped */
    uint8_t *m = xmalloc(fx.file.len);
    size_t o1 = chunk_off(&fx, 1);
    memcpy(m, fx.file.data, o1);
    memcpy(m + o1, fx.file.data + o1 + cs, fx.file.len - o1 - cs);
    mcase(&fx, "chunk 1 dropped", m, fx.file.len - cs, NULL, SISP_ETAG, 1);
    /* chunk 1 repeated in place of chunk 2 */
    memcpy(m, fx.file.data, fx.file.len);
    memcpy(m + chunk_off(&fx, 2), fx.file.data + o1, cs);
    mcase(&fx, "chunk 1 repeated as chunk 2", m, fx.file.len, NULL, SISP_ETAG, 2);
    free(m);
    report("a chunk dropped", 1, SISP_ETAG);
    report("a chunk repeated", 1, SISP_ETAG);
}

/* Chunk k from another image (variant 1: other content key and nonce prefix) at the same
 * position: SISP_ETAG at k. */
static void case_transplant(void) {
    unsigned n = 0;
    for (size_t k = 0; k < n_chunks(&fx); k++) {
        uint8_t *m = dup_bytes(fx.file.data, fx.file.len);
        memcpy(m + chunk_off(&fx, k), fx1.file.data + chunk_off(&fx1, k), chunk_len(&fx, k));
        mcase(&fx, "chunk from another image", m, fx.file.len, NULL, SISP_ETAG, k);
        free(m);
        n++;
    }
    report("chunk moved from another image", n, SISP_ETAG);
}

/* The final chunk replaced by a full non-final chunk of the same key and position: an image
 * of 4 full chunks and one of 5 with the same plaintext prefix and keys share chunks 0-2
 * byte for byte; chunk 3 differs only by the nonce's last flag, and that fails. */
static void case_last_chunk(void) {
    uint8_t *plain = make_plain(0, 5 * SMALL_CHUNK);
    sealed_t f4, f5;
    sealed_make(&f4, plain, 4 * SMALL_CHUNK, SMALL_CHUNK, 0);
    sealed_make(&f5, plain, 5 * SMALL_CHUNK, SMALL_CHUNK, 0);
    CHECK_MEM(f4.file.data + chunk_off(&f4, 0), 3 * (SMALL_CHUNK + TAG),
              f5.file.data + chunk_off(&f5, 0), 3 * (SMALL_CHUNK + TAG));
    uint8_t *m = dup_bytes(f4.file.data, f4.file.len);
    memcpy(m + chunk_off(&f4, 3), f5.file.data + chunk_off(&f5, 3), SMALL_CHUNK + TAG);
    CHECK(memcmp(m, f4.file.data, f4.file.len) != 0);
    /* (so this is also the 5-chunk image cut after its chunk 3, under the 4-chunk manifest) */
    mcase(&f4, "final chunk replaced by a non-final one", m, f4.file.len, NULL, SISP_ETAG, 3);
    free(m);
    sealed_free(&f4);
    sealed_free(&f5);
    free(plain);
    report("final chunk replaced by a full non-final chunk", 1, SISP_ETAG);
}

/* Each signed manifest field changed, re-encoded, but not re-signed: SISP_ESIG. */
static void case_manifest_fields_unsigned(void) {
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    const char *what[] = {"owner", "name", "group", "epoch", "created"};
    for (int i = 0; i < 5; i++) {
        sisp_manifest_t m = fx.m;
        switch (i) {
        case 0:
            m.owner = sisp_slice_str("mallory");
            break;
        case 1:
            m.name = sisp_slice_str("other.png");
            break;
        case 2:
            m.group = sisp_slice_str("friends");
            break;
        case 3:
            m.epoch = 2;
            break;
        default:
            m.created = T_CREATED + 1;
            break;
        }
        file_with_manifest(&fx, &m, NULL, &out);
        mcase(&fx, what[i], out.data, out.len, NULL, SISP_ESIG, 0);
    }
    sisp_buf_free(&out);
    report("manifest owner/name/group/epoch/created changed", 5, SISP_ESIG);
}

/* Signatures by the wrong user, and owner claims that do not match. */
static void case_signer(void) {
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    opener_t op = default_opener();

    /* Re-signing the unchanged manifest as alice reproduces her signature (Ed25519 is
     * deterministic): the control for everything re-signed below. */
    file_with_manifest(&fx, &fx.m, &alice, &out);
    CHECK_MEM(out.data, out.len, fx.file.data, fx.file.len);
    mcase(&fx, "re-signed by alice, unchanged", out.data, out.len, NULL, 0, n_chunks(&fx));

    /* mallory signs alice's manifest; the downloader checks it with alice's key */
    file_with_manifest(&fx, &fx.m, &mallory, &out);
    mcase(&fx, "signed by mallory, owner alice", out.data, out.len, NULL, SISP_ESIG, 0);
    report("manifest signed by another user", 1, SISP_ESIG);

    /* mallory's own manifest (owner mallory, signed by her) offered as alice's */
    sisp_manifest_t m = fx.m;
    m.owner = sisp_slice_str("mallory");
    file_with_manifest(&fx, &m, &mallory, &out);
    mcase(&fx, "mallory's image, alice's key", out.data, out.len, NULL, SISP_ESIG, 0);
    /* ... with mallory's key given as the poster's: the signature verifies, but the
     * manifest names another owner than the one the downloader was told */
    op.pub = mallory.pub;
    mcase(&fx, "mallory's image, mallory's key, claimed alice", out.data, out.len, &op, SISP_EOWNER,
          0);
    op.owner = "mallory";
    mcase(&fx, "mallory's image, mallory's key, claimed mallory", out.data, out.len, &op, 0,
          n_chunks(&fx));
    report("owner mallory signed by mallory, claimed alice", 1, SISP_EOWNER);

    /* alice signs a manifest that names bob as its owner */
    m.owner = sisp_slice_str("bob");
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "owner bob signed by alice", out.data, out.len, NULL, SISP_EOWNER, 0);
    report("owner bob signed by alice, claimed alice", 1, SISP_EOWNER);
    sisp_buf_free(&out);
}

/* The downloader expects another name or group than the (valid) manifest's. */
static void case_mismatch(void) {
    opener_t op = default_opener();
    op.name = "other.png";
    mcase(&fx, "expected another name", fx.file.data, fx.file.len, &op, SISP_EMISMATCH, 0);
    op = default_opener();
    op.group = "friends";
    mcase(&fx, "expected another group", fx.file.data, fx.file.len, &op, SISP_EMISMATCH, 0);

    /* name and group changed and re-signed by alice: a mismatch when expected, and a valid
     * image when not checked (the name and group are only bound by the signature) */
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    sisp_manifest_t m = fx.m;
    m.name = sisp_slice_str("other.png");
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "renamed, re-signed", out.data, out.len, NULL, SISP_EMISMATCH, 0);
    op = default_opener();
    op.name = "";
    mcase(&fx, "renamed, re-signed, name unchecked", out.data, out.len, &op, 0, n_chunks(&fx));
    m = fx.m;
    m.created = T_CREATED + 3600;
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "created changed, re-signed", out.data, out.len, NULL, 0, n_chunks(&fx));
    sisp_buf_free(&out);
    report("expected name / group differ from the manifest", 3, SISP_EMISMATCH);
}

/* The content key's wrap is bound to group, epoch and nonce prefix. */
static void case_wrapped_key(void) {
    sisp_buf_t out;
    sisp_buf_init(&out, 0);

    /* another image's wrapped key, re-signed by alice */
    sisp_manifest_t m = fx.m;
    m.wrapped_key = fx1.m.wrapped_key;
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "wrapped key from another image", out.data, out.len, NULL, SISP_EUNWRAP, 0);
    report("wrapped key swapped with another image's, re-signed", 1, SISP_EUNWRAP);

    /* its wrapped key and nonce prefix together: the key unwraps, the chunks do not open */
    m.nonce_prefix = fx1.m.nonce_prefix;
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "wrapped key and prefix from another image", out.data, out.len, NULL, SISP_ETAG, 0);
    /* a wrapped key made for this prefix, group and epoch, but of another content key */
    uint8_t ck[SISP_KEY_SIZE], wrapped[SISP_WRAPPED_CK_SIZE];
    memcpy(ck, t_content_key, sizeof ck);
    ck[31] ^= 1;
    CHECK_ERR(sisp_ck_wrap(t_epoch_key, fx.m.group, fx.m.epoch, fx.m.nonce_prefix.ptr, ck,
                           t_wrap_nonce, wrapped),
              0);
    m = fx.m;
    m.wrapped_key = sisp_slice(wrapped, sizeof wrapped);
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "another content key", out.data, out.len, NULL, SISP_ETAG, 0);
    report("another image's key context / content key, re-signed", 2, SISP_ETAG);

    /* the wrap's AAD: group, epoch, nonce prefix changed and re-signed */
    m = fx.m;
    m.epoch = 2;
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "epoch changed, re-signed", out.data, out.len, NULL, SISP_EUNWRAP, 0);
    m = fx.m;
    m.group = sisp_slice_str("friends");
    file_with_manifest(&fx, &m, &alice, &out);
    opener_t op = default_opener();
    op.group = "";
    mcase(&fx, "group changed, re-signed", out.data, out.len, &op, SISP_EUNWRAP, 0);
    uint8_t prefix[SISP_NONCE_PREFIX_SIZE];
    memcpy(prefix, fx.m.nonce_prefix.ptr, sizeof prefix);
    prefix[6] ^= 0x80;
    m = fx.m;
    m.nonce_prefix = sisp_slice(prefix, sizeof prefix);
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "nonce prefix changed, re-signed", out.data, out.len, NULL, SISP_EUNWRAP, 0);
    report("epoch / group / nonce prefix changed, re-signed", 3, SISP_EUNWRAP);

    /* the wrong epoch key */
    uint8_t ek[SISP_KEY_SIZE];
    memcpy(ek, t_epoch_key, sizeof ek);
    ek[0] ^= 1;
    op = default_opener();
    op.epoch_key = ek;
    mcase(&fx, "wrong epoch key", fx.file.data, fx.file.len, &op, SISP_EUNWRAP, 0);
    report("wrong epoch key", 1, SISP_EUNWRAP);
    sisp_buf_free(&out);
}

/* The signed hash and sizes. */
static void case_hash_and_sizes(void) {
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    uint8_t hash[SISP_SHA256_SIZE];
    memcpy(hash, fx.m.cipher_sha256.ptr, sizeof hash);
    hash[0] ^= 1;
    sisp_manifest_t m = fx.m;
    m.cipher_sha256 = sisp_slice(hash, sizeof hash);
    file_with_manifest(&fx, &m, &alice, &out);
    /* every chunk verifies and is released; only final can tell */
    mcase(&fx, "wrong cipher_sha256, re-signed", out.data, out.len, NULL, SISP_EHASH,
          n_chunks(&fx));
    report("wrong cipher_sha256, re-signed", 1, SISP_EHASH);

    /* Sizes that agree with each other but not with the chunks. */
    const uint64_t cs = (uint64_t)fx.chunk + TAG;
    m = fx.m;
    m.plain_size = 3 * (uint64_t)fx.chunk; /* chunk 2 must then be final: it is not */
    m.cipher_size = 3 * cs;
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "sizes shrunk to 3 chunks", out.data, out.len, NULL, SISP_ETAG, 2);
    m.plain_size = fx.m.plain_size - 1; /* the last chunk ends one byte early */
    m.cipher_size = fx.m.cipher_size - 1;
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "sizes shrunk by 1", out.data, out.len, NULL, SISP_ETAG, 3);
    report("sizes shrunk consistently, re-signed", 2, SISP_ETAG);
    m.plain_size = fx.m.plain_size + 1;
    m.cipher_size = fx.m.cipher_size + 1;
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "sizes grown by 1", out.data, out.len, NULL, SISP_ETRUNCATED, 3);
    m.plain_size = fx.m.plain_size + fx.chunk;
    m.cipher_size = fx.m.cipher_size + fx.chunk + TAG;
    file_with_manifest(&fx, &m, &alice, &out);
    mcase(&fx, "sizes grown by a chunk", out.data, out.len, NULL, SISP_ETRUNCATED, 3);
    report("sizes grown consistently, re-signed", 2, SISP_ETRUNCATED);

    /* Inconsistent manifests, patched in place and re-signed: SISP_EMANIFEST. */
    uint8_t v[8];
    sisp_store32(v, 2 * fx.chunk);
    file_with_patch(&fx, 10, v, 4, &out);
    mcase(&fx, "chunk_size doubled", out.data, out.len, NULL, SISP_EMANIFEST, 0);
    sisp_store32(v, fx.chunk + 1);
    file_with_patch(&fx, 10, v, 4, &out);
    mcase(&fx, "chunk_size not a power of two", out.data, out.len, NULL, SISP_EMANIFEST, 0);
    sisp_store64(v, fx.m.plain_size + 1);
    file_with_patch(&fx, 8, v, 8, &out);
    mcase(&fx, "plain_size alone changed", out.data, out.len, NULL, SISP_EMANIFEST, 0);
    file_with_patch(&fx, 7, "image/gif", 9, &out);
    mcase(&fx, "content type image/gif", out.data, out.len, NULL, SISP_EMANIFEST, 0);
    sisp_store16(v, SISP_SEAL_VERSION + 1);
    file_with_patch(&fx, 1, v, 2, &out);
    mcase(&fx, "manifest version 2", out.data, out.len, NULL, SISP_EMANIFEST, 0);
    report("inconsistent manifest, re-signed", 5, SISP_EMANIFEST);
    sisp_buf_free(&out);
}

static void test_mutations(void) {
    /* 3.5 chunks of 4096, and another image of the same plaintext (variant 1) */
    uint8_t *plain = make_plain(0, 3 * SMALL_CHUNK + SMALL_CHUNK / 2);
    sealed_make(&fx, plain, 3 * SMALL_CHUNK + SMALL_CHUNK / 2, SMALL_CHUNK, 0);
    sealed_make(&fx1, plain, 3 * SMALL_CHUNK + SMALL_CHUNK / 2, SMALL_CHUNK, 1);
    free(plain);
    CHECK_U64(n_chunks(&fx), 4);
    CHECK_U64(fx.file.len, chunk_off(&fx, 3) + SMALL_CHUNK / 2 + TAG);

    printf("mutation matrix (%zu-byte image, %zu chunks of %u, manifest %zu bytes):\n",
           fx.plain_len, n_chunks(&fx), (unsigned)fx.chunk, fx.mbytes.len);
    mcase(&fx, "unmodified", fx.file.data, fx.file.len, NULL, 0, n_chunks(&fx));
    report("unmodified (control)", 1, 0);
    case_header_fields();
    case_manifest_bits();
    case_signature_bits();
    case_chunk_bits(0);
    case_chunk_bits(1);
    case_truncation();
    case_extra();
    case_reorder();
    case_transplant();
    case_last_chunk();
    case_manifest_fields_unsigned();
    case_signer();
    case_mismatch();
    case_wrapped_key();
    case_hash_and_sizes();
}

/* ---- 6. the header parser ---- */

static int parse(const uint8_t *p, size_t len, size_t *need) {
    sisp_slice_t m, s;
    uint8_t *g = t_guard_copy(p, len);
    *need = 0;
    int rc = sisp_sealed_header_parse(g, len, &m, &s, need);
    t_guard_free(g, len);
    return rc;
}

static void test_header(void) {
    const size_t fixed = SISP_SEALED_MAGIC_LEN + 1 + 4;
    const size_t mlen = fx.mbytes.len, hlen = fx.hlen;
    const uint8_t *f = fx.file.data;
    size_t need;
    CHECK_U64(hlen, fixed + mlen + 2 + SISP_SIG_SIZE);

    /* every prefix of a valid header: NEED_MORE with the bytes needed so far */
    for (size_t len = 0; len < hlen; len++) {
        size_t want = len < fixed ? fixed : len < fixed + mlen + 2 ? fixed + mlen + 2 : hlen;
        CHECK_ERR(parse(f, len, &need), SISP_NEED_MORE);
        CHECK_U64(need, want);
    }
    /* the whole header, with and without chunks after it */
    sisp_slice_t m, s;
    uint8_t *g = t_guard_copy(f, hlen);
    CHECK_ERR(sisp_sealed_header_parse(g, hlen, &m, &s, &need), 0);
    CHECK_U64(need, hlen);
    CHECK(m.ptr == g + fixed && m.len == mlen);
    CHECK(s.ptr == g + fixed + mlen + 2 && s.len == SISP_SIG_SIZE);
    CHECK_MEM(m.ptr, m.len, fx.mbytes.ptr, fx.mbytes.len);
    CHECK_MEM(s.ptr, s.len, fx.sig.ptr, fx.sig.len);
    t_guard_free(g, hlen);
    CHECK_ERR(parse(f, fx.file.len, &need), 0);
    CHECK_U64(need, hlen);

    /* wrong magic: refused as soon as the wrong byte is seen */
    for (size_t i = 0; i < SISP_SEALED_MAGIC_LEN; i++) {
        uint8_t *b = dup_bytes(f, hlen);
        b[i] ^= 0x20;
        CHECK_ERR(parse(b, i + 1, &need), SISP_ESEALFMT);
        CHECK_ERR(parse(b, hlen, &need), SISP_ESEALFMT);
        free(b);
    }
    /* version */
    static const uint8_t versions[] = {0, 2, 0x81, 0xff};
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t *b = dup_bytes(f, hlen);
        b[SISP_SEALED_MAGIC_LEN] = versions[i];
        CHECK_ERR(parse(b, SISP_SEALED_MAGIC_LEN + 1, &need), SISP_ESEALFMT);
        CHECK_ERR(parse(b, hlen, &need), SISP_ESEALFMT);
        free(b);
    }
    /* manifest_len: 0 and above the limit refused; the limit itself accepted */
    static const uint32_t mlens[] = {0, SISP_MANIFEST_MAX + 1, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof mlens / sizeof mlens[0]; i++) {
        uint8_t *b = dup_bytes(f, hlen);
        sisp_store32(b + SISP_SEALED_MAGIC_LEN + 1, mlens[i]);
        CHECK_ERR(parse(b, fixed, &need), SISP_ESEALFMT);
        CHECK_ERR(parse(b, hlen, &need), SISP_ESEALFMT);
        free(b);
    }
    {
        uint8_t *b = dup_bytes(f, hlen);
        sisp_store32(b + SISP_SEALED_MAGIC_LEN + 1, SISP_MANIFEST_MAX);
        CHECK_ERR(parse(b, hlen, &need), SISP_NEED_MORE);
        CHECK_U64(need, fixed + SISP_MANIFEST_MAX + 2);
        free(b);
    }
    /* sig_len: 0 and above the limit refused; the limit itself accepted */
    static const uint16_t slens[] = {0, SISP_SIG_MAX + 1, 0x8000u, 0xffffu};
    for (size_t i = 0; i < sizeof slens / sizeof slens[0]; i++) {
        uint8_t *b = dup_bytes(f, hlen);
        sisp_store16(b + fixed + mlen, slens[i]);
        CHECK_ERR(parse(b, fixed + mlen + 2, &need), SISP_ESEALFMT);
        CHECK_ERR(parse(b, hlen, &need), SISP_ESEALFMT);
        free(b);
    }
    {
        uint8_t *b = dup_bytes(f, hlen);
        sisp_store16(b + fixed + mlen, SISP_SIG_MAX);
        CHECK_ERR(parse(b, hlen, &need), SISP_NEED_MORE);
        CHECK_U64(need, fixed + mlen + 2 + SISP_SIG_MAX);
        free(b);
    }

    /* the writer: refuses what the parser would, writes the limits the parser accepts */
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    uint8_t *big = xmalloc(SISP_MANIFEST_MAX + 1);
    memset(big, 0x5a, SISP_MANIFEST_MAX + 1);
    CHECK_ERR(sisp_sealed_header_write(&out, big, 0, big, 64), SISP_EINVAL);
    CHECK_ERR(sisp_sealed_header_write(&out, big, SISP_MANIFEST_MAX + 1, big, 64), SISP_EINVAL);
    CHECK_ERR(sisp_sealed_header_write(&out, big, 10, big, 0), SISP_EINVAL);
    CHECK_ERR(sisp_sealed_header_write(&out, big, 10, big, SISP_SIG_MAX + 1), SISP_EINVAL);
    CHECK_U64(out.len, 0);
    CHECK_ERR(sisp_sealed_header_write(&out, big, SISP_MANIFEST_MAX, big, SISP_SIG_MAX), 0);
    CHECK_U64(out.len, fixed + SISP_MANIFEST_MAX + 2 + SISP_SIG_MAX);
    CHECK_ERR(parse(out.data, out.len, &need), 0);
    CHECK_U64(need, out.len);
    free(big);
    sisp_buf_free(&out);
    printf("header: every prefix of a %zu-byte header, bad magic/version/lengths\n", hlen);
}

/* ---- 4. nonce uniqueness ---- */

static int cmp_key(const void *a, const void *b) {
    return memcmp(a, b, SISP_KEY_SIZE);
}
static int cmp_prefix(const void *a, const void *b) {
    return memcmp(a, b, SISP_NONCE_PREFIX_SIZE);
}
static int cmp_pair(const void *a, const void *b) {
    return memcmp(a, b, SISP_KEY_SIZE + SISP_NONCE_PREFIX_SIZE);
}
static int cmp_wrap_nonce(const void *a, const void *b) {
    return memcmp(a, b, SISP_GCM_NONCE_SIZE);
}

static size_t count_repeats(uint8_t *v, size_t n, size_t size,
                            int (*cmp)(const void *, const void *)) {
    size_t r = 0;
    qsort(v, n, size, cmp);
    for (size_t i = 1; i < n; i++)
        r += memcmp(v + (i - 1) * size, v + i * size, size) == 0;
    return r;
}

/* 100,000 seals with the real generator. A chunk's nonce is prefix || counter || last, so
 * (content key, nonce) pairs of two seals can only collide if their (key, prefix) pairs do;
 * within one seal the counter differs. Checked: no (key, prefix) pair repeats, no content
 * key repeats (2^-256 chance each), no nonce prefix repeats (56 random bits: about
 * 1e10 / 2^57 = 7e-8 chance over 1e5 seals), and no wrap nonce repeats (every seal wraps
 * under the same epoch key, so these are GCM nonces too). What the manifest publishes is
 * what was drawn. Signing is skipped: it does not touch the nonces. */
static void test_nonces(void) {
    const size_t n = NONCE_SEALS;
    const size_t ps = SISP_KEY_SIZE + SISP_NONCE_PREFIX_SIZE;
    uint8_t *keys = xmalloc(n * SISP_KEY_SIZE), *prefixes = xmalloc(n * SISP_NONCE_PREFIX_SIZE);
    uint8_t *pairs = xmalloc(n * ps), *wrap = xmalloc(n * SISP_GCM_NONCE_SIZE);
    sisp_seal_params_t p = t_seal_params(SMALL_CHUNK);
    sisp_buf_t cipher, manifest;
    sisp_buf_init(&cipher, 0);
    sisp_buf_init(&manifest, 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        sisp_seal_t s;
        sisp_manifest_t m;
        int rc = sisp_seal_init(&s, &p, t_epoch_key, &rng);
        memcpy(keys + i * SISP_KEY_SIZE, s.content_key, SISP_KEY_SIZE);
        memcpy(prefixes + i * SISP_NONCE_PREFIX_SIZE, s.nonce_prefix, SISP_NONCE_PREFIX_SIZE);
        memcpy(pairs + i * ps, s.content_key, SISP_KEY_SIZE);
        memcpy(pairs + i * ps + SISP_KEY_SIZE, s.nonce_prefix, SISP_NONCE_PREFIX_SIZE);
        memcpy(wrap + i * SISP_GCM_NONCE_SIZE, s.wrapped_key, SISP_GCM_NONCE_SIZE);
        if (rc == 0)
            rc = sisp_seal_update(&s, t_png_1x1, sizeof t_png_1x1, &cipher);
        if (rc == 0)
            rc = sisp_seal_final(&s, &cipher, &manifest);
        if (rc == 0)
            rc = sisp_manifest_decode(manifest.data, manifest.len, &m);
        if (rc != 0 || cipher.len != sizeof t_png_1x1 + TAG ||
            memcmp(m.nonce_prefix.ptr, s.nonce_prefix, SISP_NONCE_PREFIX_SIZE) != 0 ||
            memcmp(m.wrapped_key.ptr, s.wrapped_key, SISP_WRAPPED_CK_SIZE) != 0)
            bad++;
        sisp_seal_free(&s);
        sisp_buf_reset(&cipher);
        sisp_buf_reset(&manifest);
    }
    CHECK_U64(bad, 0);
    size_t r_pair = count_repeats(pairs, n, ps, cmp_pair);
    size_t r_key = count_repeats(keys, n, SISP_KEY_SIZE, cmp_key);
    size_t r_prefix = count_repeats(prefixes, n, SISP_NONCE_PREFIX_SIZE, cmp_prefix);
    size_t r_wrap = count_repeats(wrap, n, SISP_GCM_NONCE_SIZE, cmp_wrap_nonce);
    CHECK_U64(r_pair, 0);
    CHECK_U64(r_key, 0);
    CHECK_U64(r_prefix, 0);
    CHECK_U64(r_wrap, 0);
    printf("nonces: %zu seals, repeats: (key, prefix) %zu, key %zu, prefix %zu, wrap nonce %zu\n",
           n, r_pair, r_key, r_prefix, r_wrap);
    free(keys);
    free(prefixes);
    free(pairs);
    free(wrap);
    sisp_buf_free(&cipher);
    sisp_buf_free(&manifest);
}

/* ---- 5. streaming memory ---- */

static size_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void sample(size_t *peak) {
    size_t h = heap_in_use();
    if (h > *peak)
        *peak = h;
}

/* The next piece of the 64 MiB plaintext (PNG magic first, then random bytes). */
static size_t next_plain(uint8_t *buf, size_t done) {
    size_t n = STREAM_PIECE - (size_t)t_rand_below(STREAM_PIECE / 2);
    if (n > STREAM_SIZE - done)
        n = STREAM_SIZE - done;
    fill_random(buf, n);
    if (done == 0)
        memcpy(buf, png_magic, sizeof png_magic);
    return n;
}

/* Seals a 64 MiB image generated on the fly, its ciphertext going to a temporary file, then
 * opens it from there; only running SHA-256s of the plaintext are kept. The output buffers
 * have a fixed capacity (their max: a call that tried to grow them would fail) and are
 * drained after every call. The heap in use (mallinfo2: uordblks + hblkhd) is sampled after
 * every library call; its peak minus the baseline taken before init, with the I/O buffers
 * already allocated, must stay under 2 MiB. Under ASan the allocator is ASan's, so only that
 * assertion is skipped. */
static void test_streaming(void) {
    const size_t chunk = SISP_CHUNK_SIZE_DEFAULT;
    sisp_seal_params_t p = t_seal_params(0);
    uint8_t *io = xmalloc(STREAM_PIECE + TAG);
    sisp_buf_t cbuf, pbuf, mbuf;
    sisp_sha256_t h_plain, h_cipher, h_open;
    uint8_t d_plain[32], d_cipher[32], d_open[32], sig[SISP_SIG_SIZE];
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL);
    if (tmp == NULL)
        return;
    setvbuf(tmp, NULL, _IONBF, 0);
    sisp_buf_init(&cbuf, 2 * (chunk + TAG));
    sisp_buf_init(&pbuf, 2 * chunk);
    sisp_buf_init(&mbuf, SISP_MANIFEST_MAX);
    if (sisp_buf_reserve(&cbuf, cbuf.max) != 0 || sisp_buf_reserve(&pbuf, pbuf.max) != 0 ||
        sisp_buf_reserve(&mbuf, mbuf.max) != 0)
        abort();
    CHECK_ERR(sisp_sha256_init(&h_plain), 0);
    CHECK_ERR(sisp_sha256_init(&h_cipher), 0);
    CHECK_ERR(sisp_sha256_init(&h_open), 0);

    /* seal */
    size_t base_seal = heap_in_use(), peak_seal = base_seal;
    sisp_seal_t s;
    int rc = sisp_seal_init(&s, &p, t_epoch_key, &rng);
    sample(&peak_seal);
    size_t done = 0;
    while (rc == 0 && done < STREAM_SIZE) {
        size_t n = next_plain(io, done);
        done += n;
        CHECK_ERR(sisp_sha256_update(&h_plain, io, n), 0);
        rc = sisp_seal_update(&s, io, n, &cbuf);
        sample(&peak_seal);
        CHECK(fwrite(cbuf.data, 1, cbuf.len, tmp) == cbuf.len);
        CHECK_ERR(sisp_sha256_update(&h_cipher, cbuf.data, cbuf.len), 0);
        sisp_buf_reset(&cbuf);
    }
    CHECK_ERR(rc, 0);
    CHECK_ERR(sisp_seal_final(&s, &cbuf, &mbuf), 0);
    sample(&peak_seal);
    CHECK(fwrite(cbuf.data, 1, cbuf.len, tmp) == cbuf.len);
    CHECK_ERR(sisp_sha256_update(&h_cipher, cbuf.data, cbuf.len), 0);
    sisp_buf_reset(&cbuf);
    sisp_seal_free(&s);
    sample(&peak_seal);
    CHECK_U64(cbuf.cap, cbuf.max);
    CHECK_U64(mbuf.cap, mbuf.max);

    sisp_manifest_t m;
    CHECK_ERR(sisp_sha256_final(&h_cipher, d_cipher), 0);
    CHECK_ERR(sisp_sha256_final(&h_plain, d_plain), 0);
    CHECK_ERR(sisp_manifest_decode(mbuf.data, mbuf.len, &m), 0);
    CHECK_U64(m.plain_size, STREAM_SIZE);
    CHECK_U64(m.cipher_size, STREAM_SIZE + TAG * (STREAM_SIZE / chunk));
    CHECK_MEM(m.cipher_sha256.ptr, m.cipher_sha256.len, d_cipher, sizeof d_cipher);
    CHECK_ERR(sisp_manifest_sign(&alice, mbuf.data, mbuf.len, sig), 0);
    CHECK(fseek(tmp, 0, SEEK_SET) == 0);

    /* open */
    sisp_expect_t ex = {sisp_slice_str("alice"), sisp_slice_str("beach.png"),
                        sisp_slice_str("family")};
    size_t base_open = heap_in_use(), peak_open = base_open;
    sisp_open_t o;
    rc = sisp_open_init(&o, mbuf.data, mbuf.len, sig, sizeof sig, alice.pub, &ex);
    sample(&peak_open);
    if (rc == 0)
        rc = sisp_open_key(&o, t_epoch_key);
    sample(&peak_open);
    uint64_t got = 0;
    while (rc == 0) {
        size_t want = STREAM_PIECE + TAG - (size_t)t_rand_below(STREAM_PIECE / 2);
        size_t n = fread(io, 1, want, tmp);
        if (n == 0)
            break;
        got += n;
        rc = sisp_open_update(&o, io, n, &pbuf);
        sample(&peak_open);
        CHECK_ERR(sisp_sha256_update(&h_open, pbuf.data, pbuf.len), 0);
        sisp_buf_reset(&pbuf);
    }
    CHECK_ERR(rc, 0);
    CHECK_U64(got, m.cipher_size);
    CHECK_ERR(sisp_open_final(&o), 0);
    sample(&peak_open);
    sisp_open_free(&o);
    sample(&peak_open);
    CHECK_U64(pbuf.cap, pbuf.max);
    CHECK_ERR(sisp_sha256_final(&h_open, d_open), 0);
    CHECK_MEM(d_open, sizeof d_open, d_plain, sizeof d_plain);

    size_t ds = peak_seal - base_seal, dop = peak_open - base_open;
    printf("streaming: 64 MiB sealed and opened; heap peak above baseline: seal %zu bytes, "
           "open %zu bytes (limit %u)%s\n",
           ds, dop, STREAM_LIMIT,
           T_ASAN ? "; ASan build: allocator counters not meaningful, not asserted" : "");
    if (!T_ASAN) {
        CHECK(ds < STREAM_LIMIT);
        CHECK(dop < STREAM_LIMIT);
    }
    fclose(tmp);
    free(io);
    sisp_buf_free(&cbuf);
    sisp_buf_free(&pbuf);
    sisp_buf_free(&mbuf);
}

/* ---- 7. API misuse ---- */

static void seal_init_fails(sisp_seal_params_t p, int want) {
    sisp_seal_t s;
    sisp_buf_t b;
    sisp_buf_init(&b, 0);
    CHECK_ERR(sisp_seal_init(&s, &p, t_epoch_key, &rng), want);
    CHECK_ERR(sisp_seal_update(&s, png_magic, sizeof png_magic, &b), want);
    CHECK_ERR(sisp_seal_final(&s, &b, &b), want);
    CHECK_U64(b.len, 0);
    sisp_seal_free(&s);
    sisp_buf_free(&b);
}

static void open_init_fails(const uint8_t *man, size_t mlen, const uint8_t *sig, size_t slen,
                            int want) {
    sisp_open_t o;
    sisp_buf_t b;
    uint8_t z = 0;
    sisp_buf_init(&b, 0);
    sisp_expect_t ex = {sisp_slice_str("alice"), SISP_SLICE_NULL, SISP_SLICE_NULL};
    CHECK_ERR(sisp_open_init(&o, man, mlen, sig, slen, alice.pub, &ex), want);
    CHECK_ERR(sisp_open_key(&o, t_epoch_key), want);
    CHECK_ERR(sisp_open_update(&o, &z, 1, &b), want);
    CHECK_ERR(sisp_open_final(&o), want);
    CHECK_U64(b.len, 0);
    sisp_open_free(&o);
    sisp_buf_free(&b);
}

static void test_misuse(void) {
    sisp_seal_free(NULL);
    sisp_open_free(NULL);

    /* sealing parameters */
    sisp_seal_params_t p = t_seal_params(SMALL_CHUNK);
    p.owner = sisp_slice_str("A");
    seal_init_fails(p, SISP_EUSERNAME);
    p = t_seal_params(SMALL_CHUNK);
    p.name = sisp_slice_str("");
    seal_init_fails(p, SISP_EIMAGENAME);
    p = t_seal_params(SMALL_CHUNK);
    p.group = sisp_slice_str("x");
    seal_init_fails(p, SISP_EGROUPNAME);
    p = t_seal_params(SMALL_CHUNK);
    p.epoch = 0;
    seal_init_fails(p, SISP_EINVAL);
    static const uint32_t bad_chunks[] = {1,          2048, 4095, 3 * 4096, 2 * SISP_CHUNK_SIZE_MAX,
                                          0x80000000u};
    for (size_t i = 0; i < sizeof bad_chunks / sizeof bad_chunks[0]; i++)
        seal_init_fails(t_seal_params(bad_chunks[i]), SISP_EINVAL);

    /* sealing past the end */
    sisp_seal_t s;
    sisp_buf_t c, mb, out;
    sisp_buf_init(&c, 0);
    sisp_buf_init(&mb, 0);
    sisp_buf_init(&out, 0);
    p = t_seal_params(SMALL_CHUNK);
    CHECK_ERR(sisp_seal_init(&s, &p, t_epoch_key, &rng), 0);
    CHECK_ERR(sisp_seal_update(&s, t_png_1x1, sizeof t_png_1x1, &c), 0);
    CHECK_ERR(sisp_seal_final(&s, &c, &mb), 0);
    size_t clen = c.len, mlen = mb.len;
    CHECK_ERR(sisp_seal_update(&s, t_png_1x1, sizeof t_png_1x1, &c), SISP_EINVAL);
    CHECK_ERR(sisp_seal_final(&s, &c, &mb), SISP_EINVAL);
    CHECK_U64(c.len, clen);
    CHECK_U64(mb.len, mlen);
    sisp_seal_free(&s);

    /* opening: bad manifests and signatures, then sticky */
    uint8_t sig[SISP_SIG_SIZE];
    CHECK_ERR(sisp_manifest_sign(&alice, mb.data, mb.len, sig), 0);
    uint8_t *big = xmalloc(SISP_MANIFEST_MAX + 1);
    memset(big, 0, SISP_MANIFEST_MAX + 1);
    open_init_fails(mb.data, 0, sig, sizeof sig, SISP_EMANIFEST);
    open_init_fails(big, SISP_MANIFEST_MAX + 1, sig, sizeof sig, SISP_EMANIFEST);
    open_init_fails(mb.data, mb.len, sig, sizeof sig - 1, SISP_ESIG);
    sig[10] ^= 4;
    open_init_fails(mb.data, mb.len, sig, sizeof sig, SISP_ESIG);
    sig[10] ^= 4;
    /* correctly signed garbage: the signature is checked first, then the decoding */
    uint8_t gsig[SISP_SIG_SIZE];
    CHECK_ERR(sisp_manifest_sign(&alice, big, 100, gsig), 0);
    open_init_fails(big, 100, gsig, sizeof gsig, SISP_EMANIFEST);
    free(big);

    /* open_update / open_final before open_key: EINVAL, not sticky (no stream error yet) */
    sisp_open_t o;
    sisp_expect_t ex = {sisp_slice_str("alice"), SISP_SLICE_NULL, SISP_SLICE_NULL};
    CHECK_ERR(sisp_open_init(&o, mb.data, mb.len, sig, sizeof sig, alice.pub, &ex), 0);
    CHECK_ERR(sisp_open_update(&o, c.data, c.len, &out), SISP_EINVAL);
    CHECK_ERR(sisp_open_final(&o), SISP_EINVAL);
    CHECK_U64(out.len, 0);
    CHECK_ERR(sisp_open_key(&o, t_epoch_key), 0);
    CHECK_ERR(sisp_open_update(&o, c.data, c.len, &out), 0);
    CHECK_ERR(sisp_open_final(&o), 0);
    CHECK_MEM(out.data, out.len, t_png_1x1, sizeof t_png_1x1);
    /* finished: further calls are misuse */
    CHECK_ERR(sisp_open_update(&o, c.data, 1, &out), SISP_EINVAL);
    CHECK_ERR(sisp_open_final(&o), SISP_EINVAL);
    CHECK_U64(out.len, sizeof t_png_1x1);
    sisp_open_free(&o);

    /* a failed open_key (EUNWRAP) is sticky and frees cleanly */
    uint8_t ek[SISP_KEY_SIZE];
    memcpy(ek, t_epoch_key, sizeof ek);
    ek[5] ^= 1;
    sisp_buf_reset(&out);
    CHECK_ERR(sisp_open_init(&o, mb.data, mb.len, sig, sizeof sig, alice.pub, &ex), 0);
    CHECK_ERR(sisp_open_key(&o, ek), SISP_EUNWRAP);
    CHECK_ERR(sisp_open_key(&o, t_epoch_key), SISP_EUNWRAP);
    CHECK_ERR(sisp_open_update(&o, c.data, c.len, &out), SISP_EUNWRAP);
    CHECK_ERR(sisp_open_final(&o), SISP_EUNWRAP);
    CHECK_U64(out.len, 0);
    sisp_open_free(&o);

    /* a tag failure is sticky: the right bytes afterwards change nothing */
    c.data[0] ^= 1;
    CHECK_ERR(sisp_open_init(&o, mb.data, mb.len, sig, sizeof sig, alice.pub, &ex), 0);
    CHECK_ERR(sisp_open_key(&o, t_epoch_key), 0);
    CHECK_ERR(sisp_open_update(&o, c.data, c.len, &out), SISP_ETAG);
    c.data[0] ^= 1;
    CHECK_ERR(sisp_open_update(&o, c.data, c.len, &out), SISP_ETAG);
    CHECK_ERR(sisp_open_final(&o), SISP_ETAG);
    CHECK_U64(out.len, 0);
    sisp_open_free(&o);

    /* open_key called twice on a keyed context: must not leak the first AES context. */
    size_t before = heap_in_use();
    CHECK_ERR(sisp_open_init(&o, mb.data, mb.len, sig, sizeof sig, alice.pub, &ex), 0);
    CHECK_ERR(sisp_open_key(&o, t_epoch_key), 0);
    int rc2 = sisp_open_key(&o, t_epoch_key);
    CHECK(rc2 == 0 || rc2 == SISP_EINVAL);
    sisp_open_free(&o);
    if (!T_ASAN) /* under ASan, LeakSanitizer reports it at exit */
        CHECK_U64(heap_in_use(), before);

    sisp_buf_free(&c);
    sisp_buf_free(&mb);
    sisp_buf_free(&out);
    printf("misuse: bad parameters, calls out of order, sticky errors, frees\n");
}

/* A reader's receive buffer before the first bytes arrive is an empty sisp_buf_t, whose data
 * is NULL: parsing it must ask for the fixed header. (The parser passes the NULL to memcmp
 * with length 0, which is undefined behaviour: UBSan stops here. Runs last for that reason.) */
static void test_parse_empty_buffer(void) {
    sisp_buf_t b;
    sisp_slice_t m, s;
    size_t need = 0;
    sisp_buf_init(&b, 0);
    CHECK_ERR(sisp_sealed_header_parse(b.data, b.len, &m, &s, &need), SISP_NEED_MORE);
    CHECK_U64(need, SISP_SEALED_MAGIC_LEN + 1 + 4);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep the report if LeakSanitizer ends the process */
    t_rand_seed_from_env("test_seal");
    if (sisp_rng_init(&rng) != 0 || sisp_ident_from_seed(t_alice_seed, &alice) != 0 ||
        sisp_ident_from_seed(t_mallory_seed, &mallory) != 0) {
        fprintf(stderr, "cannot set up keys\n");
        return 1;
    }
    test_roundtrip();
    test_content();
    test_mutations();
    test_header();
    test_misuse();
    test_nonces();
    test_streaming();
#if T_ASAN
    /* Report leaks now: the last test may end the process under UBSan. */
    CHECK_INT(__lsan_do_recoverable_leak_check(), 0);
#endif
    test_parse_empty_buffer();
    sealed_free(&fx);
    sealed_free(&fx1);
    sisp_rng_free(&rng);
    return t_done("test_seal");
}
