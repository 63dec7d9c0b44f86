#include <sisp/buf.h>
#include <sisp/error.h>

#include <stdlib.h>
#include <string.h>

sisp_slice_t sisp_slice_str(const char *s) {
    return sisp_slice(s, s ? strlen(s) : 0);
}

int sisp_slice_eq(sisp_slice_t a, sisp_slice_t b) {
    if (a.len != b.len)
        return 0;
    return a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0;
}

void sisp_buf_init(sisp_buf_t *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX;
}

void sisp_buf_free(sisp_buf_t *b) {
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

size_t sisp_buf_trim(sisp_buf_t *b, size_t keep) {
    size_t cap = b->cap;
    if (b->len != 0 || cap <= keep)
        return 0;
    sisp_buf_free(b);
    return cap;
}

void sisp_buf_free_secure(sisp_buf_t *b) {
    if (b == NULL)
        return;
    if (b->data != NULL) {
        volatile uint8_t *p = b->data;
        for (size_t i = 0; i < b->cap; i++)
            p[i] = 0;
    }
    sisp_buf_free(b);
}

void sisp_buf_reset(sisp_buf_t *b) {
    b->len = 0;
}

int sisp_buf_reserve(sisp_buf_t *b, size_t n) {
    size_t need;
    if (__builtin_add_overflow(b->len, n, &need) || need > b->max)
        return SISP_ENOMEM;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (__builtin_mul_overflow(cap, 2, &cap)) {
            cap = need;
            break;
        }
    }
    if (cap > b->max)
        cap = b->max;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return SISP_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sisp_buf_append(sisp_buf_t *b, const void *p, size_t n) {
    if (n == 0)
        return 0;
    int rc = sisp_buf_reserve(b, n);
    if (rc != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void sisp_buf_consume(sisp_buf_t *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
