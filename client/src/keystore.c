#include <sisp/error.h>
#include <sisp/keystore.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sisp_fd_write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return SISP_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int sisp_fd_read_full(int fd, void *buf, size_t n, size_t *got) {
    uint8_t *p = buf;
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, p + *got, n - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return SISP_EIO;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

int sisp_fsync_parent(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return SISP_EINVAL;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SISP_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : SISP_EIO;
}

int sisp_file_write_atomic(const char *path, const void *p, size_t n, unsigned mode) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return SISP_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return SISP_EIO;
    /* The mode given to open is masked by the umask; set it exactly. */
    int ok = fchmod(fd, (mode_t)mode) == 0 && sisp_fd_write_all(fd, p, n) == 0 && fsync(fd) == 0;
    int saved = errno;
    ok &= close(fd) == 0;
    if (ok && rename(tmp, path) == 0 && sisp_fsync_parent(path) == 0)
        return 0;
    saved = errno ? errno : saved;
    unlink(tmp);
    errno = saved;
    return SISP_EIO;
}

int sisp_keystore_save(const char *path, int kind, const sisp_key_pair_t *key,
                       const char *passphrase, unsigned log2n) {
    uint8_t bytes[SISP_KEYFILE_SIZE];
    sisp_rng_t rng;
    int rc = sisp_rng_init(&rng);
    if (rc != 0)
        return rc;
    rc = sisp_keyfile_encode(&rng, kind, key, passphrase, log2n, bytes);
    sisp_rng_free(&rng);
    if (rc == 0)
        rc = sisp_file_write_atomic(path, bytes, sizeof bytes, 0600);
    sisp_wipe(bytes, sizeof bytes);
    return rc;
}

int sisp_keystore_load(const char *path, int kind, const char *passphrase, sisp_key_pair_t *key,
                       int *is_protected) {
    uint8_t bytes[SISP_KEYFILE_SIZE + 1];
    struct stat st;
    *is_protected = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? SISP_ENOTFOUND : SISP_EIO;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return SISP_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return SISP_EKEYFILE;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return SISP_EKEYPERM;
    }
    size_t n = 0;
    if (sisp_fd_read_full(fd, bytes, sizeof bytes, &n) != 0) {
        close(fd);
        sisp_wipe(bytes, sizeof bytes);
        return SISP_EIO;
    }
    close(fd);
    int rc = sisp_keyfile_decode(bytes, n, kind, passphrase, key, is_protected);
    sisp_wipe(bytes, sizeof bytes);
    return rc;
}
