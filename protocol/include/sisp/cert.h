/* sisp's X.509 profile, shared by the server's CA and the client: user certificates are
 * Ed25519, subject CN = a valid user name, not a CA, extKeyUsage clientAuth, serial at most
 * 8 bytes; PKCS#10 requests are Ed25519 and self-signed. Pure wolfCrypt, no I/O. */
#ifndef SISP_CERT_H
#define SISP_CERT_H

#include <sisp/buf.h>
#include <sisp/crypto.h>
#include <sisp/names.h>

#include <stdint.h>

#define SISP_CERT_DER_MAX 4096 /* our certificates and requests are well under 1 KiB */

/* What a party needs from a user certificate. */
typedef struct {
    char user[SISP_USERNAME_MAX + 1]; /* the subject CN, a valid user name */
    uint64_t serial;
    uint8_t pub[SISP_KEY_SIZE]; /* Ed25519 */
    int64_t not_after;
} sisp_cert_info_t;

/* Parses a DER certificate. SISP_ECSR if it is not one of ours in shape (not Ed25519, CN not a
 * user name, serial longer than 8 bytes, a CA, or not for clientAuth). Does not verify the
 * signature or the dates. */
int sisp_cert_parse(const uint8_t *der, size_t len, sisp_cert_info_t *out);

/* Parses a user certificate (as sisp_cert_parse) and checks it was issued by the CA whose DER
 * certificate is ca_der (Ed25519 signature under the CA's key) and is valid at `now` (unix
 * seconds). SISP_ECSR (shape), SISP_ESIG (not signed by this CA), SISP_ECERT (expired or not
 * yet valid, or the CA certificate is not an Ed25519 CA). */
int sisp_cert_verify(const uint8_t *der, size_t len, const uint8_t *ca_der, size_t ca_len,
                     int64_t now, sisp_cert_info_t *out);

/* 0 if der is a CA certificate as sispd makes them (Ed25519, self-signed, basicConstraints CA),
 * else SISP_ECERT. */
int sisp_cert_ca_check(const uint8_t *der, size_t len);

/* Makes a DER PKCS#10 request for an identity key, subject CN=user; appends it to out. */
int sisp_csr_make(const sisp_ident_key_t *id, const char *user, sisp_buf_t *out);

/* ---- internal, for the server's CA (wolfCrypt's DecodedCert from wolfssl/wolfcrypt/asn.h) ---- */
struct DecodedCert;
/* An X.509 Time (tag, length, value): UTCTime up to 2049, GeneralizedTime after; out must
 * hold 17 bytes. SISP_EINVAL outside years 1950..9999. */
int sisp__asn_time_encode(int64_t t, uint8_t *out, int *len);
/* The signed part and the signature of a parsed certificate or request, checked with Ed25519
 * under pub. 0 or SISP_ESIG. */
int sisp__dc_verify_ed25519(const struct DecodedCert *dc, const uint8_t pub[SISP_KEY_SIZE]);
int sisp__dc_ed25519_pub(const struct DecodedCert *dc, uint8_t pub[SISP_KEY_SIZE]);
int sisp__dc_serial(const struct DecodedCert *dc, uint64_t *serial);
int sisp__dc_not_after(const struct DecodedCert *dc, int64_t *t);

#endif
