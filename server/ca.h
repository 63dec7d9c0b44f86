/* The server's small certificate authority, on wolfCrypt.
 *
 * On first start it creates, in the data directory (made 0700 if missing): ca.key (Ed25519,
 * PKCS#8 DER, 0600), ca.crt (self-signed, DER, 0644, CN "sisp CA <4 random hex>", O sisp, 10
 * years, serial 1), server.key (0600) and server.crt (DER, 0644, signed by the CA, subject CN =
 * the hostname given, SAN DNS (or IP, for an address) + IP 127.0.0.1, 2 years but never past
 * the CA, a random serial in [2^62, 2^63)). Later starts load and check them: a CA
 * certificate without its key, or that does not match it, is an error (never replaced; a key
 * without its certificate, as a crash during the first start leaves, gets a new one); an
 * expired CA is SISP_ECERT; a server certificate that is not the CA's, not for server.key,
 * for another host name, or within 30 days of expiry (unless it ends with the CA) is reissued
 * with a new random serial. Files are written like key files: temp + exact mode + fsync +
 * rename + fsync(dir); temp files a crash left are removed. Errors: SISP_EINVAL (host name),
 * SISP_EKEYPERM (a key file others can access), SISP_EKEYFILE (damaged or mismatched files),
 * SISP_ECERT (the CA expired), SISP_EIO. */
#ifndef SISP_CA_H
#define SISP_CA_H

#include <sisp/buf.h>
#include <sisp/cert.h> /* sisp_cert_info_t, sisp_cert_parse, sisp_csr_make */
#include <sisp/crypto.h>
#include <sisp/names.h>

#include <stdint.h>

/* Not thread-safe: sisp_ca_issue may run on any one thread at a time (it uses the CA's
 * random generator); the getters only read what sisp_ca_open loaded. */
typedef struct sisp_ca sisp_ca_t;

int sisp_ca_open(const char *data_dir, const char *hostname, sisp_ca_t **out);
void sisp_ca_free(sisp_ca_t *ca); /* wipes keys; NULL is a no-op */

/* Borrowed, valid until sisp_ca_free. */
sisp_slice_t sisp_ca_cert(const sisp_ca_t *ca);        /* CA certificate, DER */
sisp_slice_t sisp_ca_server_cert(const sisp_ca_t *ca); /* server certificate, DER */
sisp_slice_t sisp_ca_server_key(const sisp_ca_t *ca);  /* server private key, DER */
/* SHA-256 of the CA certificate's DER: what `sispd` prints and clients pin. */
void sisp_ca_fingerprint(const sisp_ca_t *ca, uint8_t out[SISP_SHA256_SIZE]);

/* Issues a user certificate from a DER PKCS#10 request: the request's signature must verify
 * under its own key (proof of possession) and the key must be Ed25519 (SISP_ECSR otherwise).
 * The subject is CN=user (O=sisp) whatever the request asked for (SISP_EUSERNAME if user is
 * not a valid name); keyUsage digitalSignature, extKeyUsage clientAuth; serial as given, not 0
 * (the store's counter, which starts at 1000: 1 is the CA, and server certificates take
 * random serials from 2^62 up); valid from now - 1 h for validity_days (1..36500, else
 * SISP_EINVAL), cut at the CA's end (SISP_ECERT if the CA has expired). Appends the DER to
 * cert (untouched on error) and returns the user's Ed25519 public key. */
int sisp_ca_issue(sisp_ca_t *ca, const uint8_t *csr, size_t csr_len, const char *user,
                  uint64_t serial, unsigned validity_days, sisp_buf_t *cert,
                  uint8_t pub[SISP_KEY_SIZE]);

/* Internal, for tests: sisp_ca_issue with an explicit validity period (unix seconds), e.g.
 * one already over. SISP_EINVAL unless not_before < not_after. */
int sisp__ca_issue_at(sisp_ca_t *ca, const uint8_t *csr, size_t csr_len, const char *user,
                      uint64_t serial, int64_t not_before, int64_t not_after, sisp_buf_t *cert,
                      uint8_t pub[SISP_KEY_SIZE]);

#endif
