/* Whole-file reads with a size cap. See readfile.h. */
#include "readfile.h"

#include "sisp/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int sisp__errno_code(int e) {
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return SISP_ENOTFOUND;
    case EACCES:
    case EPERM:
    case ELOOP:
        return SISP_EPERM;
    case ENOMEM:
        return SISP_ENOMEM;
    default:
        return SISP_EIO;
    }
}

static int fail(int err, int e, int *sys_err) {
    if (sys_err)
        *sys_err = err == SISP_EIO ? e : 0;
    return err;
}

int sisp__file_read(const char *path, size_t cap, uint8_t **out, size_t *len, int *sys_err) {
    struct stat st;
    uint8_t *buf = NULL;
    size_t have = 0, want;
    int fd, err = 0;

    *out = NULL;
    *len = 0;
    if (sys_err)
        *sys_err = 0;
    if (cap == SIZE_MAX)
        cap--; /* cap + 1 below must not wrap */
    /* O_NONBLOCK: opening a FIFO must not hang the viewer; it is refused below. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return fail(sisp__errno_code(errno), errno, sys_err);
    if (fstat(fd, &st) != 0) {
        err = fail(sisp__errno_code(errno), errno, sys_err);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = SISP_EINVAL;
        goto out;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)cap) {
        err = SISP_ETOOBIG;
        goto out;
    }
    /* One byte more than the size seen, so growth after fstat is noticed and capped. */
    want = (size_t)st.st_size + 1;
    buf = malloc(want);
    if (!buf) {
        err = SISP_ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + have, want - have);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = fail(sisp__errno_code(errno), errno, sys_err);
            goto out;
        }
        if (n == 0)
            break;
        have += (size_t)n;
        if (have == want) {
            uint8_t *bigger;
            if (have > cap) {
                err = SISP_ETOOBIG;
                goto out;
            }
            want = have > (cap + 1) / 2 ? cap + 1 : have * 2;
            bigger = realloc(buf, want);
            if (!bigger) {
                err = SISP_ENOMEM;
                goto out;
            }
            buf = bigger;
        }
    }
out:
    close(fd);
    if (err != 0 || have == 0) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = have;
    return 0;
}
