/* docs/PROTOCOL.md's vectors, checked: the generated section matches the code, and every
 * vector block in the document decodes (whole, byte by byte, split at every offset, against
 * a guard page) to its sample packet and re-encodes byte for byte. */
#include "docfile.h"
#include "seal_fixture.h"
#include "testutil.h"
#include "vectors.h"

#include <string.h>

/* Parses "xx xx ... # comment" lines up to the closing fence into out. */
static int parse_hex_block(const char *p, const char **end, sisp_buf_t *out) {
    while (*p && strncmp(p, "```", 3) != 0) {
        const char *eol = strchr(p, '\n');
        if (eol == NULL)
            return -1;
        for (const char *c = p; c < eol && *c != '#'; c++) {
            if (*c == ' ')
                continue;
            unsigned v;
            if (c + 1 >= eol || sscanf(c, "%2x", &v) != 1)
                return -1;
            uint8_t byte = (uint8_t)v;
            if (sisp_buf_append(out, &byte, 1) != 0)
                return -1;
            c++;
        }
        p = eol + 1;
    }
    *end = p;
    return *p ? 0 : -1;
}

static const t_vector_t *vector_by_id(const char *id, size_t len) {
    for (size_t i = 0; i < t_vector_count(); i++)
        if (strlen(t_vector(i)->id) == len && memcmp(t_vector(i)->id, id, len) == 0)
            return t_vector(i);
    return NULL;
}

static void decode_checked(const t_vector_t *v, const uint8_t *bytes, size_t len) {
    static sisp_packet_t pkt;
    sisp_decoder_t d;
    sisp_frame_t f;
    size_t n = 0;

    /* whole */
    uint8_t *g = t_guard_copy(bytes, len);
    sisp_decoder_init(&d, v->receiver);
    sisp_decoder_set_state(&d, v->state, NULL);
    CHECK_ERR(sisp_frame_decode(&d, g, len, &f, &n), SISP_OK);
    CHECK_U64(n, len);
    CHECK_INT(f.type, v->pkt.type);
    CHECK_U64(f.stream, v->pkt.stream);
    CHECK_ERR(sisp_packet_decode(&f, &pkt), SISP_OK);
    CHECK(sisp_packet_equal(v->pkt.type, &pkt.u, &v->pkt.u));
    sisp_buf_t re;
    sisp_buf_init(&re, 0);
    CHECK_ERR(sisp_packet_encode(&re, &pkt), SISP_OK);
    CHECK_MEM(re.data, re.len, bytes, len);
    sisp_buf_free(&re);
    t_guard_free(g, len);

    /* byte by byte: each prefix sits against the guard page */
    for (size_t k = 0; k < len; k++) {
        uint8_t *gp = t_guard_copy(bytes, k);
        int rc = sisp_frame_decode(&d, gp, k, &f, &n);
        if (rc != SISP_NEED_MORE || n != (k < SISP_HEADER_SIZE ? SISP_HEADER_SIZE : len))
            T_FAIL_AT("%s: prefix %zu gave %s, n %zu", v->id, k, t_errname(rc), n);
        t_guard_free(gp, k);
    }
    /* split at every offset: the second part arrives after the first was refused */
    for (size_t k = 1; k < len; k++) {
        uint8_t *gp = t_guard_copy(bytes, k);
        int rc1 = sisp_frame_decode(&d, gp, k, &f, &n);
        t_guard_free(gp, k);
        gp = t_guard_copy(bytes, len);
        int rc2 = sisp_frame_decode(&d, gp, len, &f, &n);
        int rc3 = rc2 == SISP_OK ? sisp_packet_decode(&f, &pkt) : rc2;
        if (rc1 != SISP_NEED_MORE || rc3 != SISP_OK || n != len ||
            !sisp_packet_equal(v->pkt.type, &pkt.u, &v->pkt.u))
            T_FAIL_AT("%s: split at %zu: %s then %s", v->id, k, t_errname(rc1), t_errname(rc3));
        t_guard_free(gp, len);
    }
}

static void check_bad_vectors(void) {
    static sisp_packet_t pkt;
    for (size_t i = 0; i < t_bad_vector_count(); i++) {
        const t_bad_vector_t *v = t_bad_vector(i);
        sisp_decoder_t d;
        sisp_frame_t f;
        size_t n = 0;
        uint8_t *g = t_guard_copy(v->bytes, v->len);
        sisp_decoder_init(&d, v->receiver);
        sisp_decoder_set_state(&d, v->state, NULL);
        int rc = sisp_frame_decode(&d, g, v->len, &f, &n);
        if (rc == SISP_OK)
            rc = sisp_packet_decode(&f, &pkt);
        if (rc != v->err)
            T_FAIL_AT("%s: got %s, want %s", v->id, t_errname(rc), t_errname(v->err));
        t_checks++;
        t_guard_free(g, v->len);
    }
}

/* Parses the hex block after the fence line starting with `fence`. */
static int fenced_block(const char *doc, const char *fence, sisp_buf_t *out) {
    const char *p = strstr(doc, fence);
    const char *end = NULL;
    if (p == NULL || (p = strchr(p, '\n')) == NULL)
        return -1;
    return parse_hex_block(p + 1, &end, out);
}

static void check_sealed_example(const char *doc) {
    sisp_buf_t file, again, plain, ek;
    sisp_buf_init(&file, 0);
    sisp_buf_init(&again, 0);
    sisp_buf_init(&plain, 0);
    sisp_buf_init(&ek, 0);
    CHECK(fenced_block(doc, "```sisp-sealed id=beach", &file) == 0);
    CHECK_ERR(t_seal_fixed(t_png_1x1, sizeof t_png_1x1, 4096, 0, t_alice_seed, &again), SISP_OK);
    CHECK_MEM(file.data, file.len, again.data, again.len);

    sisp_ident_key_t alice;
    sisp_slice_t manifest = SISP_SLICE_NULL, sig = SISP_SLICE_NULL;
    size_t header_len = 0;
    sisp_open_t o;
    sisp_expect_t expect = {sisp_slice_str("alice"), sisp_slice_str("beach.png"),
                            sisp_slice_str("family")};
    CHECK_ERR(sisp_ident_from_seed(t_alice_seed, &alice), SISP_OK);
    CHECK_ERR(sisp_sealed_header_parse(file.data, file.len, &manifest, &sig, &header_len), SISP_OK);
    CHECK_ERR(sisp_open_init(&o, manifest.ptr, manifest.len, sig.ptr, sig.len, alice.pub, &expect),
              SISP_OK);
    CHECK_ERR(sisp_open_key(&o, t_epoch_key), SISP_OK);
    CHECK_ERR(sisp_open_update(&o, file.data + header_len, file.len - header_len, &plain), SISP_OK);
    CHECK_ERR(sisp_open_final(&o), SISP_OK);
    CHECK_MEM(plain.data, plain.len, t_png_1x1, sizeof t_png_1x1);
    sisp_open_free(&o);

    /* The epoch key wrapped to bob unwraps with bob's key. */
    sisp_x25519_key_t bob;
    uint8_t key[SISP_KEY_SIZE];
    CHECK(fenced_block(doc, "```sisp-epoch-wrap id=bob", &ek) == 0);
    CHECK_ERR(sisp_x25519_from_private(t_bob_x25519, &bob), SISP_OK);
    CHECK_ERR(sisp_epoch_unwrap(&bob, ek.data, ek.len, sisp_slice_str("family"), 1,
                                sisp_slice_str("bob"), key),
              SISP_OK);
    CHECK_MEM(key, sizeof key, t_epoch_key, sizeof t_epoch_key);

    sisp_buf_free(&file);
    sisp_buf_free(&again);
    sisp_buf_free(&plain);
    sisp_buf_free(&ek);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_vectors docs/PROTOCOL.md\n");
        return 2;
    }
    sisp_buf_t doc, gen;
    sisp_buf_init(&doc, 0);
    sisp_buf_init(&gen, 0);
    if (t_read_file(argv[1], &doc) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }

    /* 1. The document's generated sections are what the code generates now. */
    for (size_t i = 0; i < t_doc_section_count; i++) {
        size_t s = 0, e = 0;
        sisp_buf_reset(&gen);
        CHECK_ERR(t_doc_generate(t_doc_sections[i], &gen), SISP_OK);
        CHECK(t_doc_section(&doc, t_doc_sections[i], &s, &e));
        if (!t_mem_eq(doc.data + s, e - s, gen.data, gen.len))
            T_FAIL_AT("section %s of %s is out of date with the code; regenerate it with "
                      "build/tests/sisp-protodoc --update docs/PROTOCOL.md",
                      t_doc_sections[i], argv[1]);
    }

    /* 2. Every vector block in the document, parsed from the text itself. */
    int seen[256] = {0};
    size_t blocks = 0;
    const char *fence = "```sisp-vector id=";
    for (const char *p = strstr((const char *)doc.data, fence); p; p = strstr(p, fence)) {
        const char *id = p + strlen(fence);
        const char *eol = strchr(id, '\n');
        if (eol == NULL)
            break;
        const t_vector_t *v = vector_by_id(id, (size_t)(eol - id));
        sisp_buf_t bytes, enc;
        sisp_buf_init(&bytes, 0);
        sisp_buf_init(&enc, 0);
        if (v == NULL) {
            T_FAIL_AT("vector %.*s in the document has no sample packet", (int)(eol - id), id);
        } else if (parse_hex_block(eol + 1, &p, &bytes) != 0) {
            T_FAIL_AT("vector %s: unparsable hex block", v->id);
        } else {
            CHECK_ERR(sisp_packet_encode(&enc, &v->pkt), SISP_OK);
            CHECK_MEM(bytes.data, bytes.len, enc.data, enc.len);
            decode_checked(v, bytes.data, bytes.len);
            seen[v->pkt.type] = 1;
            blocks++;
        }
        sisp_buf_free(&bytes);
        sisp_buf_free(&enc);
        if (v == NULL)
            break;
    }
    CHECK_U64(blocks, t_vector_count());

    /* 3. Every frame type has a vector. */
    for (unsigned t = 0; t < 256; t++)
        if (sisp_type_known((uint8_t)t) && !seen[t])
            T_FAIL_AT("frame type %s has no test vector in the document",
                      sisp_type_name((uint8_t)t));

    /* 4. The refusal table. */
    check_bad_vectors();

    /* 5. The sealed-image worked example, parsed from the text: it opens to the 1x1 PNG
     * under alice's key and the family epoch key, and the fixed-key sealer reproduces it. */
    check_sealed_example((const char *)doc.data);

    sisp_buf_free(&doc);
    sisp_buf_free(&gen);
    return t_done("test_vectors");
}
