/* SISP/1 framing: the fixed frame header, the push decoder and the frame encoder.
 *
 * Every frame is a 12-byte header followed by `length` payload bytes:
 *
 *   offset size field
 *   0      4    length   payload length, big-endian, not counting the header
 *   4      1    version  SISP_VERSION (1)
 *   5      1    type     frame type (see packet.h)
 *   6      2    flags    reserved, must be 0 in SISP/1
 *   8      4    stream   request/stream id, big-endian (0 = connection / push)
 *
 * The decoder works over a buffer the caller owns: it never allocates and never copies;
 * a decoded frame's payload is a slice into the caller's buffer. It checks the header
 * (version, flags, type, whether the type is allowed in the current session state, and
 * the declared length against the limit for this state) as soon as the 12 header bytes
 * are there, before the caller buffers any payload. Errors are sticky until reset. */
#ifndef SISP_FRAME_H
#define SISP_FRAME_H

#include <sisp/buf.h>
#include <sisp/error.h>

#include <stddef.h>
#include <stdint.h>

#define SISP_VERSION 1
#define SISP_HEADER_SIZE 12

/* Returned by sisp_frame_decode when the buffer does not yet hold a whole frame. */
#define SISP_NEED_MORE 1

/* Default payload limits (bytes). The pre-authentication limit covers HELLO and REGISTER
 * (a CSR, an X25519 key and its signature); after authentication control frames may carry
 * up to 1 MiB (e.g. key grants for a large group) and DATA frames a streaming chunk. */
#define SISP_LIMIT_PREAUTH (16u * 1024u)
#define SISP_LIMIT_CONTROL (1024u * 1024u)
#define SISP_CHUNK_MAX (256u * 1024u)             /* max DATA bytes per frame */
#define SISP_CHUNK_DEFAULT (64u * 1024u)          /* what senders use by default */
#define SISP_LIMIT_DATA (SISP_CHUNK_MAX + 64u)    /* chunk plus its field headers */
#define SISP_LIMIT_ABSOLUTE (16u * 1024u * 1024u) /* no limit may exceed this */

/* Session states. A decoder accepts only the frame types that make sense in its state. */
typedef enum {
    SISP_STATE_HELLO = 0, /* waiting for the peer's HELLO */
    SISP_STATE_UNAUTH,    /* HELLO done, peer has no verified certificate: REGISTER only */
    SISP_STATE_AUTH,      /* peer authenticated by its certificate */
    SISP_STATE_COUNT
} sisp_state_t;

/* Which side is receiving (the decoder's owner). */
typedef enum { SISP_ROLE_SERVER = 0, SISP_ROLE_CLIENT = 1 } sisp_role_t;

typedef struct {
    uint32_t max_control; /* max payload of any frame but DATA */
    uint32_t max_data;    /* max payload of a DATA frame; 0 = DATA not accepted */
} sisp_limits_t;

/* The default limits for a session state. */
sisp_limits_t sisp_limits_default(sisp_state_t state);

typedef struct {
    uint32_t length;
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint32_t stream;
    sisp_slice_t payload; /* borrowed from the buffer passed to sisp_frame_decode */
} sisp_frame_t;

typedef struct {
    int err; /* sticky: once negative, every decode returns it until reset */
    sisp_role_t role;
    sisp_state_t state;
    sisp_limits_t limits;
} sisp_decoder_t;

/* Starts in SISP_STATE_HELLO with that state's default limits. */
void sisp_decoder_init(sisp_decoder_t *d, sisp_role_t receiver);
/* Clears a sticky error and goes back to SISP_STATE_HELLO. */
void sisp_decoder_reset(sisp_decoder_t *d);
/* Moves to a state; limits NULL means the state's defaults. Limits are clamped to
 * SISP_LIMIT_ABSOLUTE. */
void sisp_decoder_set_state(sisp_decoder_t *d, sisp_state_t state, const sisp_limits_t *limits);

/* Decodes one frame from buf[0..len).
 *   0 (SISP_OK)     *frame filled, *n = bytes consumed (header + payload).
 *   SISP_NEED_MORE  nothing consumed; *n = total bytes the frame needs (SISP_HEADER_SIZE
 *                   while the header is incomplete, then header + declared length).
 *   < 0             a sticky error: EVERSION, EFLAGS, ETYPE, ESTATE, ETOOBIG.
 * The limit check happens on the header alone, so an oversized frame is refused before
 * its payload is read. */
int sisp_frame_decode(sisp_decoder_t *d, const uint8_t *buf, size_t len, sisp_frame_t *frame,
                      size_t *n);

/* Writes the 12 header bytes into h (payload_len is not checked against any limit). */
void sisp_frame_header_write(uint8_t h[SISP_HEADER_SIZE], uint8_t type, uint16_t flags,
                             uint32_t stream, uint32_t payload_len);
/* Appends a header for a payload of payload_len bytes. */
SISP_MUST_CHECK int sisp_frame_put_header(sisp_buf_t *out, uint8_t type, uint16_t flags,
                                          uint32_t stream, size_t payload_len);

/* Appends a whole frame (header + payload). */
SISP_MUST_CHECK int sisp_frame_encode(sisp_buf_t *out, uint8_t type, uint16_t flags,
                                      uint32_t stream, const uint8_t *payload, size_t payload_len);

#endif
