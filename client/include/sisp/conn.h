/* The client's side of a SISP connection, over any byte transport (TLS in the sisp program,
 * fuzz input in fuzz_client_frames): HELLO, requests and their replies by stream id, streams
 * handed to a sink as their frames arrive, pushes (NOTIFY, MEMBER_PENDING, KEY_RESULT on
 * stream 0) to a push callback, PING answered. Every frame from the server is checked by the
 * protocol library (length against the limit for the state, type against the state, stream
 * rule, every field) before anything looks at it. Blocking: each call waits on the transport
 * with a timeout; no threads. */
#ifndef SISP_CONN_H
#define SISP_CONN_H

#include <sisp/packet.h>

#include <stddef.h>
#include <stdint.h>

typedef struct {
    /* Reads 1..cap bytes, waiting up to timeout_ms (-1: no limit). Returns the byte count, 0
     * on timeout, or a negative SISP error (SISP_EIO; SISP_ESHUTDOWN when the peer closed). */
    int (*read)(void *io, uint8_t *buf, size_t cap, int timeout_ms);
    /* Writes all n bytes: 0 or a negative SISP error. */
    int (*write)(void *io, const uint8_t *p, size_t n);
    void *io;
} sisp_transport_t;

typedef struct sisp_conn sisp_conn_t;

/* Called for each push (stream 0: NOTIFY, MEMBER_PENDING, KEY_RESULT). pkt is valid during the
 * call only. It must not call back into the connection. */
typedef void (*sisp_push_cb)(void *arg, const sisp_packet_t *pkt);
/* Called for each frame on a stream registered with sisp_conn_sink. Returns 0 to keep the
 * stream, 1 when the stream is complete (the sink is removed), or a negative error, which
 * ends the wait that delivered the frame with that error (the sink is removed too). */
typedef int (*sisp_sink_cb)(void *arg, const sisp_packet_t *pkt);

/* A connection over t (copied; the transport stays the caller's). NULL without memory. */
sisp_conn_t *sisp_conn_new(const sisp_transport_t *t);
void sisp_conn_free(sisp_conn_t *c); /* NULL is a no-op; does not close the transport */

/* Sends HELLO and waits for the server's. 0, the server's refusal (a negative SISP error from
 * its ERROR frame), or a transport/protocol error. */
int sisp_conn_hello(sisp_conn_t *c, const char *software, int timeout_ms);
/* The server's HELLO (valid after sisp_conn_hello succeeded). */
const sisp_hello_t *sisp_conn_server_hello(const sisp_conn_t *c);

void sisp_conn_on_push(sisp_conn_t *c, sisp_push_cb cb, void *arg);

/* A new request stream id (odd, increasing). */
uint32_t sisp_conn_stream_id(sisp_conn_t *c);
/* Encodes and sends one frame. 0 or an error. */
int sisp_conn_send(sisp_conn_t *c, uint8_t type, uint32_t stream, const void *pkt);
/* Delivers frames of `stream` to cb until it returns non-zero, or until a CANCEL is sent on
 * the stream (what still arrives on it is then dropped). At most 8 sinks at once
 * (SISP_EBUSY). */
int sisp_conn_sink(sisp_conn_t *c, uint32_t stream, sisp_sink_cb cb, void *arg);
/* 1 while a sink is registered for stream. */
int sisp_conn_sink_active(const sisp_conn_t *c, uint32_t stream);

/* Sends a request on a new stream and waits for the first frame on that stream, dispatching
 * whatever else arrives meanwhile. 0 and *reply (valid until the next call on c; it may be an
 * ERROR: see sisp_conn_reply_err), or an error. */
int sisp_conn_request(sisp_conn_t *c, uint8_t type, const void *req, int timeout_ms,
                      const sisp_packet_t **reply);
/* Reads and dispatches frames for up to timeout_ms (-1: until an event), returning after the
 * first frame: 0 after a frame, 1 on timeout, or an error (including a sink's error). */
int sisp_conn_pump(sisp_conn_t *c, int timeout_ms);
/* 1 if a whole frame is already buffered: the next sisp_conn_pump handles it without waiting
 * for the network (the TLS layer may hold more: sisp_tlsc_pending). */
int sisp_conn_has_frame(const sisp_conn_t *c);
/* Waits until no sink is registered for stream, pumping; each wait on the transport is at
 * most timeout_ms. 0 or an error. */
int sisp_conn_wait_stream(sisp_conn_t *c, uint32_t stream, int timeout_ms);

/* 0 while the connection is usable, else the error that ended it. */
int sisp_conn_error(const sisp_conn_t *c);

/* 0 for a frame that is not an ERROR, else the negative SISP error it carries. */
int sisp_conn_reply_err(const sisp_packet_t *reply);
/* The message of the last ERROR or BYE the server sent (empty if none), escaped. */
const char *sisp_conn_server_message(const sisp_conn_t *c);

#endif
