/* Sealed images: end-to-end encryption and signatures, streaming, sans-I/O.
 *
 * An image is encrypted with a fresh random 256-bit content key in AES-256-GCM chunks of
 * chunk_size plaintext bytes (the last may be shorter); each chunk is followed by its
 * 16-byte tag. Chunk i's nonce is nonce_prefix (7 random bytes) || i (u32 big-endian) ||
 * last (0x01 on the final chunk, else 0x00), so reordered, dropped, duplicated, appended
 * or transplanted chunks fail authentication. The content key is wrapped under the group's
 * epoch key. The manifest describes all of it, including the SHA-256 of the whole
 * ciphertext, and is signed by the owner's identity key (Ed25519).
 *
 * Byte layouts are in docs/PROTOCOL.md ("Sealed images"). */
#ifndef SISP_SEAL_H
#define SISP_SEAL_H

#include <sisp/buf.h>
#include <sisp/crypto.h>

#include <stdint.h>

#define SISP_SEAL_VERSION 1
#define SISP_NONCE_PREFIX_SIZE 7
#define SISP_WRAPPED_CK_SIZE (SISP_GCM_NONCE_SIZE + SISP_KEY_SIZE + SISP_GCM_TAG_SIZE) /* 60 */
#define SISP_CHUNK_SIZE_DEFAULT (64u * 1024u)
#define SISP_CHUNK_SIZE_MIN 4096u
#define SISP_CHUNK_SIZE_MAX (1024u * 1024u)
#define SISP_SEALED_MAGIC "SISPIMG"
#define SISP_SEALED_MAGIC_LEN 7
#define SISP_CT_PNG "image/png"
#define SISP_CT_JPEG "image/jpeg"

/* A decoded manifest. Slices borrow from the manifest bytes it was decoded from. */
typedef struct {
    uint16_t version;           /* 1  SISP_SEAL_VERSION */
    sisp_slice_t owner;         /* 2  user name */
    sisp_slice_t name;          /* 3  image name */
    sisp_slice_t group;         /* 4  group name */
    uint32_t epoch;             /* 5  group key epoch the content key is wrapped under */
    uint64_t created;           /* 6  unix seconds, set by the owner */
    sisp_slice_t content_type;  /* 7  SISP_CT_PNG or SISP_CT_JPEG */
    uint64_t plain_size;        /* 8 */
    uint64_t cipher_size;       /* 9  plain_size + 16 per chunk */
    uint32_t chunk_size;        /* 10 power of two, SISP_CHUNK_SIZE_MIN..MAX */
    sisp_slice_t nonce_prefix;  /* 11 7 bytes */
    sisp_slice_t wrapped_key;   /* 12 SISP_WRAPPED_CK_SIZE bytes */
    sisp_slice_t cipher_sha256; /* 13 32 bytes */
} sisp_manifest_t;

/* Decodes and checks a manifest's encoding and internal consistency (sizes, chunking,
 * content type). Does not check the signature. SISP_EMANIFEST on any failure. */
int sisp_manifest_decode(const uint8_t *p, size_t len, sisp_manifest_t *m);
SISP_MUST_CHECK int sisp_manifest_encode(sisp_buf_t *out, const sisp_manifest_t *m);

/* The checks the server makes before it accepts an upload and a downloader makes before it
 * opens one: the signature verifies under owner_pub (SISP_ESIG), the manifest decodes
 * (SISP_EMANIFEST) and names owner as its owner (SISP_EOWNER). m borrows from manifest. */
int sisp_manifest_verify(const uint8_t *manifest, size_t len, const uint8_t *sig, size_t sig_len,
                         const uint8_t owner_pub[SISP_KEY_SIZE], sisp_slice_t owner,
                         sisp_manifest_t *m);

int sisp_manifest_sign(const sisp_ident_key_t *id, const uint8_t *manifest, size_t len,
                       uint8_t sig[SISP_SIG_SIZE]);

/* "image/png" or "image/jpeg" from the first bytes, or SISP_ECONTENT (also when fewer bytes
 * than the magic are given). */
int sisp_sniff_content_type(const uint8_t *p, size_t len, const char **type);

/* ---- sealing ---- */

typedef struct {
    sisp_slice_t owner, name, group; /* borrowed until sisp_seal_final */
    uint32_t epoch;
    uint64_t created;
    uint32_t chunk_size; /* 0 = SISP_CHUNK_SIZE_DEFAULT */
} sisp_seal_params_t;

typedef struct {
    sisp_seal_params_t p;
    uint8_t content_key[SISP_KEY_SIZE];
    uint8_t nonce_prefix[SISP_NONCE_PREFIX_SIZE];
    uint8_t wrapped_key[SISP_WRAPPED_CK_SIZE];
    const char *content_type;
    uint8_t *chunk; /* owned: chunk_size plaintext bytes, then room for the tag */
    size_t fill;
    uint32_t counter;
    uint64_t plain_size, cipher_size;
    sisp_sha256_t hash;
    void *aes; /* owned */
    int err;   /* sticky */
} sisp_seal_t;

/* Starts sealing: draws a content key, nonce prefix and wrap nonce from rng, and wraps the
 * content key under epoch_key for (group, epoch). */
int sisp_seal_init(sisp_seal_t *s, const sisp_seal_params_t *p,
                   const uint8_t epoch_key[SISP_KEY_SIZE], sisp_rng_t *rng);
/* The same with every random input given: for test vectors only. */
int sisp_seal_init_fixed(sisp_seal_t *s, const sisp_seal_params_t *p,
                         const uint8_t epoch_key[SISP_KEY_SIZE],
                         const uint8_t content_key[SISP_KEY_SIZE],
                         const uint8_t nonce_prefix[SISP_NONCE_PREFIX_SIZE],
                         const uint8_t wrap_nonce[SISP_GCM_NONCE_SIZE]);
/* Feeds plaintext; appends every chunk that is complete (and known not to be last) to out.
 * At most chunk_size plaintext bytes stay buffered. The content type is sniffed from the
 * first bytes: SISP_ECONTENT if they are neither PNG nor JPEG. */
int sisp_seal_update(sisp_seal_t *s, const uint8_t *in, size_t len, sisp_buf_t *out);
/* Appends the final chunk to out and the encoded manifest to manifest. */
int sisp_seal_final(sisp_seal_t *s, sisp_buf_t *out, sisp_buf_t *manifest);
void sisp_seal_free(sisp_seal_t *s); /* wipes keys; NULL is a no-op */

/* ---- the self-contained sealed file ----
 *   "SISPIMG" | version u8 (1) | manifest_len u32 | manifest | sig_len u16 | sig | chunks */
SISP_MUST_CHECK int sisp_sealed_header_write(sisp_buf_t *out, const uint8_t *manifest,
                                             size_t manifest_len, const uint8_t *sig,
                                             size_t sig_len);
/* 0 with the slices (borrowed from p) and *header_len set, SISP_NEED_MORE with *header_len
 * = bytes needed, or SISP_ESEALFMT. */
int sisp_sealed_header_parse(const uint8_t *p, size_t len, sisp_slice_t *manifest,
                             sisp_slice_t *sig, size_t *header_len);

/* ---- opening ---- */

typedef struct {
    sisp_slice_t owner; /* who the downloader was told posted it (required) */
    sisp_slice_t name;  /* if non-empty, the manifest's name must equal it */
    sisp_slice_t group; /* if non-empty, the manifest's group must equal it */
} sisp_expect_t;

typedef struct {
    uint8_t *manifest_copy; /* owned; m's slices point into it */
    sisp_manifest_t m;
    uint8_t content_key[SISP_KEY_SIZE];
    int keyed;
    uint8_t *chunk; /* owned: chunk_size + 16 ciphertext bytes */
    size_t fill;
    uint32_t counter;
    uint64_t seen; /* ciphertext bytes consumed */
    uint64_t released;
    sisp_sha256_t hash;
    void *aes; /* owned */
    int err;   /* sticky */
} sisp_open_t;

/* Verifies the signature with owner_pub, decodes the manifest and checks it against expect
 * (SISP_ESIG, SISP_EMANIFEST, SISP_EOWNER, SISP_EMISMATCH). Nothing is decrypted yet: read
 * o->m.group and o->m.epoch to find the epoch key, then call sisp_open_key. */
int sisp_open_init(sisp_open_t *o, const uint8_t *manifest, size_t manifest_len, const uint8_t *sig,
                   size_t sig_len, const uint8_t owner_pub[SISP_KEY_SIZE],
                   const sisp_expect_t *expect);
/* Unwraps the content key with the epoch key (SISP_EUNWRAP). Once per open: a second call
 * is SISP_EINVAL. */
int sisp_open_key(sisp_open_t *o, const uint8_t epoch_key[SISP_KEY_SIZE]);
/* Feeds ciphertext. Plaintext of a chunk is appended to out only after that chunk's tag
 * verified. SISP_ETAG, SISP_EEXTRA; errors are sticky. */
int sisp_open_update(sisp_open_t *o, const uint8_t *in, size_t len, sisp_buf_t *out);
/* 0 only if every byte arrived, every chunk verified and the ciphertext hash matches the
 * signed manifest (SISP_ETRUNCATED, SISP_EHASH). Until this returns 0, treat what was
 * released as unverified: write it to a temporary file and rename only on success. */
int sisp_open_final(sisp_open_t *o);
void sisp_open_free(sisp_open_t *o); /* wipes keys; NULL is a no-op */

/* ---- content-key wrapping under a group epoch key ----
 * wrapped = nonce(12) || AES-256-GCM(epoch_key, nonce, content_key,
 *           aad = "SISP-CK-1" 0x00 || u8 len || group || u32 epoch || nonce_prefix) || tag */
int sisp_ck_wrap(const uint8_t epoch_key[SISP_KEY_SIZE], sisp_slice_t group, uint32_t epoch,
                 const uint8_t nonce_prefix[SISP_NONCE_PREFIX_SIZE],
                 const uint8_t content_key[SISP_KEY_SIZE],
                 const uint8_t wrap_nonce[SISP_GCM_NONCE_SIZE],
                 uint8_t wrapped[SISP_WRAPPED_CK_SIZE]);
int sisp_ck_unwrap(const uint8_t epoch_key[SISP_KEY_SIZE], sisp_slice_t group, uint32_t epoch,
                   const uint8_t nonce_prefix[SISP_NONCE_PREFIX_SIZE], const uint8_t *wrapped,
                   size_t wrapped_len, uint8_t content_key[SISP_KEY_SIZE]);

#endif
