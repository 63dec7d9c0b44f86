/* TLS 1.3 for sispd: wolfSSL over memory buffers (custom I/O callbacks), never on the fd.
 *
 * The caller moves bytes: ciphertext from the socket goes in with sisp_tls_feed, plaintext
 * comes out of sisp_tls_read; plaintext goes in with sisp_tls_write and ciphertext to send
 * accumulates in sisp_tls_out(). WANT_READ/WANT_WRITE are normal and surface as
 * SISP_NEED_MORE. */
#ifndef SISP_TLS_H
#define SISP_TLS_H

#include "ca.h"

#include <sisp/buf.h>
#include <sisp/frame.h> /* SISP_NEED_MORE */

/* Ciphertext queued in sisp_tls_out above which sisp_tls_write answers SISP_NEED_MORE (the
 * caller sends and consumes, then writes again). A single write must fit under it. */
#define SISP_TLS_OUT_MAX (4u << 20)

typedef struct sisp_tls_ctx sisp_tls_ctx_t;
typedef struct sisp_tls sisp_tls_t;

/* Returns 1 if the certificate with this serial is revoked, 0 if not, or a negative SISP_E*
 * if it cannot tell (the handshake then fails with that code: fail closed). Called during
 * the handshake, for a client certificate that passed the chain and date checks. */
typedef int (*sisp_tls_revoked_cb)(void *arg, uint64_t serial);

/* Server context: TLS 1.3 only; the CA's server certificate and key; client certificates
 * requested and, when sent, verified against the CA (chain, validity dates, then the
 * revocation callback) — a client may also connect without one, to register; X25519 preferred
 * for the key share; session tickets off; no post-handshake authentication. */
int sisp_tls_ctx_new(const sisp_ca_t *ca, sisp_tls_revoked_cb revoked, void *arg,
                     sisp_tls_ctx_t **out);
void sisp_tls_ctx_free(sisp_tls_ctx_t *ctx);

sisp_tls_t *sisp_tls_new(sisp_tls_ctx_t *ctx);
void sisp_tls_free(sisp_tls_t *t); /* NULL is a no-op */

/* Ciphertext received from the peer. Buffered until the TLS engine asks for it. */
int sisp_tls_feed(sisp_tls_t *t, const uint8_t *in, size_t len);
/* Drives the handshake: 0 when done, SISP_NEED_MORE to wait for input, or an error (the peer
 * failed verification: SISP_EAUTH or SISP_EREVOKED; otherwise SISP_EPROTO). Output it produced
 * is in sisp_tls_out either way. */
int sisp_tls_handshake(sisp_tls_t *t);
/* Plaintext: 0 with *n > 0, SISP_NEED_MORE when nothing is ready, SISP_ESHUTDOWN when the peer
 * closed (close_notify), or an error. */
int sisp_tls_read(sisp_tls_t *t, uint8_t *out, size_t cap, size_t *n);
/* All or nothing: 0 when all of p is encrypted into sisp_tls_out; SISP_NEED_MORE (nothing
 * taken) while the queued output would exceed SISP_TLS_OUT_MAX; SISP_EINVAL if len can never
 * fit. Read and write before the handshake is done are SISP_EINVAL. */
int sisp_tls_write(sisp_tls_t *t, const uint8_t *p, size_t len);
/* Sends close_notify (into sisp_tls_out). Later calls return SISP_ESHUTDOWN. */
void sisp_tls_close(sisp_tls_t *t);
/* Ciphertext waiting to be sent. The caller sends and then sisp_buf_consume()s it. */
sisp_buf_t *sisp_tls_out(sisp_tls_t *t);
/* Gives back what the ciphertext buffers grew to, if they are empty. */
size_t sisp_tls_trim(sisp_tls_t *t, size_t keep); /* the bytes freed */

/* After the handshake: 0 and *info if the client presented a verified certificate,
 * SISP_ENOTFOUND if it presented none. */
int sisp_tls_peer(sisp_tls_t *t, sisp_cert_info_t *info);
/* The SHA-256 of that certificate's DER (WHOAMI's cert_fp), or NULL without one. */
const uint8_t *sisp_tls_peer_fp(const sisp_tls_t *t);

/* Why the connection failed, for the log (wolfSSL's reason and code; no secrets, no peer
 * bytes), or NULL. Valid until the next call on t. */
const char *sisp_tls_why(const sisp_tls_t *t);

#endif
