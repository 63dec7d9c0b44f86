/* Name and text validation (names.h): table-driven accept/reject cases, length boundaries,
 * and the UTF-8 checker against an independent table-driven reference. Every input is a
 * guard-page copy, so reading one byte past len crashes the test. */
#include "testutil.h"

#include <sisp/error.h>
#include <sisp/names.h>

#include <string.h>

typedef int (*check_fn)(const char *s, size_t len);

typedef struct {
    const char *s;
    size_t len;
    int want; /* 0 or the specific error */
} name_case_t;

/* A case from a string literal; the length includes embedded NULs but not the final one. */
#define C(lit, want)                                                                               \
    { lit, sizeof(lit) - 1, want }

static int run_check(check_fn fn, const void *s, size_t len) {
    uint8_t *g = t_guard_copy(s, len);
    int rc = fn((const char *)g, len);
    t_guard_free(g, len);
    return rc;
}

static void run_cases(const char *what, check_fn fn, const name_case_t *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int rc = run_check(fn, cases[i].s, cases[i].len);
        t_checks++;
        if (rc != cases[i].want) {
            T_FAIL_AT("%s case %zu: got %s, want %s", what, i, t_errname(rc),
                      t_errname(cases[i].want));
            t_hexdump("  input", cases[i].s, cases[i].len);
        }
    }
}

/* fn over strings of `fill` of every length 0..max_len: accepted exactly within [lo, hi]. */
static void run_lengths(const char *what, check_fn fn, char fill, size_t lo, size_t hi, int err) {
    char s[300];
    memset(s, fill, sizeof s);
    for (size_t len = 0; len <= hi + 2 && len <= sizeof s; len++) {
        int want = (len >= lo && len <= hi) ? 0 : err;
        int rc = run_check(fn, s, len);
        t_checks++;
        if (rc != want)
            T_FAIL_AT("%s length %zu: got %s, want %s", what, len, t_errname(rc), t_errname(want));
    }
}

#define E_USER SISP_EUSERNAME
#define E_GROUP SISP_EGROUPNAME
#define E_IMAGE SISP_EIMAGENAME
#define E_INVITE SISP_EINVITECODE
#define E_UTF8 SISP_EUTF8

/* User and group names share one rule; the table is run with each function's error. */
typedef struct {
    const char *s;
    size_t len;
    int ok;
} lower_case_t;

#define L(lit, ok)                                                                                 \
    { lit, sizeof(lit) - 1, ok }

static const lower_case_t lower_cases[] = {
    L("abc", 1),
    L("alice", 1),
    L("bob99", 1),
    L("007", 1),
    L("a-b", 1),
    L("a_b", 1),
    L("___", 1),
    L("---", 1),
    L("-ab", 1),
    L("abcdefghijklmnopqrstuvwxyz012345", 1), /* 32 */
    L("0123456789-_abcdefghijklmnopqrst", 1), /* 32 */
    L("", 0),
    L("a", 0),
    L("ab", 0),
    L("abcdefghijklmnopqrstuvwxyz0123456", 0), /* 33 */
    L("Alice", 0),
    L("aBc", 0),
    L("ABC", 0),
    L("abC", 0),
    L(".abc", 0),
    L("a.b", 0),
    L("..", 0),
    L("...", 0),
    L("/abc", 0),
    L("ab/c", 0),
    L("../etc", 0),
    L(" abc", 0),
    L("ab c", 0),
    L("abc ", 0),
    L("ab\0c", 0),
    L("abc\0", 0),
    L("\0abc", 0),
    L("abc\n", 0),
    L("ab\tc", 0),
    L("ab\x7f", 0),
    L("\xc3\xa9tienne", 0),
    L("ab+c", 0),
    L("ab@c", 0),
    L("ab:c", 0),
    L("ab\\c", 0),
    L("ab~c", 0),
    L("ab*c", 0),
    L("ab%c", 0),
    L("ab\xff", 0),
    L("ab`", 0),
    L("ab{", 0),
    L("ab[", 0),
};

static void test_user_group(void) {
    size_t n = sizeof lower_cases / sizeof lower_cases[0];
    for (size_t i = 0; i < n; i++) {
        const lower_case_t *c = &lower_cases[i];
        int ru = run_check(sisp_check_username, c->s, c->len);
        int rg = run_check(sisp_check_groupname, c->s, c->len);
        t_checks += 2;
        if (ru != (c->ok ? 0 : E_USER)) {
            T_FAIL_AT("username case %zu: got %s", i, t_errname(ru));
            t_hexdump("  input", c->s, c->len);
        }
        if (rg != (c->ok ? 0 : E_GROUP)) {
            T_FAIL_AT("groupname case %zu: got %s", i, t_errname(rg));
            t_hexdump("  input", c->s, c->len);
        }
    }
    run_lengths("username", sisp_check_username, 'a', SISP_USERNAME_MIN, SISP_USERNAME_MAX, E_USER);
    run_lengths("groupname", sisp_check_groupname, 'z', SISP_GROUPNAME_MIN, SISP_GROUPNAME_MAX,
                E_GROUP);
    CHECK_INT(SISP_USERNAME_MIN, 3);
    CHECK_INT(SISP_USERNAME_MAX, 32);
    CHECK_ERR(sisp_check_username(NULL, 0), E_USER);
    CHECK_ERR(sisp_check_groupname(NULL, 0), E_GROUP);

    /* Every single byte in the middle of "a?b": accepted exactly for [a-z0-9_-]. */
    for (unsigned c = 0; c < 256; c++) {
        char s[3] = {'a', (char)c, 'b'};
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        CHECK_ERR(run_check(sisp_check_username, s, 3), ok ? 0 : E_USER);
        CHECK_ERR(run_check(sisp_check_groupname, s, 3), ok ? 0 : E_GROUP);
    }
}

static const name_case_t image_cases[] = {
    C("a", 0),
    C("A", 0),
    C("7", 0),
    C("beach-2026.jpg", 0),
    C("IMG_0001.PNG", 0),
    C("a..b", 0),
    C("a.", 0),
    C("a-", 0),
    C("a_", 0),
    C("a._-", 0),
    C("x.tar.gz", 0),
    C("", E_IMAGE),
    C(".", E_IMAGE),
    C("..", E_IMAGE),
    C(".hidden", E_IMAGE),
    C("-a", E_IMAGE),
    C("_a", E_IMAGE),
    C("/a", E_IMAGE),
    C("a/b", E_IMAGE),
    C("a/../b", E_IMAGE),
    C("a\\b", E_IMAGE),
    C(" a", E_IMAGE),
    C("a b", E_IMAGE),
    C("a ", E_IMAGE),
    C("a\0b", E_IMAGE),
    C("a\0", E_IMAGE),
    C("\0", E_IMAGE),
    C("a\n", E_IMAGE),
    C("a\t", E_IMAGE),
    C("a\x7f", E_IMAGE),
    C("a:b", E_IMAGE),
    C("a~", E_IMAGE),
    C("a*", E_IMAGE),
    C("a?", E_IMAGE),
    C("\xc3\xa9.jpg", E_IMAGE),
    C("a\xc3\xa9", E_IMAGE),
    C("a\xff", E_IMAGE),
};

static void test_image(void) {
    run_cases("imagename", sisp_check_imagename, image_cases,
              sizeof image_cases / sizeof image_cases[0]);
    run_lengths("imagename", sisp_check_imagename, 'Q', 1, SISP_IMAGENAME_MAX, E_IMAGE);
    CHECK_INT(SISP_IMAGENAME_MAX, 128);
    CHECK_ERR(sisp_check_imagename(NULL, 0), E_IMAGE);

    /* 128 and 129 bytes with a dot at the end (only the length differs). */
    char s[130];
    memset(s, 'b', sizeof s);
    s[127] = '.';
    CHECK_ERR(run_check(sisp_check_imagename, s, 128), 0);
    s[128] = '.';
    CHECK_ERR(run_check(sisp_check_imagename, s, 129), E_IMAGE);

    for (unsigned c = 0; c < 256; c++) {
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        char first[2] = {(char)c, 'x'};
        char later[2] = {'x', (char)c};
        int later_ok = alnum || c == '.' || c == '_' || c == '-';
        CHECK_ERR(run_check(sisp_check_imagename, first, 2), alnum ? 0 : E_IMAGE);
        CHECK_ERR(run_check(sisp_check_imagename, later, 2), later_ok ? 0 : E_IMAGE);
    }
}

static const name_case_t invite_cases[] = {
    C("K7QF-2M9D-XW4P", 0),   C("abcdefgh", 0),
    C("ABCDEFGH", 0),         C("12345678", 0),
    C("--------", 0),         C("a-B-c-D-", 0),
    C("abcdefg", E_INVITE),   C("", E_INVITE),
    C("abcd_efg", E_INVITE),  C("abcd efg", E_INVITE),
    C("abcd.efg", E_INVITE),  C("abcd/efg", E_INVITE),
    C("abcdefg\0", E_INVITE), C("abc\0defg", E_INVITE),
    C("abcdefg\n", E_INVITE), C("abcdefg\xc3\xa9", E_INVITE),
    C("abcdefg+", E_INVITE),
};

static void test_invite(void) {
    run_cases("invite", sisp_check_invite, invite_cases,
              sizeof invite_cases / sizeof invite_cases[0]);
    run_lengths("invite", sisp_check_invite, 'K', SISP_INVITE_MIN, SISP_INVITE_MAX, E_INVITE);
    CHECK_INT(SISP_INVITE_MIN, 8);
    CHECK_INT(SISP_INVITE_MAX, 64);
    CHECK_ERR(sisp_check_invite(NULL, 0), E_INVITE);
    for (unsigned c = 0; c < 256; c++) {
        char s[8] = {'a', 'b', 'c', (char)c, 'd', 'e', 'f', 'g'};
        int ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        CHECK_ERR(run_check(sisp_check_invite, s, 8), ok ? 0 : E_INVITE);
    }
}

static const name_case_t text_cases[] = {
    /* valid */
    C("", 0),
    C("hello, world", 0),
    C(" ", 0),
    C("~", 0),
    C("too many registrations; retry later", 0),
    C("caf\xc3\xa9", 0),                 /* U+00E9 */
    C("\xc2\xa0", 0),                    /* U+00A0, first code point after C1 */
    C("\xc2\xa1", 0),                    /* U+00A1 */
    C("\xdf\xbf", 0),                    /* U+07FF, largest 2-byte */
    C("\xe0\xa0\x80", 0),                /* U+0800, smallest 3-byte */
    C("\xe2\x82\xac", 0),                /* U+20AC euro sign */
    C("\xed\x9f\xbf", 0),                /* U+D7FF, just below the surrogates */
    C("\xee\x80\x80", 0),                /* U+E000, just above them */
    C("\xef\xbf\xbd", 0),                /* U+FFFD */
    C("\xf0\x90\x80\x80", 0),            /* U+10000, smallest 4-byte */
    C("\xf0\x9f\x98\x80", 0),            /* U+1F600 emoji */
    C("\xf4\x8f\xbf\xbf", 0),            /* U+10FFFF, the last code point */
    C("\xe6\x97\xa5\xe6\x9c\xac", 0),    /* CJK */
    C("a\xf0\x9f\x8e\x89z\xc3\xa9!", 0), /* mixed */
    /* C0 controls, NUL, DEL */
    C("\0", E_UTF8),
    C("a\0b", E_UTF8),
    C("ab\0", E_UTF8),
    C("\x01", E_UTF8),
    C("\x1f", E_UTF8),
    C("a\tb", E_UTF8),
    C("a\nb", E_UTF8),
    C("a\r", E_UTF8),
    C("\x1b[31m", E_UTF8),
    C("\x7f", E_UTF8),
    C("a\x7f", E_UTF8),
    /* C1 controls U+0080..U+009F */
    C("\xc2\x80", E_UTF8),
    C("\xc2\x85", E_UTF8),
    C("\xc2\x9b", E_UTF8),
    C("\xc2\x9f", E_UTF8),
    C("ok\xc2\x9f", E_UTF8),
    /* overlong forms */
    C("\xc0\x80", E_UTF8),
    C("\xc0\xaf", E_UTF8),
    C("\xc1\xbf", E_UTF8),
    C("\xe0\x80\x80", E_UTF8),
    C("\xe0\x80\xaf", E_UTF8),
    C("\xe0\x9f\xbf", E_UTF8),
    C("\xf0\x80\x80\x80", E_UTF8),
    C("\xf0\x80\x80\xaf", E_UTF8),
    C("\xf0\x8f\xbf\xbf", E_UTF8),
    /* surrogates */
    C("\xed\xa0\x80", E_UTF8),
    C("\xed\xad\xbf", E_UTF8),
    C("\xed\xb0\x80", E_UTF8),
    C("\xed\xbf\xbf", E_UTF8),
    C("\xed\xa0\xbd\xed\xb8\x80", E_UTF8), /* CESU-8 pair */
    /* above U+10FFFF, and bytes that never start a sequence */
    C("\xf4\x90\x80\x80", E_UTF8),
    C("\xf4\xbf\xbf\xbf", E_UTF8),
    C("\xf5\x80\x80\x80", E_UTF8),
    C("\xf7\xbf\xbf\xbf", E_UTF8),
    C("\xf8\x88\x80\x80\x80", E_UTF8),
    C("\xfc\x84\x80\x80\x80\x80", E_UTF8),
    C("\xfe", E_UTF8),
    C("\xff", E_UTF8),
    /* lone continuation bytes */
    C("\x80", E_UTF8),
    C("\xbf", E_UTF8),
    C("a\x80"
      "b",
      E_UTF8),
    C("\xc3\xa9\xa9", E_UTF8),
    /* truncated at the end */
    C("\xc3", E_UTF8),
    C("a\xc3", E_UTF8),
    C("\xe2", E_UTF8),
    C("\xe2\x82", E_UTF8),
    C("abc\xe2\x82", E_UTF8),
    C("\xf0", E_UTF8),
    C("\xf0\x9f", E_UTF8),
    C("\xf0\x9f\x98", E_UTF8),
    C("ok\xf0\x9f\x98", E_UTF8),
    /* bad continuation inside a sequence */
    C("\xc3\x28", E_UTF8),
    C("\xc3 ", E_UTF8),
    C("\xc3\xc3\xa9", E_UTF8),
    C("\xe2\x28\xa1", E_UTF8),
    C("\xe2\x82\x28", E_UTF8),
    C("\xf0\x28\x8c\xbc", E_UTF8),
    C("\xf0\x9f\x98\x28", E_UTF8),
    C("\xf0\x9f\x98\xc0", E_UTF8),
};

/* An independent reference: the well-formed byte sequences of RFC 3629 section 4, minus C0
 * controls, DEL and C1 controls (U+0080-U+009F = C2 80..C2 9F). Returns 1 if valid. */
static int ref_text_ok(const uint8_t *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
            if (c == 0xc2)
                lo = 0xa0;
        } else if (c == 0xe0) {
            n = 3;
            lo = 0xa0;
        } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
            n = 3;
        } else if (c == 0xed) {
            n = 3;
            hi = 0x9f;
        } else if (c == 0xf0) {
            n = 4;
            lo = 0x90;
        } else if (c >= 0xf1 && c <= 0xf3) {
            n = 4;
        } else if (c == 0xf4) {
            n = 4;
            hi = 0x8f;
        } else {
            return 0;
        }
        if (len - i < n)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < n; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return 0;
        i += n;
    }
    return 1;
}

static size_t text_mismatches;

static void compare_text(const uint8_t *s, size_t len) {
    int want = ref_text_ok(s, len) ? 0 : E_UTF8;
    int rc = sisp_check_text((const char *)s, len);
    if (rc != want) {
        if (text_mismatches++ < 10) {
            T_FAIL_AT("sisp_check_text: got %s, reference says %s", t_errname(rc), t_errname(want));
            t_hexdump("  input", s, len);
        }
    }
}

static void test_text(void) {
    run_cases("text", sisp_check_text, text_cases, sizeof text_cases / sizeof text_cases[0]);
    CHECK_ERR(sisp_check_text(NULL, 0), 0);
    CHECK_ERR(sisp_check_text(NULL, 1), E_UTF8);

    /* The reference agrees with the table (so the exhaustive runs below mean something). */
    size_t n = sizeof text_cases / sizeof text_cases[0];
    for (size_t i = 0; i < n; i++)
        CHECK_INT(ref_text_ok((const uint8_t *)text_cases[i].s, text_cases[i].len),
                  text_cases[i].want == 0);

    /* Every proper prefix of a valid multi-byte character is truncated, hence refused,
     * alone and after valid text. */
    static const char *multi[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                  "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof multi / sizeof multi[0]; i++) {
        size_t full = strlen(multi[i]);
        for (size_t k = 1; k < full; k++) {
            char buf[8] = "xy";
            memcpy(buf + 2, multi[i], k);
            CHECK_ERR(run_check(sisp_check_text, multi[i], k), E_UTF8);
            CHECK_ERR(run_check(sisp_check_text, buf, k + 2), E_UTF8);
        }
        CHECK_ERR(run_check(sisp_check_text, multi[i], full), 0);
    }

    /* Exhaustive over all 1-, 2- and 3-byte strings, against the reference. One guard
     * buffer, the input placed to end right at the guard. */
    uint8_t *g = t_guard_copy("\0\0\0\0", 4);
    text_mismatches = 0;
    for (unsigned a = 0; a < 256; a++) {
        g[3] = (uint8_t)a;
        compare_text(g + 3, 1);
    }
    CHECK_INT(text_mismatches, 0);
    text_mismatches = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            g[2] = (uint8_t)a;
            g[3] = (uint8_t)b;
            compare_text(g + 2, 2);
        }
    CHECK_INT(text_mismatches, 0);
    text_mismatches = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (unsigned c = 0; c < 256; c++) {
                g[1] = (uint8_t)a;
                g[2] = (uint8_t)b;
                g[3] = (uint8_t)c;
                compare_text(g + 1, 3);
            }
    CHECK_INT(text_mismatches, 0);
    /* 4-byte strings: every lead and second byte, a spread of third and fourth bytes. */
    static const uint8_t tail[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
                                   0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    text_mismatches = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof tail; c++)
                for (size_t d = 0; d < sizeof tail; d++) {
                    g[0] = (uint8_t)a;
                    g[1] = (uint8_t)b;
                    g[2] = tail[c];
                    g[3] = tail[d];
                    compare_text(g, 4);
                }
    CHECK_INT(text_mismatches, 0);
    t_guard_free(g, 4);

    /* Every code point encoded by a straightforward encoder: accepted exactly when it is
     * not a control and not a surrogate. */
    text_mismatches = 0;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        uint8_t b[4];
        size_t len;
        if (cp < 0x80) {
            b[0] = (uint8_t)cp;
            len = 1;
        } else if (cp < 0x800) {
            b[0] = (uint8_t)(0xc0 | cp >> 6);
            b[1] = (uint8_t)(0x80 | (cp & 0x3f));
            len = 2;
        } else if (cp < 0x10000) {
            b[0] = (uint8_t)(0xe0 | cp >> 12);
            b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            b[2] = (uint8_t)(0x80 | (cp & 0x3f));
            len = 3;
        } else {
            b[0] = (uint8_t)(0xf0 | cp >> 18);
            b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
            b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            b[3] = (uint8_t)(0x80 | (cp & 0x3f));
            len = 4;
        }
        int valid = cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp <= 0x9f) &&
                    !(cp >= 0xd800 && cp <= 0xdfff);
        int rc = sisp_check_text((const char *)b, len);
        if (rc != (valid ? 0 : E_UTF8) && text_mismatches++ < 10)
            T_FAIL_AT("U+%04X: got %s", (unsigned)cp, t_errname(rc));
    }
    CHECK_INT(text_mismatches, 0);
}

int main(void) {
    test_user_group();
    test_image();
    test_invite();
    test_text();
    return t_done("test_names");
}
