/* The frame decoder (sisp_frame_decode) and the frame header encoder: header checks, limits,
 * sticky errors, decoder state, and every sample vector fed whole, byte by byte, split at
 * every offset and as one stream. Inputs are guard-page copies: an over-read crashes. */
#include "testutil.h"
#include "vectors.h"

#include <sisp/frame.h>
#include <sisp/packet.h>

#include <string.h>

#define NO_N ((size_t)0xdeadbeef) /* sentinel for *n */

/* The number of types in the catalog. */
#define COUNT_TYPE(code, NAME, name, srx, crx, stream) +1
enum { N_TYPES = 0 SISP_PACKET_MAP(COUNT_TYPE) };
#undef COUNT_TYPE

static void put_header(uint8_t h[SISP_HEADER_SIZE], uint32_t length, uint8_t version, uint8_t type,
                       uint16_t flags, uint32_t stream) {
    sisp_store32(h, length);
    h[4] = version;
    h[5] = type;
    sisp_store16(h + 6, flags);
    sisp_store32(h + 8, stream);
}

/* Decodes a guard-page copy of buf[0..len); the frame's payload slice is not kept. */
static int decode_copy(sisp_decoder_t *d, const uint8_t *buf, size_t len, sisp_frame_t *f,
                       size_t *n) {
    uint8_t *g = t_guard_copy(buf, len);
    int rc = sisp_frame_decode(d, g, len, f, n);
    t_guard_free(g, len);
    return rc;
}

/* Decodes a lone header. */
static int decode_header(sisp_decoder_t *d, uint32_t length, uint8_t version, uint8_t type,
                         uint16_t flags, size_t *n) {
    uint8_t h[SISP_HEADER_SIZE];
    sisp_frame_t f;
    put_header(h, length, version, type, flags, 1);
    *n = NO_N;
    return decode_copy(d, h, sizeof h, &f, n);
}

static void decoder_at(sisp_decoder_t *d, sisp_role_t role, sisp_state_t state) {
    sisp_decoder_init(d, role);
    sisp_decoder_set_state(d, state, NULL);
}

/* ---- header size and truncated headers ---- */

static void test_truncated_header(void) {
    CHECK_INT(SISP_HEADER_SIZE, 12);
    CHECK_INT(SISP_VERSION, 1);

    uint8_t good[SISP_HEADER_SIZE], bad[SISP_HEADER_SIZE];
    put_header(good, 0, SISP_VERSION, SISP_T_PING, 0, 0);
    memset(bad, 0xff, sizeof bad); /* wrong version, flags and type, huge length */
    const uint8_t *hdrs[] = {good, bad};
    for (size_t h = 0; h < 2; h++) {
        for (size_t len = 0; len < SISP_HEADER_SIZE; len++) {
            sisp_decoder_t d;
            sisp_frame_t f;
            size_t n = NO_N;
            decoder_at(&d, SISP_ROLE_SERVER, SISP_STATE_AUTH);
            CHECK_ERR(decode_copy(&d, hdrs[h], len, &f, &n), SISP_NEED_MORE);
            CHECK_U64(n, SISP_HEADER_SIZE);
            CHECK_ERR(d.err, 0);
        }
    }
    /* Once complete, the good header is a whole (empty) PING and the bad one is refused. */
    sisp_decoder_t d;
    sisp_frame_t f;
    size_t n = NO_N;
    decoder_at(&d, SISP_ROLE_SERVER, SISP_STATE_AUTH);
    CHECK_ERR(decode_copy(&d, good, sizeof good, &f, &n), 0);
    CHECK_U64(n, SISP_HEADER_SIZE);
    CHECK_U64(f.length, 0);
    CHECK_U64(f.payload.len, 0);
    decoder_at(&d, SISP_ROLE_SERVER, SISP_STATE_AUTH);
    CHECK_ERR(decode_copy(&d, bad, sizeof bad, &f, &n), SISP_EVERSION);
}

/* ---- declared lengths against the limit ---- */

typedef struct {
    const char *what;
    sisp_role_t role;
    sisp_state_t state;
    uint8_t type;
    uint32_t limit;
} limit_case_t;

static const limit_case_t limit_cases[] = {
    {"PING in AUTH (server)", SISP_ROLE_SERVER, SISP_STATE_AUTH, SISP_T_PING, SISP_LIMIT_CONTROL},
    {"PONG in AUTH (client)", SISP_ROLE_CLIENT, SISP_STATE_AUTH, SISP_T_PONG, SISP_LIMIT_CONTROL},
    {"HELLO in HELLO (server)", SISP_ROLE_SERVER, SISP_STATE_HELLO, SISP_T_HELLO,
     SISP_LIMIT_PREAUTH},
    {"HELLO in HELLO (client)", SISP_ROLE_CLIENT, SISP_STATE_HELLO, SISP_T_HELLO,
     SISP_LIMIT_PREAUTH},
    {"REGISTER in UNAUTH (server)", SISP_ROLE_SERVER, SISP_STATE_UNAUTH, SISP_T_REGISTER,
     SISP_LIMIT_PREAUTH},
    {"DATA in AUTH (server)", SISP_ROLE_SERVER, SISP_STATE_AUTH, SISP_T_DATA, SISP_LIMIT_DATA},
    {"DATA in AUTH (client)", SISP_ROLE_CLIENT, SISP_STATE_AUTH, SISP_T_DATA, SISP_LIMIT_DATA},
};

static void check_limit_case(const limit_case_t *c) {
    const uint32_t lengths[] = {0,           1,          c->limit - 1, c->limit, c->limit + 1,
                                0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        uint32_t len = lengths[i];
        sisp_decoder_t d;
        sisp_frame_t f;
        size_t n;
        decoder_at(&d, c->role, c->state);
        int rc = decode_header(&d, len, SISP_VERSION, c->type, 0, &n);
        if (len > c->limit) {
            /* Refused on the header alone, and sticky. */
            CHECK_ERR(rc, SISP_ETOOBIG);
            CHECK_ERR(d.err, SISP_ETOOBIG);
            continue;
        }
        CHECK_ERR(d.err, 0);
        if (len == 0) {
            CHECK_ERR(rc, 0);
            CHECK_U64(n, SISP_HEADER_SIZE);
            continue;
        }
        CHECK_ERR(rc, SISP_NEED_MORE);
        CHECK_U64(n, SISP_HEADER_SIZE + (size_t)len);
        if (rc != SISP_NEED_MORE || n != SISP_HEADER_SIZE + (size_t)len)
            fprintf(stderr, "  (%s, length %u)\n", c->what, (unsigned)len);

        /* The whole frame decodes; one byte short still needs more. */
        size_t total = SISP_HEADER_SIZE + (size_t)len;
        uint8_t *buf = calloc(1, total);
        CHECK(buf != NULL);
        if (buf == NULL)
            return;
        put_header(buf, len, SISP_VERSION, c->type, 0, 0xc0ffee77u);
        buf[total - 1] = 0xa5;
        uint8_t *g = t_guard_copy(buf, total);
        n = NO_N;
        CHECK_ERR(sisp_frame_decode(&d, g, total - 1, &f, &n), SISP_NEED_MORE);
        CHECK_U64(n, total);
        n = NO_N;
        CHECK_ERR(sisp_frame_decode(&d, g, total, &f, &n), 0);
        CHECK_U64(n, total);
        CHECK_U64(f.length, len);
        CHECK_INT(f.type, c->type);
        CHECK_U64(f.stream, 0xc0ffee77u);
        CHECK(f.payload.ptr == g + SISP_HEADER_SIZE);
        CHECK_U64(f.payload.len, len);
        t_guard_free(g, total);
        free(buf);
    }
    /* Over the limit is refused even with bytes beyond the header present. */
    uint8_t more[64] = {0};
    sisp_decoder_t d;
    sisp_frame_t f;
    size_t n = NO_N;
    decoder_at(&d, c->role, c->state);
    put_header(more, c->limit + 1, SISP_VERSION, c->type, 0, 1);
    CHECK_ERR(decode_copy(&d, more, sizeof more, &f, &n), SISP_ETOOBIG);
}

static void test_limits(void) {
    for (size_t i = 0; i < sizeof limit_cases / sizeof limit_cases[0]; i++)
        check_limit_case(&limit_cases[i]);

    /* DATA outside AUTH is not allowed at all: ESTATE whatever its length. */
    const sisp_state_t pre[] = {SISP_STATE_HELLO, SISP_STATE_UNAUTH};
    const uint32_t lengths[] = {0, 1, SISP_LIMIT_DATA, SISP_LIMIT_DATA + 1, 0xffffffffu};
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++)
            for (int role = 0; role < 2; role++) {
                sisp_decoder_t d;
                size_t n;
                decoder_at(&d, (sisp_role_t)role, pre[s]);
                CHECK_ERR(decode_header(&d, lengths[i], SISP_VERSION, SISP_T_DATA, 0, &n),
                          SISP_ESTATE);
            }
}

/* ---- version, flags, type ---- */

static void test_header_fields(void) {
    const uint8_t versions[] = {0, 2, 3, 0x10, 0x80, 0xff};
    for (size_t i = 0; i < sizeof versions; i++) {
        sisp_decoder_t d;
        size_t n;
        decoder_at(&d, SISP_ROLE_SERVER, SISP_STATE_AUTH);
        CHECK_ERR(decode_header(&d, 0, versions[i], SISP_T_PING, 0, &n), SISP_EVERSION);
        CHECK_ERR(d.err, SISP_EVERSION);
    }
    const uint16_t flags[] = {1, 2, 0x80, 0x100, 0x8000, 0xffff};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        sisp_decoder_t d;
        size_t n;
        decoder_at(&d, SISP_ROLE_SERVER, SISP_STATE_AUTH);
        CHECK_ERR(decode_header(&d, 0, SISP_VERSION, SISP_T_PING, flags[i], &n), SISP_EFLAGS);
        CHECK_ERR(d.err, SISP_EFLAGS);
    }
    const uint8_t types[] = {0x00, 0x08, 0x0f, 0x16, 0x2b, 0x3a, 0x40, 0x7f, 0x80, 0x81, 0xff};
    for (size_t i = 0; i < sizeof types; i++) {
        sisp_decoder_t d;
        size_t n;
        decoder_at(&d, SISP_ROLE_SERVER, SISP_STATE_AUTH);
        CHECK_ERR(decode_header(&d, 0, SISP_VERSION, types[i], 0, &n), SISP_ETYPE);
        CHECK_ERR(d.err, SISP_ETYPE);
    }
}

/* The catalog's masks, straight from SISP_PACKET_MAP. */
static int map_allowed(sisp_role_t role, sisp_state_t state, uint8_t type, int *known) {
    *known = 0;
    switch (type) {
#define CASE(code, NAME, name, srx, crx, stream)                                                   \
    case code:                                                                                     \
        *known = 1;                                                                                \
        return (int)((((role) == SISP_ROLE_SERVER ? (unsigned)(srx) : (unsigned)(crx)) >>          \
                      (unsigned)(state)) &                                                         \
                     1u);
        SISP_PACKET_MAP(CASE)
#undef CASE
    default:
        return 0;
    }
}

static void test_type_matrix(void) {
    int n_known = 0;
    for (unsigned t = 0; t < 256; t++) {
        int cells = 0;
        for (int st = 0; st < SISP_STATE_COUNT; st++) {
            for (int role = 0; role < 2; role++) {
                uint8_t type = (uint8_t)t;
                int known;
                int allowed = map_allowed((sisp_role_t)role, (sisp_state_t)st, type, &known);
                CHECK_INT(sisp_type_known(type), known);
                CHECK_INT(sisp_type_allowed((sisp_role_t)role, (sisp_state_t)st, type), allowed);

                sisp_decoder_t d;
                size_t n;
                decoder_at(&d, (sisp_role_t)role, (sisp_state_t)st);
                int rc = decode_header(&d, 0, SISP_VERSION, type, 0, &n);
                int want = !sisp_type_known(type) ? SISP_ETYPE
                           : !sisp_type_allowed((sisp_role_t)role, (sisp_state_t)st, type)
                               ? SISP_ESTATE
                               : 0;
                t_checks++;
                if (rc != want)
                    T_FAIL_AT("type 0x%02x state %d role %d: got %s, want %s", t, st, role,
                              t_errname(rc), t_errname(want));
                if (want == 0)
                    CHECK_U64(n, SISP_HEADER_SIZE);
                n_known += known;
                cells += allowed;
            }
        }
        /* Every type in the catalog is accepted somewhere. */
        if (sisp_type_known((uint8_t)t))
            CHECK(cells > 0);
    }
    CHECK_INT(n_known, N_TYPES * SISP_STATE_COUNT * 2);
    CHECK_INT(sisp_type_allowed(SISP_ROLE_SERVER, SISP_STATE_COUNT, SISP_T_PING), 0);
    CHECK(strcmp(sisp_type_name(SISP_T_HELLO), "HELLO") == 0);
    CHECK(strcmp(sisp_type_name(SISP_T_MEMBER_PENDING), "MEMBER_PENDING") == 0);
    CHECK(sisp_type_name(0x00) == NULL);
    CHECK(sisp_type_name(0xff) == NULL);
}

/* ---- sticky errors ---- */

typedef struct {
    const char *what;
    uint8_t hdr[SISP_HEADER_SIZE];
    int err;
} bad_header_t;

static void test_sticky(void) {
    bad_header_t bad[5];
    put_header(bad[0].hdr, 0, 9, SISP_T_PING, 0, 0);
    bad[0].err = SISP_EVERSION;
    put_header(bad[1].hdr, 0, SISP_VERSION, SISP_T_PING, 4, 0);
    bad[1].err = SISP_EFLAGS;
    put_header(bad[2].hdr, 0, SISP_VERSION, 0x7e, 0, 0);
    bad[2].err = SISP_ETYPE;
    put_header(bad[3].hdr, 0, SISP_VERSION, SISP_T_REGISTER, 0, 1); /* not in AUTH */
    bad[3].err = SISP_ESTATE;
    put_header(bad[4].hdr, SISP_LIMIT_CONTROL + 1, SISP_VERSION, SISP_T_PING, 0, 0);
    bad[4].err = SISP_ETOOBIG;

    uint8_t ping[SISP_HEADER_SIZE + 3], hello[SISP_HEADER_SIZE];
    put_header(ping, 3, SISP_VERSION, SISP_T_PING, 0, 5);
    ping[12] = 1, ping[13] = 2, ping[14] = 3;
    put_header(hello, 0, SISP_VERSION, SISP_T_HELLO, 0, 0);

    for (size_t i = 0; i < 5; i++) {
        sisp_decoder_t d;
        sisp_frame_t f;
        size_t n;
        decoder_at(&d, SISP_ROLE_SERVER, SISP_STATE_AUTH);
        CHECK_ERR(decode_copy(&d, ping, sizeof ping, &f, &n), 0); /* works before */
        CHECK_ERR(decode_copy(&d, bad[i].hdr, SISP_HEADER_SIZE, &f, &n), bad[i].err);
        CHECK_ERR(d.err, bad[i].err);
        /* A valid frame, a partial one, an empty buffer: the same error every time. */
        for (int k = 0; k < 3; k++) {
            CHECK_ERR(decode_copy(&d, ping, sizeof ping, &f, &n), bad[i].err);
            CHECK_ERR(decode_copy(&d, ping, 5, &f, &n), bad[i].err);
            CHECK_ERR(decode_copy(&d, ping, 0, &f, &n), bad[i].err);
        }
        /* Changing state does not clear it. */
        sisp_decoder_set_state(&d, SISP_STATE_AUTH, NULL);
        CHECK_ERR(decode_copy(&d, ping, sizeof ping, &f, &n), bad[i].err);

        /* Reset: back to HELLO with its limits, role kept, error gone. */
        sisp_decoder_reset(&d);
        CHECK_ERR(d.err, 0);
        CHECK_INT(d.state, SISP_STATE_HELLO);
        CHECK_INT(d.role, SISP_ROLE_SERVER);
        CHECK_U64(d.limits.max_control, SISP_LIMIT_PREAUTH);
        CHECK_U64(d.limits.max_data, 0);
        n = NO_N;
        CHECK_ERR(decode_copy(&d, hello, sizeof hello, &f, &n), 0);
        CHECK_U64(n, SISP_HEADER_SIZE);
        CHECK_INT(f.type, SISP_T_HELLO);
        sisp_decoder_set_state(&d, SISP_STATE_AUTH, NULL);
        n = NO_N;
        CHECK_ERR(decode_copy(&d, ping, sizeof ping, &f, &n), 0);
        CHECK_U64(n, sizeof ping);
        CHECK_U64(f.stream, 5);
    }
}

/* ---- decoder state and limits ---- */

static void test_state(void) {
    sisp_limits_t l = sisp_limits_default(SISP_STATE_HELLO);
    CHECK_U64(l.max_control, SISP_LIMIT_PREAUTH);
    CHECK_U64(l.max_data, 0);
    l = sisp_limits_default(SISP_STATE_UNAUTH);
    CHECK_U64(l.max_control, SISP_LIMIT_PREAUTH);
    CHECK_U64(l.max_data, 0);
    l = sisp_limits_default(SISP_STATE_AUTH);
    CHECK_U64(l.max_control, SISP_LIMIT_CONTROL);
    CHECK_U64(l.max_data, SISP_LIMIT_DATA);
    CHECK(SISP_LIMIT_PREAUTH < SISP_LIMIT_CONTROL);
    CHECK(SISP_LIMIT_DATA <= SISP_LIMIT_ABSOLUTE && SISP_LIMIT_CONTROL <= SISP_LIMIT_ABSOLUTE);

    for (int role = 0; role < 2; role++) {
        sisp_decoder_t d;
        memset(&d, 0x5a, sizeof d);
        sisp_decoder_init(&d, (sisp_role_t)role);
        CHECK_ERR(d.err, 0);
        CHECK_INT(d.role, role);
        CHECK_INT(d.state, SISP_STATE_HELLO);
        CHECK_U64(d.limits.max_control, SISP_LIMIT_PREAUTH);
        CHECK_U64(d.limits.max_data, 0);
        for (int st = 0; st < SISP_STATE_COUNT; st++) {
            sisp_decoder_set_state(&d, (sisp_state_t)st, NULL);
            sisp_limits_t def = sisp_limits_default((sisp_state_t)st);
            CHECK_INT(d.state, st);
            CHECK_INT(d.role, role);
            CHECK_U64(d.limits.max_control, def.max_control);
            CHECK_U64(d.limits.max_data, def.max_data);
        }
    }

    /* Custom limits apply to control frames and DATA separately. */
    sisp_decoder_t d;
    size_t n;
    sisp_limits_t custom = {100, 200};
    sisp_decoder_init(&d, SISP_ROLE_SERVER);
    sisp_decoder_set_state(&d, SISP_STATE_AUTH, &custom);
    CHECK_U64(d.limits.max_control, 100);
    CHECK_U64(d.limits.max_data, 200);
    CHECK_ERR(decode_header(&d, 100, SISP_VERSION, SISP_T_PING, 0, &n), SISP_NEED_MORE);
    CHECK_U64(n, SISP_HEADER_SIZE + 100);
    CHECK_ERR(decode_header(&d, 200, SISP_VERSION, SISP_T_DATA, 0, &n), SISP_NEED_MORE);
    CHECK_U64(n, SISP_HEADER_SIZE + 200);
    CHECK_ERR(decode_header(&d, 101, SISP_VERSION, SISP_T_POST_BEGIN, 0, &n), SISP_ETOOBIG);
    sisp_decoder_set_state(&d, SISP_STATE_AUTH, &custom); /* keeps the error */
    CHECK_ERR(decode_header(&d, 0, SISP_VERSION, SISP_T_PING, 0, &n), SISP_ETOOBIG);
    sisp_decoder_reset(&d);
    sisp_decoder_set_state(&d, SISP_STATE_AUTH, &custom);
    CHECK_ERR(decode_header(&d, 201, SISP_VERSION, SISP_T_DATA, 0, &n), SISP_ETOOBIG);

    /* Custom limits in a pre-auth state. */
    sisp_limits_t small = {20, 0};
    sisp_decoder_init(&d, SISP_ROLE_SERVER);
    sisp_decoder_set_state(&d, SISP_STATE_HELLO, &small);
    CHECK_ERR(decode_header(&d, 20, SISP_VERSION, SISP_T_HELLO, 0, &n), SISP_NEED_MORE);
    CHECK_U64(n, SISP_HEADER_SIZE + 20);
    CHECK_ERR(decode_header(&d, 21, SISP_VERSION, SISP_T_HELLO, 0, &n), SISP_ETOOBIG);

    /* Clamping to SISP_LIMIT_ABSOLUTE, each limit on its own. */
    const sisp_limits_t huge[] = {{0xffffffffu, 0xffffffffu},
                                  {SISP_LIMIT_ABSOLUTE + 1, 5},
                                  {5, SISP_LIMIT_ABSOLUTE + 1},
                                  {SISP_LIMIT_ABSOLUTE, SISP_LIMIT_ABSOLUTE}};
    const sisp_limits_t want[] = {{SISP_LIMIT_ABSOLUTE, SISP_LIMIT_ABSOLUTE},
                                  {SISP_LIMIT_ABSOLUTE, 5},
                                  {5, SISP_LIMIT_ABSOLUTE},
                                  {SISP_LIMIT_ABSOLUTE, SISP_LIMIT_ABSOLUTE}};
    for (size_t i = 0; i < 4; i++) {
        sisp_decoder_init(&d, SISP_ROLE_CLIENT);
        sisp_decoder_set_state(&d, SISP_STATE_AUTH, &huge[i]);
        CHECK_U64(d.limits.max_control, want[i].max_control);
        CHECK_U64(d.limits.max_data, want[i].max_data);
    }
    sisp_decoder_init(&d, SISP_ROLE_CLIENT);
    sisp_decoder_set_state(&d, SISP_STATE_AUTH, &huge[0]);
    CHECK_ERR(decode_header(&d, SISP_LIMIT_ABSOLUTE, SISP_VERSION, SISP_T_PONG, 0, &n),
              SISP_NEED_MORE);
    CHECK_U64(n, SISP_HEADER_SIZE + (size_t)SISP_LIMIT_ABSOLUTE);
    CHECK_ERR(decode_header(&d, SISP_LIMIT_ABSOLUTE, SISP_VERSION, SISP_T_DATA, 0, &n),
              SISP_NEED_MORE);
    CHECK_ERR(decode_header(&d, SISP_LIMIT_ABSOLUTE + 1, SISP_VERSION, SISP_T_DATA, 0, &n),
              SISP_ETOOBIG);
    sisp_decoder_reset(&d);
    sisp_decoder_set_state(&d, SISP_STATE_AUTH, &huge[0]);
    CHECK_ERR(decode_header(&d, 0xffffffffu, SISP_VERSION, SISP_T_PONG, 0, &n), SISP_ETOOBIG);

    /* max_data 0 means "DATA not accepted" (frame.h): even an empty DATA frame is refused. */
    sisp_limits_t no_data = {SISP_LIMIT_CONTROL, 0};
    sisp_decoder_init(&d, SISP_ROLE_SERVER);
    sisp_decoder_set_state(&d, SISP_STATE_AUTH, &no_data);
    CHECK_ERR(decode_header(&d, 1, SISP_VERSION, SISP_T_DATA, 0, &n), SISP_ETOOBIG);
    sisp_decoder_reset(&d);
    sisp_decoder_set_state(&d, SISP_STATE_AUTH, &no_data);
    int rc = decode_header(&d, 0, SISP_VERSION, SISP_T_DATA, 0, &n);
    t_checks++;
    if (rc >= 0)
        T_FAIL_AT("max_data 0 (\"DATA not accepted\") but an empty DATA frame decodes: %s",
                  t_errname(rc));
}

/* ---- frame encoder ---- */

static void test_encode_header(void) {
    sisp_buf_t b;
    sisp_buf_init(&b, 0);
    const uint8_t payload[] = {9, 8, 7};
    CHECK_ERR(sisp_frame_encode(&b, SISP_T_PING, 0, 0x01020304u, payload, sizeof payload), 0);
    const uint8_t want[] = {0, 0, 0, 3, 1, SISP_T_PING, 0, 0, 1, 2, 3, 4, 9, 8, 7};
    CHECK_MEM(b.data, b.len, want, sizeof want);
    CHECK_ERR(sisp_frame_put_header(&b, 0xab, 0xcdef, 0xfffffffeu, 0x123456), 0);
    const uint8_t want2[] = {0x00, 0x12, 0x34, 0x56, 1, 0xab, 0xcd, 0xef, 0xff, 0xff, 0xff, 0xfe};
    CHECK_U64(b.len, sizeof want + sizeof want2);
    CHECK_MEM(b.data + sizeof want, b.len - sizeof want, want2, sizeof want2);
    /* Larger than any limit may be: refused, nothing appended. */
    size_t before = b.len;
    CHECK_ERR(sisp_frame_put_header(&b, SISP_T_DATA, 0, 1, (size_t)SISP_LIMIT_ABSOLUTE + 1),
              SISP_ETOOBIG);
    CHECK_U64(b.len, before);
    CHECK_ERR(sisp_frame_encode(&b, SISP_T_DATA, 0, 1, payload, (size_t)SISP_LIMIT_ABSOLUTE + 1),
              SISP_ETOOBIG);
    CHECK_U64(b.len, before);
    /* A buffer capped too small: refused, nothing appended. */
    sisp_buf_t small;
    sisp_buf_init(&small, 14);
    CHECK_ERR(sisp_frame_encode(&small, SISP_T_PING, 0, 1, payload, sizeof payload), SISP_ENOMEM);
    CHECK_U64(small.len, 0);
    sisp_buf_free(&small);
    sisp_buf_free(&b);
}

/* ---- the sample vectors ---- */

typedef struct {
    const t_vector_t *v;
    sisp_buf_t wire;
} enc_vector_t;

static enc_vector_t *encoded;
static size_t n_encoded;

static void encode_vectors(void) {
    n_encoded = t_vector_count();
    CHECK(n_encoded >= N_TYPES);
    encoded = calloc(n_encoded, sizeof *encoded);
    if (encoded == NULL)
        abort();
    for (size_t i = 0; i < n_encoded; i++) {
        encoded[i].v = t_vector(i);
        sisp_buf_init(&encoded[i].wire, 0);
        int rc = sisp_packet_encode(&encoded[i].wire, &encoded[i].v->pkt);
        CHECK_ERR(rc, 0);
        if (rc != 0)
            fprintf(stderr, "  vector %s\n", encoded[i].v->id);
        CHECK(encoded[i].wire.len >= SISP_HEADER_SIZE);
    }
    /* Every catalog type has at least one vector. */
    for (unsigned t = 0; t < 256; t++) {
        if (!sisp_type_known((uint8_t)t))
            continue;
        int found = 0;
        for (size_t i = 0; i < n_encoded; i++)
            found |= encoded[i].v->pkt.type == t;
        t_checks++;
        if (!found)
            T_FAIL_AT("no vector of type %s", sisp_type_name((uint8_t)t));
    }
}

/* Checks a decoded frame against the vector it came from. */
static void check_frame(const enc_vector_t *e, const sisp_frame_t *f, const uint8_t *base) {
    size_t len = e->wire.len;
    CHECK_U64(f->length, len - SISP_HEADER_SIZE);
    CHECK_U64(sisp_load32(e->wire.data), len - SISP_HEADER_SIZE);
    CHECK_INT(f->version, SISP_VERSION);
    CHECK_INT(f->type, e->v->pkt.type);
    CHECK_INT(f->flags, 0);
    CHECK_U64(f->stream, e->v->pkt.stream);
    CHECK(f->payload.ptr == base + SISP_HEADER_SIZE);
    CHECK_MEM(f->payload.ptr, f->payload.len, e->wire.data + SISP_HEADER_SIZE,
              len - SISP_HEADER_SIZE);
}

static void test_vector_whole(const enc_vector_t *e) {
    size_t len = e->wire.len;
    sisp_decoder_t d;
    sisp_frame_t f;
    size_t n = NO_N;
    decoder_at(&d, e->v->receiver, e->v->state);
    uint8_t *g = t_guard_copy(e->wire.data, len);
    CHECK_ERR(sisp_frame_decode(&d, g, len, &f, &n), 0);
    CHECK_U64(n, len);
    check_frame(e, &f, g);
    /* And the payload is the packet we encoded. */
    sisp_packet_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        abort();
    CHECK_ERR(sisp_packet_decode(&f, p), 0);
    CHECK_INT(p->type, e->v->pkt.type);
    CHECK_U64(p->stream, e->v->pkt.stream);
    CHECK(sisp_packet_equal(p->type, &p->u, &e->v->pkt.u));
    free(p);
    t_guard_free(g, len);

    /* Followed by the start of another frame: only this frame is consumed. */
    uint8_t *two = malloc(len + 5);
    if (two == NULL)
        abort();
    memcpy(two, e->wire.data, len);
    memcpy(two + len, e->wire.data, 5);
    g = t_guard_copy(two, len + 5);
    decoder_at(&d, e->v->receiver, e->v->state);
    n = NO_N;
    CHECK_ERR(sisp_frame_decode(&d, g, len + 5, &f, &n), 0);
    CHECK_U64(n, len);
    check_frame(e, &f, g);
    t_guard_free(g, len + 5);
    free(two);
}

/* Available bytes grow one at a time from 0: NEED_MORE (with the right *n) until complete. */
static void test_vector_bytewise(const enc_vector_t *e) {
    size_t len = e->wire.len;
    sisp_decoder_t d;
    decoder_at(&d, e->v->receiver, e->v->state);
    size_t bad = 0;
    for (size_t avail = 0; avail <= len; avail++) {
        sisp_frame_t f;
        size_t n = NO_N;
        uint8_t *g = t_guard_copy(e->wire.data, avail);
        int rc = sisp_frame_decode(&d, g, avail, &f, &n);
        size_t want_n = avail < SISP_HEADER_SIZE ? SISP_HEADER_SIZE : len;
        int want = avail < len ? SISP_NEED_MORE : 0;
        if (rc != want || n != want_n) {
            if (bad++ == 0)
                T_FAIL_AT("%s with %zu of %zu bytes: %s, n=%zu (want %s, n=%zu)", e->v->id, avail,
                          len, t_errname(rc), n, t_errname(want), want_n);
        }
        if (rc == 0)
            check_frame(e, &f, g);
        t_guard_free(g, avail);
    }
    t_checks++;
    CHECK_ERR(d.err, 0);
    if (bad > 1)
        fprintf(stderr, "  (%zu bad steps for %s)\n", bad, e->v->id);
}

/* Two-part delivery: the first `split` bytes, then the buffer grows to the whole frame. */
static void test_vector_splits(const enc_vector_t *e) {
    size_t len = e->wire.len;
    size_t bad = 0;
    for (size_t split = 0; split <= len; split++) {
        sisp_decoder_t d;
        sisp_frame_t f;
        size_t n = NO_N;
        decoder_at(&d, e->v->receiver, e->v->state);
        uint8_t *g = t_guard_copy(e->wire.data, split);
        int rc1 = sisp_frame_decode(&d, g, split, &f, &n);
        size_t n1 = n;
        t_guard_free(g, split);
        int ok1 = split < len ? (rc1 == SISP_NEED_MORE &&
                                 n1 == (split < SISP_HEADER_SIZE ? SISP_HEADER_SIZE : len))
                              : (rc1 == 0 && n1 == len);
        g = t_guard_copy(e->wire.data, len);
        n = NO_N;
        int rc2 = sisp_frame_decode(&d, g, len, &f, &n);
        if (rc2 == 0)
            check_frame(e, &f, g);
        t_guard_free(g, len);
        if (!ok1 || rc2 != 0 || n != len) {
            if (bad++ == 0)
                T_FAIL_AT("%s split at %zu: first %s n=%zu, then %s n=%zu", e->v->id, split,
                          t_errname(rc1), n1, t_errname(rc2), n);
        }
    }
    t_checks++;
}

/* A receiver's whole conversation as one byte stream, delivered `step` bytes at a time into
 * a growing read buffer; frames are consumed as they complete. The decoder's state follows
 * each vector's state, as a session would move it. */
static void test_stream(sisp_role_t role, size_t step) {
    sisp_buf_t all;
    sisp_buf_init(&all, 0);
    size_t *order = calloc(n_encoded, sizeof *order);
    size_t count = 0;
    if (order == NULL)
        abort();
    for (size_t i = 0; i < n_encoded; i++) {
        if (encoded[i].v->receiver != role)
            continue;
        if (sisp_buf_append(&all, encoded[i].wire.data, encoded[i].wire.len) != 0)
            abort();
        order[count++] = i;
    }
    CHECK(count > 5);

    sisp_decoder_t d;
    sisp_decoder_init(&d, role);
    size_t pos = 0, avail = 0, next = 0, bad = 0;
    while (next < count && bad == 0) {
        const enc_vector_t *e = &encoded[order[next]];
        sisp_decoder_set_state(&d, e->v->state, NULL);
        sisp_frame_t f;
        size_t n = NO_N;
        size_t have = avail - pos;
        uint8_t *g = t_guard_copy(all.data + pos, have);
        int rc = sisp_frame_decode(&d, g, have, &f, &n);
        if (rc == 0) {
            if (n != e->wire.len) {
                bad++;
                T_FAIL_AT("stream: %s consumed %zu of %zu", e->v->id, n, e->wire.len);
            }
            check_frame(e, &f, g);
            pos += n;
            next++;
        } else if (rc == SISP_NEED_MORE) {
            if (avail == all.len) {
                bad++;
                T_FAIL_AT("stream: %s needs more at the end", e->v->id);
            }
            avail = avail + step > all.len ? all.len : avail + step;
        } else {
            bad++;
            T_FAIL_AT("stream: %s: %s", e->v->id, t_errname(rc));
        }
        t_guard_free(g, have);
    }
    CHECK_U64(next, count);
    CHECK_U64(pos, all.len);
    free(order);
    sisp_buf_free(&all);
}

/* Every vector a receiver accepts in AUTH, back to back, decoded without state changes. */
static void test_auth_stream(sisp_role_t role) {
    sisp_buf_t all;
    sisp_buf_init(&all, 0);
    size_t count = 0;
    for (size_t i = 0; i < n_encoded; i++) {
        if (!sisp_type_allowed(role, SISP_STATE_AUTH, encoded[i].v->pkt.type))
            continue;
        if (sisp_buf_append(&all, encoded[i].wire.data, encoded[i].wire.len) != 0)
            abort();
        count++;
    }
    uint8_t *g = t_guard_copy(all.data, all.len);
    sisp_decoder_t d;
    decoder_at(&d, role, SISP_STATE_AUTH);
    size_t pos = 0, frames = 0;
    for (size_t i = 0; i < n_encoded; i++) {
        if (!sisp_type_allowed(role, SISP_STATE_AUTH, encoded[i].v->pkt.type))
            continue;
        sisp_frame_t f;
        size_t n = NO_N;
        int rc = sisp_frame_decode(&d, g + pos, all.len - pos, &f, &n);
        CHECK_ERR(rc, 0);
        if (rc != 0)
            break;
        CHECK_U64(n, encoded[i].wire.len);
        check_frame(&encoded[i], &f, g + pos);
        pos += n;
        frames++;
    }
    CHECK_U64(frames, count);
    CHECK_U64(pos, all.len);
    /* Nothing left: the next decode needs a header. */
    sisp_frame_t f;
    size_t n = NO_N;
    CHECK_ERR(sisp_frame_decode(&d, g + pos, 0, &f, &n), SISP_NEED_MORE);
    CHECK_U64(n, SISP_HEADER_SIZE);
    t_guard_free(g, all.len);
    sisp_buf_free(&all);
}

static void test_vectors(void) {
    encode_vectors();
    for (size_t i = 0; i < n_encoded; i++) {
        test_vector_whole(&encoded[i]);
        test_vector_bytewise(&encoded[i]);
        test_vector_splits(&encoded[i]);
    }
    const size_t steps[] = {1, 2, 7, 12, 13, 64, 1000};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        test_stream(SISP_ROLE_SERVER, steps[s]);
        test_stream(SISP_ROLE_CLIENT, steps[s]);
    }
    test_auth_stream(SISP_ROLE_SERVER);
    test_auth_stream(SISP_ROLE_CLIENT);
    for (size_t i = 0; i < n_encoded; i++)
        sisp_buf_free(&encoded[i].wire);
    free(encoded);
}

int main(void) {
    test_truncated_header();
    test_limits();
    test_header_fields();
    test_type_matrix();
    test_sticky();
    test_state();
    test_encode_header();
    test_vectors();
    return t_done("test_frame");
}
