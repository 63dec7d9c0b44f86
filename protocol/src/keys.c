/* Epoch-key wrapping to X25519 keys, grant signatures, key files. */
#include <sisp/error.h>
#include <sisp/keys.h>
#include <sisp/names.h>

#include <wolfssl/options.h>

#include <wolfssl/wolfcrypt/pwdbased.h>

#include <string.h>

#define WRAP_LABEL "SISP-EPOCH-WRAP-1"
/* label NUL | len group | len recipient | epoch */
#define CONTEXT_MAX (sizeof WRAP_LABEL + 1 + 255 + 4 + 1 + 255)

/* label 0x00 || u8 len || group || u32 epoch || u8 len || recipient */
static int context(uint8_t *out, const char *label, sisp_slice_t group, uint32_t epoch,
                   sisp_slice_t recipient, size_t *len) {
    size_t n = strlen(label) + 1;
    if (sisp_check_groupname((const char *)group.ptr, group.len) != 0)
        return SISP_EGROUPNAME;
    if (sisp_check_username((const char *)recipient.ptr, recipient.len) != 0)
        return SISP_EUSERNAME;
    memcpy(out, label, n);
    out[n++] = (uint8_t)group.len;
    memcpy(out + n, group.ptr, group.len);
    n += group.len;
    sisp_store32(out + n, epoch);
    n += 4;
    out[n++] = (uint8_t)recipient.len;
    memcpy(out + n, recipient.ptr, recipient.len);
    *len = n + recipient.len;
    return 0;
}

static int wrap_key(const uint8_t shared[SISP_KEY_SIZE], const uint8_t eph_pub[SISP_KEY_SIZE],
                    const uint8_t recipient_pub[SISP_KEY_SIZE], const uint8_t *info,
                    size_t info_len, uint8_t k[SISP_KEY_SIZE]) {
    uint8_t salt[2 * SISP_KEY_SIZE];
    memcpy(salt, eph_pub, SISP_KEY_SIZE);
    memcpy(salt + SISP_KEY_SIZE, recipient_pub, SISP_KEY_SIZE);
    return sisp_hkdf_sha256(shared, SISP_KEY_SIZE, salt, sizeof salt, info, info_len, k,
                            SISP_KEY_SIZE);
}

int sisp_epoch_wrap_fixed(const uint8_t eph_priv[SISP_KEY_SIZE],
                          const uint8_t epoch_key[SISP_KEY_SIZE],
                          const uint8_t recipient_pub[SISP_KEY_SIZE], sisp_slice_t group,
                          uint32_t epoch, sisp_slice_t recipient,
                          uint8_t wrapped[SISP_WRAPPED_EPOCH_SIZE]) {
    static const uint8_t zero_nonce[SISP_GCM_NONCE_SIZE];
    uint8_t info[CONTEXT_MAX], shared[SISP_KEY_SIZE], k[SISP_KEY_SIZE];
    sisp_x25519_key_t eph;
    size_t info_len = 0;
    int rc = context(info, WRAP_LABEL, group, epoch, recipient, &info_len);
    if (rc == 0)
        rc = sisp_x25519_from_private(eph_priv, &eph);
    if (rc == 0)
        rc = sisp_x25519_shared(eph.priv, recipient_pub, shared);
    if (rc == 0)
        rc = wrap_key(shared, eph.pub, recipient_pub, info, info_len, k);
    if (rc == 0) {
        memcpy(wrapped, eph.pub, SISP_KEY_SIZE);
        rc = sisp_gcm_seal(k, zero_nonce, info, info_len, epoch_key, SISP_KEY_SIZE,
                           wrapped + SISP_KEY_SIZE, wrapped + 2 * SISP_KEY_SIZE);
    }
    sisp_wipe(&eph, sizeof eph);
    sisp_wipe(shared, sizeof shared);
    sisp_wipe(k, sizeof k);
    return rc;
}

int sisp_epoch_wrap(sisp_rng_t *rng, const uint8_t epoch_key[SISP_KEY_SIZE],
                    const uint8_t recipient_pub[SISP_KEY_SIZE], sisp_slice_t group, uint32_t epoch,
                    sisp_slice_t recipient, uint8_t wrapped[SISP_WRAPPED_EPOCH_SIZE]) {
    uint8_t eph[SISP_KEY_SIZE];
    int rc = sisp_rng_bytes(rng, eph, sizeof eph);
    if (rc == 0)
        rc = sisp_epoch_wrap_fixed(eph, epoch_key, recipient_pub, group, epoch, recipient, wrapped);
    sisp_wipe(eph, sizeof eph);
    return rc;
}

int sisp_epoch_unwrap(const sisp_x25519_key_t *me, const uint8_t *wrapped, size_t wrapped_len,
                      sisp_slice_t group, uint32_t epoch, sisp_slice_t recipient,
                      uint8_t epoch_key[SISP_KEY_SIZE]) {
    static const uint8_t zero_nonce[SISP_GCM_NONCE_SIZE];
    uint8_t info[CONTEXT_MAX], shared[SISP_KEY_SIZE], k[SISP_KEY_SIZE];
    size_t info_len = 0;
    if (wrapped_len != SISP_WRAPPED_EPOCH_SIZE)
        return SISP_EUNWRAP;
    int rc = context(info, WRAP_LABEL, group, epoch, recipient, &info_len);
    if (rc == 0)
        rc = sisp_x25519_shared(me->priv, wrapped, shared) == 0 ? 0 : SISP_EUNWRAP;
    if (rc == 0)
        rc = wrap_key(shared, wrapped, me->pub, info, info_len, k);
    if (rc == 0)
        rc = sisp_gcm_open(k, zero_nonce, info, info_len, wrapped + SISP_KEY_SIZE, SISP_KEY_SIZE,
                           epoch_key, wrapped + 2 * SISP_KEY_SIZE) == 0
                 ? 0
                 : SISP_EUNWRAP;
    sisp_wipe(shared, sizeof shared);
    sisp_wipe(k, sizeof k);
    return rc;
}

/* ---- grants ---- */

static int grant_message(sisp_slice_t group, uint32_t epoch, sisp_slice_t recipient,
                         sisp_slice_t wrapped, sisp_buf_t *m) {
    uint8_t ctx[CONTEXT_MAX];
    size_t n = 0;
    int rc = context(ctx, "", group, epoch, recipient, &n);
    if (rc != 0)
        return rc;
    /* context() starts with the (empty) label's NUL: drop it, the signing domain labels. */
    rc = sisp_buf_append(m, ctx + 1, n - 1);
    if (rc == 0)
        rc = sisp_buf_append(m, wrapped.ptr, wrapped.len);
    return rc;
}

int sisp_grant_sign(const sisp_ident_key_t *granter, sisp_slice_t group, uint32_t epoch,
                    sisp_slice_t recipient, sisp_slice_t wrapped, uint8_t sig[SISP_SIG_SIZE]) {
    sisp_buf_t m;
    sisp_buf_init(&m, 4096);
    int rc = grant_message(group, epoch, recipient, wrapped, &m);
    if (rc == 0)
        rc = sisp_ident_sign(granter, SISP_DOMAIN_GRANT, m.data, m.len, sig);
    sisp_buf_free(&m);
    return rc;
}

int sisp_grant_verify(const uint8_t granter_pub[SISP_KEY_SIZE], sisp_slice_t group, uint32_t epoch,
                      sisp_slice_t recipient, sisp_slice_t wrapped, const uint8_t *sig,
                      size_t sig_len) {
    sisp_buf_t m;
    sisp_buf_init(&m, 4096);
    int rc = grant_message(group, epoch, recipient, wrapped, &m);
    if (rc == 0)
        rc = sisp_ident_verify(granter_pub, SISP_DOMAIN_GRANT, m.data, m.len, sig, sig_len);
    sisp_buf_free(&m);
    return rc;
}

/* ---- key files ---- */

#define KF_MAGIC "SISPKEY"
#define KF_HEADER 41 /* magic 7, version, kind, kdf, log2n, r, p, salt 16, nonce 12 */
#define KF_BODY 64
#define KF_SCRYPT_R 8
#define KF_SCRYPT_P 1
_Static_assert(KF_HEADER + KF_BODY + SISP_GCM_TAG_SIZE == SISP_KEYFILE_SIZE, "key file size");

static int derive_public(int kind, const uint8_t secret[SISP_KEY_SIZE],
                         uint8_t pub[SISP_KEY_SIZE]) {
    int rc;
    if (kind == SISP_KEYFILE_IDENT) {
        sisp_ident_key_t k;
        rc = sisp_ident_from_seed(secret, &k);
        memcpy(pub, k.pub, SISP_KEY_SIZE);
        sisp_wipe(&k, sizeof k);
    } else {
        sisp_x25519_key_t k;
        rc = sisp_x25519_from_private(secret, &k);
        memcpy(pub, k.pub, SISP_KEY_SIZE);
        sisp_wipe(&k, sizeof k);
    }
    return rc;
}

static int scrypt_key(const char *pass, const uint8_t *salt, unsigned log2n, unsigned r, unsigned p,
                      uint8_t k[SISP_KEY_SIZE]) {
    size_t plen = strlen(pass);
    if (plen > 4096)
        return SISP_EINVAL;
    return wc_scrypt(k, (const byte *)pass, (int)plen, salt, 16, (int)log2n, (int)r, (int)p,
                     SISP_KEY_SIZE) == 0
               ? 0
               : SISP_ECRYPTO;
}

int sisp_keyfile_encode(sisp_rng_t *rng, int kind, const sisp_key_pair_t *key,
                        const char *passphrase, unsigned log2n, uint8_t out[SISP_KEYFILE_SIZE]) {
    int protect = passphrase != NULL && passphrase[0] != '\0';
    int rc;
    if (kind != SISP_KEYFILE_IDENT && kind != SISP_KEYFILE_X25519)
        return SISP_EINVAL;
    if (log2n == 0)
        log2n = SISP_SCRYPT_LOG2N_DEFAULT;
    if (log2n > SISP_SCRYPT_LOG2N_MAX)
        return SISP_EINVAL;
    memset(out, 0, SISP_KEYFILE_SIZE);
    memcpy(out, KF_MAGIC, 7);
    out[7] = 1;
    out[8] = (uint8_t)kind;
    memcpy(out + KF_HEADER, key->secret, SISP_KEY_SIZE);
    memcpy(out + KF_HEADER + SISP_KEY_SIZE, key->pub, SISP_KEY_SIZE);
    if (!protect)
        return 0;
    out[9] = 1;
    out[10] = (uint8_t)log2n;
    out[11] = KF_SCRYPT_R;
    out[12] = KF_SCRYPT_P;
    if ((rc = sisp_rng_bytes(rng, out + 13, 16 + SISP_GCM_NONCE_SIZE)) != 0)
        return rc;
    uint8_t k[SISP_KEY_SIZE], body[KF_BODY];
    memcpy(body, out + KF_HEADER, KF_BODY);
    rc = scrypt_key(passphrase, out + 13, log2n, KF_SCRYPT_R, KF_SCRYPT_P, k);
    if (rc == 0)
        rc = sisp_gcm_seal(k, out + 29, out, KF_HEADER, body, KF_BODY, out + KF_HEADER,
                           out + KF_HEADER + KF_BODY);
    if (rc != 0)
        sisp_wipe(out, SISP_KEYFILE_SIZE);
    sisp_wipe(k, sizeof k);
    sisp_wipe(body, sizeof body);
    return rc;
}

int sisp_keyfile_decode(const uint8_t *in, size_t len, int kind, const char *passphrase,
                        sisp_key_pair_t *key, int *is_protected) {
    static const uint8_t zero_tag[SISP_GCM_TAG_SIZE];
    uint8_t body[KF_BODY], pub[SISP_KEY_SIZE];
    int rc;
    *is_protected = 0;
    if (len != SISP_KEYFILE_SIZE || memcmp(in, KF_MAGIC, 7) != 0 || in[7] != 1 || in[8] != kind)
        return SISP_EKEYFILE;
    if (in[9] == 0) {
        /* In the clear: parameters, salt, nonce and tag are all zero. */
        static const uint8_t zero_params[KF_HEADER - 10];
        if (!sisp_ct_eq(in + KF_HEADER + KF_BODY, zero_tag, sizeof zero_tag) ||
            !sisp_ct_eq(in + 10, zero_params, sizeof zero_params))
            return SISP_EKEYFILE;
        memcpy(body, in + KF_HEADER, KF_BODY);
    } else if (in[9] == 1) {
        *is_protected = 1;
        unsigned log2n = in[10], r = in[11], p = in[12];
        /* Bounds before any work: scrypt needs 128 * r * 2^log2n bytes, and wolfCrypt takes
         * r <= 8 and log2n < 16 * r. */
        if (log2n < 10 || log2n > SISP_SCRYPT_LOG2N_MAX || r < 1 || r > 8 || log2n >= 16 * r ||
            p < 1 || p > 4)
            return SISP_EKEYFILE;
        if (passphrase == NULL || passphrase[0] == '\0')
            return SISP_EPASSPHRASE;
        uint8_t k[SISP_KEY_SIZE];
        rc = scrypt_key(passphrase, in + 13, log2n, r, p, k);
        if (rc == 0)
            rc = sisp_gcm_open(k, in + 29, in, KF_HEADER, in + KF_HEADER, KF_BODY, body,
                               in + KF_HEADER + KF_BODY);
        sisp_wipe(k, sizeof k);
        if (rc != 0)
            return rc == SISP_ETAG ? SISP_EPASSPHRASE : SISP_EKEYFILE;
    } else {
        return SISP_EKEYFILE;
    }
    rc = derive_public(kind, body, pub);
    if (rc == 0 && !sisp_ct_eq(pub, body + SISP_KEY_SIZE, SISP_KEY_SIZE))
        rc = SISP_EKEYFILE;
    if (rc == 0) {
        memcpy(key->secret, body, SISP_KEY_SIZE);
        memcpy(key->pub, body + SISP_KEY_SIZE, SISP_KEY_SIZE);
    }
    sisp_wipe(body, sizeof body);
    return rc;
}
