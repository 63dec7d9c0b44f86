/* The client's TLS 1.3 connection to sispd (wolfSSL over a TCP socket): the transport under
 * sisp_conn_t. With a pinned CA the server must chain to it; without one (first contact) any
 * server is accepted so that the CA it presents can be read, fingerprinted and pinned; the
 * caller then reconnects with the pin. */
#ifndef SISP_TLSCLIENT_H
#define SISP_TLSCLIENT_H

#include <sisp/buf.h>
#include <sisp/conn.h>
#include <sisp/crypto.h>

#include <stddef.h>
#include <stdint.h>

typedef struct sisp_tlsc sisp_tlsc_t;

typedef struct {
    const char *host;  /* name or address */
    const char *port;  /* decimal */
    const uint8_t *ca; /* pinned CA certificate (DER); NULL: accept any server */
    size_t ca_len;
    const uint8_t *cert; /* the user's certificate (DER); NULL: none (REGISTER only) */
    size_t cert_len;
    const sisp_ident_key_t *id; /* the key of cert */
    int timeout_ms;             /* connect, handshake, and any later wait for the peer */
} sisp_tlsc_opts_t;

/* Connects and completes the handshake. 0, SISP_EIO (TCP: `why` says what), SISP_EPIN (the
 * server does not chain to the pinned CA), SISP_ETIMEDOUT, or SISP_EAUTH (handshake failed).
 * why (may be NULL) gets one line on failure. */
int sisp_tlsc_open(const sisp_tlsc_opts_t *o, sisp_tlsc_t **out, char *why, size_t why_len);
void sisp_tlsc_close(sisp_tlsc_t *t); /* sends close_notify; NULL is a no-op */

/* Appends the last certificate of the chain the server sent (its CA), DER. SISP_ENOTFOUND if
 * it sent no chain. */
int sisp_tlsc_server_ca(sisp_tlsc_t *t, sisp_buf_t *out);
/* The transport for sisp_conn_new; valid while t is open. */
void sisp_tlsc_transport(sisp_tlsc_t *t, sisp_transport_t *out);
/* The socket, for poll(); and whether TLS holds decrypted bytes not read yet. */
int sisp_tlsc_fd(const sisp_tlsc_t *t);
int sisp_tlsc_pending(sisp_tlsc_t *t);
/* The last TLS alert the server sent (RFC 8446 §6: 42 bad_certificate, 44
 * certificate_revoked, 45 certificate_expired, 48 unknown_ca, ...), or -1 if none came. */
int sisp_tlsc_alert_received(sisp_tlsc_t *t);

#endif
