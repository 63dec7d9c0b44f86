/* The payload codec (packet.h): hand-built payloads framed with sisp_frame_encode, decoded
 * with sisp_frame_decode + sisp_packet_decode from guard-page copies, each malformation
 * checked for its specific error; the encoder's refusals; field order and critical-bit
 * independence; stream rules; and that decoding allocates nothing. */
#include "testutil.h"
#include "vectors.h"

#include <sisp/frame.h>
#include <sisp/packet.h>
#include <sisp/schema.h>

#include <string.h>

#ifndef T_ASAN
#include <malloc.h>
#endif

#define CR 0x80u /* the critical bit of a field key */

/* ---- payload building ---- */

static void must(int rc) {
    if (rc != 0) {
        fprintf(stderr, "allocation failed: %s\n", t_errname(rc));
        abort();
    }
}

/* Appends one field: key, wire type, big-endian u32 length, then the value. */
static void put(sisp_buf_t *b, unsigned key, unsigned wt, const void *v, size_t n) {
    uint8_t h[SISP_FIELD_HEADER_SIZE];
    h[0] = (uint8_t)key;
    h[1] = (uint8_t)wt;
    sisp_store32(h + 2, (uint32_t)n);
    must(sisp_buf_append(b, h, sizeof h));
    must(sisp_buf_append(b, v, n));
}

/* An integer of `width` bytes (not necessarily the width its wire type wants). */
static void put_uint_w(sisp_buf_t *b, unsigned key, unsigned wt, unsigned width, uint64_t v) {
    uint8_t x[16];
    for (unsigned i = 0; i < width && i < sizeof x; i++) {
        unsigned shift = 8 * (width - 1 - i);
        x[i] = shift < 64 ? (uint8_t)(v >> shift) : 0;
    }
    put(b, key, wt, x, width);
}

static unsigned wt_width(unsigned wt) {
    return wt == SISP_W_U8 ? 1 : wt == SISP_W_U16 ? 2 : wt == SISP_W_U32 ? 4 : 8;
}

static void put_uint(sisp_buf_t *b, unsigned key, unsigned wt, uint64_t v) {
    put_uint_w(b, key, wt, wt_width(wt), v);
}

static void put_str(sisp_buf_t *b, unsigned key, unsigned wt, const char *s) {
    put(b, key, wt, s, strlen(s));
}

static void put_buf(sisp_buf_t *b, unsigned key, unsigned wt, const sisp_buf_t *v) {
    put(b, key, wt, v->data, v->len);
}

/* Fills n bytes of `c`. */
static void put_fill(sisp_buf_t *b, unsigned key, unsigned wt, uint8_t c, size_t n) {
    uint8_t *v = malloc(n + 1);
    if (v == NULL)
        abort();
    memset(v, c, n);
    put(b, key, wt, v, n);
    free(v);
}

static const uint8_t key32[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* ---- decoding a hand-built payload ---- */

static sisp_packet_t got; /* the last decoded packet: valid until the next dec() */
static uint8_t *got_guard;
static size_t got_guard_len;

static void dec_release(void) {
    if (got_guard != NULL)
        t_guard_free(got_guard, got_guard_len);
    got_guard = NULL;
}

/* A receiver role and state that accept the type. */
static void decoder_for(sisp_decoder_t *d, uint8_t type) {
    for (int st = 0; st < SISP_STATE_COUNT; st++)
        for (int role = 0; role < 2; role++)
            if (sisp_type_allowed((sisp_role_t)role, (sisp_state_t)st, type)) {
                sisp_limits_t l = {SISP_LIMIT_ABSOLUTE, SISP_LIMIT_ABSOLUTE};
                sisp_decoder_init(d, (sisp_role_t)role);
                sisp_decoder_set_state(d, (sisp_state_t)st, &l);
                return;
            }
    fprintf(stderr, "type 0x%02x is never accepted\n", type);
    abort();
}

/* Frames payload[0..len) as `type` on `stream`, decodes the frame from a guard-page copy
 * and the packet into `got`. Returns sisp_packet_decode's result. */
static int dec_raw(uint8_t type, uint32_t stream, const uint8_t *payload, size_t len) {
    sisp_buf_t w;
    sisp_buf_init(&w, 0);
    must(sisp_frame_encode(&w, type, 0, stream, payload, len));
    dec_release();
    got_guard_len = w.len;
    got_guard = t_guard_copy(w.data, w.len);
    sisp_buf_free(&w);

    sisp_decoder_t d;
    sisp_frame_t f;
    size_t n = 0;
    decoder_for(&d, type);
    int rc = sisp_frame_decode(&d, got_guard, got_guard_len, &f, &n);
    CHECK_ERR(rc, 0);
    CHECK_U64(n, got_guard_len);
    if (rc != 0)
        return 9999;
    memset(&got, 0xa5, sizeof got);
    rc = sisp_packet_decode(&f, &got);
    if (rc == 0) {
        CHECK_INT(got.type, type);
        CHECK_U64(got.stream, stream);
    }
    return rc;
}

static int dec(uint8_t type, uint32_t stream, const sisp_buf_t *pl) {
    return dec_raw(type, stream, pl->data, pl->len);
}

/* Decodes and, on success, compares with `want` (a struct of that type). */
static int dec_eq(uint8_t type, uint32_t stream, const sisp_buf_t *pl, const void *want) {
    int rc = dec(type, stream, pl);
    if (rc == 0)
        CHECK(sisp_packet_equal(type, &got.u, want));
    return rc;
}

/* A valid stream id for a type. */
static uint32_t stream_for(uint8_t type) {
    return sisp_type_stream_rule(type) == SISP_STREAM_ZERO ? 0 : 7;
}

/* ---- splitting and rewriting encoded payloads ---- */

typedef struct {
    uint8_t key, wt;
    const uint8_t *v;
    size_t len;
} fld_t;

/* Splits a well-formed field sequence; returns the count (*out malloc'd, caller frees). */
static size_t split_fields(const uint8_t *p, size_t len, fld_t **out) {
    size_t n = 0, cap = len / SISP_FIELD_HEADER_SIZE + 1;
    fld_t *f = calloc(cap, sizeof *f);
    if (f == NULL)
        abort();
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < SISP_FIELD_HEADER_SIZE)
            abort();
        uint32_t flen = sisp_load32(p + pos + 2);
        if (flen > len - pos - SISP_FIELD_HEADER_SIZE)
            abort();
        f[n].key = p[pos];
        f[n].wt = p[pos + 1];
        f[n].v = p + pos + SISP_FIELD_HEADER_SIZE;
        f[n].len = flen;
        n++;
        pos += SISP_FIELD_HEADER_SIZE + flen;
    }
    *out = f;
    return n;
}

#define TF_REVERSE 1u  /* fields in descending id order (repeats keep their order) */
#define TF_CRIT_SET 2u /* set the critical bit on every field */
#define TF_CRIT_CLR 4u /* clear it on every field */
#define TF_SHUFFLE 8u  /* a pseudo-random order of distinct ids (repeats keep their order) */

/* Rewrites a field sequence, recursing into STRUCT values. */
static void transform(sisp_buf_t *out, const uint8_t *p, size_t len, unsigned how, uint64_t seed) {
    fld_t *f;
    size_t n = split_fields(p, len, &f);
    /* A rank per id; stable insertion sort by rank keeps repeats in order. */
    unsigned rank[128];
    for (unsigned id = 0; id < 128; id++) {
        uint64_t z = (seed + id) * 0x9e3779b97f4a7c15ull;
        rank[id] = (how & TF_SHUFFLE) ? (unsigned)(z >> 40) : (how & TF_REVERSE) ? 127 - id : id;
    }
    for (size_t i = 1; i < n; i++) {
        fld_t x = f[i];
        size_t j = i;
        while (j > 0 &&
               rank[f[j - 1].key & SISP_FIELD_ID_MASK] > rank[x.key & SISP_FIELD_ID_MASK]) {
            f[j] = f[j - 1];
            j--;
        }
        f[j] = x;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned key = f[i].key;
        if (how & TF_CRIT_SET)
            key |= CR;
        if (how & TF_CRIT_CLR)
            key &= SISP_FIELD_ID_MASK;
        if (f[i].wt == SISP_W_STRUCT) {
            sisp_buf_t inner;
            sisp_buf_init(&inner, 0);
            transform(&inner, f[i].v, f[i].len, how, seed + i);
            put_buf(out, key, f[i].wt, &inner);
            sisp_buf_free(&inner);
        } else {
            put(out, key, f[i].wt, f[i].v, f[i].len);
        }
    }
    free(f);
}

/* ---- the sample vectors, encoded ---- */

typedef struct {
    const t_vector_t *v;
    sisp_buf_t wire;
    const uint8_t *payload;
    size_t plen;
} enc_t;

static enc_t *vec;
static size_t n_vec;

static void encode_vectors(void) {
    n_vec = t_vector_count();
    vec = calloc(n_vec, sizeof *vec);
    if (vec == NULL)
        abort();
    for (size_t i = 0; i < n_vec; i++) {
        vec[i].v = t_vector(i);
        sisp_buf_init(&vec[i].wire, 0);
        must(sisp_packet_encode(&vec[i].wire, &vec[i].v->pkt));
        vec[i].payload = vec[i].wire.data + SISP_HEADER_SIZE;
        vec[i].plen = vec[i].wire.len - SISP_HEADER_SIZE;
    }
}

static void free_vectors(void) {
    for (size_t i = 0; i < n_vec; i++)
        sisp_buf_free(&vec[i].wire);
    free(vec);
}

/* Decodes a (rewritten) payload of vector e; expects success and the vector's packet. */
static void check_vec_payload(const enc_t *e, const sisp_buf_t *pl, const char *what) {
    int rc = dec(e->v->pkt.type, e->v->pkt.stream, pl);
    CHECK_ERR(rc, 0);
    int eq = rc == 0 && sisp_packet_equal(e->v->pkt.type, &got.u, &e->v->pkt.u);
    t_checks++;
    if (!eq)
        T_FAIL_AT("%s: %s does not decode to the vector (%s)", e->v->id, what, t_errname(rc));
}

/* ---- tests ---- */

static void test_vectors_roundtrip(void) {
    for (size_t i = 0; i < n_vec; i++) {
        const enc_t *e = &vec[i];
        int rc = dec_raw(e->v->pkt.type, e->v->pkt.stream, e->payload, e->plen);
        CHECK_ERR(rc, 0);
        CHECK(rc == 0 && sisp_packet_equal(e->v->pkt.type, &got.u, &e->v->pkt.u));
        /* The typed decoder gives the same struct. */
        sisp_frame_t f = {(uint32_t)e->plen, SISP_VERSION,
                          e->v->pkt.type,    0,
                          e->v->pkt.stream,  sisp_slice(e->payload, e->plen)};
        static sisp_packet_t p2;
        CHECK_ERR(sisp_payload_decode(e->v->pkt.type, &f, &p2.u), 0);
        CHECK(sisp_packet_equal(e->v->pkt.type, &p2.u, &e->v->pkt.u));
        /* Re-encoding the decoded packet gives the same bytes. */
        sisp_buf_t again;
        sisp_buf_init(&again, 0);
        CHECK_ERR(sisp_packet_encode(&again, &got), 0);
        CHECK_MEM(again.data, again.len, e->wire.data, e->wire.len);
        sisp_buf_free(&again);
    }
}

/* The wire layout of a few packets, byte for byte, against hand-built payloads. */
static void test_layout(void) {
    sisp_buf_t pl, enc;
    sisp_buf_init(&pl, 0);
    sisp_buf_init(&enc, 0);

    /* PING: one optional u64, not critical. */
    sisp_ping_t ping = {0x0102030405060708ull};
    must(sisp_ping_encode(&enc, 3, &ping));
    const uint8_t ping_wire[] = {0, 0, 0, 14, 1, SISP_T_PING, 0, 0, 0, 0, 0, 3, 1,
                                 4, 0, 0, 0,  8, 1,           2, 3, 4, 5, 6, 7, 8};
    CHECK_MEM(enc.data, enc.len, ping_wire, sizeof ping_wire);
    put_uint(&pl, 1, SISP_W_U64, 0x0102030405060708ull);
    CHECK_MEM(pl.data, pl.len, ping_wire + SISP_HEADER_SIZE, sizeof ping_wire - SISP_HEADER_SIZE);
    CHECK_ERR(dec_eq(SISP_T_PING, 3, &pl, &ping), 0);
    CHECK_U64(got.u.ping.token, 0x0102030405060708ull);

    /* PING with token 0: the optional field is omitted, an empty payload. */
    sisp_buf_reset(&enc);
    sisp_buf_reset(&pl);
    ping.token = 0;
    must(sisp_ping_encode(&enc, 0, &ping));
    CHECK_U64(enc.len, SISP_HEADER_SIZE);
    CHECK_ERR(dec_eq(SISP_T_PING, 0, &pl, &ping), 0);

    /* HELLO: required fields critical, in id order, optional empties left out. */
    sisp_hello_t h;
    memset(&h, 0, sizeof h);
    h.magic = sisp_slice_str("SISP");
    h.version = 1;
    h.max_control = 4096;
    h.max_data = 0;
    h.software = sisp_slice_str("x 1");
    sisp_buf_reset(&enc);
    must(sisp_hello_encode(&enc, 0, &h));
    put_str(&pl, 1 | CR, SISP_W_BYTES, "SISP");
    put_uint(&pl, 2 | CR, SISP_W_U16, 1);
    put_uint(&pl, 3 | CR, SISP_W_U32, 4096);
    put_uint(&pl, 4 | CR, SISP_W_U32, 0);
    put_str(&pl, 6, SISP_W_TEXT, "x 1");
    CHECK_MEM(enc.data + SISP_HEADER_SIZE, enc.len - SISP_HEADER_SIZE, pl.data, pl.len);
    CHECK_U64(sisp_load32(enc.data), pl.len);
    CHECK_ERR(dec_eq(SISP_T_HELLO, 0, &pl, &h), 0);
    CHECK(got.u.hello.magic.ptr == got_guard + SISP_HEADER_SIZE + 6); /* borrowed, not copied */

    /* LIST_RESULT: a repeated STRUCT, its length patched in after the nested fields. */
    sisp_list_result_t lr;
    memset(&lr, 0, sizeof lr);
    lr.entries[0].id = 5;
    lr.entries[0].seq = 6;
    lr.entries[0].name = sisp_slice_str("a.png");
    lr.entries[0].owner = sisp_slice_str("bob");
    lr.entries[0].group = sisp_slice_str("all");
    lr.entries[0].size = 100;
    lr.entries[0].posted_at = 0;
    lr.n_entries = 1;
    lr.next_since = 6;
    sisp_buf_t entry;
    sisp_buf_init(&entry, 0);
    put_uint(&entry, 1 | CR, SISP_W_U64, 5);
    put_uint(&entry, 2 | CR, SISP_W_U64, 6);
    put_str(&entry, 3 | CR, SISP_W_TEXT, "a.png");
    put_str(&entry, 4 | CR, SISP_W_TEXT, "bob");
    put_str(&entry, 5 | CR, SISP_W_TEXT, "all");
    put_uint(&entry, 6 | CR, SISP_W_U64, 100);
    put_uint(&entry, 7 | CR, SISP_W_U64, 0);
    sisp_buf_reset(&pl);
    put_buf(&pl, 1, SISP_W_STRUCT, &entry);
    put_uint(&pl, 2 | CR, SISP_W_U64, 6);
    sisp_buf_reset(&enc);
    must(sisp_list_result_encode(&enc, 8, &lr));
    CHECK_MEM(enc.data + SISP_HEADER_SIZE, enc.len - SISP_HEADER_SIZE, pl.data, pl.len);
    CHECK_ERR(dec_eq(SISP_T_LIST_RESULT, 8, &pl, &lr), 0);
    CHECK_U64(got.u.list_result.n_entries, 1);

    sisp_buf_free(&entry);
    sisp_buf_free(&pl);
    sisp_buf_free(&enc);
}

/* A valid REGISTER payload, with one field replaced or left out (0 = none). */
static void build_register(sisp_buf_t *pl, unsigned skip_id) {
    sisp_buf_reset(pl);
    if (skip_id != 1)
        put_str(pl, 1 | CR, SISP_W_TEXT, "alice");
    if (skip_id != 2)
        put(pl, 2 | CR, SISP_W_BYTES, "\x30\x03\x02\x01\x00", 5);
    if (skip_id != 3)
        put(pl, 3 | CR, SISP_W_BYTES, key32, 32);
    if (skip_id != 4)
        put(pl, 4 | CR, SISP_W_BYTES, "sig", 3);
    if (skip_id != 5)
        put_str(pl, 5, SISP_W_TEXT, "ABCD-1234");
}

/* A valid HELLO payload without field skip_id. */
static void build_hello(sisp_buf_t *pl, unsigned skip_id) {
    sisp_buf_reset(pl);
    if (skip_id != 1)
        put_str(pl, 1 | CR, SISP_W_BYTES, "SISP");
    if (skip_id != 2)
        put_uint(pl, 2 | CR, SISP_W_U16, 1);
    if (skip_id != 3)
        put_uint(pl, 3 | CR, SISP_W_U32, SISP_LIMIT_CONTROL);
    if (skip_id != 4)
        put_uint(pl, 4 | CR, SISP_W_U32, SISP_LIMIT_DATA);
    if (skip_id != 6)
        put_str(pl, 6, SISP_W_TEXT, "test");
}

/* An image-info STRUCT value without field skip_id, with the given name. */
static void build_info(sisp_buf_t *b, unsigned skip_id, const char *name, uint64_t id) {
    sisp_buf_reset(b);
    if (skip_id != 1)
        put_uint(b, 1 | CR, SISP_W_U64, id);
    if (skip_id != 2)
        put_uint(b, 2 | CR, SISP_W_U64, id + 1000);
    if (skip_id != 3)
        put_str(b, 3 | CR, SISP_W_TEXT, name);
    if (skip_id != 4)
        put_str(b, 4 | CR, SISP_W_TEXT, "bob");
    if (skip_id != 5)
        put_str(b, 5 | CR, SISP_W_TEXT, "all");
    if (skip_id != 6)
        put_uint(b, 6 | CR, SISP_W_U64, 1234);
    if (skip_id != 7)
        put_uint(b, 7 | CR, SISP_W_U64, 1795000000);
}

/* A grant STRUCT value without field skip_id. */
static void build_grant(sisp_buf_t *b, unsigned skip_id, uint32_t epoch) {
    sisp_buf_reset(b);
    if (skip_id != 1)
        put_str(b, 1 | CR, SISP_W_TEXT, "dave");
    if (skip_id != 2)
        put_uint(b, 2 | CR, SISP_W_U32, epoch);
    if (skip_id != 3)
        put(b, 3 | CR, SISP_W_BYTES, "wrapped!", 8);
    if (skip_id != 4)
        put_str(b, 4, SISP_W_TEXT, "alice");
    if (skip_id != 5)
        put(b, 5 | CR, SISP_W_BYTES, "sig", 3);
}

static void test_duplicates(void) {
    sisp_buf_t pl;
    sisp_buf_init(&pl, 0);
    for (unsigned id = 1; id <= 6; id++) {
        if (id == 5)
            continue;
        build_hello(&pl, 0);
        /* Append a second copy of field `id`, with the same value. */
        build_hello(&pl, 0);
        sisp_buf_t one;
        sisp_buf_init(&one, 0);
        switch (id) {
        case 1:
            put_str(&one, 1, SISP_W_BYTES, "SISP");
            break;
        case 2:
            put_uint(&one, 2, SISP_W_U16, 1);
            break;
        case 3:
            put_uint(&one, 3, SISP_W_U32, SISP_LIMIT_CONTROL);
            break;
        case 4:
            put_uint(&one, 4, SISP_W_U32, SISP_LIMIT_DATA);
            break;
        default:
            put_str(&one, 6, SISP_W_TEXT, "test");
            break;
        }
        must(sisp_buf_append(&pl, one.data, one.len));
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EDUPFIELD);
        sisp_buf_free(&one);
    }
    /* Back to back, first and last. */
    sisp_buf_reset(&pl);
    put_uint(&pl, 1, SISP_W_U64, 7);
    put_uint(&pl, 1, SISP_W_U64, 7);
    CHECK_ERR(dec(SISP_T_PING, 0, &pl), SISP_EDUPFIELD);
    sisp_buf_reset(&pl);
    put_uint(&pl, 1 | CR, SISP_W_U32, 5);
    put_str(&pl, 2, SISP_W_TEXT, "x");
    put_uint(&pl, 1, SISP_W_U32, 6);
    CHECK_ERR(dec(SISP_T_ERROR, 1, &pl), SISP_EDUPFIELD);
    /* Inside a nested STRUCT. */
    sisp_buf_t g;
    sisp_buf_init(&g, 0);
    build_grant(&g, 0, 1);
    put_str(&g, 1, SISP_W_TEXT, "dave");
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
    put_buf(&pl, 2 | CR, SISP_W_STRUCT, &g);
    CHECK_ERR(dec(SISP_T_GROUP_CREATE, 1, &pl), SISP_EDUPFIELD);
    /* A repeated field may repeat. */
    build_grant(&g, 0, 1);
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
    put_buf(&pl, 2 | CR, SISP_W_STRUCT, &g);
    put_buf(&pl, 2 | CR, SISP_W_STRUCT, &g);
    CHECK_ERR(dec(SISP_T_GROUP_CREATE, 1, &pl), 0);
    CHECK_U64(got.u.group_create.n_grants, 2);
    sisp_buf_free(&g);
    sisp_buf_free(&pl);
}

static void test_missing(void) {
    sisp_buf_t pl, info;
    sisp_buf_init(&pl, 0);
    sisp_buf_init(&info, 0);

    /* HELLO: each required field; the optional one may go. */
    for (unsigned id = 1; id <= 4; id++) {
        build_hello(&pl, id);
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EMISSING);
    }
    build_hello(&pl, 6);
    CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), 0);
    CHECK_U64(got.u.hello.software.len, 0);

    /* REGISTER: each required field; the invite may go. */
    for (unsigned id = 1; id <= 4; id++) {
        build_register(&pl, id);
        CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), SISP_EMISSING);
    }
    build_register(&pl, 5);
    CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), 0);
    CHECK_U64(got.u.register_req.invite.len, 0);
    build_register(&pl, 0);
    CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), 0);
    CHECK(t_mem_eq(got.u.register_req.invite.ptr, got.u.register_req.invite.len, "ABCD-1234", 9));

    /* ERROR without its code; DATA without data or offset; IMAGE_END empty. */
    sisp_buf_reset(&pl);
    put_str(&pl, 2, SISP_W_TEXT, "no code");
    CHECK_ERR(dec(SISP_T_ERROR, 0, &pl), SISP_EMISSING);
    sisp_buf_reset(&pl);
    put_uint(&pl, 1 | CR, SISP_W_U64, 0);
    CHECK_ERR(dec(SISP_T_DATA, 1, &pl), SISP_EMISSING);
    sisp_buf_reset(&pl);
    put(&pl, 2 | CR, SISP_W_BYTES, "abc", 3);
    CHECK_ERR(dec(SISP_T_DATA, 1, &pl), SISP_EMISSING);
    put_uint(&pl, 1 | CR, SISP_W_U64, 9);
    CHECK_ERR(dec(SISP_T_DATA, 1, &pl), 0);
    CHECK_U64(got.u.data.offset, 9);
    sisp_buf_reset(&pl);
    CHECK_ERR(dec(SISP_T_IMAGE_END, 1, &pl), SISP_EMISSING);

    /* A required repeated field needs at least one element. */
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "alice");
    CHECK_ERR(dec(SISP_T_REGISTERED, 1, &pl), SISP_EMISSING);
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
    CHECK_ERR(dec(SISP_T_KEY_GRANT, 1, &pl), SISP_EMISSING);
    /* An optional repeated field need not appear. */
    CHECK_ERR(dec(SISP_T_KEY_RESULT, 1, &pl), 0);
    CHECK_U64(got.u.key_result.n_grants, 0);

    /* A nested entry missing any required field. */
    for (unsigned id = 1; id <= 7; id++) {
        build_info(&info, id, "x.png", 5);
        sisp_buf_reset(&pl);
        put_buf(&pl, 1, SISP_W_STRUCT, &info);
        put_uint(&pl, 2 | CR, SISP_W_U64, 1);
        CHECK_ERR(dec(SISP_T_LIST_RESULT, 1, &pl), SISP_EMISSING);
        /* The same fields as a top-level NOTIFY. */
        CHECK_ERR(dec(SISP_T_NOTIFY, 0, &info), SISP_EMISSING);
    }
    sisp_buf_t g;
    sisp_buf_init(&g, 0);
    for (unsigned id = 1; id <= 5; id++) {
        build_grant(&g, id, 1);
        sisp_buf_reset(&pl);
        put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
        put_buf(&pl, 2 | CR, SISP_W_STRUCT, &g);
        CHECK_ERR(dec(SISP_T_KEY_GRANT, 1, &pl), id == 4 ? 0 : SISP_EMISSING);
    }
    sisp_buf_free(&g);

    /* Every type with an empty payload: EMISSING exactly when it has a required field. */
    for (unsigned t = 0; t < 256; t++) {
        const sisp_schema_t *s = sisp_schema_for((uint8_t)t);
        CHECK_INT(s != NULL, sisp_type_known((uint8_t)t));
        if (s == NULL)
            continue;
        int has_req = t == SISP_T_DOWNLOAD; /* name or id */
        for (size_t i = 0; i < s->n_fields; i++)
            has_req |= (s->fields[i].flags & SISP_F_REQ) != 0;
        int rc = dec_raw((uint8_t)t, stream_for((uint8_t)t), NULL, 0);
        t_checks++;
        if (rc != (has_req ? SISP_EMISSING : 0))
            T_FAIL_AT("empty %s: %s", sisp_type_name((uint8_t)t), t_errname(rc));
    }

    /* Drop each field of each vector in turn. */
    for (size_t i = 0; i < n_vec; i++) {
        const enc_t *e = &vec[i];
        uint8_t type = e->v->pkt.type;
        const sisp_schema_t *s = sisp_schema_for(type);
        fld_t *f;
        size_t n = split_fields(e->payload, e->plen, &f);
        for (size_t k = 0; k < n; k++) {
            unsigned id = f[k].key & SISP_FIELD_ID_MASK;
            size_t same = 0;
            for (size_t j = 0; j < n; j++)
                same += (f[j].key & SISP_FIELD_ID_MASK) == id;
            int req = 0;
            for (size_t j = 0; j < s->n_fields; j++)
                if (s->fields[j].id == id)
                    req = (s->fields[j].flags & SISP_F_REQ) != 0;
            int want = (req && same == 1) || (type == SISP_T_DOWNLOAD && (id == 1 || id == 2))
                           ? SISP_EMISSING
                           : 0;
            sisp_buf_reset(&pl);
            for (size_t j = 0; j < n; j++)
                if (j != k)
                    put(&pl, f[j].key, f[j].wt, f[j].v, f[j].len);
            int rc = dec(type, e->v->pkt.stream, &pl);
            t_checks++;
            if (rc != want)
                T_FAIL_AT("%s without field %u: %s, want %s", e->v->id, id, t_errname(rc),
                          t_errname(want));
        }
        free(f);
    }
    sisp_buf_free(&info);
    sisp_buf_free(&pl);
}

/* Unknown fields: skipped unless critical, anywhere in the payload, any wire type. */
static void test_unknown_fields(void) {
    sisp_buf_t pl, junk;
    sisp_buf_init(&pl, 0);
    sisp_buf_init(&junk, 0);
    for (size_t i = 0; i < n_vec; i++) {
        const enc_t *e = &vec[i];
        fld_t *f;
        size_t n = split_fields(e->payload, e->plen, &f);
        for (size_t at = 0; at <= n; at++) {
            for (int variant = 0; variant < 4; variant++) {
                sisp_buf_reset(&junk);
                static const unsigned ids[] = {127, 100, 42, 0};
                unsigned id = ids[variant];
                switch (variant) {
                case 0:
                    put_uint(&junk, id, SISP_W_U32, 0xdeadbeef);
                    break;
                case 1:
                    put_fill(&junk, id, SISP_W_BYTES, 0xee, 300);
                    break;
                case 2:
                    put(&junk, id, 0x55, "\x00\x01\x02", 3); /* no such wire type */
                    break;
                default:
                    put(&junk, id, SISP_W_STRUCT, "\xff\xff", 2); /* not a valid STRUCT */
                    break;
                }
                sisp_buf_reset(&pl);
                for (size_t j = 0; j < n; j++) {
                    if (j == at)
                        must(sisp_buf_append(&pl, junk.data, junk.len));
                    put(&pl, f[j].key, f[j].wt, f[j].v, f[j].len);
                }
                if (at == n)
                    must(sisp_buf_append(&pl, junk.data, junk.len));
                check_vec_payload(e, &pl, "payload with an unknown optional field");

                /* The same field marked critical. */
                size_t off = 0;
                for (size_t j = 0; j < at && j < n; j++)
                    off += SISP_FIELD_HEADER_SIZE + f[j].len;
                pl.data[off] = (uint8_t)(id | CR);
                CHECK_ERR(dec(e->v->pkt.type, e->v->pkt.stream, &pl), SISP_EUNKNOWNFIELD);
            }
        }
        free(f);
    }
    /* Unknown critical fields inside nested STRUCTs. */
    sisp_buf_t g;
    sisp_buf_init(&g, 0);
    build_grant(&g, 0, 1);
    put_uint(&g, 9 | CR, SISP_W_U8, 1);
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
    put_buf(&pl, 2 | CR, SISP_W_STRUCT, &g);
    CHECK_ERR(dec(SISP_T_KEY_RESULT, 1, &pl), SISP_EUNKNOWNFIELD);
    build_grant(&g, 0, 1);
    put_uint(&g, 9, SISP_W_U8, 1);
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
    put_buf(&pl, 2 | CR, SISP_W_STRUCT, &g);
    CHECK_ERR(dec(SISP_T_KEY_RESULT, 1, &pl), 0);
    CHECK_U64(got.u.key_result.n_grants, 1);
    CHECK_U64(got.u.key_result.grants[0].epoch, 1);
    /* WHOAMI has no fields: anything critical is unknown. */
    sisp_buf_reset(&pl);
    put_uint(&pl, 1 | CR, SISP_W_U8, 1);
    CHECK_ERR(dec(SISP_T_WHOAMI, 1, &pl), SISP_EUNKNOWNFIELD);
    sisp_buf_reset(&pl);
    put_uint(&pl, 1, SISP_W_U8, 1);
    CHECK_ERR(dec(SISP_T_WHOAMI, 1, &pl), 0);
    sisp_buf_free(&g);
    sisp_buf_free(&junk);
    sisp_buf_free(&pl);
}

/* Field headers cut short and values running past the payload (or the enclosing STRUCT). */
static void test_efield(void) {
    sisp_buf_t pl, base;
    sisp_buf_init(&pl, 0);
    sisp_buf_init(&base, 0);
    build_hello(&base, 0);
    /* 1..5 stray bytes after valid fields: a truncated field header. */
    for (size_t k = 1; k < SISP_FIELD_HEADER_SIZE; k++) {
        sisp_buf_reset(&pl);
        must(sisp_buf_append(&pl, base.data, base.len));
        must(sisp_buf_append(&pl, "\x06\x06\x00\x00\x00", k));
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EFIELD);
        /* Alone, too. */
        CHECK_ERR(dec_raw(SISP_T_PING, 0, (const uint8_t *)"\x01\x04\x00\x00\x00", k), SISP_EFIELD);
    }
    /* Declared lengths past the end, by one and by a lot, on the last field. */
    const uint32_t over[] = {1, 2, 100, 0x7fffffffu, 0xffffffffu - 4};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        sisp_buf_reset(&pl);
        must(sisp_buf_append(&pl, base.data, base.len));
        put_str(&pl, 7, SISP_W_TEXT, "bob");
        sisp_store32(pl.data + pl.len - 3 - 4, 3 + over[i]);
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EFIELD);
        /* Same on an unknown field, which is still bounds-checked. */
        sisp_buf_reset(&pl);
        put_str(&pl, 99, SISP_W_BYTES, "abc");
        sisp_store32(pl.data + 2, 3 + over[i]);
        CHECK_ERR(dec(SISP_T_PING, 0, &pl), SISP_EFIELD);
    }
    CHECK_ERR(dec_raw(SISP_T_PING, 0, (const uint8_t *)"\x01\x04\xff\xff\xff\xff", 6), SISP_EFIELD);
    /* Inside a STRUCT: the inner field overruns the STRUCT (but not the payload). */
    sisp_buf_t info;
    sisp_buf_init(&info, 0);
    build_info(&info, 0, "x.png", 1);
    info.data[info.len - 8 - 1] = 9; /* posted_at declares 9 bytes, 8 remain in the STRUCT */
    sisp_buf_reset(&pl);
    put_buf(&pl, 1, SISP_W_STRUCT, &info);
    put_uint(&pl, 2 | CR, SISP_W_U64, 1);
    CHECK_ERR(dec(SISP_T_LIST_RESULT, 1, &pl), SISP_EFIELD);
    /* A truncated inner field header. */
    build_info(&info, 0, "x.png", 1);
    must(sisp_buf_append(&info, "\x08\x04", 2));
    sisp_buf_reset(&pl);
    put_buf(&pl, 1, SISP_W_STRUCT, &info);
    put_uint(&pl, 2 | CR, SISP_W_U64, 1);
    CHECK_ERR(dec(SISP_T_LIST_RESULT, 1, &pl), SISP_EFIELD);
    /* Every truncation of every vector payload at a point inside a field. */
    for (size_t i = 0; i < n_vec; i++) {
        const enc_t *e = &vec[i];
        fld_t *f;
        size_t n = split_fields(e->payload, e->plen, &f);
        size_t start = 0;
        for (size_t k = 0; k < n; k++) {
            size_t end = start + SISP_FIELD_HEADER_SIZE + f[k].len;
            for (size_t cut = start + 1; cut < end; cut++) {
                int rc = dec_raw(e->v->pkt.type, e->v->pkt.stream, e->payload, cut);
                t_checks++;
                if (rc != SISP_EFIELD)
                    T_FAIL_AT("%s cut at %zu: %s", e->v->id, cut, t_errname(rc));
            }
            start = end;
        }
        free(f);
    }
    sisp_buf_free(&info);
    sisp_buf_free(&base);
    sisp_buf_free(&pl);
}

static void test_field_types(void) {
    sisp_buf_t pl;
    sisp_buf_init(&pl, 0);
    /* HELLO with one field of the wrong wire type, the right width for the value. */
    struct {
        unsigned id, wt;
    } wrong[] = {{1, SISP_W_TEXT}, {1, SISP_W_STRUCT}, {2, SISP_W_U32},   {2, SISP_W_U8},
                 {3, SISP_W_U64},  {4, SISP_W_U16},    {6, SISP_W_BYTES}, {6, 0},
                 {2, 8},           {2, 0xff}};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        build_hello(&pl, wrong[i].id);
        if (wrong[i].wt >= SISP_W_U8 && wrong[i].wt <= SISP_W_U64)
            put_uint(&pl, wrong[i].id, wrong[i].wt, 1);
        else
            put_str(&pl, wrong[i].id, wrong[i].wt, "SISP");
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EFIELDTYPE);
    }
    /* A repeated STRUCT sent as BYTES; a repeated TEXT sent as BYTES. */
    sisp_buf_t g;
    sisp_buf_init(&g, 0);
    build_grant(&g, 0, 1);
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
    put_buf(&pl, 2 | CR, SISP_W_BYTES, &g);
    CHECK_ERR(dec(SISP_T_KEY_GRANT, 1, &pl), SISP_EFIELDTYPE);
    sisp_buf_reset(&pl);
    put_str(&pl, 2, SISP_W_BYTES, "alice");
    CHECK_ERR(dec(SISP_T_GROUP_LIST_RESULT, 1, &pl), SISP_EFIELDTYPE);
    sisp_buf_reset(&pl);
    put_str(&pl, 2, SISP_W_TEXT, "alice");
    CHECK_ERR(dec(SISP_T_GROUP_LIST_RESULT, 1, &pl), 0);
    /* Inside a STRUCT. */
    sisp_buf_reset(&g);
    put_str(&g, 1 | CR, SISP_W_TEXT, "dave");
    put_uint(&g, 2 | CR, SISP_W_U64, 1); /* epoch is U32 */
    put(&g, 3 | CR, SISP_W_BYTES, "w", 1);
    put(&g, 5 | CR, SISP_W_BYTES, "s", 1);
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
    put_buf(&pl, 2 | CR, SISP_W_STRUCT, &g);
    CHECK_ERR(dec(SISP_T_KEY_GRANT, 1, &pl), SISP_EFIELDTYPE);
    sisp_buf_free(&g);
    sisp_buf_free(&pl);
}

static void test_field_lengths(void) {
    sisp_buf_t pl;
    sisp_buf_init(&pl, 0);
    /* Integers of the wrong width for their (right) wire type. */
    const unsigned widths[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 16};
    const struct {
        uint8_t type;
        unsigned id, wt;
    } ints[] = {{SISP_T_PING, 1, SISP_W_U64},  {SISP_T_OK, 1, SISP_W_U32},
                {SISP_T_BYE, 1, SISP_W_U32},   {SISP_T_LIST_RESULT, 3, SISP_W_U8},
                {SISP_T_HELLO, 2, SISP_W_U16}, {SISP_T_USER_CERT_RESULT, 5, SISP_W_U8}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            /* The right width (the control case) decodes. */
            int want = widths[w] == wt_width(ints[i].wt) ? 0 : SISP_EFIELDLEN;
            uint8_t type = ints[i].type;
            sisp_buf_reset(&pl);
            if (type == SISP_T_HELLO)
                build_hello(&pl, ints[i].id);
            if (type == SISP_T_LIST_RESULT)
                put_uint(&pl, 2 | CR, SISP_W_U64, 1);
            if (type == SISP_T_USER_CERT_RESULT) {
                put_str(&pl, 1 | CR, SISP_W_TEXT, "bob");
                put(&pl, 2 | CR, SISP_W_BYTES, "cert", 4);
                put(&pl, 3 | CR, SISP_W_BYTES, key32, 32);
                put(&pl, 4 | CR, SISP_W_BYTES, "sig", 3);
            }
            put_uint_w(&pl, ints[i].id, ints[i].wt, widths[w], 1);
            int rc = dec(type, stream_for(type), &pl);
            t_checks++;
            if (rc != want)
                T_FAIL_AT("%s field %u as %u bytes: %s", sisp_type_name(type), ints[i].id,
                          widths[w], t_errname(rc));
            sisp_buf_reset(&pl);
        }
    }
    /* Fixed 32-byte X25519 keys and certificate fingerprints. */
    for (size_t len = 30; len <= 34; len++) {
        uint8_t k[34];
        memset(k, 0x42, sizeof k);
        build_register(&pl, 3);
        put(&pl, 3 | CR, SISP_W_BYTES, k, len);
        CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), len == 32 ? 0 : SISP_EFIELDLEN);
        sisp_buf_reset(&pl);
        put_str(&pl, 1 | CR, SISP_W_TEXT, "bob");
        put(&pl, 2 | CR, SISP_W_BYTES, "cert", 4);
        put(&pl, 3 | CR, SISP_W_BYTES, k, len);
        put(&pl, 4 | CR, SISP_W_BYTES, "sig", 3);
        CHECK_ERR(dec(SISP_T_USER_CERT_RESULT, 1, &pl), len == 32 ? 0 : SISP_EFIELDLEN);
        sisp_buf_reset(&pl);
        put_str(&pl, 1 | CR, SISP_W_TEXT, "bob");
        put(&pl, 2 | CR, SISP_W_BYTES, k, len);
        CHECK_ERR(dec(SISP_T_WHOAMI_RESULT, 1, &pl), len == 32 ? 0 : SISP_EFIELDLEN);
    }
    /* BYTES/TEXT bounds: CSR 1..8192, signature 1..512, software 0..64, message 0..512,
     * DATA 1..256 KiB. */
    const struct {
        size_t len;
        int want;
    } csr[] = {{0, SISP_EFIELDLEN},
               {1, 0},
               {SISP_CERT_MAX, 0},
               {SISP_CERT_MAX + 1, SISP_EFIELDLEN}},
      sig[] = {{0, SISP_EFIELDLEN}, {1, 0}, {SISP_SIG_MAX, 0}, {SISP_SIG_MAX + 1, SISP_EFIELDLEN}};
    for (size_t i = 0; i < 4; i++) {
        build_register(&pl, 2);
        put_fill(&pl, 2 | CR, SISP_W_BYTES, 0x30, csr[i].len);
        CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), csr[i].want);
        build_register(&pl, 4);
        put_fill(&pl, 4 | CR, SISP_W_BYTES, 0x5e, sig[i].len);
        CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), sig[i].want);
    }
    build_hello(&pl, 6);
    put_fill(&pl, 6, SISP_W_TEXT, 'a', 64);
    CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), 0);
    build_hello(&pl, 6);
    put_fill(&pl, 6, SISP_W_TEXT, 'a', 65);
    CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EFIELDLEN);
    sisp_buf_reset(&pl);
    put_uint(&pl, 1 | CR, SISP_W_U32, 2);
    put_fill(&pl, 2, SISP_W_TEXT, 'm', SISP_TEXT_MAX);
    CHECK_ERR(dec(SISP_T_ERROR, 1, &pl), 0);
    sisp_buf_reset(&pl);
    put_uint(&pl, 1 | CR, SISP_W_U32, 2);
    put_fill(&pl, 2, SISP_W_TEXT, 'm', SISP_TEXT_MAX + 1);
    CHECK_ERR(dec(SISP_T_ERROR, 1, &pl), SISP_EFIELDLEN);
    const size_t data_len[] = {0, 1, SISP_CHUNK_MAX, SISP_CHUNK_MAX + 1};
    for (size_t i = 0; i < 4; i++) {
        sisp_buf_reset(&pl);
        put_uint(&pl, 1 | CR, SISP_W_U64, 0);
        put_fill(&pl, 2 | CR, SISP_W_BYTES, 0xd7, data_len[i]);
        int want = (data_len[i] >= 1 && data_len[i] <= SISP_CHUNK_MAX) ? 0 : SISP_EFIELDLEN;
        CHECK_ERR(dec(SISP_T_DATA, 1, &pl), want);
        if (want == 0)
            CHECK_U64(got.u.data.data.len, data_len[i]);
    }
    /* An empty certificate in a chain. */
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "alice");
    put(&pl, 2 | CR, SISP_W_BYTES, "c", 1);
    put(&pl, 2 | CR, SISP_W_BYTES, "", 0);
    CHECK_ERR(dec(SISP_T_REGISTERED, 1, &pl), SISP_EFIELDLEN);
    sisp_buf_free(&pl);
}

static void test_values(void) {
    sisp_buf_t pl;
    sisp_buf_init(&pl, 0);
    /* ERROR code 1..0xffff. */
    const struct {
        uint32_t v;
        int want;
    } codes[] = {{0, SISP_EVALUE},          {1, 0}, {65, 0}, {0xffff, 0}, {0x10000, SISP_EVALUE},
                 {0xffffffffu, SISP_EVALUE}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        sisp_buf_reset(&pl);
        put_uint(&pl, 1 | CR, SISP_W_U32, codes[i].v);
        CHECK_ERR(dec(SISP_T_ERROR, 0, &pl), codes[i].want);
        if (codes[i].want == 0)
            CHECK_U64(got.u.error.code, codes[i].v);
    }
    /* LIST limit 0..64. */
    for (uint32_t lim = 0; lim <= 70; lim++) {
        sisp_buf_reset(&pl);
        put_uint(&pl, 3, SISP_W_U32, lim);
        CHECK_ERR(dec(SISP_T_LIST, 1, &pl), lim <= SISP_LIST_PAGE_MAX ? 0 : SISP_EVALUE);
    }
    sisp_buf_reset(&pl);
    put_uint(&pl, 3, SISP_W_U32, 0xffffffffu);
    CHECK_ERR(dec(SISP_T_LIST, 1, &pl), SISP_EVALUE);
    /* HELLO version >= 1; max_control 1024..16 MiB; max_data <= 16 MiB; registration 0..2. */
    const struct {
        unsigned id, wt;
        uint64_t v;
        int want;
    } hello[] = {{2, SISP_W_U16, 0, SISP_EVALUE},
                 {2, SISP_W_U16, 1, 0},
                 {2, SISP_W_U16, 0xffff, 0},
                 {3, SISP_W_U32, 1023, SISP_EVALUE},
                 {3, SISP_W_U32, 1024, 0},
                 {3, SISP_W_U32, SISP_LIMIT_ABSOLUTE, 0},
                 {3, SISP_W_U32, SISP_LIMIT_ABSOLUTE + 1, SISP_EVALUE},
                 {4, SISP_W_U32, 0, 0},
                 {4, SISP_W_U32, SISP_LIMIT_ABSOLUTE, 0},
                 {4, SISP_W_U32, SISP_LIMIT_ABSOLUTE + 1, SISP_EVALUE}};
    for (size_t i = 0; i < sizeof hello / sizeof hello[0]; i++) {
        build_hello(&pl, hello[i].id);
        put_uint(&pl, hello[i].id | CR, hello[i].wt, hello[i].v);
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), hello[i].want);
    }
    for (unsigned r = 0; r < 6; r++) {
        build_hello(&pl, 0);
        put_uint(&pl, 8, SISP_W_U8, r);
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), r <= SISP_REG_INVITE ? 0 : SISP_EVALUE);
    }
    /* Booleans: 0 or 1. */
    for (unsigned b = 0; b < 4; b++) {
        sisp_buf_reset(&pl);
        put_str(&pl, 1 | CR, SISP_W_TEXT, "bob");
        put(&pl, 2 | CR, SISP_W_BYTES, "cert", 4);
        put(&pl, 3 | CR, SISP_W_BYTES, key32, 32);
        put(&pl, 4 | CR, SISP_W_BYTES, "sig", 3);
        put_uint(&pl, 5, SISP_W_U8, b);
        CHECK_ERR(dec(SISP_T_USER_CERT_RESULT, 1, &pl), b <= 1 ? 0 : SISP_EVALUE);
        sisp_buf_reset(&pl);
        put_uint(&pl, 2 | CR, SISP_W_U64, 1);
        put_uint(&pl, 3, SISP_W_U8, b);
        CHECK_ERR(dec(SISP_T_LIST_RESULT, 1, &pl), b <= 1 ? 0 : SISP_EVALUE);
    }
    sisp_buf_reset(&pl);
    put_uint(&pl, 2 | CR, SISP_W_U64, 1);
    put_uint(&pl, 3, SISP_W_U8, 0xff);
    CHECK_ERR(dec(SISP_T_LIST_RESULT, 1, &pl), SISP_EVALUE);
    /* Image ids and grant epochs start at 1 (nested too). */
    sisp_buf_t info;
    sisp_buf_init(&info, 0);
    build_info(&info, 0, "x.png", 0);
    CHECK_ERR(dec(SISP_T_NOTIFY, 0, &info), SISP_EVALUE);
    sisp_buf_reset(&pl);
    put_buf(&pl, 1, SISP_W_STRUCT, &info);
    put_uint(&pl, 2 | CR, SISP_W_U64, 1);
    CHECK_ERR(dec(SISP_T_LIST_RESULT, 1, &pl), SISP_EVALUE);
    build_grant(&info, 0, 0);
    sisp_buf_reset(&pl);
    put_str(&pl, 1 | CR, SISP_W_TEXT, "family");
    put_buf(&pl, 2 | CR, SISP_W_STRUCT, &info);
    CHECK_ERR(dec(SISP_T_KEY_GRANT, 1, &pl), SISP_EVALUE);
    sisp_buf_free(&info);
    sisp_buf_free(&pl);
}

static void test_too_many(void) {
    sisp_buf_t pl, e;
    sisp_buf_init(&pl, 0);
    sisp_buf_init(&e, 0);
    /* REGISTERED: up to 4 certificates. */
    for (uint32_t k = 1; k <= SISP_CHAIN_MAX + 2; k++) {
        sisp_buf_reset(&pl);
        put_str(&pl, 1 | CR, SISP_W_TEXT, "alice");
        for (uint32_t j = 0; j < k; j++) {
            uint8_t cert[3] = {0x30, 0x01, (uint8_t)j};
            put(&pl, 2 | CR, SISP_W_BYTES, cert, sizeof cert);
        }
        int rc = dec(SISP_T_REGISTERED, 1, &pl);
        CHECK_ERR(rc, k <= SISP_CHAIN_MAX ? 0 : SISP_ETOOMANY);
        if (rc == 0) {
            CHECK_U64(got.u.registered.n_chain, k);
            CHECK_INT(got.u.registered.chain[k - 1].ptr[2], k - 1); /* in wire order */
        }
    }
    CHECK_INT(SISP_CHAIN_MAX, 4);
    /* LIST_RESULT: up to 64 entries. */
    for (uint32_t k = SISP_LIST_PAGE_MAX - 1; k <= SISP_LIST_PAGE_MAX + 1; k++) {
        sisp_buf_reset(&pl);
        put_uint(&pl, 2 | CR, SISP_W_U64, 99);
        for (uint32_t j = 0; j < k; j++) {
            build_info(&e, 0, "img.png", j + 1);
            put_buf(&pl, 1, SISP_W_STRUCT, &e);
        }
        int rc = dec(SISP_T_LIST_RESULT, 1, &pl);
        CHECK_ERR(rc, k <= SISP_LIST_PAGE_MAX ? 0 : SISP_ETOOMANY);
        if (rc == 0) {
            CHECK_U64(got.u.list_result.n_entries, k);
            CHECK_U64(got.u.list_result.entries[k - 1].id, k);
            CHECK_U64(got.u.list_result.next_since, 99);
        }
    }
    CHECK_INT(SISP_LIST_PAGE_MAX, 64);
    /* GROUP_LIST_RESULT: up to 256 member names. */
    for (uint32_t k = SISP_MEMBERS_MAX; k <= SISP_MEMBERS_MAX + 1; k++) {
        sisp_buf_reset(&pl);
        for (uint32_t j = 0; j < k; j++) {
            char name[16];
            snprintf(name, sizeof name, "user%u", (unsigned)j);
            put_str(&pl, 2, SISP_W_TEXT, name);
        }
        CHECK_ERR(dec(SISP_T_GROUP_LIST_RESULT, 1, &pl), k <= SISP_MEMBERS_MAX ? 0 : SISP_ETOOMANY);
    }
    sisp_buf_free(&e);
    sisp_buf_free(&pl);
}

static void test_names_and_text(void) {
    sisp_buf_t pl, info;
    sisp_buf_init(&pl, 0);
    sisp_buf_init(&info, 0);
    /* User names. */
    const char *bad_users[] = {"Alice",  "al",   "a b",
                               "alice.", "/etc", "abcdefghijklmnopqrstuvwxyz0123456"};
    for (size_t i = 0; i < sizeof bad_users / sizeof bad_users[0]; i++) {
        build_register(&pl, 1);
        put_str(&pl, 1 | CR, SISP_W_TEXT, bad_users[i]);
        CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), SISP_EUSERNAME);
        build_hello(&pl, 0);
        put_str(&pl, 7, SISP_W_TEXT, bad_users[i]);
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EUSERNAME);
        sisp_buf_reset(&pl);
        put_str(&pl, 2, SISP_W_TEXT, bad_users[i]);
        CHECK_ERR(dec(SISP_T_GROUP_LIST_RESULT, 1, &pl), SISP_EUSERNAME);
    }
    /* Group names. */
    const char *bad_groups[] = {"Family", "fa", "fam ily", ".fam", "fam/x"};
    for (size_t i = 0; i < sizeof bad_groups / sizeof bad_groups[0]; i++) {
        sisp_buf_reset(&pl);
        put_str(&pl, 1 | CR, SISP_W_TEXT, bad_groups[i]);
        CHECK_ERR(dec(SISP_T_KEY_FETCH, 1, &pl), SISP_EGROUPNAME);
        sisp_buf_reset(&pl);
        put_str(&pl, 2, SISP_W_TEXT, bad_groups[i]);
        CHECK_ERR(dec(SISP_T_LIST, 1, &pl), SISP_EGROUPNAME);
    }
    /* Image names, top level and nested. */
    const char *bad_images[] = {".hidden", "a/b", "-x", "a b", "", "x:y"};
    for (size_t i = 0; i < sizeof bad_images / sizeof bad_images[0]; i++) {
        sisp_buf_reset(&pl);
        put_str(&pl, 1 | CR, SISP_W_TEXT, bad_images[i]);
        put_str(&pl, 2 | CR, SISP_W_TEXT, "family");
        put_uint(&pl, 3 | CR, SISP_W_U64, 10);
        put(&pl, 4 | CR, SISP_W_BYTES, "m", 1);
        put(&pl, 5 | CR, SISP_W_BYTES, "s", 1);
        CHECK_ERR(dec(SISP_T_POST_BEGIN, 1, &pl), SISP_EIMAGENAME);
        build_info(&info, 0, bad_images[i], 1);
        sisp_buf_reset(&pl);
        put_buf(&pl, 1, SISP_W_STRUCT, &info);
        put_uint(&pl, 2 | CR, SISP_W_U64, 1);
        CHECK_ERR(dec(SISP_T_LIST_RESULT, 1, &pl), SISP_EIMAGENAME);
    }
    /* Invite codes. */
    const char *bad_invites[] = {"short", "ABCD_1234", "ABCD 1234", "ABCD.1234"};
    for (size_t i = 0; i < sizeof bad_invites / sizeof bad_invites[0]; i++) {
        build_register(&pl, 5);
        put_str(&pl, 5, SISP_W_TEXT, bad_invites[i]);
        CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), SISP_EINVITECODE);
    }
    /* Text. */
    const char *bad_text[] = {"a\x01",        "tab\there", "\x7f",     "\xc0\x80",
                              "\xed\xa0\x80", "\xc2\x9f",  "\xe2\x82", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++) {
        sisp_buf_reset(&pl);
        put_uint(&pl, 1 | CR, SISP_W_U32, 5);
        put_str(&pl, 2, SISP_W_TEXT, bad_text[i]);
        CHECK_ERR(dec(SISP_T_ERROR, 1, &pl), SISP_EUTF8);
        build_hello(&pl, 6);
        put_str(&pl, 6, SISP_W_TEXT, bad_text[i]);
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EUTF8);
    }
    sisp_buf_reset(&pl);
    put_uint(&pl, 1 | CR, SISP_W_U32, 5);
    put_str(&pl, 2, SISP_W_TEXT, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK_ERR(dec(SISP_T_ERROR, 1, &pl), 0);
    /* BYTES are not text-checked. */
    build_register(&pl, 4);
    put(&pl, 4 | CR, SISP_W_BYTES, "\x00\x01\xff", 3);
    CHECK_ERR(dec(SISP_T_REGISTER, 1, &pl), 0);
    /* HELLO magic. */
    const char *bad_magic[] = {"SISQ", "sisp", "SIS", "SISPS", "", "SISP\0"};
    for (size_t i = 0; i < sizeof bad_magic / sizeof bad_magic[0]; i++) {
        build_hello(&pl, 1);
        put(&pl, 1 | CR, SISP_W_BYTES, bad_magic[i], i == 5 ? 5 : strlen(bad_magic[i]));
        CHECK_ERR(dec(SISP_T_HELLO, 0, &pl), SISP_EMAGIC);
    }
    sisp_buf_free(&info);
    sisp_buf_free(&pl);
}

/* GROUP_LIST's `after` pages through a group's members: it needs the group. */
static void test_group_list_after(void) {
    sisp_buf_t pl;
    sisp_buf_init(&pl, 0);
    put_str(&pl, 2, SISP_W_TEXT, "alice");
    CHECK_ERR(dec(SISP_T_GROUP_LIST, 1, &pl), SISP_EMISSING);
    put_str(&pl, 1, SISP_W_TEXT, "family");
    CHECK_ERR(dec(SISP_T_GROUP_LIST, 1, &pl), 0);
    CHECK(t_mem_eq(got.u.group_list.after.ptr, got.u.group_list.after.len, "alice", 5));
    sisp_group_list_t q = {SISP_SLICE_NULL, sisp_slice_str("alice")};
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    CHECK_ERR(sisp_group_list_encode(&out, 1, &q), SISP_EMISSING);
    CHECK_U64(out.len, 0);
    sisp_buf_free(&out);
    sisp_buf_free(&pl);
}

static void test_download(void) {
    sisp_buf_t pl;
    sisp_buf_init(&pl, 0);
    CHECK_ERR(dec(SISP_T_DOWNLOAD, 1, &pl), SISP_EMISSING);
    put_str(&pl, 3, SISP_W_TEXT, "family");
    put_uint(&pl, 4, SISP_W_U64, 100);
    CHECK_ERR(dec(SISP_T_DOWNLOAD, 1, &pl), SISP_EMISSING);
    put_uint(&pl, 2, SISP_W_U64, 0); /* an id of 0 is no id */
    CHECK_ERR(dec(SISP_T_DOWNLOAD, 1, &pl), SISP_EMISSING);
    sisp_buf_reset(&pl);
    put_uint(&pl, 2, SISP_W_U64, 42);
    CHECK_ERR(dec(SISP_T_DOWNLOAD, 1, &pl), 0);
    CHECK_U64(got.u.download.id, 42);
    sisp_buf_reset(&pl);
    put_str(&pl, 1, SISP_W_TEXT, "a.png");
    CHECK_ERR(dec(SISP_T_DOWNLOAD, 1, &pl), 0);
    CHECK(t_mem_eq(got.u.download.name.ptr, got.u.download.name.len, "a.png", 5));
    /* The encoder applies the same rule. */
    sisp_download_t d;
    memset(&d, 0, sizeof d);
    d.group = sisp_slice_str("family");
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    CHECK_ERR(sisp_download_encode(&out, 1, &d), SISP_EMISSING);
    CHECK_U64(out.len, 0);
    d.id = 1;
    CHECK_ERR(sisp_download_encode(&out, 1, &d), 0);
    sisp_buf_free(&out);
    sisp_buf_free(&pl);
}

/* A DATA frame built in place (a file read straight into the output) is byte for byte what
 * sisp_data_encode writes, decodes back, and is refused where the encoder would refuse it. */
static void test_data_in_place(void) {
    static const struct {
        uint32_t stream;
        uint64_t offset;
        size_t len;
    } cases[] = {{1, 0, 1},
                 {7, 65536, 65536},
                 {0xffffffffu, UINT64_MAX - SISP_CHUNK_MAX, SISP_CHUNK_MAX},
                 {3, 12345, 1000}};
    static uint8_t bytes[SISP_CHUNK_MAX];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 131 + 7);
    sisp_buf_t want, place;
    sisp_buf_init(&want, 0);
    sisp_buf_init(&place, 0);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sisp_buf_reset(&want);
        sisp_buf_reset(&place);
        must(sisp_buf_append(&place, "xy", 2)); /* after whatever is queued already */
        sisp_data_t d = {cases[k].offset, sisp_slice(bytes, cases[k].len)};
        CHECK_ERR(sisp_data_encode(&want, cases[k].stream, &d), 0);
        size_t ask = cases[k].len + 100 > SISP_CHUNK_MAX ? SISP_CHUNK_MAX : cases[k].len + 100;
        uint8_t *room = sisp_data_room(&place, ask); /* room for more than is used */
        CHECK(room != NULL);
        if (room == NULL)
            continue;
        CHECK_U64((uint64_t)(room - place.data), 2 + SISP_DATA_OVERHEAD);
        memcpy(room, bytes, cases[k].len);
        CHECK_ERR(sisp_data_put(&place, cases[k].stream, cases[k].offset, cases[k].len), 0);
        CHECK(t_mem_eq(place.data + 2, place.len - 2, want.data, want.len));
        sisp_decoder_t dc;
        sisp_frame_t f;
        size_t n = 0;
        decoder_for(&dc, SISP_T_DATA);
        CHECK_ERR(sisp_frame_decode(&dc, place.data + 2, place.len - 2, &f, &n), 0);
        sisp_data_t back;
        CHECK_ERR(sisp_data_decode(&f, &back), 0);
        CHECK_U64(back.offset, cases[k].offset);
        CHECK(t_mem_eq(back.data.ptr, back.data.len, bytes, cases[k].len));
    }
    /* Refusals: nothing appended. */
    sisp_buf_reset(&place);
    CHECK(sisp_data_room(&place, SISP_CHUNK_MAX + 1) == NULL);
    CHECK(sisp_data_room(&place, 10) != NULL);
    CHECK_ERR(sisp_data_put(&place, 0, 0, 10), SISP_ESTREAM);
    CHECK_ERR(sisp_data_put(&place, 1, 0, 0), SISP_EFIELDLEN);
    CHECK_ERR(sisp_data_put(&place, 1, 0, SISP_CHUNK_MAX + 1), SISP_EFIELDLEN);
    CHECK_U64(place.len, 0);
    sisp_buf_t capped;
    sisp_buf_init(&capped, SISP_DATA_OVERHEAD + 99); /* a buffer that may not grow enough */
    CHECK(sisp_data_room(&capped, 100) == NULL);
    CHECK(sisp_data_room(&capped, 99) != NULL);
    CHECK_ERR(sisp_data_put(&capped, 1, 0, 100), SISP_EINVAL); /* more than there is room for */
    CHECK_U64(capped.len, 0);
    CHECK_ERR(sisp_data_put(&capped, 1, 0, 99), 0);
    CHECK_U64(capped.len, SISP_DATA_OVERHEAD + 99);
    sisp_buf_free(&capped);
    sisp_buf_free(&want);
    sisp_buf_free(&place);
}

static int stream_allowed(uint8_t type, uint32_t stream) {
    int rule = sisp_type_stream_rule(type);
    return rule == SISP_STREAM_ANY || (rule == SISP_STREAM_ZERO) == (stream == 0);
}

static void test_streams(void) {
    /* The rules themselves, for a few types. */
    CHECK_INT(sisp_type_stream_rule(SISP_T_HELLO), SISP_STREAM_ZERO);
    CHECK_INT(sisp_type_stream_rule(SISP_T_NOTIFY), SISP_STREAM_ZERO);
    CHECK_INT(sisp_type_stream_rule(SISP_T_MEMBER_PENDING), SISP_STREAM_ZERO);
    CHECK_INT(sisp_type_stream_rule(SISP_T_POST_BEGIN), SISP_STREAM_NONZERO);
    CHECK_INT(sisp_type_stream_rule(SISP_T_ERROR), SISP_STREAM_ANY);
    CHECK_INT(sisp_type_stream_rule(SISP_T_PING), SISP_STREAM_ANY);

    const t_vector_t *hello = NULL, *notify = NULL, *post = NULL;
    for (size_t i = 0; i < n_vec; i++) {
        uint8_t t = vec[i].v->pkt.type;
        hello = t == SISP_T_HELLO && hello == NULL ? vec[i].v : hello;
        notify = t == SISP_T_NOTIFY ? vec[i].v : notify;
        post = t == SISP_T_POST_BEGIN ? vec[i].v : post;
    }
    CHECK(hello != NULL && notify != NULL && post != NULL);
    if (hello == NULL || notify == NULL || post == NULL)
        return;

    const uint32_t streams[] = {0, 1, 5, 0x7fffffffu, 0xffffffffu};
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    for (size_t i = 0; i < n_vec; i++) {
        const enc_t *e = &vec[i];
        uint8_t type = e->v->pkt.type;
        for (size_t s = 0; s < sizeof streams / sizeof streams[0]; s++) {
            int want = stream_allowed(type, streams[s]) ? 0 : SISP_ESTREAM;
            /* Decoding: the frame decoder passes it, the packet decoder checks. */
            int rc = dec_raw(type, streams[s], e->payload, e->plen);
            t_checks++;
            if (rc != want)
                T_FAIL_AT("decode %s on stream %u: %s", e->v->id, (unsigned)streams[s],
                          t_errname(rc));
            /* Encoding: refused, nothing appended. */
            static sisp_packet_t p;
            p = e->v->pkt;
            p.stream = streams[s];
            sisp_buf_reset(&out);
            must(sisp_buf_append(&out, "prefix", 6));
            rc = sisp_packet_encode(&out, &p);
            t_checks++;
            if (rc != want)
                T_FAIL_AT("encode %s on stream %u: %s", e->v->id, (unsigned)streams[s],
                          t_errname(rc));
            if (want != 0) {
                CHECK_U64(out.len, 6);
                CHECK_MEM(out.data, 6, "prefix", 6);
            } else {
                CHECK_U64(out.len, 6 + e->plen + SISP_HEADER_SIZE);
                CHECK_U64(sisp_load32(out.data + 6 + 8), streams[s]);
            }
        }
    }
    /* The three named cases, through the typed wrappers. */
    sisp_buf_reset(&out);
    CHECK_ERR(sisp_hello_encode(&out, 1, &hello->pkt.u.hello), SISP_ESTREAM);
    CHECK_ERR(sisp_notify_encode(&out, 5, &notify->pkt.u.notify), SISP_ESTREAM);
    CHECK_ERR(sisp_post_begin_encode(&out, 0, &post->pkt.u.post_begin), SISP_ESTREAM);
    CHECK_U64(out.len, 0);
    CHECK_ERR(sisp_hello_encode(&out, 0, &hello->pkt.u.hello), 0);
    CHECK_ERR(sisp_notify_encode(&out, 0, &notify->pkt.u.notify), 0);
    CHECK_ERR(sisp_post_begin_encode(&out, 5, &post->pkt.u.post_begin), 0);
    sisp_buf_free(&out);
}

/* The encoder validates like the decoder, and appends nothing when it refuses. */
static void check_encode_refused(uint8_t type, uint32_t stream, const void *value, int want,
                                 const char *what) {
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    must(sisp_buf_append(&out, "keep", 4));
    int rc = sisp_payload_encode(&out, type, stream, value);
    t_checks++;
    if (rc != want)
        T_FAIL_AT("encoding %s: %s, want %s", what, t_errname(rc), t_errname(want));
    CHECK_U64(out.len, 4);
    CHECK_MEM(out.data, 4, "keep", 4);
    sisp_buf_free(&out);
}

static const t_vector_t *vector_of(uint8_t type) {
    for (size_t i = 0; i < n_vec; i++)
        if (vec[i].v->pkt.type == type)
            return vec[i].v;
    abort();
}

static void test_encoder_refuses(void) {
    static sisp_packet_t p;
    uint8_t k31[31] = {0};

    p = vector_of(SISP_T_HELLO)->pkt;
    p.u.hello.version = 0;
    check_encode_refused(SISP_T_HELLO, 0, &p.u, SISP_EVALUE, "HELLO version 0");
    p = vector_of(SISP_T_HELLO)->pkt;
    p.u.hello.magic = sisp_slice_str("SISQ");
    check_encode_refused(SISP_T_HELLO, 0, &p.u, SISP_EMAGIC, "HELLO magic SISQ");
    p.u.hello.magic = SISP_SLICE_NULL;
    check_encode_refused(SISP_T_HELLO, 0, &p.u, SISP_EMAGIC, "HELLO without magic");
    p = vector_of(SISP_T_HELLO)->pkt;
    p.u.hello.max_control = 1023;
    check_encode_refused(SISP_T_HELLO, 0, &p.u, SISP_EVALUE, "HELLO max_control 1023");
    p = vector_of(SISP_T_HELLO)->pkt;
    p.u.hello.registration = 3;
    check_encode_refused(SISP_T_HELLO, 0, &p.u, SISP_EVALUE, "HELLO registration 3");
    p = vector_of(SISP_T_HELLO)->pkt;
    p.u.hello.user = sisp_slice_str("Alice");
    check_encode_refused(SISP_T_HELLO, 0, &p.u, SISP_EUSERNAME, "HELLO user Alice");
    p = vector_of(SISP_T_HELLO)->pkt;
    p.u.hello.software = sisp_slice_str("bell\a");
    check_encode_refused(SISP_T_HELLO, 0, &p.u, SISP_EUTF8, "HELLO software with BEL");

    p = vector_of(SISP_T_ERROR)->pkt;
    p.u.error.code = 0;
    check_encode_refused(SISP_T_ERROR, 1, &p.u, SISP_EVALUE, "ERROR code 0");
    p = vector_of(SISP_T_ERROR)->pkt;
    p.u.error.message = sisp_slice("\xc0\x80", 2);
    check_encode_refused(SISP_T_ERROR, 1, &p.u, SISP_EUTF8, "ERROR overlong NUL");

    p = vector_of(SISP_T_REGISTER)->pkt;
    p.u.register_req.x25519 = sisp_slice(k31, sizeof k31);
    check_encode_refused(SISP_T_REGISTER, 1, &p.u, SISP_EFIELDLEN, "REGISTER 31-byte key");
    p = vector_of(SISP_T_REGISTER)->pkt;
    p.u.register_req.csr = SISP_SLICE_NULL;
    check_encode_refused(SISP_T_REGISTER, 1, &p.u, SISP_EFIELDLEN, "REGISTER empty CSR");
    p = vector_of(SISP_T_REGISTER)->pkt;
    p.u.register_req.user = sisp_slice_str("x");
    check_encode_refused(SISP_T_REGISTER, 1, &p.u, SISP_EUSERNAME, "REGISTER user x");
    p = vector_of(SISP_T_REGISTER)->pkt;
    p.u.register_req.invite = sisp_slice_str("abc");
    check_encode_refused(SISP_T_REGISTER, 1, &p.u, SISP_EINVITECODE, "REGISTER invite abc");

    p = vector_of(SISP_T_REGISTERED)->pkt;
    p.u.registered.n_chain = 0;
    check_encode_refused(SISP_T_REGISTERED, 1, &p.u, SISP_EMISSING, "REGISTERED empty chain");
    p.u.registered.n_chain = SISP_CHAIN_MAX + 1;
    check_encode_refused(SISP_T_REGISTERED, 1, &p.u, SISP_ETOOMANY, "REGISTERED 5 certs");

    p = vector_of(SISP_T_POST_BEGIN)->pkt;
    p.u.post_begin.group = sisp_slice_str("x");
    check_encode_refused(SISP_T_POST_BEGIN, 1, &p.u, SISP_EGROUPNAME, "POST_BEGIN group x");
    p = vector_of(SISP_T_POST_BEGIN)->pkt;
    p.u.post_begin.name = sisp_slice_str(".x");
    check_encode_refused(SISP_T_POST_BEGIN, 1, &p.u, SISP_EIMAGENAME, "POST_BEGIN name .x");

    p = vector_of(SISP_T_LIST)->pkt;
    p.u.list.limit = SISP_LIST_PAGE_MAX + 1;
    check_encode_refused(SISP_T_LIST, 1, &p.u, SISP_EVALUE, "LIST limit 65");

    p = vector_of(SISP_T_LIST_RESULT)->pkt;
    p.u.list_result.n_entries = SISP_LIST_PAGE_MAX + 1;
    check_encode_refused(SISP_T_LIST_RESULT, 1, &p.u, SISP_ETOOMANY, "LIST_RESULT 65 entries");
    p = vector_of(SISP_T_LIST_RESULT)->pkt;
    p.u.list_result.entries[1].name = sisp_slice_str("a b");
    check_encode_refused(SISP_T_LIST_RESULT, 1, &p.u, SISP_EIMAGENAME, "LIST_RESULT entry name");
    p = vector_of(SISP_T_LIST_RESULT)->pkt;
    p.u.list_result.entries[1].id = 0;
    check_encode_refused(SISP_T_LIST_RESULT, 1, &p.u, SISP_EVALUE, "LIST_RESULT entry id 0");
    p = vector_of(SISP_T_LIST_RESULT)->pkt;
    p.u.list_result.more = 2;
    check_encode_refused(SISP_T_LIST_RESULT, 1, &p.u, SISP_EVALUE, "LIST_RESULT more 2");

    p = vector_of(SISP_T_KEY_GRANT)->pkt;
    p.u.key_grant.n_grants = 0;
    check_encode_refused(SISP_T_KEY_GRANT, 1, &p.u, SISP_EMISSING, "KEY_GRANT no grants");
    p.u.key_grant.n_grants = SISP_GRANTS_MAX + 1;
    check_encode_refused(SISP_T_KEY_GRANT, 1, &p.u, SISP_ETOOMANY, "KEY_GRANT 257 grants");
    p = vector_of(SISP_T_KEY_GRANT)->pkt;
    p.u.key_grant.grants[0].epoch = 0;
    check_encode_refused(SISP_T_KEY_GRANT, 1, &p.u, SISP_EVALUE, "KEY_GRANT epoch 0");

    p = vector_of(SISP_T_DATA)->pkt;
    p.u.data.data = SISP_SLICE_NULL;
    check_encode_refused(SISP_T_DATA, 1, &p.u, SISP_EFIELDLEN, "DATA without data");

    p = vector_of(SISP_T_DOWNLOAD)->pkt;
    p.u.download.name = SISP_SLICE_NULL;
    p.u.download.id = 0;
    check_encode_refused(SISP_T_DOWNLOAD, 1, &p.u, SISP_EMISSING, "DOWNLOAD neither");

    p = vector_of(SISP_T_PING)->pkt;
    check_encode_refused(0x08, 0, &p.u, SISP_ETYPE, "an unknown type");

    /* sisp_packet_encode refuses the same way. */
    p = vector_of(SISP_T_USER_CERT_RESULT)->pkt;
    p.u.user_cert_result.revoked = 2;
    sisp_buf_t out;
    sisp_buf_init(&out, 0);
    CHECK_ERR(sisp_packet_encode(&out, &p), SISP_EVALUE);
    CHECK_U64(out.len, 0);
    sisp_buf_free(&out);
}

static void test_payload_decode_type(void) {
    for (size_t i = 0; i < n_vec; i++) {
        const enc_t *e = &vec[i];
        sisp_frame_t f = {(uint32_t)e->plen, SISP_VERSION,
                          e->v->pkt.type,    0,
                          e->v->pkt.stream,  sisp_slice(e->payload, e->plen)};
        static sisp_packet_t p;
        uint8_t other = e->v->pkt.type == SISP_T_PING ? SISP_T_PONG : SISP_T_PING;
        CHECK_ERR(sisp_payload_decode(other, &f, &p.u), SISP_EINVAL);
        CHECK_ERR(sisp_payload_decode(0x08, &f, &p.u), SISP_EINVAL);
        CHECK_ERR(sisp_payload_decode(e->v->pkt.type, &f, &p.u), 0);
    }
    /* Typed wrappers check the type too. */
    sisp_frame_t f = {0, SISP_VERSION, SISP_T_PING, 0, 0, sisp_slice("", 0)};
    sisp_pong_t pong;
    sisp_ping_t ping;
    CHECK_ERR(sisp_pong_decode(&f, &pong), SISP_EINVAL);
    CHECK_ERR(sisp_ping_decode(&f, &ping), 0);
    /* An unknown frame type never reaches a schema. */
    f.type = 0x08;
    static sisp_packet_t p;
    CHECK_ERR(sisp_packet_decode(&f, &p), SISP_ETYPE);
}

/* Fields in any order (repeats keep their relative order) decode to the same packet;
 * the critical bit on known fields is ignored, set or clear. */
static void test_order_and_critical(void) {
    sisp_buf_t pl;
    sisp_buf_init(&pl, 0);
    for (size_t i = 0; i < n_vec; i++) {
        const enc_t *e = &vec[i];
        sisp_buf_reset(&pl);
        transform(&pl, e->payload, e->plen, TF_REVERSE, 0);
        check_vec_payload(e, &pl, "reversed payload");
        for (uint64_t seed = 1; seed <= 8; seed++) {
            sisp_buf_reset(&pl);
            transform(&pl, e->payload, e->plen, TF_SHUFFLE, seed * 1000);
            check_vec_payload(e, &pl, "shuffled payload");
        }
        sisp_buf_reset(&pl);
        transform(&pl, e->payload, e->plen, TF_CRIT_SET, 0);
        check_vec_payload(e, &pl, "all-critical payload");
        sisp_buf_reset(&pl);
        transform(&pl, e->payload, e->plen, TF_CRIT_CLR, 0);
        check_vec_payload(e, &pl, "no-critical payload");
        sisp_buf_reset(&pl);
        transform(&pl, e->payload, e->plen, TF_CRIT_SET | TF_REVERSE, 0);
        check_vec_payload(e, &pl, "reversed all-critical payload");
    }
    /* A hand-built REGISTER in reverse order. */
    sisp_buf_reset(&pl);
    put_str(&pl, 5, SISP_W_TEXT, "ABCD-1234");
    put(&pl, 4, SISP_W_BYTES, "sig", 3);
    put(&pl, 3, SISP_W_BYTES, key32, 32);
    put(&pl, 2, SISP_W_BYTES, "\x30\x03\x02\x01\x00", 5);
    put_str(&pl, 1, SISP_W_TEXT, "alice");
    sisp_register_req_t r;
    memset(&r, 0, sizeof r);
    r.user = sisp_slice_str("alice");
    r.csr = sisp_slice("\x30\x03\x02\x01\x00", 5);
    r.x25519 = sisp_slice(key32, 32);
    r.x25519_sig = sisp_slice("sig", 3);
    r.invite = sisp_slice_str("ABCD-1234");
    CHECK_ERR(dec_eq(SISP_T_REGISTER, 1, &pl, &r), 0);
    sisp_buf_free(&pl);
}

/* ---- decoding allocates nothing ---- */

typedef struct {
    size_t off, len;
    uint8_t type;
} hostile_t;

static void add_frame(sisp_buf_t *all, hostile_t **list, size_t *n, size_t *cap, uint8_t type,
                      uint32_t stream, const uint8_t *payload, size_t len) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        hostile_t *l = realloc(*list, *cap * sizeof **list);
        if (l == NULL)
            abort();
        *list = l;
    }
    (*list)[*n].off = all->len;
    must(sisp_frame_encode(all, type, 0, stream, payload, len));
    (*list)[*n].len = all->len - (*list)[*n].off;
    (*list)[*n].type = type;
    (*n)++;
}

static void test_no_alloc(void) {
    sisp_buf_t all, tmp;
    sisp_buf_init(&all, 0);
    sisp_buf_init(&tmp, 0);
    hostile_t *list = NULL;
    size_t n = 0, cap = 0;
    uint64_t rng = 0x5151;

    for (size_t i = 0; i < n_vec; i++) {
        const enc_t *e = &vec[i];
        uint8_t type = e->v->pkt.type;
        uint32_t stream = e->v->pkt.stream;
        add_frame(&all, &list, &n, &cap, type, stream, e->payload, e->plen);
        /* Every truncation, every byte flipped, and a few random payloads. */
        for (size_t cut = 0; cut < e->plen; cut++)
            add_frame(&all, &list, &n, &cap, type, stream, e->payload, cut);
        for (size_t k = 0; k < e->plen; k++) {
            sisp_buf_reset(&tmp);
            must(sisp_buf_append(&tmp, e->payload, e->plen));
            tmp.data[k] ^= (uint8_t)(1u << (k % 8));
            add_frame(&all, &list, &n, &cap, type, stream, tmp.data, tmp.len);
        }
        for (int r = 0; r < 16; r++) {
            sisp_buf_reset(&tmp);
            size_t len = (size_t)(r * 13);
            for (size_t k = 0; k < len; k++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                uint8_t b = (uint8_t)(rng >> 56);
                must(sisp_buf_append(&tmp, &b, 1));
            }
            add_frame(&all, &list, &n, &cap, type, stream, tmp.data, tmp.len);
        }
        /* A wrong stream, an unknown critical field. */
        add_frame(&all, &list, &n, &cap, type, stream ? 0 : 1, e->payload, e->plen);
        sisp_buf_reset(&tmp);
        must(sisp_buf_append(&tmp, e->payload, e->plen));
        put_uint(&tmp, 120 | CR, SISP_W_U8, 1);
        add_frame(&all, &list, &n, &cap, type, stream, tmp.data, tmp.len);
    }

    static sisp_packet_t p;
    size_t ok = 0, failed = 0, frame_bad = 0;
#ifndef T_ASAN
    struct mallinfo2 before = mallinfo2();
#endif
    for (size_t i = 0; i < n; i++) {
        sisp_decoder_t d;
        sisp_frame_t f;
        size_t used = 0;
        decoder_for(&d, list[i].type);
        if (sisp_frame_decode(&d, all.data + list[i].off, list[i].len, &f, &used) != 0) {
            frame_bad++;
            continue;
        }
        if (sisp_packet_decode(&f, &p) == 0)
            ok++;
        else
            failed++;
    }
#ifndef T_ASAN
    struct mallinfo2 after = mallinfo2();
    CHECK_U64(after.uordblks, before.uordblks);
    CHECK_U64(after.hblkhd, before.hblkhd);
#else
    printf("test_packet: allocation check skipped under AddressSanitizer\n");
#endif
    CHECK_U64(frame_bad, 0);
    CHECK(ok > n_vec);
    CHECK(failed > n_vec);
    free(list);
    sisp_buf_free(&tmp);
    sisp_buf_free(&all);
}

/* An empty payload may be SISP_SLICE_NULL (ptr NULL, len 0), e.g. in a frame built by hand:
 * it decodes like any empty payload. Runs last: under UBSan, pointer arithmetic on the NULL
 * pointer aborts the process. */
static void test_null_empty_payload(void) {
    printf("test_packet: decoding empty payloads whose pointer is NULL\n");
    fflush(stdout);
    static sisp_packet_t p;
    sisp_frame_t f = {0, SISP_VERSION, SISP_T_WHOAMI, 0, 1, SISP_SLICE_NULL};
    CHECK_ERR(sisp_packet_decode(&f, &p), 0);
    f.type = SISP_T_PING;
    f.stream = 0;
    CHECK_ERR(sisp_packet_decode(&f, &p), 0);
    CHECK_U64(p.u.ping.token, 0);
    f.type = SISP_T_HELLO;
    CHECK_ERR(sisp_packet_decode(&f, &p), SISP_EMISSING);
    CHECK_ERR(sisp_fields_decode(sisp_schema_for(SISP_T_OK), NULL, 0, &p.u), 0);
}

int main(void) {
    encode_vectors();
    test_vectors_roundtrip();
    test_layout();
    test_duplicates();
    test_missing();
    test_unknown_fields();
    test_efield();
    test_field_types();
    test_field_lengths();
    test_values();
    test_too_many();
    test_names_and_text();
    test_download();
    test_group_list_after();
    test_data_in_place();
    test_streams();
    test_encoder_refuses();
    test_payload_decode_type();
    test_order_and_critical();
    test_no_alloc();
    dec_release();
    free_vectors();
    test_null_empty_payload();
    return t_done("test_packet");
}
