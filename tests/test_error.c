/* Error codes: the X-macro list, sisp_strerror, sisp_err_name and sisp_err_known. */
#include "testutil.h"

#include <sisp/error.h>

#include <string.h>

typedef struct {
    int code;
    int num;
    const char *name;
    const char *msg;
} err_row_t;

static const err_row_t rows[] = {
#define ROW(name, num, msg) {SISP_##name, num, #name, msg},
    SISP_ERRNO_MAP(ROW)
#undef ROW
};

#define N_ROWS (sizeof rows / sizeof rows[0])

/* Every code is negative, equals -(its wire number) and is unique; names are distinct;
 * messages are not empty. */
static void test_map_shape(void) {
    CHECK(N_ROWS > 0);
    for (size_t i = 0; i < N_ROWS; i++) {
        CHECK(rows[i].code < 0);
        CHECK_INT(rows[i].code, -rows[i].num);
        CHECK(rows[i].name[0] != '\0');
        CHECK(rows[i].name[0] == 'E');
        CHECK(rows[i].msg[0] != '\0');
        for (size_t j = i + 1; j < N_ROWS; j++) {
            if (rows[i].code == rows[j].code)
                T_FAIL_AT("%s and %s share code %d", rows[i].name, rows[j].name, rows[i].code);
            if (strcmp(rows[i].name, rows[j].name) == 0)
                T_FAIL_AT("name %s appears twice", rows[i].name);
            t_checks += 2;
        }
    }
    /* The numbers travel in ERROR frames: spot-check a few against the spec. */
    CHECK_INT(SISP_OK, 0);
    CHECK_INT(SISP_ENOMEM, -1);
    CHECK_INT(SISP_EVERSION, -10);
    CHECK_INT(SISP_ETOOBIG, -13);
    CHECK_INT(SISP_EFIELD, -20);
    CHECK_INT(SISP_EVALUE, -32);
    CHECK_INT(SISP_EAUTH, -40);
    CHECK_INT(SISP_EINTERNAL, -65);
}

/* Each code maps to its own name and message, and is known. */
static void test_lookup_each(void) {
    for (size_t i = 0; i < N_ROWS; i++) {
        const char *name = sisp_err_name(rows[i].code);
        const char *msg = sisp_strerror(rows[i].code);
        CHECK(name != NULL && strcmp(name, rows[i].name) == 0);
        CHECK(msg != NULL && strcmp(msg, rows[i].msg) == 0);
        CHECK_INT(sisp_err_known(rows[i].code), 1);
        /* The positive (wire) form is not a local code. */
        CHECK_INT(sisp_err_known(rows[i].num), 0);
        CHECK(strcmp(sisp_err_name(rows[i].num), "UNKNOWN") == 0);
    }
}

static void test_ok(void) {
    CHECK(strcmp(sisp_err_name(0), "OK") == 0);
    CHECK(strcmp(sisp_strerror(0), "success") == 0);
    CHECK_INT(sisp_err_known(0), 0);
}

/* Codes outside the list: never NULL, "UNKNOWN" / "unknown error", not known. */
static void test_unknown(void) {
    static const int unknown[] = {-9999,     5,   -3,  -9,   -18, -19, -33,  -39,
                                  -54,       -59, -66, -100, 1,   65,  9999, -2147483647 - 1,
                                  2147483647};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int e = unknown[i];
        const char *name = sisp_err_name(e);
        const char *msg = sisp_strerror(e);
        CHECK(name != NULL && strcmp(name, "UNKNOWN") == 0);
        CHECK(msg != NULL && strcmp(msg, "unknown error") == 0);
        CHECK_INT(sisp_err_known(e), 0);
    }
    /* Every negative number from -1 to -200 is known exactly when it is in the list. */
    for (int e = -1; e >= -200; e--) {
        int in_list = 0;
        for (size_t i = 0; i < N_ROWS; i++)
            in_list |= rows[i].code == e;
        CHECK_INT(sisp_err_known(e), in_list);
        CHECK_INT(strcmp(sisp_err_name(e), "UNKNOWN") != 0, in_list);
        CHECK_INT(strcmp(sisp_strerror(e), "unknown error") != 0, in_list);
    }
}

int main(void) {
    test_map_shape();
    test_lookup_each();
    test_ok();
    test_unknown();
    return t_done("test_error");
}
