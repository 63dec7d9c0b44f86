#include <sisp/frame.h>
#include <sisp/packet.h>

_Static_assert(SISP_HEADER_SIZE == 4 + 1 + 1 + 2 + 4, "SISP/1 header is 12 bytes");

sisp_limits_t sisp_limits_default(sisp_state_t state) {
    sisp_limits_t l;
    if (state == SISP_STATE_AUTH) {
        l.max_control = SISP_LIMIT_CONTROL;
        l.max_data = SISP_LIMIT_DATA;
    } else {
        l.max_control = SISP_LIMIT_PREAUTH;
        l.max_data = 0;
    }
    return l;
}

void sisp_decoder_init(sisp_decoder_t *d, sisp_role_t receiver) {
    d->role = receiver;
    sisp_decoder_reset(d);
}

void sisp_decoder_reset(sisp_decoder_t *d) {
    d->err = 0;
    sisp_decoder_set_state(d, SISP_STATE_HELLO, NULL);
}

void sisp_decoder_set_state(sisp_decoder_t *d, sisp_state_t state, const sisp_limits_t *limits) {
    d->state = state < SISP_STATE_COUNT ? state : SISP_STATE_HELLO;
    d->limits = limits ? *limits : sisp_limits_default(d->state);
    if (d->limits.max_control > SISP_LIMIT_ABSOLUTE)
        d->limits.max_control = SISP_LIMIT_ABSOLUTE;
    if (d->limits.max_data > SISP_LIMIT_ABSOLUTE)
        d->limits.max_data = SISP_LIMIT_ABSOLUTE;
}

static int fail(sisp_decoder_t *d, int err) {
    d->err = err;
    return err;
}

int sisp_frame_decode(sisp_decoder_t *d, const uint8_t *buf, size_t len, sisp_frame_t *frame,
                      size_t *n) {
    if (d->err != 0)
        return d->err;
    if (len < SISP_HEADER_SIZE) {
        *n = SISP_HEADER_SIZE;
        return SISP_NEED_MORE;
    }
    uint32_t length = sisp_load32(buf);
    uint8_t version = buf[4];
    uint8_t type = buf[5];
    uint16_t flags = sisp_load16(buf + 6);
    if (version != SISP_VERSION)
        return fail(d, SISP_EVERSION);
    if (flags != 0)
        return fail(d, SISP_EFLAGS);
    if (!sisp_type_known(type))
        return fail(d, SISP_ETYPE);
    if (!sisp_type_allowed(d->role, d->state, type))
        return fail(d, SISP_ESTATE);
    uint32_t limit = type == SISP_T_DATA ? d->limits.max_data : d->limits.max_control;
    if (length > limit || limit == 0) /* a zero limit means the type is not accepted */
        return fail(d, SISP_ETOOBIG);
    size_t total = SISP_HEADER_SIZE + (size_t)length;
    if (len < total) {
        *n = total;
        return SISP_NEED_MORE;
    }
    frame->length = length;
    frame->version = version;
    frame->type = type;
    frame->flags = flags;
    frame->stream = sisp_load32(buf + 8);
    frame->payload = sisp_slice(buf + SISP_HEADER_SIZE, length);
    *n = total;
    return SISP_OK;
}

void sisp_frame_header_write(uint8_t h[SISP_HEADER_SIZE], uint8_t type, uint16_t flags,
                             uint32_t stream, uint32_t payload_len) {
    sisp_store32(h, payload_len);
    h[4] = SISP_VERSION;
    h[5] = type;
    sisp_store16(h + 6, flags);
    sisp_store32(h + 8, stream);
}

int sisp_frame_put_header(sisp_buf_t *out, uint8_t type, uint16_t flags, uint32_t stream,
                          size_t payload_len) {
    if (payload_len > SISP_LIMIT_ABSOLUTE)
        return SISP_ETOOBIG;
    uint8_t h[SISP_HEADER_SIZE];
    sisp_frame_header_write(h, type, flags, stream, (uint32_t)payload_len);
    return sisp_buf_append(out, h, sizeof h);
}

int sisp_frame_encode(sisp_buf_t *out, uint8_t type, uint16_t flags, uint32_t stream,
                      const uint8_t *payload, size_t payload_len) {
    size_t start = out->len;
    int rc = sisp_frame_put_header(out, type, flags, stream, payload_len);
    if (rc == 0)
        rc = sisp_buf_append(out, payload, payload_len);
    if (rc != 0)
        out->len = start;
    return rc;
}
