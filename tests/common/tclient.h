/* A small blocking SISP client for the integration tests: a real TCP socket to a real sispd
 * on 127.0.0.1, real TLS 1.3 (wolfSSL), the protocol library for every frame. */
#ifndef SISP_TCLIENT_H
#define SISP_TCLIENT_H

#include <sisp/crypto.h>
#include <sisp/packet.h>

#include <stddef.h>
#include <stdint.h>

typedef struct tc_user {
    char name[33];
    sisp_ident_key_t id;
    sisp_x25519_key_t x;
    uint8_t cert[8192];
    size_t cert_len;
} tc_user_t;

typedef struct tclient tclient_t;

/* Connects and completes TLS (verifying the server against ca_der) and the HELLO exchange.
 * user NULL: no client certificate. Returns NULL on failure (and says why on stderr);
 * *err gets the SISP error when the server refused us with one. */
tclient_t *tc_connect(int port, const uint8_t *ca_der, size_t ca_len, const tc_user_t *user,
                      int *err);
void tc_close(tclient_t *c);
/* The server's HELLO. */
const sisp_hello_t *tc_server_hello(tclient_t *c);

/* Sends a request of `type` (a new stream id) and waits for the frame that answers it; pushes
 * that arrive meanwhile are queued. *reply is valid until the next call on c. Returns 0 and
 * the reply (which may be an ERROR: check reply->type), or a transport error. */
int tc_request(tclient_t *c, uint8_t type, const void *req, const sisp_packet_t **reply);
/* Sends one frame as is (for streamed uploads); stream 0 = a new stream id. Returns the id. */
uint32_t tc_send(tclient_t *c, uint8_t type, uint32_t stream, const void *pkt);
/* Sends raw bytes inside TLS. */
int tc_send_raw(tclient_t *c, const void *p, size_t n);
/* Reads the next frame on `stream`, queueing pushes. */
int tc_read_stream(tclient_t *c, uint32_t stream, const sisp_packet_t **reply);
/* Waits up to timeout_ms for a push of `type` (queued or new). */
int tc_wait_push(tclient_t *c, uint8_t type, int timeout_ms, const sisp_packet_t **push);
/* Reads until the server closes; returns the last ERROR or BYE code seen (positive), 0 if
 * none, -1 if the connection stayed open for timeout_ms. */
int tc_wait_close(tclient_t *c, int timeout_ms);

/* Makes a user's keys and registers it over a certificate-less connection. Returns 0 or the
 * server's error (negative). */
int tc_register(int port, const uint8_t *ca_der, size_t ca_len, const char *name,
                const char *invite, tc_user_t *out);

#endif
