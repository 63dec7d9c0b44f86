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

/* ---- for the robustness suites (test_tls_matrix, test_limits, test_crash) ---- */

/* Connects and completes only the TLS handshake, no HELLO: the caller sends its own frames
 * (tc_send) and reads what comes back (tc_read_raw). user NULL: no client certificate.
 * tls12: offer TLS 1.2 only (wolfTLSv1_2_client_method). NULL if TCP or TLS failed (*err =
 * SISP_EAUTH for a failed handshake, SISP_EIO for TCP). In TLS 1.3 the client's side of the
 * handshake may finish before the server has checked the client certificate: a refusal then
 * shows at the first read. */
tclient_t *tc_connect_tls(int port, const uint8_t *ca_der, size_t ca_len, const tc_user_t *user,
                          int tls12, int *err);
/* Sends a client HELLO with the default limits. 0 or -1. */
int tc_send_hello(tclient_t *c);
/* Reads the next frame whatever the session state (no state check; the stream rule and the
 * fields are checked): 0 and *pkt (valid until the next call on c), 1 if nothing came within
 * timeout_ms, -1 when the connection ended (EOF, TLS alert or error) or the frame was bad. */
int tc_read_raw(tclient_t *c, int timeout_ms, const sisp_packet_t **pkt);
/* The TCP socket, for tests that look at it (getsockname, FIONREAD). */
int tc_fd(const tclient_t *c);

/* What tc_post and tc_download return when the connection failed (not a SISP error). */
#define TC_ETRANSPORT (-1000)

/* 0, or the negative SISP error an ERROR frame carries. */
int tc_reply_code(const sisp_packet_t *r);

/* A grant's bytes, kept alive while the sisp_grant_t pointing at them is used. */
typedef struct {
    uint8_t wrapped[80]; /* SISP_WRAPPED_EPOCH_SIZE */
    uint8_t sig[64];     /* SISP_SIG_SIZE */
} tc_grant_bytes_t;

/* Wraps epoch_key of (group, epoch) for recipient's X25519 key, signed by granter; *g points
 * into *gb. 0 or an error. */
int tc_make_grant(const tc_user_t *granter, const char *recipient, const uint8_t x_pub[32],
                  const char *group, uint32_t epoch, const uint8_t epoch_key[32],
                  tc_grant_bytes_t *gb, sisp_grant_t *g);
/* Sends a KEY_GRANT of (group, epoch) from granter (connected as c) to recipient, whose X25519
 * key is fetched with USER_CERT (and its signature checked). 0 or the error. */
int tc_grant(tclient_t *c, const tc_user_t *granter, const char *recipient, const char *group,
             uint32_t epoch, const uint8_t epoch_key[32]);
/* Seals plain for (group, epoch) as owner and uploads it in 64 KiB DATA frames: 0 and *seq
 * (may be NULL), the server's error (negative), or TC_ETRANSPORT. */
int tc_post(tclient_t *c, const tc_user_t *owner, const char *group, uint32_t epoch,
            const uint8_t epoch_key[32], const char *name, const uint8_t *plain, size_t len,
            uint64_t *seq);
/* Downloads name (group "" = any of the requester's) and opens it: the signature against
 * owner_pub and every chunk, with epoch_key. 0 and the plaintext appended to *plain, the
 * server's or the opener's error, or TC_ETRANSPORT. */
int tc_download(tclient_t *c, const char *name, const char *group, const uint8_t owner_pub[32],
                const uint8_t epoch_key[32], sisp_buf_t *plain);
/* Lists every image with seq > since (group "" = every group of the user's), page by page
 * (more / next_since), calling cb for each entry (its slices valid during the call only).
 * 0, the server's error, SISP_EPROTO for paging that does not advance, or TC_ETRANSPORT. */
int tc_list_all(tclient_t *c, const char *group, uint64_t since,
                void (*cb)(void *arg, const sisp_image_info_t *e), void *arg);
