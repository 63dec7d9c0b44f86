/* Sealed images: manifest, streaming seal and open, content-key wrapping. */
#include <sisp/error.h>
#include <sisp/names.h>
#include <sisp/packet.h>
#include <sisp/seal.h>

#include "schema_macros.h"

#include <wolfssl/options.h>

#include <wolfssl/wolfcrypt/aes.h>

#include <stdlib.h>
#include <string.h>

/* ---- manifest ---- */

static int content_type_ok(sisp_slice_t t) {
    return sisp_slice_eq(t, sisp_slice_str(SISP_CT_PNG)) ||
           sisp_slice_eq(t, sisp_slice_str(SISP_CT_JPEG));
}

/* Number of chunks for a plaintext size: at least one (the final chunk). */
static int chunk_count(uint64_t plain, uint32_t chunk, uint64_t *n) {
    if (chunk == 0)
        return -1;
    *n = plain == 0 ? 1 : (plain - 1) / chunk + 1;
    return *n > UINT32_MAX ? -1 : 0;
}

static int cipher_size_for(uint64_t plain, uint32_t chunk, uint64_t *cipher) {
    uint64_t n, tags;
    if (chunk_count(plain, chunk, &n) != 0 || __builtin_mul_overflow(n, SISP_GCM_TAG_SIZE, &tags) ||
        __builtin_add_overflow(plain, tags, cipher))
        return -1;
    return 0;
}

static int chunk_size_ok(uint32_t c) {
    return c >= SISP_CHUNK_SIZE_MIN && c <= SISP_CHUNK_SIZE_MAX && (c & (c - 1)) == 0;
}

static int validate_manifest(const void *v) {
    const sisp_manifest_t *m = v;
    uint64_t cipher;
    if (!content_type_ok(m->content_type) || !chunk_size_ok(m->chunk_size) || m->plain_size == 0 ||
        cipher_size_for(m->plain_size, m->chunk_size, &cipher) != 0 || cipher != m->cipher_size)
        return SISP_EMANIFEST;
    return 0;
}

static const sisp_field_desc_t fields_manifest[] = {
    U16(sisp_manifest_t, 1, REQ, version, SISP_SEAL_VERSION, SISP_SEAL_VERSION),
    TEXT(sisp_manifest_t, 2, REQ, NAME_USER, owner, 0, 0),
    TEXT(sisp_manifest_t, 3, REQ, NAME_IMAGE, name, 0, 0),
    TEXT(sisp_manifest_t, 4, REQ, NAME_GROUP, group, 0, 0),
    U32(sisp_manifest_t, 5, REQ, epoch, 1, 0),
    U64(sisp_manifest_t, 6, REQ, created, 0, 0),
    TEXT(sisp_manifest_t, 7, REQ, SISP_C_NONE, content_type, 1, 32),
    U64(sisp_manifest_t, 8, REQ, plain_size, 1, 0),
    U64(sisp_manifest_t, 9, REQ, cipher_size, 1, 0),
    U32(sisp_manifest_t, 10, REQ, chunk_size, SISP_CHUNK_SIZE_MIN, SISP_CHUNK_SIZE_MAX),
    BYTES(sisp_manifest_t, 11, REQ, SISP_C_NONE, nonce_prefix, SISP_NONCE_PREFIX_SIZE,
          SISP_NONCE_PREFIX_SIZE),
    BYTES(sisp_manifest_t, 12, REQ, SISP_C_NONE, wrapped_key, SISP_WRAPPED_CK_SIZE,
          SISP_WRAPPED_CK_SIZE),
    BYTES(sisp_manifest_t, 13, REQ, SISP_C_NONE, cipher_sha256, SISP_SHA256_SIZE, SISP_SHA256_SIZE),
};
SCHEMA(manifest, sisp_manifest_t, validate_manifest);

const sisp_schema_t *sisp_manifest_schema(void) {
    return &schema_manifest;
}

int sisp_manifest_decode(const uint8_t *p, size_t len, sisp_manifest_t *m) {
    if (len == 0 || len > SISP_MANIFEST_MAX)
        return SISP_EMANIFEST;
    return sisp_fields_decode(&schema_manifest, p, len, m) == 0 ? 0 : SISP_EMANIFEST;
}

int sisp_manifest_encode(sisp_buf_t *out, const sisp_manifest_t *m) {
    size_t start = out->len;
    int rc = sisp_fields_encode(out, &schema_manifest, m);
    if (rc == 0 && out->len - start > SISP_MANIFEST_MAX)
        rc = SISP_EMANIFEST;
    if (rc != 0)
        out->len = start;
    return rc;
}

int sisp_manifest_sign(const sisp_ident_key_t *id, const uint8_t *manifest, size_t len,
                       uint8_t sig[SISP_SIG_SIZE]) {
    return sisp_ident_sign(id, SISP_DOMAIN_MANIFEST, manifest, len, sig);
}

int sisp_manifest_verify(const uint8_t *manifest, size_t len, const uint8_t *sig, size_t sig_len,
                         const uint8_t owner_pub[SISP_KEY_SIZE], sisp_slice_t owner,
                         sisp_manifest_t *m) {
    if (len == 0 || len > SISP_MANIFEST_MAX)
        return SISP_EMANIFEST;
    int rc = sisp_ident_verify(owner_pub, SISP_DOMAIN_MANIFEST, manifest, len, sig, sig_len);
    if (rc != 0)
        return rc;
    if ((rc = sisp_manifest_decode(manifest, len, m)) != 0)
        return rc;
    return sisp_slice_eq(m->owner, owner) ? 0 : SISP_EOWNER;
}

int sisp_sniff_content_type(const uint8_t *p, size_t len, const char **type) {
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t jpeg[3] = {0xff, 0xd8, 0xff};
    if (len >= sizeof png && memcmp(p, png, sizeof png) == 0) {
        *type = SISP_CT_PNG;
        return 0;
    }
    if (len >= sizeof jpeg && memcmp(p, jpeg, sizeof jpeg) == 0) {
        *type = SISP_CT_JPEG;
        return 0;
    }
    return SISP_ECONTENT;
}

/* ---- content-key wrapping ---- */

#define CK_LABEL "SISP-CK-1"

static size_t ck_aad(uint8_t *aad, sisp_slice_t group, uint32_t epoch,
                     const uint8_t prefix[SISP_NONCE_PREFIX_SIZE]) {
    size_t n = sizeof CK_LABEL; /* includes the NUL separator */
    memcpy(aad, CK_LABEL, n);
    aad[n++] = (uint8_t)group.len;
    memcpy(aad + n, group.ptr, group.len);
    n += group.len;
    sisp_store32(aad + n, epoch);
    n += 4;
    memcpy(aad + n, prefix, SISP_NONCE_PREFIX_SIZE);
    return n + SISP_NONCE_PREFIX_SIZE;
}

#define CK_AAD_MAX (sizeof CK_LABEL + 1 + SISP_GROUPNAME_MAX + 4 + SISP_NONCE_PREFIX_SIZE)

int sisp_ck_wrap(const uint8_t epoch_key[SISP_KEY_SIZE], sisp_slice_t group, uint32_t epoch,
                 const uint8_t nonce_prefix[SISP_NONCE_PREFIX_SIZE],
                 const uint8_t content_key[SISP_KEY_SIZE],
                 const uint8_t wrap_nonce[SISP_GCM_NONCE_SIZE],
                 uint8_t wrapped[SISP_WRAPPED_CK_SIZE]) {
    uint8_t aad[CK_AAD_MAX];
    if (sisp_check_groupname((const char *)group.ptr, group.len) != 0)
        return SISP_EGROUPNAME;
    size_t aad_len = ck_aad(aad, group, epoch, nonce_prefix);
    memcpy(wrapped, wrap_nonce, SISP_GCM_NONCE_SIZE);
    return sisp_gcm_seal(epoch_key, wrap_nonce, aad, aad_len, content_key, SISP_KEY_SIZE,
                         wrapped + SISP_GCM_NONCE_SIZE,
                         wrapped + SISP_GCM_NONCE_SIZE + SISP_KEY_SIZE);
}

int sisp_ck_unwrap(const uint8_t epoch_key[SISP_KEY_SIZE], sisp_slice_t group, uint32_t epoch,
                   const uint8_t nonce_prefix[SISP_NONCE_PREFIX_SIZE], const uint8_t *wrapped,
                   size_t wrapped_len, uint8_t content_key[SISP_KEY_SIZE]) {
    uint8_t aad[CK_AAD_MAX];
    if (wrapped_len != SISP_WRAPPED_CK_SIZE ||
        sisp_check_groupname((const char *)group.ptr, group.len) != 0)
        return SISP_EUNWRAP;
    size_t aad_len = ck_aad(aad, group, epoch, nonce_prefix);
    int rc =
        sisp_gcm_open(epoch_key, wrapped, aad, aad_len, wrapped + SISP_GCM_NONCE_SIZE,
                      SISP_KEY_SIZE, content_key, wrapped + SISP_GCM_NONCE_SIZE + SISP_KEY_SIZE);
    return rc == 0 ? 0 : SISP_EUNWRAP;
}

/* ---- chunk crypto ---- */

static void chunk_nonce(uint8_t nonce[SISP_GCM_NONCE_SIZE], const uint8_t *prefix, uint32_t counter,
                        int last) {
    memcpy(nonce, prefix, SISP_NONCE_PREFIX_SIZE);
    sisp_store32(nonce + SISP_NONCE_PREFIX_SIZE, counter);
    nonce[SISP_GCM_NONCE_SIZE - 1] = last ? 1 : 0;
}

static void *aes_new(const uint8_t key[SISP_KEY_SIZE]) {
    Aes *aes = malloc(sizeof *aes);
    if (aes == NULL)
        return NULL;
    if (wc_AesInit(aes, NULL, INVALID_DEVID) != 0) {
        free(aes);
        return NULL;
    }
    if (wc_AesGcmSetKey(aes, key, SISP_KEY_SIZE) != 0) {
        wc_AesFree(aes);
        free(aes);
        return NULL;
    }
    return aes;
}

static void aes_free(void *p) {
    if (p == NULL)
        return;
    wc_AesFree(p);
    sisp_wipe(p, sizeof(Aes));
    free(p);
}

/* ---- sealing ---- */

static int seal_fail(sisp_seal_t *s, int err) {
    s->err = err;
    return err;
}

int sisp_seal_init_fixed(sisp_seal_t *s, const sisp_seal_params_t *p,
                         const uint8_t epoch_key[SISP_KEY_SIZE],
                         const uint8_t content_key[SISP_KEY_SIZE],
                         const uint8_t nonce_prefix[SISP_NONCE_PREFIX_SIZE],
                         const uint8_t wrap_nonce[SISP_GCM_NONCE_SIZE]) {
    int rc;
    memset(s, 0, sizeof *s);
    s->p = *p;
    if (s->p.chunk_size == 0)
        s->p.chunk_size = SISP_CHUNK_SIZE_DEFAULT;
    if ((rc = sisp_check_username((const char *)p->owner.ptr, p->owner.len)) != 0 ||
        (rc = sisp_check_imagename((const char *)p->name.ptr, p->name.len)) != 0 ||
        (rc = sisp_check_groupname((const char *)p->group.ptr, p->group.len)) != 0)
        return seal_fail(s, rc);
    if (p->epoch == 0 || !chunk_size_ok(s->p.chunk_size))
        return seal_fail(s, SISP_EINVAL);
    memcpy(s->content_key, content_key, SISP_KEY_SIZE);
    memcpy(s->nonce_prefix, nonce_prefix, SISP_NONCE_PREFIX_SIZE);
    if ((rc = sisp_ck_wrap(epoch_key, p->group, p->epoch, nonce_prefix, content_key, wrap_nonce,
                           s->wrapped_key)) != 0)
        return seal_fail(s, rc);
    s->chunk = malloc((size_t)s->p.chunk_size + SISP_GCM_TAG_SIZE);
    s->aes = aes_new(content_key);
    if (s->chunk == NULL || s->aes == NULL)
        return seal_fail(s, SISP_ENOMEM);
    if ((rc = sisp_sha256_init(&s->hash)) != 0)
        return seal_fail(s, rc);
    return 0;
}

int sisp_seal_init(sisp_seal_t *s, const sisp_seal_params_t *p,
                   const uint8_t epoch_key[SISP_KEY_SIZE], sisp_rng_t *rng) {
    uint8_t rnd[SISP_KEY_SIZE + SISP_NONCE_PREFIX_SIZE + SISP_GCM_NONCE_SIZE];
    int rc = sisp_rng_bytes(rng, rnd, sizeof rnd);
    if (rc != 0) {
        memset(s, 0, sizeof *s);
        return seal_fail(s, rc);
    }
    rc = sisp_seal_init_fixed(s, p, epoch_key, rnd, rnd + SISP_KEY_SIZE,
                              rnd + SISP_KEY_SIZE + SISP_NONCE_PREFIX_SIZE);
    sisp_wipe(rnd, sizeof rnd);
    return rc;
}

/* Encrypts the buffered chunk and appends ciphertext || tag to out. */
static int seal_chunk(sisp_seal_t *s, int last, sisp_buf_t *out) {
    uint8_t nonce[SISP_GCM_NONCE_SIZE];
    size_t n = s->fill;
    int rc;
    if (s->counter == UINT32_MAX && !last)
        return seal_fail(s, SISP_EINVAL); /* 2^32 chunks: far beyond any image */
    if ((rc = sisp_buf_reserve(out, n + SISP_GCM_TAG_SIZE)) != 0)
        return seal_fail(s, rc);
    uint8_t *dst = out->data + out->len;
    chunk_nonce(nonce, s->nonce_prefix, s->counter, last);
    if (wc_AesGcmEncrypt(s->aes, dst, s->chunk, (word32)n, nonce, sizeof nonce, dst + n,
                         SISP_GCM_TAG_SIZE, NULL, 0) != 0)
        return seal_fail(s, SISP_ECRYPTO);
    if ((rc = sisp_sha256_update(&s->hash, dst, n + SISP_GCM_TAG_SIZE)) != 0)
        return seal_fail(s, rc);
    out->len += n + SISP_GCM_TAG_SIZE;
    s->cipher_size += n + SISP_GCM_TAG_SIZE;
    s->counter++;
    s->fill = 0;
    return 0;
}

static int seal_sniff(sisp_seal_t *s, int at_end) {
    if (s->content_type != NULL || s->counter > 0)
        return 0;
    if (!at_end && s->fill < 8)
        return 0;
    int rc = sisp_sniff_content_type(s->chunk, s->fill, &s->content_type);
    return rc ? seal_fail(s, rc) : 0;
}

int sisp_seal_update(sisp_seal_t *s, const uint8_t *in, size_t len, sisp_buf_t *out) {
    int rc;
    if (s->err)
        return s->err;
    while (len > 0) {
        if (s->fill == s->p.chunk_size && (rc = seal_chunk(s, 0, out)) != 0)
            return rc; /* a full chunk with more to come is not the last */
        size_t take = s->p.chunk_size - s->fill;
        if (take > len)
            take = len;
        memcpy(s->chunk + s->fill, in, take);
        s->fill += take;
        s->plain_size += take;
        in += take;
        len -= take;
        if ((rc = seal_sniff(s, 0)) != 0)
            return rc;
    }
    return 0;
}

int sisp_seal_final(sisp_seal_t *s, sisp_buf_t *out, sisp_buf_t *manifest) {
    uint8_t digest[SISP_SHA256_SIZE];
    int rc;
    if (s->err)
        return s->err;
    if ((rc = seal_sniff(s, 1)) != 0)
        return rc;
    if ((rc = seal_chunk(s, 1, out)) != 0)
        return rc;
    if ((rc = sisp_sha256_final(&s->hash, digest)) != 0)
        return seal_fail(s, rc);
    sisp_manifest_t m = {
        .version = SISP_SEAL_VERSION,
        .owner = s->p.owner,
        .name = s->p.name,
        .group = s->p.group,
        .epoch = s->p.epoch,
        .created = s->p.created,
        .content_type = sisp_slice_str(s->content_type),
        .plain_size = s->plain_size,
        .cipher_size = s->cipher_size,
        .chunk_size = s->p.chunk_size,
        .nonce_prefix = sisp_slice(s->nonce_prefix, SISP_NONCE_PREFIX_SIZE),
        .wrapped_key = sisp_slice(s->wrapped_key, SISP_WRAPPED_CK_SIZE),
        .cipher_sha256 = sisp_slice(digest, sizeof digest),
    };
    if ((rc = sisp_manifest_encode(manifest, &m)) != 0)
        return seal_fail(s, rc);
    s->err = SISP_EINVAL; /* finished: further calls are misuse */
    return 0;
}

void sisp_seal_free(sisp_seal_t *s) {
    if (s == NULL)
        return;
    if (s->chunk != NULL) {
        sisp_wipe(s->chunk, (size_t)s->p.chunk_size + SISP_GCM_TAG_SIZE);
        free(s->chunk);
    }
    aes_free(s->aes);
    sisp_sha256_free(&s->hash);
    sisp_wipe(s, sizeof *s);
}

/* ---- the sealed file header ---- */

int sisp_sealed_header_write(sisp_buf_t *out, const uint8_t *manifest, size_t manifest_len,
                             const uint8_t *sig, size_t sig_len) {
    uint8_t h[SISP_SEALED_MAGIC_LEN + 1 + 4];
    uint8_t sl[2];
    if (manifest_len == 0 || manifest_len > SISP_MANIFEST_MAX || sig_len == 0 ||
        sig_len > SISP_SIG_MAX)
        return SISP_EINVAL;
    memcpy(h, SISP_SEALED_MAGIC, SISP_SEALED_MAGIC_LEN);
    h[SISP_SEALED_MAGIC_LEN] = SISP_SEAL_VERSION;
    sisp_store32(h + SISP_SEALED_MAGIC_LEN + 1, (uint32_t)manifest_len);
    sisp_store16(sl, (uint16_t)sig_len);
    size_t start = out->len;
    int rc = sisp_buf_append(out, h, sizeof h);
    if (rc == 0)
        rc = sisp_buf_append(out, manifest, manifest_len);
    if (rc == 0)
        rc = sisp_buf_append(out, sl, sizeof sl);
    if (rc == 0)
        rc = sisp_buf_append(out, sig, sig_len);
    if (rc != 0)
        out->len = start;
    return rc;
}

int sisp_sealed_header_parse(const uint8_t *p, size_t len, sisp_slice_t *manifest,
                             sisp_slice_t *sig, size_t *header_len) {
    const size_t fixed = SISP_SEALED_MAGIC_LEN + 1 + 4;
    if (len == 0) {
        *header_len = fixed;
        return SISP_NEED_MORE;
    }
    size_t have = len < SISP_SEALED_MAGIC_LEN ? len : SISP_SEALED_MAGIC_LEN;
    if (memcmp(p, SISP_SEALED_MAGIC, have) != 0 ||
        (len > SISP_SEALED_MAGIC_LEN && p[SISP_SEALED_MAGIC_LEN] != SISP_SEAL_VERSION))
        return SISP_ESEALFMT;
    if (len < fixed) {
        *header_len = fixed;
        return SISP_NEED_MORE;
    }
    uint32_t mlen = sisp_load32(p + SISP_SEALED_MAGIC_LEN + 1);
    if (mlen == 0 || mlen > SISP_MANIFEST_MAX)
        return SISP_ESEALFMT;
    size_t at = fixed + mlen;
    if (len < at + 2) {
        *header_len = at + 2;
        return SISP_NEED_MORE;
    }
    uint16_t slen = sisp_load16(p + at);
    if (slen == 0 || slen > SISP_SIG_MAX)
        return SISP_ESEALFMT;
    if (len < at + 2 + slen) {
        *header_len = at + 2 + slen;
        return SISP_NEED_MORE;
    }
    *manifest = sisp_slice(p + fixed, mlen);
    *sig = sisp_slice(p + at + 2, slen);
    *header_len = at + 2 + slen;
    return 0;
}

/* ---- opening ---- */

static int open_fail(sisp_open_t *o, int err) {
    o->err = err;
    return err;
}

int sisp_open_init(sisp_open_t *o, const uint8_t *manifest, size_t manifest_len, const uint8_t *sig,
                   size_t sig_len, const uint8_t owner_pub[SISP_KEY_SIZE],
                   const sisp_expect_t *expect) {
    int rc;
    memset(o, 0, sizeof *o);
    if (manifest_len == 0 || manifest_len > SISP_MANIFEST_MAX)
        return open_fail(o, SISP_EMANIFEST);
    /* Decode from a private copy, so that what was verified is what is used. */
    if ((o->manifest_copy = malloc(manifest_len)) == NULL)
        return open_fail(o, SISP_ENOMEM);
    memcpy(o->manifest_copy, manifest, manifest_len);
    rc = sisp_manifest_verify(o->manifest_copy, manifest_len, sig, sig_len, owner_pub,
                              expect->owner, &o->m);
    if (rc != 0)
        return open_fail(o, rc);
    if ((expect->name.len > 0 && !sisp_slice_eq(expect->name, o->m.name)) ||
        (expect->group.len > 0 && !sisp_slice_eq(expect->group, o->m.group)))
        return open_fail(o, SISP_EMISMATCH);
    if ((o->chunk = malloc((size_t)o->m.chunk_size + SISP_GCM_TAG_SIZE)) == NULL)
        return open_fail(o, SISP_ENOMEM);
    if ((rc = sisp_sha256_init(&o->hash)) != 0)
        return open_fail(o, rc);
    return 0;
}

int sisp_open_key(sisp_open_t *o, const uint8_t epoch_key[SISP_KEY_SIZE]) {
    if (o->err)
        return o->err;
    if (o->keyed)
        return SISP_EINVAL; /* one key per open */
    int rc = sisp_ck_unwrap(epoch_key, o->m.group, o->m.epoch, o->m.nonce_prefix.ptr,
                            o->m.wrapped_key.ptr, o->m.wrapped_key.len, o->content_key);
    if (rc != 0)
        return open_fail(o, rc);
    if ((o->aes = aes_new(o->content_key)) == NULL)
        return open_fail(o, SISP_ENOMEM);
    o->keyed = 1;
    return 0;
}

/* Ciphertext bytes (with tag) of the chunk being received. */
static size_t current_chunk_len(const sisp_open_t *o) {
    uint64_t done = (uint64_t)o->counter * o->m.chunk_size;
    uint64_t left = o->m.plain_size - done;
    return (size_t)(left < o->m.chunk_size ? left : o->m.chunk_size) + SISP_GCM_TAG_SIZE;
}

static int open_chunk(sisp_open_t *o, sisp_buf_t *out) {
    uint8_t nonce[SISP_GCM_NONCE_SIZE];
    size_t n = o->fill - SISP_GCM_TAG_SIZE;
    int last = o->seen == o->m.cipher_size;
    int rc;
    if ((rc = sisp_buf_reserve(out, n)) != 0)
        return open_fail(o, rc);
    uint8_t *dst = out->data + out->len;
    chunk_nonce(nonce, o->m.nonce_prefix.ptr, o->counter, last);
    if (wc_AesGcmDecrypt(o->aes, dst, o->chunk, (word32)n, nonce, sizeof nonce, o->chunk + n,
                         SISP_GCM_TAG_SIZE, NULL, 0) != 0) {
        sisp_wipe(dst, n); /* never released: len is not advanced */
        return open_fail(o, SISP_ETAG);
    }
    out->len += n;
    o->released += n;
    o->counter++;
    o->fill = 0;
    return 0;
}

int sisp_open_update(sisp_open_t *o, const uint8_t *in, size_t len, sisp_buf_t *out) {
    int rc;
    if (o->err)
        return o->err;
    if (!o->keyed)
        return SISP_EINVAL;
    while (len > 0) {
        if (o->seen == o->m.cipher_size)
            return open_fail(o, SISP_EEXTRA);
        size_t want = current_chunk_len(o) - o->fill;
        size_t take = want < len ? want : len;
        memcpy(o->chunk + o->fill, in, take);
        if ((rc = sisp_sha256_update(&o->hash, in, take)) != 0)
            return open_fail(o, rc);
        o->fill += take;
        o->seen += take;
        in += take;
        len -= take;
        if (take == want && (rc = open_chunk(o, out)) != 0)
            return rc;
    }
    return 0;
}

int sisp_open_final(sisp_open_t *o) {
    uint8_t digest[SISP_SHA256_SIZE];
    int rc;
    if (o->err)
        return o->err;
    if (!o->keyed)
        return SISP_EINVAL;
    if (o->seen < o->m.cipher_size)
        return open_fail(o, SISP_ETRUNCATED);
    if ((rc = sisp_sha256_final(&o->hash, digest)) != 0)
        return open_fail(o, rc);
    if (!sisp_ct_eq(digest, o->m.cipher_sha256.ptr, SISP_SHA256_SIZE))
        return open_fail(o, SISP_EHASH);
    o->err = SISP_EINVAL; /* finished */
    return 0;
}

void sisp_open_free(sisp_open_t *o) {
    if (o == NULL)
        return;
    free(o->manifest_copy);
    if (o->chunk != NULL) {
        sisp_wipe(o->chunk, (size_t)o->m.chunk_size + SISP_GCM_TAG_SIZE);
        free(o->chunk);
    }
    aes_free(o->aes);
    sisp_sha256_free(&o->hash);
    sisp_wipe(o, sizeof *o);
}
