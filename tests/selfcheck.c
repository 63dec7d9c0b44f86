/* sisp-selfcheck: shows the SISP/1 protocol library at work. Every sample frame is encoded,
 * delivered to a decoder in three uneven pieces as a socket might deliver it, decoded and
 * compared; then hostile frames are fed in and each is refused with its specific error.
 * Exits non-zero if anything does not behave as specified. */
#include "vectors.h"

#include <stdio.h>
#include <string.h>

static sisp_packet_t pkt;

static int deliver(const t_vector_t *v, size_t *bytes) {
    sisp_buf_t wire, rx;
    sisp_decoder_t d;
    sisp_frame_t f;
    size_t n = 0;
    int rc = 0;

    sisp_buf_init(&wire, 0);
    sisp_buf_init(&rx, 0);
    sisp_decoder_init(&d, v->receiver);
    sisp_decoder_set_state(&d, v->state, NULL);
    if (sisp_packet_encode(&wire, &v->pkt) != 0)
        rc = -1;
    size_t cuts[3] = {5, wire.len / 2, wire.len};
    size_t from = 0, needs = 0;
    for (int i = 0; rc == 0 && i < 3; i++) {
        size_t to = cuts[i] > wire.len ? wire.len : cuts[i];
        if (to < from)
            to = from;
        if (sisp_buf_append(&rx, wire.data + from, to - from) != 0)
            rc = -1;
        from = to;
        rc = rc ? rc : sisp_frame_decode(&d, rx.data, rx.len, &f, &n);
        if (rc == SISP_NEED_MORE) {
            needs++;
            rc = 0;
        } else if (rc == SISP_OK) {
            rc = (i == 2 && n == wire.len) ? 0 : -1;
            break;
        }
    }
    if (rc == 0)
        rc = sisp_packet_decode(&f, &pkt);
    if (rc == 0 && !sisp_packet_equal(v->pkt.type, &pkt.u, &v->pkt.u))
        rc = -1;
    printf("  %-18s %-9s %5zu bytes  %zu partial reads  %s\n", sisp_type_name(v->pkt.type),
           v->receiver == SISP_ROLE_SERVER ? "to server" : "to client", wire.len, needs,
           rc == 0 ? "decoded, identical" : "FAILED");
    *bytes += wire.len;
    sisp_buf_free(&wire);
    sisp_buf_free(&rx);
    return rc;
}

int main(void) {
    int failed = 0;
    size_t bytes = 0;

    printf("SISP/1 self-check: sample frames, delivered in pieces\n");
    for (size_t i = 0; i < t_vector_count(); i++)
        failed |= deliver(t_vector(i), &bytes) != 0;

    printf("\nHostile frames, each refused with its own error\n");
    for (size_t i = 0; i < t_bad_vector_count(); i++) {
        const t_bad_vector_t *v = t_bad_vector(i);
        sisp_decoder_t d;
        sisp_frame_t f;
        size_t n;
        sisp_decoder_init(&d, v->receiver);
        sisp_decoder_set_state(&d, v->state, NULL);
        int rc = sisp_frame_decode(&d, v->bytes, v->len, &f, &n);
        if (rc == SISP_OK)
            rc = sisp_packet_decode(&f, &pkt);
        printf("  %-52s -> %-17s %s\n", v->title, sisp_err_name(rc),
               rc == v->err ? "as specified" : "UNEXPECTED");
        failed |= rc != v->err;
    }

    printf("\n%zu frames (%zu bytes) round-tripped, %zu hostile frames refused: %s\n",
           t_vector_count(), bytes, t_bad_vector_count(), failed ? "FAILED" : "all as specified");
    return failed ? 1 : 0;
}
