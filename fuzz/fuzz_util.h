/* Shared by the fuzz harnesses. */
#ifndef SISP_FUZZ_UTIL_H
#define SISP_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <sisp/frame.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a violation is a finding, so crash loudly. */
#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

/* The whole frame at p[at..len) as a header says it is, without the decoder's state or limit
 * checks (harnesses rewrite frames before the code under test sees them): 1 and *f (payload
 * borrowed from p), or 0 if fewer bytes than the header and its length remain. */
static inline int fuzz_frame_at(const uint8_t *p, size_t len, size_t at, sisp_frame_t *f) {
    if (len - at < SISP_HEADER_SIZE)
        return 0;
    const uint8_t *h = p + at;
    uint32_t plen = sisp_load32(h);
    if (plen > len - at - SISP_HEADER_SIZE)
        return 0;
    *f = (sisp_frame_t){plen,
                        h[4],
                        h[5],
                        sisp_load16(h + 6),
                        sisp_load32(h + 8),
                        sisp_slice(h + SISP_HEADER_SIZE, plen)};
    return 1;
}

#endif
