/* The client's home directory: see home.h. */
#include <sisp/error.h>
#include <sisp/home.h>
#include <sisp/keystore.h>
#include <sisp/names.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KNOWN_USERS "known_users"
#define KNOWN_USERS_MAX (4u * 1024u * 1024u)
#define SMALL_FILE_MAX 4096u

int sisp_home_open(sisp_home_t *h, const char *dir, int create) {
    const char *env = getenv("SISP_HOME");
    const char *home = getenv("HOME");
    int w;
    if (dir != NULL && dir[0] != '\0')
        w = snprintf(h->dir, sizeof h->dir, "%s", dir);
    else if (env != NULL && env[0] != '\0')
        w = snprintf(h->dir, sizeof h->dir, "%s", env);
    else if (home != NULL && home[0] != '\0')
        w = snprintf(h->dir, sizeof h->dir, "%s/.sisp", home);
    else
        return SISP_EINVAL;
    if (w < 0 || (size_t)w >= sizeof h->dir - 64)
        return SISP_EINVAL;
    if (create) {
        if (mkdir(h->dir, 0700) != 0 && errno != EEXIST)
            return SISP_EIO;
        char images[SISP_HOME_PATH_MAX];
        if (sisp_home_path(h, "images", images, sizeof images) != 0 ||
            (mkdir(images, 0700) != 0 && errno != EEXIST))
            return SISP_EIO;
    }
    return 0;
}

int sisp_home_path(const sisp_home_t *h, const char *name, char *out, size_t n) {
    int w = snprintf(out, n, "%s/%s", h->dir, name);
    return w < 0 || (size_t)w >= n ? SISP_EINVAL : 0;
}

int sisp_home_exists(const sisp_home_t *h, const char *name) {
    char p[SISP_HOME_PATH_MAX];
    struct stat st;
    return sisp_home_path(h, name, p, sizeof p) == 0 && stat(p, &st) == 0;
}

int sisp_file_read(const char *path, size_t max, sisp_buf_t *out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SISP_ENOTFOUND : SISP_EIO;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = SISP_EIO;
    else if ((uint64_t)st.st_size > max)
        rc = SISP_ETOOBIG;
    else if (sisp_buf_reserve(out, (size_t)st.st_size + 1) != 0)
        rc = SISP_ENOMEM;
    while (rc == 0) {
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = SISP_EIO;
        else if (r == 0)
            break;
        else if ((out->len += (size_t)r) > max)
            rc = SISP_ETOOBIG;
        else if (out->len == out->cap && sisp_buf_reserve(out, 4096) != 0)
            rc = SISP_ENOMEM;
    }
    close(fd);
    return rc;
}

int sisp_home_read(const sisp_home_t *h, const char *name, size_t max, sisp_buf_t *out) {
    char p[SISP_HOME_PATH_MAX];
    if (sisp_home_path(h, name, p, sizeof p) != 0)
        return SISP_EINVAL;
    return sisp_file_read(p, max, out);
}

int sisp_home_write(const sisp_home_t *h, const char *name, const void *p, size_t n,
                    unsigned mode) {
    char path[SISP_HOME_PATH_MAX];
    if (sisp_home_path(h, name, path, sizeof path) != 0)
        return SISP_EINVAL;
    return sisp_file_write_atomic(path, p, n, mode);
}

/* The value of a one-line "key value" file, NUL-terminated in out ("" if absent). */
static int read_line_value(const sisp_home_t *h, const char *file, const char *key, char *out,
                           size_t n) {
    sisp_buf_t b;
    sisp_buf_init(&b, 0);
    out[0] = '\0';
    int rc = sisp_home_read(h, file, SMALL_FILE_MAX, &b);
    if (rc == SISP_ENOTFOUND) {
        sisp_buf_free(&b);
        return 0;
    }
    if (rc == 0) {
        size_t klen = strlen(key);
        const char *s = (const char *)b.data;
        rc = SISP_EINVAL;
        if (b.len > klen && memcmp(s, key, klen) == 0 && s[klen] == ' ') {
            size_t v = klen + 1, e = v;
            while (e < b.len && s[e] != '\n' && s[e] != '\0')
                e++;
            if (e - v < n && e > v) {
                memcpy(out, s + v, e - v);
                out[e - v] = '\0';
                rc = 0;
            }
        }
    }
    sisp_buf_free(&b);
    return rc;
}

int sisp_home_server(const sisp_home_t *h, char *out, size_t n) {
    return read_line_value(h, "config", "server", out, n);
}

int sisp_home_set_server(const sisp_home_t *h, const char *server) {
    char line[512];
    int w = snprintf(line, sizeof line, "server %s\n", server);
    if (w < 0 || (size_t)w >= sizeof line)
        return SISP_EINVAL;
    return sisp_home_write(h, "config", line, (size_t)w, 0600);
}

uint64_t sisp_home_seq(const sisp_home_t *h) {
    char v[32];
    if (read_line_value(h, "state", "seq", v, sizeof v) != 0 || v[0] == '\0')
        return 0;
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v, &end, 10);
    return errno == 0 && *end == '\0' ? (uint64_t)s : 0;
}

/* The home's files that are read, changed and written back (known_users, state) are so
 * under this lock: WATCH and a shell, or two commands, may run at once on one home, and a
 * rewrite must not drop what the other just added. -1 if the lock cannot be had (then the
 * caller goes on unlocked, as before). */
static int home_lock(const sisp_home_t *h) {
    char path[SISP_HOME_PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/.lock", h->dir) >= (int)sizeof path)
        return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void home_unlock(int fd) {
    if (fd >= 0)
        close(fd); /* releases the lock */
}

int sisp_home_set_seq(const sisp_home_t *h, uint64_t seq) {
    int lock = home_lock(h);
    int rc = 0;
    if (seq > sisp_home_seq(h)) {
        char line[64];
        int w = snprintf(line, sizeof line, "seq %" PRIu64 "\n", seq);
        rc = sisp_home_write(h, "state", line, (size_t)w, 0600);
    }
    home_unlock(lock);
    return rc;
}

/* ---- pinned user keys ---- */

static void hex(const uint8_t *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void sisp_fingerprint(const uint8_t *p, size_t n, char out[72]) {
    uint8_t d[SISP_SHA256_SIZE];
    memcpy(out, "SHA256:", 7);
    if (sisp_sha256(p, n, d) != 0)
        memset(d, 0, sizeof d);
    hex(d, sizeof d, out + 7);
}

static int unhex(const char *s, uint8_t *out, size_t n) {
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        out[i / 2] = (uint8_t)(i % 2 ? (out[i / 2] | v) : v << 4);
    }
    return 0;
}

/* One known_users line: "<user> <64 hex> <64 hex>\n". */
#define PIN_LINE_MAX (SISP_USERNAME_MAX + 1 + 64 + 1 + 64 + 1)

typedef struct {
    size_t start, end; /* the line's bytes in the file, end after its newline */
    uint8_t ed[SISP_KEY_SIZE], x[SISP_KEY_SIZE];
} pin_line_t;

/* Finds user's line in b. 1 found, 0 not, SISP_EKEYFILE for a malformed file. */
static int find_pin(const sisp_buf_t *b, const char *user, pin_line_t *out) {
    size_t ulen = strlen(user), pos = 0;
    const char *s = (const char *)b->data;
    while (pos < b->len) {
        const char *nl = memchr(s + pos, '\n', b->len - pos);
        if (nl == NULL)
            return SISP_EKEYFILE;
        size_t end = (size_t)(nl - s), len = end - pos;
        const char *sp = memchr(s + pos, ' ', len);
        if (sp == NULL || len != (size_t)(sp - (s + pos)) + 1 + 64 + 1 + 64 || sp[65] != ' ')
            return SISP_EKEYFILE;
        if ((size_t)(sp - (s + pos)) == ulen && memcmp(s + pos, user, ulen) == 0) {
            if (unhex(sp + 1, out->ed, SISP_KEY_SIZE) != 0 ||
                unhex(sp + 66, out->x, SISP_KEY_SIZE) != 0)
                return SISP_EKEYFILE;
            out->start = pos;
            out->end = end + 1;
            return 1;
        }
        pos = end + 1;
    }
    return 0;
}

static int write_pin(const sisp_home_t *h, sisp_buf_t *b, const pin_line_t *old, const char *user,
                     const uint8_t ed[SISP_KEY_SIZE], const uint8_t x[SISP_KEY_SIZE]) {
    char line[PIN_LINE_MAX + 1];
    char he[65], hx[65];
    hex(ed, SISP_KEY_SIZE, he);
    hex(x, SISP_KEY_SIZE, hx);
    int w = snprintf(line, sizeof line, "%s %s %s\n", user, he, hx);
    if (w < 0 || (size_t)w >= sizeof line)
        return SISP_EINVAL;
    sisp_buf_t nb;
    sisp_buf_init(&nb, 0);
    int rc = 0;
    if (old != NULL)
        rc = sisp_buf_append(&nb, b->data, old->start);
    else
        rc = sisp_buf_append(&nb, b->data, b->len);
    if (rc == 0)
        rc = sisp_buf_append(&nb, line, (size_t)w);
    if (rc == 0 && old != NULL)
        rc = sisp_buf_append(&nb, b->data + old->end, b->len - old->end);
    if (rc == 0)
        rc = sisp_home_write(h, KNOWN_USERS, nb.data, nb.len, 0600);
    sisp_buf_free(&nb);
    return rc;
}

/* Loads known_users into b (initialised by the caller, freed by the caller) and finds user's
 * line: 1 found (*pl), 0 not, or an error. */
static int lookup_pin(const sisp_home_t *h, const char *user, sisp_buf_t *b, pin_line_t *pl) {
    if (sisp_check_username(user, strlen(user)) != 0)
        return SISP_EUSERNAME;
    int rc = sisp_home_read(h, KNOWN_USERS, KNOWN_USERS_MAX, b);
    if (rc == SISP_ENOTFOUND)
        return 0;
    return rc == 0 ? find_pin(b, user, pl) : rc;
}

int sisp_home_pin_user(const sisp_home_t *h, const char *user, const uint8_t ed[SISP_KEY_SIZE],
                       const uint8_t x[SISP_KEY_SIZE]) {
    sisp_buf_t b;
    pin_line_t pl;
    sisp_buf_init(&b, 0);
    int lock = home_lock(h);
    int rc = lookup_pin(h, user, &b, &pl);
    if (rc == 1)
        rc = sisp_ct_eq(pl.ed, ed, SISP_KEY_SIZE) && sisp_ct_eq(pl.x, x, SISP_KEY_SIZE)
                 ? SISP_PIN_MATCH
                 : SISP_PIN_CHANGED;
    else if (rc == 0)
        rc = write_pin(h, &b, NULL, user, ed, x) == 0 ? SISP_PIN_NEW : SISP_EIO;
    home_unlock(lock);
    sisp_buf_free(&b);
    return rc;
}

int sisp_home_pin_replace(const sisp_home_t *h, const char *user, const uint8_t ed[SISP_KEY_SIZE],
                          const uint8_t x[SISP_KEY_SIZE]) {
    sisp_buf_t b;
    pin_line_t pl;
    sisp_buf_init(&b, 0);
    int lock = home_lock(h);
    int rc = lookup_pin(h, user, &b, &pl);
    if (rc >= 0)
        rc = write_pin(h, &b, rc == 1 ? &pl : NULL, user, ed, x);
    home_unlock(lock);
    sisp_buf_free(&b);
    return rc;
}

int sisp_home_pinned(const sisp_home_t *h, const char *user, uint8_t ed[SISP_KEY_SIZE]) {
    sisp_buf_t b;
    pin_line_t pl;
    sisp_buf_init(&b, 0);
    int rc = lookup_pin(h, user, &b, &pl);
    if (rc == 1)
        memcpy(ed, pl.ed, SISP_KEY_SIZE);
    sisp_buf_free(&b);
    return rc == 1 ? 0 : rc == 0 ? SISP_ENOTFOUND : rc;
}
