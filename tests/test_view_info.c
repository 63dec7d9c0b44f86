/* The FILE.info sidecar parser: the documented format, hostile text, size limits, and
 * loading from disk (missing, oversized, not a regular file). */
#include "sisp/error.h"
#include "sisp/info.h"
#include "testutil.h"
#include "view_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_str(const char *s, sisp_info_t *out) {
    return sisp_info_parse(s, strlen(s), out);
}

static void check_printable(const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        CHECK(s[i] >= 0x20 && s[i] < 0x7f);
}

static void check_all_printable(const sisp_info_t *in) {
    check_printable(in->name, sizeof(in->name));
    check_printable(in->owner, sizeof(in->owner));
    check_printable(in->group, sizeof(in->group));
    check_printable(in->signer_fingerprint, sizeof(in->signer_fingerprint));
}

static void test_good(void) {
    sisp_info_t in;
    const char *fpr = "SHA256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    char text[512];
    snprintf(text, sizeof(text),
             "name: holiday.jpg\nowner: alice\ngroup: all\nsigner_fingerprint: %s\n"
             "verified: yes\nseq: 42\nsize: 123456\n",
             fpr);
    CHECK_ERR(parse_str(text, &in), 0);
    CHECK_STR(in.name, "holiday.jpg");
    CHECK_STR(in.owner, "alice");
    CHECK_STR(in.group, "all");
    CHECK_STR(in.signer_fingerprint, fpr);
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_YES);
    CHECK_INT(in.has_seq, 1);
    CHECK_U64(in.seq, 42);
    CHECK_INT(in.has_size, 1);
    CHECK_U64(in.size, 123456);

    /* CRLF, tabs and no space after ':', trailing blanks, no final newline, other order. */
    CHECK_ERR(parse_str("verified:\tno  \r\nsize:7\r\nowner:   bob \t\r\nname: x y", &in), 0);
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_NO);
    CHECK_U64(in.size, 7);
    CHECK_STR(in.owner, "bob");
    CHECK_STR(in.name, "x y");
    CHECK_STR(in.group, "");
    CHECK_INT(in.has_seq, 0);

    /* Empty input and empty values. */
    CHECK_ERR(sisp_info_parse("", 0, &in), 0);
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_ABSENT);
    CHECK_INT(in.has_size, 0);
    CHECK_ERR(parse_str("name:\nowner: \n", &in), 0);
    CHECK_STR(in.name, "");
    CHECK_STR(in.owner, "");

    /* Not NUL-terminated: only len bytes are read. */
    CHECK_ERR(sisp_info_parse("owner: carolXXXX", 12, &in), 0);
    CHECK_STR(in.owner, "carol");
}

static void test_ignored_lines(void) {
    sisp_info_t in;
    CHECK_ERR(parse_str("# comment: name: evil\n"
                        "colour: blue\n"
                        "Name: upper\n"
                        "name : spaced\n"
                        "just text\n"
                        "\n"
                        ": novalue\n"
                        "a_key_that_is_much_longer_than_32_chars: x\n"
                        "name: good\n"
                        "name: second\n"
                        "verified: yes\n"
                        "verified: no\n",
                        &in),
              0);
    CHECK_STR(in.name, "good"); /* the first valid occurrence wins */
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_YES);
    CHECK_STR(in.owner, "");

    /* verified accepts exactly yes or no. */
    CHECK_ERR(parse_str("verified: YES\n", &in), 0);
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_ABSENT);
    CHECK_ERR(parse_str("verified: yes please\n", &in), 0);
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_ABSENT);
    /* A bad first value still counts as the occurrence: a later line cannot override. */
    CHECK_ERR(parse_str("verified: maybe\nverified: yes\n", &in), 0);
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_ABSENT);
}

static void test_numbers(void) {
    static const struct {
        const char *text;
        int ok;
        unsigned long long value;
    } cases[] = {
        {"0", 1, 0},
        {"007", 1, 7},
        {"18446744073709551615", 1, 18446744073709551615ull},
        {"18446744073709551616", 0, 0},
        {"99999999999999999999999", 0, 0},
        {"-1", 0, 0},
        {"+1", 0, 0},
        {"1e3", 0, 0},
        {"0x10", 0, 0},
        {"4 2", 0, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sisp_info_t in;
        char text[128];
        snprintf(text, sizeof(text), "seq: %s\nsize: %s\n", cases[i].text, cases[i].text);
        CHECK_ERR(parse_str(text, &in), 0);
        CHECK_INT(in.has_seq, cases[i].ok);
        CHECK_INT(in.has_size, cases[i].ok);
        CHECK_U64(in.seq, cases[i].value);
        CHECK_U64(in.size, cases[i].value);
    }
}

static void test_hostile(void) {
    sisp_info_t in;
    char text[SISP_INFO_MAX_BYTES];
    size_t n;

    /* Terminal escapes, DEL and NUL are dropped; bytes >= 0x80 (UTF-8, C1) become '?'. */
    static const char esc[] = "name: a\x1b[31mb\x7f"
                              "c\0d\xc3\xa9"
                              "e\x9b"
                              "f\n"
                              "owner: \x07\x08\x0b\x0c";
    CHECK_ERR(sisp_info_parse(esc, sizeof(esc) - 1, &in), 0);
    CHECK_STR(in.name, "a[31mbcd??e?f");
    CHECK_STR(in.owner, "");
    check_all_printable(&in);

    /* A lone CR inside a line is a control character, not a line break. */
    CHECK_ERR(parse_str("name: a\rowner: b\n", &in), 0);
    CHECK_STR(in.name, "aowner: b");
    CHECK_STR(in.owner, "");

    /* Long values are cut at SISP_INFO_VALUE_MAX bytes. */
    memcpy(text, "signer_fingerprint: ", 20);
    memset(text + 20, 'f', 1000);
    CHECK_ERR(sisp_info_parse(text, 1020, &in), 0);
    CHECK_INT(strlen(in.signer_fingerprint), SISP_INFO_VALUE_MAX);

    /* Exactly at the size limit is fine; one byte more is refused as a whole. */
    n = sizeof(text);
    memset(text, '\n', n);
    memcpy(text, "owner: dave\n", 12);
    CHECK_ERR(sisp_info_parse(text, n, &in), 0);
    CHECK_STR(in.owner, "dave");
    {
        char *big = malloc(n + 1);
        CHECK(big != NULL);
        if (big) {
            memcpy(big, text, n);
            big[n] = '\n';
            CHECK_ERR(sisp_info_parse(big, n + 1, &in), SISP_ETOOBIG);
            CHECK_STR(in.owner, "");
            CHECK_INT(in.verified, SISP_INFO_VERIFIED_ABSENT);
            free(big);
        }
    }

    /* Random bytes, biased towards the syntax, never break the invariants. Read against a
     * guard page, so any read past len faults. */
    t_rand_seed_from_env("view_info");
    for (int round = 0; round < 3000; round++) {
        static const char alphabet[] = "name:owner:verified:yes\nsize:9 \r\t\x1b\x80\xff";
        size_t len = (size_t)t_rand_below(SISP_INFO_MAX_BYTES + 1);
        uint8_t *g;
        for (size_t i = 0; i < len; i++)
            text[i] = t_rand_below(2) ? (char)t_rand_below(256)
                                      : alphabet[t_rand_below(sizeof(alphabet) - 1)];
        g = t_guard_copy(text, len);
        CHECK_ERR(sisp_info_parse((const char *)g, len, &in), 0);
        t_guard_free(g, len);
        check_all_printable(&in);
        CHECK(in.verified >= SISP_INFO_VERIFIED_ABSENT && in.verified <= SISP_INFO_VERIFIED_YES);
    }
}

static void test_load(void) {
    char dir[] = "/tmp/sisp-view-info-XXXXXX", path[256], side[256];
    sisp_info_t in;
    char big[SISP_INFO_MAX_BYTES + 100];
    FILE *f;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/cat.png", dir);
    snprintf(side, sizeof(side), "%s/cat.png.info", dir);

    CHECK_ERR(sisp_info_load(path, &in), SISP_ENOTFOUND);
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_ABSENT);

    f = fopen(side, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("owner: erin\nverified: no\n", f);
        fclose(f);
    }
    CHECK_ERR(sisp_info_load(path, &in), 0);
    CHECK_STR(in.owner, "erin");
    CHECK_INT(in.verified, SISP_INFO_VERIFIED_NO);

    memset(big, '#', sizeof(big));
    f = fopen(side, "w");
    CHECK(f != NULL);
    if (f) {
        fwrite(big, 1, sizeof(big), f);
        fclose(f);
    }
    CHECK_ERR(sisp_info_load(path, &in), SISP_ETOOBIG);
    CHECK_STR(in.owner, "");
    unlink(side);

    /* A FIFO must be refused without blocking; a directory too. */
    CHECK_INT(mkfifo(side, 0600), 0);
    CHECK_ERR(sisp_info_load(path, &in), SISP_EINVAL);
    unlink(side);
    CHECK_INT(mkdir(side, 0700), 0);
    CHECK_ERR(sisp_info_load(path, &in), SISP_EINVAL);
    rmdir(side);
    rmdir(dir);

    CHECK(sisp_info_is_sidecar_name("a.png.info"));
    CHECK(sisp_info_is_sidecar_name(".info"));
    CHECK(!sisp_info_is_sidecar_name("a.png"));
    CHECK(!sisp_info_is_sidecar_name("info"));
    CHECK(!sisp_info_is_sidecar_name("a.info.png"));
}

int main(void) {
    test_good();
    test_ignored_lines();
    test_numbers();
    test_hostile();
    test_load();
    return t_done("view_info");
}
