/* One connection's protocol logic, sans-I/O: plaintext bytes in (after TLS), plaintext frames
 * out, blocking work handed to the environment as jobs. conn.c feeds it from libuv; the tests
 * and fuzz/fuzz_session feed it directly.
 *
 * States: HELLO (waiting for the client's HELLO) -> UNAUTH (no client certificate: REGISTER,
 * PING, BYE only) or AUTH (identity from the verified certificate) -> closing. Every frame is
 * checked against the state on its header, before its payload is read. */
#ifndef SISP_SESSION_H
#define SISP_SESSION_H

#include "server.h"

#include <sisp/packet.h>

typedef struct sisp_session sisp_session_t;

/* peer: the verified client certificate, or NULL for a connection without one. cert_fp:
 * SHA-256 of that certificate's DER (ignored when peer is NULL). addr: the peer address, for
 * rate limits and logs. */
sisp_session_t *sisp_session_new(sisp_env_t *env, const sisp_cert_info_t *peer,
                                 const uint8_t cert_fp[SISP_SHA256_SIZE], const char *addr);
/* What env->wake receives for this session (the glue's connection). */
void sisp_session_set_owner(sisp_session_t *s, void *owner);
/* Frees now, or, while a job of the session is running, once it completes. */
void sisp_session_free(sisp_session_t *s);

/* Plaintext from the peer. Processes every complete frame it can. */
void sisp_session_input(sisp_session_t *s, const uint8_t *p, size_t len);
/* 1 if the glue should stop reading: the session holds this much unprocessed input, or so much
 * output the peer has not taken that it takes no more requests. */
int sisp_session_input_full(const sisp_session_t *s);
/* Bytes of input taken and not yet processed. */
size_t sisp_session_input_len(const sisp_session_t *s);
/* Frames to send. The glue takes what it can with sisp_session_taken (which consumes it and
 * returns the output position after it, counted from the start), tells sisp_session_sent once
 * everything up to a position has left the server (written to the socket), and calls
 * sisp_session_drained so a download can continue and waiting requests are taken. */
sisp_buf_t *sisp_session_output(sisp_session_t *s);
uint64_t sisp_session_taken(sisp_session_t *s, size_t n);
void sisp_session_sent(sisp_session_t *s, uint64_t upto);
void sisp_session_drained(sisp_session_t *s);
/* 1 once the session wants the connection closed after its output is flushed. */
int sisp_session_closing(const sisp_session_t *s);
/* A frame pushed from elsewhere (NOTIFY, MEMBER_PENDING, KEY_RESULT). If the pushes queued
 * since the output up to the last push was sent would go over the push cap (bytes or count),
 * the session sends BYE and closes instead: the client catches up with LIST since=seq when it
 * returns. */
void sisp_session_push(sisp_session_t *s, const uint8_t *frame, size_t len);
/* Gives back the memory a transfer or a burst grew, if nothing is under way (no job, no
 * upload or download) and the buffers are empty: for connections gone idle. */
size_t sisp_session_trim(sisp_session_t *s); /* the bytes freed */
/* The authenticated user, or NULL. */
const char *sisp_session_user(const sisp_session_t *s);
/* The serial of the client certificate the session was opened with; 0 without one. */
uint64_t sisp_session_serial(const sisp_session_t *s);
/* Called by the glue on timeouts and shutdown: sends BYE with code and closes. */
void sisp_session_bye(sisp_session_t *s, int code, const char *message);

/* Stats for logs and tests. */
sisp_state_t sisp_session_state(const sisp_session_t *s);
/* 1 while the peer owes bytes and nothing on our side holds them up: a frame begun but not
 * complete, or an upload under way, and no job running. What a minimum data rate applies to. */
int sisp_session_receiving(const sisp_session_t *s);

#endif
