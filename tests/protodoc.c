/* sisp-protodoc: prints docs/PROTOCOL.md's generated catalog section, splices it into the
 * document (--update FILE), or writes each sample frame as a fuzz seed (--corpus DIR). */
#include "docfile.h"
#include "vectors.h"

#include <stdio.h>
#include <string.h>

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    int ok = fwrite(p, 1, n, f) == n;
    ok &= fclose(f) == 0;
    if (!ok)
        fprintf(stderr, "sisp-protodoc: cannot write %s\n", path);
    return ok ? 0 : -1;
}

static int update(const char *path, const sisp_buf_t *gen) {
    sisp_buf_t doc, out;
    size_t s, e;
    int rc = -1;
    sisp_buf_init(&doc, 0);
    sisp_buf_init(&out, 0);
    if (t_read_file(path, &doc) != 0) {
        fprintf(stderr, "sisp-protodoc: cannot read %s\n", path);
    } else if (!t_doc_section(&doc, &s, &e)) {
        fprintf(stderr, "sisp-protodoc: %s has no generated section markers\n", path);
    } else if (sisp_buf_append(&out, doc.data, s) == 0 &&
               sisp_buf_append(&out, gen->data, gen->len) == 0 &&
               sisp_buf_append(&out, doc.data + e, doc.len - e) == 0) {
        rc = write_file(path, out.data, out.len);
    }
    sisp_buf_free(&doc);
    sisp_buf_free(&out);
    return rc;
}

/* Seeds for the fuzzers: fuzz_frame takes a selector byte (receiver role in bit 3, session
 * state in bits 0-2) and then the frame; fuzz_roundtrip takes the frame type's index in the
 * catalog and then the payload. */
static int corpus(const char *dir) {
    uint8_t index[256] = {0};
    uint8_t n_types = 0;
    for (unsigned t = 0; t < 256; t++)
        if (sisp_type_known((uint8_t)t))
            index[t] = n_types++;

    sisp_buf_t enc, seed;
    sisp_buf_init(&enc, 0);
    sisp_buf_init(&seed, 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t_vector_count(); i++) {
        const t_vector_t *v = t_vector(i);
        char path[4096];
        sisp_buf_reset(&enc);
        if (sisp_packet_encode(&enc, &v->pkt) != 0) {
            rc = -1;
            break;
        }
        uint8_t sel = (uint8_t)((v->receiver == SISP_ROLE_CLIENT ? 0x08 : 0) | v->state);
        sisp_buf_reset(&seed);
        if (sisp_buf_append(&seed, &sel, 1) != 0 || sisp_buf_append(&seed, enc.data, enc.len) != 0)
            rc = -1;
        snprintf(path, sizeof path, "%s/frame/%s.bin", dir, v->id);
        if (rc == 0)
            rc = write_file(path, seed.data, seed.len);

        sisp_buf_reset(&seed);
        if (sisp_buf_append(&seed, &index[v->pkt.type], 1) != 0 ||
            sisp_buf_append(&seed, enc.data + SISP_HEADER_SIZE, enc.len - SISP_HEADER_SIZE) != 0)
            rc = -1;
        snprintf(path, sizeof path, "%s/roundtrip/%s.bin", dir, v->id);
        if (rc == 0)
            rc = write_file(path, seed.data, seed.len);
    }
    for (size_t i = 0; rc == 0 && i < t_bad_vector_count(); i++) {
        const t_bad_vector_t *v = t_bad_vector(i);
        char path[4096];
        uint8_t sel = (uint8_t)((v->receiver == SISP_ROLE_CLIENT ? 0x08 : 0) | v->state);
        sisp_buf_reset(&seed);
        if (sisp_buf_append(&seed, &sel, 1) != 0 || sisp_buf_append(&seed, v->bytes, v->len) != 0)
            rc = -1;
        snprintf(path, sizeof path, "%s/frame/%s.bin", dir, v->id);
        if (rc == 0)
            rc = write_file(path, seed.data, seed.len);
    }
    sisp_buf_free(&enc);
    sisp_buf_free(&seed);
    return rc;
}

int main(int argc, char **argv) {
    sisp_buf_t gen;
    sisp_buf_init(&gen, 0);
    int rc = t_catalog_markdown(&gen) == 0 ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "sisp-protodoc: generation failed\n");
    else if (argc == 3 && strcmp(argv[1], "--update") == 0)
        rc = update(argv[2], &gen);
    else if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
        rc = corpus(argv[2]);
    else if (argc == 1)
        rc = fwrite(gen.data, 1, gen.len, stdout) == gen.len ? 0 : -1;
    else {
        fprintf(stderr, "usage: sisp-protodoc [--update PROTOCOL.md | --corpus DIR]\n");
        rc = -1;
    }
    sisp_buf_free(&gen);
    return rc == 0 ? 0 : 1;
}
