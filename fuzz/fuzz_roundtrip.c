/* fuzz_roundtrip: arbitrary payloads for every frame type through decode -> encode ->
 * decode. Whatever decodes must encode, decode again to the same packet, and the canonical
 * encoding must be a fixed point (encoding it again gives the same bytes).
 *
 * Input: one byte choosing the frame type (modulo the catalog), then the payload. */
#include "fuzz_util.h"

#include <sisp/packet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static sisp_packet_t first, second;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t types[256];
    static size_t n_types;
    if (n_types == 0)
        for (unsigned t = 0; t < 256; t++)
            if (sisp_type_known((uint8_t)t))
                types[n_types++] = (uint8_t)t;
    if (size < 1 || size > (1u << 20))
        return 0;

    sisp_frame_t f;
    memset(&f, 0, sizeof f);
    f.version = SISP_VERSION;
    f.type = types[data[0] % n_types];
    f.stream = sisp_type_stream_rule(f.type) == SISP_STREAM_ZERO ? 0 : 7;
    f.payload = sisp_slice(data + 1, size - 1);
    f.length = (uint32_t)(size - 1);

    int rc = sisp_packet_decode(&f, &first);
    if (rc != SISP_OK) {
        REQUIRE(rc < 0 && sisp_err_known(rc));
        return 0;
    }
    sisp_buf_t a, b;
    sisp_buf_init(&a, 0);
    sisp_buf_init(&b, 0);
    REQUIRE(sisp_packet_encode(&a, &first) == SISP_OK);

    sisp_frame_t f2 = f;
    f2.payload = sisp_slice(a.data + SISP_HEADER_SIZE, a.len - SISP_HEADER_SIZE);
    f2.length = (uint32_t)f2.payload.len;
    REQUIRE(sisp_load32(a.data) == f2.length && a.data[5] == f.type);
    REQUIRE(sisp_packet_decode(&f2, &second) == SISP_OK);
    REQUIRE(sisp_packet_equal(f.type, &first.u, &second.u));
    REQUIRE(sisp_packet_encode(&b, &second) == SISP_OK);
    REQUIRE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* The canonical form is never longer than what was decoded, bar omitted extras. */
    REQUIRE(f2.payload.len <= f.payload.len);

    sisp_buf_free(&a);
    sisp_buf_free(&b);
    return 0;
}
