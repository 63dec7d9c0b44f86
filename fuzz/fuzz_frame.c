/* fuzz_frame: arbitrary bytes into the frame decoder and the packet codec, in every
 * receiver role and session state.
 *
 * Input: one selector byte (receiver role, session state, and whether tiny limits are in
 * force), then the byte stream as it would arrive from a peer. Every frame that decodes
 * must re-encode, and the re-encoding must decode to the same packet. */
#include "fuzz_util.h"

#include <sisp/packet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static sisp_packet_t pkt, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20))
        return 0;
    uint8_t sel = data[0];
    sisp_role_t role = (sel & 0x08) ? SISP_ROLE_CLIENT : SISP_ROLE_SERVER;
    sisp_state_t state = (sisp_state_t)((sel & 0x07) % SISP_STATE_COUNT);
    sisp_limits_t tiny = {64, 64};
    sisp_decoder_t d;
    sisp_buf_t out;

    sisp_decoder_init(&d, role);
    sisp_decoder_set_state(&d, state, (sel & 0x10) ? &tiny : NULL);
    sisp_buf_init(&out, 0);

    const uint8_t *p = data + 1;
    size_t left = size - 1;
    for (;;) {
        sisp_frame_t f;
        size_t n = 0;
        int rc = sisp_frame_decode(&d, p, left, &f, &n);
        if (rc == SISP_NEED_MORE) {
            REQUIRE(n > left && n >= SISP_HEADER_SIZE);
            break;
        }
        if (rc < 0) {
            REQUIRE(sisp_err_known(rc));
            REQUIRE(sisp_frame_decode(&d, p, left, &f, &n) == rc); /* sticky */
            break;
        }
        REQUIRE(rc == SISP_OK && n >= SISP_HEADER_SIZE && n <= left);
        REQUIRE(f.payload.ptr == p + SISP_HEADER_SIZE && f.payload.len == n - SISP_HEADER_SIZE);
        REQUIRE(sisp_type_allowed(role, state, f.type));

        rc = sisp_packet_decode(&f, &pkt);
        if (rc == SISP_OK) {
            sisp_buf_reset(&out);
            REQUIRE(sisp_packet_encode(&out, &pkt) == SISP_OK);
            sisp_decoder_t d2;
            sisp_frame_t f2;
            size_t n2;
            sisp_limits_t big = {SISP_LIMIT_ABSOLUTE, SISP_LIMIT_ABSOLUTE};
            sisp_decoder_init(&d2, role);
            sisp_decoder_set_state(&d2, state, &big);
            REQUIRE(sisp_frame_decode(&d2, out.data, out.len, &f2, &n2) == SISP_OK);
            REQUIRE(n2 == out.len);
            REQUIRE(sisp_packet_decode(&f2, &again) == SISP_OK);
            REQUIRE(sisp_packet_equal(f.type, &pkt.u, &again.u));
        } else {
            REQUIRE(sisp_err_known(rc));
        }
        p += n;
        left -= n;
    }
    sisp_buf_free(&out);
    return 0;
}
