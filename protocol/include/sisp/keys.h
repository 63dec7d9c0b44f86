/* Group epoch keys wrapped to members, grant signatures, and key files.
 *
 * Epoch-key wrap (to one member's X25519 key):
 *   eph        = fresh X25519 key pair
 *   shared     = X25519(eph.priv, recipient_pub)
 *   info       = "SISP-EPOCH-WRAP-1" 0x00 || u8 len || group || u32 epoch || u8 len || recipient
 *   k          = HKDF-SHA256(ikm = shared, salt = eph.pub || recipient_pub, info, 32 bytes)
 *   wrapped    = eph.pub (32) || AES-256-GCM(k, nonce = 12 zero bytes, epoch_key, aad = info)
 *                (32) || tag (16)                                             = 80 bytes
 * k is used once (eph is fresh), so the fixed nonce is safe.
 *
 * A grant is signed by the member who wrapped it, so a server cannot hand out a key of its
 * own making: Ed25519 over "SISP-GRANT-1" 0x00 || u8 len || group || u32 epoch || u8 len ||
 * recipient || wrapped. */
#ifndef SISP_KEYS_H
#define SISP_KEYS_H

#include <sisp/buf.h>
#include <sisp/crypto.h>

#define SISP_WRAPPED_EPOCH_SIZE (SISP_KEY_SIZE + SISP_KEY_SIZE + SISP_GCM_TAG_SIZE) /* 80 */

int sisp_epoch_wrap(sisp_rng_t *rng, const uint8_t epoch_key[SISP_KEY_SIZE],
                    const uint8_t recipient_pub[SISP_KEY_SIZE], sisp_slice_t group, uint32_t epoch,
                    sisp_slice_t recipient, uint8_t wrapped[SISP_WRAPPED_EPOCH_SIZE]);
/* The same with the ephemeral private key given: for test vectors only. */
int sisp_epoch_wrap_fixed(const uint8_t eph_priv[SISP_KEY_SIZE],
                          const uint8_t epoch_key[SISP_KEY_SIZE],
                          const uint8_t recipient_pub[SISP_KEY_SIZE], sisp_slice_t group,
                          uint32_t epoch, sisp_slice_t recipient,
                          uint8_t wrapped[SISP_WRAPPED_EPOCH_SIZE]);
/* SISP_EUNWRAP if the wrap was not made for this key and context, or was altered. */
int sisp_epoch_unwrap(const sisp_x25519_key_t *me, const uint8_t *wrapped, size_t wrapped_len,
                      sisp_slice_t group, uint32_t epoch, sisp_slice_t recipient,
                      uint8_t epoch_key[SISP_KEY_SIZE]);

int sisp_grant_sign(const sisp_ident_key_t *granter, sisp_slice_t group, uint32_t epoch,
                    sisp_slice_t recipient, sisp_slice_t wrapped, uint8_t sig[SISP_SIG_SIZE]);
int sisp_grant_verify(const uint8_t granter_pub[SISP_KEY_SIZE], sisp_slice_t group, uint32_t epoch,
                      sisp_slice_t recipient, sisp_slice_t wrapped, const uint8_t *sig,
                      size_t sig_len);

/* Key files (the bytes; the client writes them 0600):
 *   "SISPKEY" | version u8 (1) | kind u8 | kdf u8 (0 none, 1 scrypt) | log2 N u8 | r u8 |
 *   p u8 | salt (16) | nonce (12) | body (64) | tag (16)                   = 121 bytes
 * body is secret (32) || public (32). With kdf 0 it is stored in the clear and tag is zero;
 * with scrypt, body is AES-256-GCM under scrypt(passphrase, salt, N, r, p) with the 41
 * header bytes as AAD. On load the public half must match the secret (SISP_EKEYFILE). */
#define SISP_KEYFILE_SIZE 121
#define SISP_KEYFILE_IDENT 1         /* Ed25519 identity key: seed || pub */
#define SISP_KEYFILE_X25519 2        /* X25519 key: priv || pub */
#define SISP_SCRYPT_LOG2N_DEFAULT 17 /* 128 MiB with r = 8: about half a second */
#define SISP_SCRYPT_LOG2N_MAX 20     /* refuse files that demand more than 1 GiB */

typedef struct {
    uint8_t secret[SISP_KEY_SIZE];
    uint8_t pub[SISP_KEY_SIZE];
} sisp_key_pair_t;

/* passphrase NULL or empty: stored in the clear. log2n 0 = SISP_SCRYPT_LOG2N_DEFAULT. */
int sisp_keyfile_encode(sisp_rng_t *rng, int kind, const sisp_key_pair_t *key,
                        const char *passphrase, unsigned log2n, uint8_t out[SISP_KEYFILE_SIZE]);
/* SISP_EKEYFILE (malformed, wrong kind, inconsistent), SISP_EPASSPHRASE (wrong or missing
 * passphrase, or altered). *protected is set to 1 if the file needs a passphrase. */
int sisp_keyfile_decode(const uint8_t *in, size_t len, int kind, const char *passphrase,
                        sisp_key_pair_t *key, int *is_protected);

#endif
