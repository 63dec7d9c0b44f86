/* Small test support: assertions that print both operands, and guard-page buffers. */
#ifndef SISP_TESTUTIL_H
#define SISP_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* T_ASAN is defined under AddressSanitizer, whose allocator the glibc malloc counters
 * (mallinfo2) do not see: memory assertions are skipped there. */
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif

extern int t_failures;
extern int t_checks;

#define T_FAIL_AT(...)                                                                             \
    do {                                                                                           \
        t_failures++;                                                                              \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
    } while (0)

/* Integers (any signedness) compared as long long / unsigned long long. */
#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        t_checks++;                                                                                \
        if (a_ != b_)                                                                              \
            T_FAIL_AT("CHECK_INT(%s, %s): %lld != %lld", #a, #b, a_, b_);                          \
    } while (0)

#define CHECK_U64(a, b)                                                                            \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        t_checks++;                                                                                \
        if (a_ != b_)                                                                              \
            T_FAIL_AT("CHECK_U64(%s, %s): %llu != %llu", #a, #b, a_, b_);                          \
    } while (0)

/* Error codes: prints symbolic names. */
#define CHECK_ERR(a, b)                                                                            \
    do {                                                                                           \
        int a_ = (int)(a), b_ = (int)(b);                                                          \
        t_checks++;                                                                                \
        if (a_ != b_)                                                                              \
            T_FAIL_AT("CHECK_ERR(%s, %s): %s (%d) != %s (%d)", #a, #b, t_errname(a_), a_,          \
                      t_errname(b_), b_);                                                          \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(cond))                                                                               \
            T_FAIL_AT("CHECK(%s) failed", #cond);                                                  \
    } while (0)

#define CHECK_MEM(a, alen, b, blen)                                                                \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!t_mem_eq((a), (alen), (b), (blen))) {                                                 \
            T_FAIL_AT("CHECK_MEM(%s, %s) differ", #a, #b);                                         \
            t_hexdump("  left ", (a), (alen));                                                     \
            t_hexdump("  right", (b), (blen));                                                     \
        }                                                                                          \
    } while (0)

/* Ends main: prints a summary, returns the exit status. */
int t_done(const char *suite);

const char *t_errname(int err); /* sisp_err_name, plus NEED_MORE */
int t_mem_eq(const void *a, size_t alen, const void *b, size_t blen);
void t_hexdump(const char *label, const void *p, size_t n);

/* A buffer whose last byte sits right before an inaccessible page: reading one byte past
 * len faults at once. t_guard_copy returns a pointer to len bytes (a copy of src) ending at
 * the guard; free it with t_guard_free. Aborts on failure. */
uint8_t *t_guard_copy(const void *src, size_t len);
void t_guard_free(uint8_t *p, size_t len);

/* Deterministic PRNG (splitmix64) for randomised tests; seeds are printed so a failure
 * can be replayed with SISP_TEST_SEED=<n>. */
/* Monotonic milliseconds, and a sleep that resumes after signals. For deadlines in tests that
 * wait on other processes, never for timing assertions. */
int64_t t_now_ms(void);
void t_sleep_ms(int ms);
/* Writes n bytes of p as the whole file at path. 0 or -1. */
int t_write_file(const char *path, const void *p, size_t n);

uint64_t t_rand(void);
uint64_t t_rand_below(uint64_t n); /* 0 <= r < n (n > 0) */
void t_rand_seed_from_env(const char *suite);

#endif
