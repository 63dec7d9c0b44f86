/* The FILE.info metadata sidecar: a bounded, forgiving parser for hostile text. The format
 * is defined in sisp/info.h. */
#include "sisp/info.h"

#include "readfile.h"
#include "sisp/error.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 32

/* The text fields, by key. */
static const struct {
    const char *key;
    size_t offset;
} text_fields[] = {
    {"name", offsetof(sisp_info_t, name)},
    {"owner", offsetof(sisp_info_t, owner)},
    {"group", offsetof(sisp_info_t, group)},
    {"signer_fingerprint", offsetof(sisp_info_t, signer_fingerprint)},
};

enum { F_VERIFIED = 4, F_SEQ, F_SIZE, F_COUNT };

static const char *const other_keys[] = {"verified", "seq", "size"};

_Static_assert(sizeof(text_fields) / sizeof(text_fields[0]) == F_VERIFIED, "field table");
_Static_assert(sizeof(((sisp_info_t *)0)->signer_fingerprint) == SISP_INFO_VALUE_MAX + 1,
               "text fields hold SISP_INFO_VALUE_MAX bytes and a NUL");

static int is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* Copies a value, dropping control characters, replacing non-ASCII bytes with '?' and
 * truncating to SISP_INFO_VALUE_MAX bytes. */
static void copy_value(char dst[SISP_INFO_VALUE_MAX + 1], const char *v, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n && o < SISP_INFO_VALUE_MAX; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f)
            continue;
        dst[o++] = c >= 0x80 ? '?' : (char)c;
    }
    dst[o] = '\0';
}

/* Plain decimal below 2^64; 0 and *ok = 1 on success. */
static uint64_t parse_u64(const char *v, size_t n, int *ok) {
    uint64_t r = 0;
    *ok = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        if (__builtin_mul_overflow(r, 10u, &r) ||
            __builtin_add_overflow(r, (uint64_t)(v[i] - '0'), &r))
            return 0;
    }
    *ok = 1;
    return r;
}

static int value_is(const char *v, size_t n, const char *word) {
    return n == strlen(word) && memcmp(v, word, n) == 0;
}

static const char *field_key(int f) {
    return f < F_VERIFIED ? text_fields[f].key : other_keys[f - F_VERIFIED];
}

static void set_field(sisp_info_t *out, int field, const char *v, size_t n) {
    if (field < F_VERIFIED) {
        copy_value((char *)out + text_fields[field].offset, v, n);
    } else if (field == F_VERIFIED) {
        if (value_is(v, n, "yes"))
            out->verified = SISP_INFO_VERIFIED_YES;
        else if (value_is(v, n, "no"))
            out->verified = SISP_INFO_VERIFIED_NO;
    } else if (field == F_SEQ) {
        out->seq = parse_u64(v, n, &out->has_seq);
    } else {
        out->size = parse_u64(v, n, &out->has_size);
    }
}

/* One line without its LF. Ignores anything that is not `key: value`. */
static void parse_line(sisp_info_t *out, unsigned *seen, const char *p, size_t n) {
    size_t k = 0, v;
    if (n > 0 && p[n - 1] == '\r')
        n--;
    while (k < n && k <= KEY_MAX && is_key_char(p[k]))
        k++;
    if (k == 0 || k > KEY_MAX || k >= n || p[k] != ':')
        return;
    v = k + 1;
    while (v < n && (p[v] == ' ' || p[v] == '\t'))
        v++;
    while (n > v && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    for (int f = 0; f < F_COUNT; f++) {
        if (strlen(field_key(f)) != k || memcmp(field_key(f), p, k) != 0)
            continue;
        if (!(*seen & (1u << f))) {
            *seen |= 1u << f;
            set_field(out, f, p + v, n - v);
        }
        return;
    }
}

static void info_clear(sisp_info_t *out) {
    memset(out, 0, sizeof(*out));
    out->verified = SISP_INFO_VERIFIED_ABSENT;
}

int sisp_info_parse(const char *text, size_t len, sisp_info_t *out) {
    unsigned seen = 0;
    size_t pos = 0;

    info_clear(out);
    if (len > SISP_INFO_MAX_BYTES)
        return SISP_ETOOBIG;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        parse_line(out, &seen, text + pos, end - pos);
        pos = end + 1;
    }
    return 0;
}

int sisp_info_load(const char *image_path, sisp_info_t *out) {
    size_t plen = strlen(image_path), slen = strlen(SISP_INFO_SUFFIX), len = 0;
    uint8_t *data = NULL;
    char *path;
    int err;

    info_clear(out);
    path = malloc(plen + slen + 1);
    if (!path)
        return SISP_ENOMEM;
    memcpy(path, image_path, plen);
    memcpy(path + plen, SISP_INFO_SUFFIX, slen + 1);
    err = sisp__file_read(path, SISP_INFO_MAX_BYTES, &data, &len, NULL);
    free(path);
    if (err == 0)
        err = sisp_info_parse((const char *)data, len, out);
    free(data);
    return err;
}

int sisp_info_is_sidecar_name(const char *name) {
    size_t n = strlen(name), s = strlen(SISP_INFO_SUFFIX);
    return n >= s && memcmp(name + n - s, SISP_INFO_SUFFIX, s) == 0;
}
