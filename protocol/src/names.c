#include <sisp/error.h>
#include <sisp/names.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_lower_name_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int check_lower(const char *s, size_t len, size_t min, size_t max) {
    if (s == NULL || len < min || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_name_char((unsigned char)s[i]))
            return 0;
    return 1;
}

int sisp_check_username(const char *s, size_t len) {
    return check_lower(s, len, SISP_USERNAME_MIN, SISP_USERNAME_MAX) ? 0 : SISP_EUSERNAME;
}

int sisp_check_groupname(const char *s, size_t len) {
    return check_lower(s, len, SISP_GROUPNAME_MIN, SISP_GROUPNAME_MAX) ? 0 : SISP_EGROUPNAME;
}

int sisp_check_imagename(const char *s, size_t len) {
    if (s == NULL || len < 1 || len > SISP_IMAGENAME_MAX || !is_alnum((unsigned char)s[0]))
        return SISP_EIMAGENAME;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
            return SISP_EIMAGENAME;
    }
    return 0;
}

int sisp_check_invite(const char *s, size_t len) {
    if (s == NULL || len < SISP_INVITE_MIN || len > SISP_INVITE_MAX)
        return SISP_EINVITECODE;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
            return SISP_EINVITECODE;
    return 0;
}

/* Strict UTF-8 (RFC 3629): shortest form only, no surrogates, nothing above U+10FFFF.
 * Controls (C0, DEL, C1) are refused too, so text is safe to print on a terminal. */
int sisp_check_text(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    if (len > 0 && s == NULL)
        return SISP_EUTF8;
    while (i < len) {
        unsigned char c = p[i];
        uint32_t cp;
        size_t n;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return SISP_EUTF8;
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return SISP_EUTF8;
        }
        if (n > len - i - 1)
            return SISP_EUTF8;
        for (size_t k = 1; k <= n; k++) {
            unsigned char cc = p[i + k];
            if ((cc & 0xc0) != 0x80)
                return SISP_EUTF8;
            cp = cp << 6 | (cc & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return SISP_EUTF8;
        i += n + 1;
    }
    return 0;
}

/* ---- lists of user names ---- */

void sisp_members_add(void *members, const char *user, int pending) {
    sisp_members_t *m = members;
    (void)pending;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        void *p = realloc(m->names, cap * sizeof *m->names);
        if (p == NULL) {
            m->failed = 1;
            return;
        }
        m->names = p;
        m->cap = cap;
    }
    snprintf(m->names[m->n++], SISP_USERNAME_MAX + 1, "%s", user);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(a, b);
}

void sisp_members_sort(sisp_members_t *m) {
    if (m->n > 1)
        qsort(m->names, m->n, sizeof *m->names, cmp_name);
}

int sisp_members_has(const sisp_members_t *m, const char *user) {
    return m->n > 0 && bsearch(user, m->names, m->n, sizeof *m->names, cmp_name) != NULL;
}

void sisp_members_free(sisp_members_t *m) {
    free(m->names);
    memset(m, 0, sizeof *m);
}
