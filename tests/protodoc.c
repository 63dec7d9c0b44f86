/* sisp-protodoc: prints docs/PROTOCOL.md's generated catalog section, splices it into the
 * document (--update FILE), or writes each sample frame, sealed files from the seal fixture
 * and client streams for the session fuzzer (tenv_seeds.c) as fuzz seeds (--corpus DIR). */
#include "docfile.h"
#include "seal_fixture.h"
#include "tenv.h"
#include "vectors.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

/* Replaces every generated section of the document with what the code generates now. */
static int update(const char *path) {
    sisp_buf_t doc, gen, out;
    int rc = 0;
    sisp_buf_init(&doc, 0);
    if (t_read_file(path, &doc) != 0) {
        fprintf(stderr, "sisp-protodoc: cannot read %s\n", path);
        return -1;
    }
    for (size_t i = 0; rc == 0 && i < t_doc_section_count; i++) {
        size_t s, e;
        sisp_buf_init(&gen, 0);
        sisp_buf_init(&out, 0);
        if (!t_doc_section(&doc, t_doc_sections[i], &s, &e)) {
            fprintf(stderr, "sisp-protodoc: %s has no markers for section %s\n", path,
                    t_doc_sections[i]);
            rc = -1;
        } else if (t_doc_generate(t_doc_sections[i], &gen) != 0 ||
                   sisp_buf_append(&out, doc.data, s) != 0 ||
                   sisp_buf_append(&out, gen.data, gen.len) != 0 ||
                   sisp_buf_append(&out, doc.data + e, doc.len - e) != 0 ||
                   sisp_buf_append(&out, "", 1) != 0) {
            fprintf(stderr, "sisp-protodoc: generating section %s failed\n", t_doc_sections[i]);
            rc = -1;
        } else {
            out.len--; /* keep the NUL terminator t_doc_section relies on, but not in len */
            sisp_buf_free(&doc);
            doc = out;
            sisp_buf_init(&out, 0);
        }
        sisp_buf_free(&gen);
        sisp_buf_free(&out);
    }
    if (rc == 0)
        rc = write_file(path, doc.data, doc.len);
    sisp_buf_free(&doc);
    return rc;
}

/* Seeds for fuzz_seal_open: whole sealed files from the seal fixture, opened there as
 * alice's with the fixture's epoch key. A 1x1 PNG; PNG- and JPEG-prefixed plaintexts of
 * several chunks (the last one short, or exactly full); and one signed by mallory. */
static int seal_seeds(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/seal_open", dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        return -1;
    }
    static uint8_t png[10000], png8k[8192], jpeg[5000];
    static const uint8_t jfif[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};
    for (size_t i = 0; i < sizeof png; i++)
        png[i] = (uint8_t)(i * 131 + 7);
    memcpy(png, t_png_1x1, sizeof t_png_1x1);
    memcpy(png8k, png, sizeof png8k);
    for (size_t i = 0; i < sizeof jpeg; i++)
        jpeg[i] = (uint8_t)(i * 29 + 3);
    memcpy(jpeg, jfif, sizeof jfif);
    const struct {
        const char *id;
        const uint8_t *plain;
        size_t len;
        unsigned variant;
        const uint8_t *signer;
    } seeds[] = {
        {"png-1x1", t_png_1x1, sizeof t_png_1x1, 0, t_alice_seed},
        {"png-10k", png, sizeof png, 1, t_alice_seed},
        {"png-8k-full-last", png8k, sizeof png8k, 2, t_alice_seed},
        {"jpeg-5k", jpeg, sizeof jpeg, 3, t_alice_seed},
        {"png-1x1-mallory", t_png_1x1, sizeof t_png_1x1, 0, t_mallory_seed},
    };
    sisp_buf_t file;
    sisp_buf_init(&file, 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof seeds / sizeof seeds[0]; i++) {
        sisp_buf_reset(&file);
        if (t_seal_fixed(seeds[i].plain, seeds[i].len, 4096, seeds[i].variant, seeds[i].signer,
                         &file) != 0) {
            fprintf(stderr, "sisp-protodoc: cannot seal %s\n", seeds[i].id);
            rc = -1;
            break;
        }
        snprintf(path, sizeof path, "%s/seal_open/%s.bin", dir, seeds[i].id);
        rc = write_file(path, file.data, file.len);
    }
    sisp_buf_free(&file);
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
    if (rc == 0)
        rc = seal_seeds(dir);
    return rc == 0 ? tenv_session_seeds(dir) : rc;
}

int main(int argc, char **argv) {
    int rc = 0;
    if (argc == 3 && strcmp(argv[1], "--update") == 0) {
        rc = update(argv[2]);
    } else if (argc == 3 && strcmp(argv[1], "--corpus") == 0) {
        rc = corpus(argv[2]);
    } else if (argc == 1) {
        for (size_t i = 0; rc == 0 && i < t_doc_section_count; i++) {
            sisp_buf_t gen;
            sisp_buf_init(&gen, 0);
            rc = t_doc_generate(t_doc_sections[i], &gen) == 0 &&
                         fwrite(gen.data, 1, gen.len, stdout) == gen.len
                     ? 0
                     : -1;
            sisp_buf_free(&gen);
        }
    } else {
        fprintf(stderr, "usage: sisp-protodoc [--update PROTOCOL.md | --corpus DIR]\n");
        rc = -1;
    }
    return rc == 0 ? 0 : 1;
}
