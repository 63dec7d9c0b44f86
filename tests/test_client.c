/* The real `sisp` client against the real sispd, end to end: registration and CA pinning,
 * admission to `all`, POST_IMAGE and live WATCH notifications, downloads checked byte for
 * byte, tampering on the server's disk, groups and removal, a server data directory that
 * holds no plaintext and no private or epoch key, a changed server CA, a changed user key,
 * the shell (in a pseudo-terminal and scripted), error messages, a server that stops
 * answering, the client and sispd under valgrind, and revocation. Every program runs as a
 * child with its output captured and a time limit, so a hang fails the test instead of
 * blocking it.
 *
 * usage: test_client path/to/sispd path/to/sisp   (SISP_TEST_VERBOSE=1 shows every command) */
#define _GNU_SOURCE /* memmem */
#include "seal_fixture.h"
#include "tclient.h"
#include "testutil.h"
#include "tserver.h"

#include <sisp/error.h>
#include <sisp/keys.h>
#include <sisp/keystore.h>
#include <sisp/seal.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

#define RUN_MS 30000       /* one client command */
#define VALGRIND_MS 120000 /* one client command under valgrind */
#define EVENT_MS 15000     /* a notification to arrive */
#define N_WATCH 20         /* posts WATCH must see, in order */
#define N_MISSED 5         /* posts made while WATCH is down */
#define N_OVERLAP 12       /* posts made while it starts again */

static const char *sispd_bin, *sisp_bin, *sample_bin;
static tserver_t srv;
static char root[64]; /* homes and files of this run */
static char addr[64]; /* 127.0.0.1:PORT of srv */
static char fp_alice[72], fp_bob[72];

/* root/name, in one of a few rotating buffers (valid for the next 7 calls). */
static const char *at(const char *name) {
    static char bufs[8][256];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", root, name);
    return b;
}

/* ---- files ---- */

/* The whole file, NUL-terminated, or NULL. Free with free(). */
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *p = malloc(cap + 1);
    for (size_t r; p != NULL && (r = fread(p + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            uint8_t *q = realloc(p, 2 * cap + 1);
            if (q == NULL)
                free(p);
            p = q;
            cap *= 2;
        }
    }
    fclose(f);
    if (p != NULL)
        p[n] = '\0';
    *len = n;
    return p;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    uint8_t *pa = slurp(a, &na), *pb = slurp(b, &nb);
    int same = pa != NULL && pb != NULL && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

/* 1 if the pin file holds srv's CA certificate. */
static int pins_srv(const char *path) {
    size_t n = 0;
    uint8_t *pin = slurp(path, &n);
    int same = pin != NULL && n == srv.ca_len && memcmp(pin, srv.ca, n) == 0;
    free(pin);
    return same;
}

/* Entries in dir other than . and .. (-1 if it cannot be read). */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Names that appear in dir (created, linked or renamed in) from now on: an inotify watch. */
static int names_watch(const char *dir) {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd >= 0 && inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO) < 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        T_FAIL_AT("cannot watch %s: %s", dir, strerror(errno));
    return fd;
}

/* The names seen since names_watch, one per line, in order; closes fd. */
static void names_seen(int fd, char *out, size_t cap) {
    size_t k = 0;
    out[0] = '\0';
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (ssize_t n; fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0;) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            if (e->len > 0 && k < cap)
                k += (size_t)snprintf(out + k, cap - k, "%s\n", e->name);
            p += sizeof *e + e->len;
        }
    }
    if (fd >= 0)
        close(fd);
}

/* ---- test images ---- */

/* A real baseline JPEG of a gradient, from libjpeg-turbo. */
static int write_jpeg(const char *path, int w, int h) {
    tjhandle tj = tjInitCompress();
    unsigned char *px = malloc((size_t)w * (size_t)h * 3), *jpg = NULL;
    unsigned long size = 0;
    int rc = tj && px ? 0 : -1;
    for (int y = 0; rc == 0 && y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * (size_t)w + (size_t)x) * 3;
            p[0] = (unsigned char)(x * 4);
            p[1] = (unsigned char)(y * 4);
            p[2] = (unsigned char)((x + y) * 2);
        }
    if (rc == 0 && tjCompress2(tj, px, w, 0, h, TJPF_RGB, &jpg, &size, TJSAMP_420, 85, 0) != 0)
        rc = -1;
    if (rc == 0)
        rc = t_write_file(path, jpg, size);
    tjFree(jpg);
    free(px);
    if (tj)
        tjDestroy(tj);
    return rc;
}

/* ---- running programs ---- */

/* A pipe being read into a NUL-terminated buffer (what does not fit is dropped). */
typedef struct {
    int fd; /* -1 once closed */
    char *buf;
    size_t cap, len;
} sink_t;

/* Reads whatever arrives on the open sinks for up to timeout_ms. 1 when all are closed. */
static int pump(sink_t *s, int n, int timeout_ms) {
    struct pollfd p[4];
    int open = 0;
    for (int i = 0; i < n; i++) {
        p[i] = (struct pollfd){s[i].fd, POLLIN, 0};
        open += s[i].fd >= 0;
    }
    if (open == 0)
        return 1;
    if (poll(p, (nfds_t)n, timeout_ms) <= 0)
        return 0;
    for (int i = 0; i < n; i++) {
        if (s[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        char tmp[4096];
        ssize_t r = read(s[i].fd, tmp, sizeof tmp);
        if (r <= 0) {
            close(s[i].fd);
            s[i].fd = -1;
            continue;
        }
        size_t k = (size_t)r < s[i].cap - 1 - s[i].len ? (size_t)r : s[i].cap - 1 - s[i].len;
        memcpy(s[i].buf + s[i].len, tmp, k);
        s[i].len += k;
        s[i].buf[s[i].len] = '\0';
    }
    return 0;
}

/* Waits for pid up to timeout_ms (then SIGKILL): exit code, 128 + signal, or -1 if killed. */
static int reap(pid_t pid, int timeout_ms) {
    int64_t end = t_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR)
            return -1;
        if (t_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        t_sleep_ms(5);
    }
}

/* A child with stdin from `in_fd` (or /dev/null) and stdout, stderr into pipes. */
static pid_t spawn(char *const *argv, int in_fd, int *out_fd, int *err_fd) {
    int out[2], err[2];
    if (pipe(out) != 0)
        return -1;
    if (pipe(err) != 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    fcntl(out[0], F_SETFD, FD_CLOEXEC);
    fcntl(err[0], F_SETFD, FD_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(in_fd >= 0 ? in_fd : null, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    *out_fd = out[0];
    *err_fd = err[0];
    return pid;
}

/* argv of `[pre...] sisp --home home args...` as copies execv may take; free with free_argv. */
static int build_argv(char **argv, int max, const char *const *pre, const char *home,
                      const char *const *args) {
    int n = 0;
    for (int i = 0; pre && pre[i] && n < max - 1; i++)
        argv[n++] = strdup(pre[i]);
    const char *fixed[] = {sisp_bin, "--home", home};
    for (int i = 0; i < 3 && n < max - 1; i++)
        argv[n++] = strdup(fixed[i]);
    for (int i = 0; args && args[i] && n < max - 1; i++)
        argv[n++] = strdup(args[i]);
    argv[n] = NULL;
    return n;
}

static void free_argv(char **argv) {
    for (int i = 0; argv[i]; i++)
        free(argv[i]);
}

typedef struct {
    char cmd[512]; /* the command line, for messages */
    int status;    /* exit code, 128 + signal, -1 if it ran out of time */
    char out[1 << 16];
    char err[1 << 14];
} run_t;

/* Runs a command to its end (at most timeout_ms) with `input` on its stdin. */
static void run_argv(run_t *r, char *const *argv, const char *input, int timeout_ms) {
    size_t k = 0;
    r->cmd[0] = r->out[0] = r->err[0] = '\0';
    for (int i = 0; argv[i] && k < sizeof r->cmd; i++)
        k += (size_t)snprintf(r->cmd + k, sizeof r->cmd - k, "%s%s", i ? " " : "", argv[i]);
    int in[2] = {-1, -1};
    if (input != NULL && pipe(in) == 0)
        fcntl(in[1], F_SETFD, FD_CLOEXEC);
    sink_t s[2] = {{-1, r->out, sizeof r->out, 0}, {-1, r->err, sizeof r->err, 0}};
    pid_t pid = spawn(argv, in[0], &s[0].fd, &s[1].fd);
    if (in[0] >= 0) {
        close(in[0]);
        /* Scripts are small: they fit in the pipe whatever the child does. */
        if (write(in[1], input, strlen(input)) != (ssize_t)strlen(input))
            T_FAIL_AT("cannot feed stdin of `%s`", r->cmd);
        close(in[1]);
    }
    if (pid < 0) {
        r->status = -1;
        T_FAIL_AT("cannot start `%s`", r->cmd);
        return;
    }
    int64_t end = t_now_ms() + timeout_ms;
    while (!pump(s, 2, 100) && t_now_ms() < end) {
    }
    r->status = reap(pid, (int)(end - t_now_ms() > 0 ? end - t_now_ms() : 0) + 1000);
    for (int i = 0; i < 2; i++)
        if (s[i].fd >= 0)
            close(s[i].fd);
    if (getenv("SISP_TEST_VERBOSE") != NULL)
        fprintf(stderr, "$ %s\n%s%s[exit %d]\n", r->cmd, r->out, r->err, r->status);
    if (r->status < 0)
        T_FAIL_AT("`%s` did not finish within %d ms (stdout: %s; stderr: %s)", r->cmd, timeout_ms,
                  r->out, r->err);
}

/* The same with argv copied (execv takes char *const[]). */
static void run_copy(run_t *r, const char *const *args, const char *input, int timeout_ms) {
    char *argv[40];
    int n = 0;
    for (; args[n] && n < 39; n++)
        argv[n] = strdup(args[n]);
    argv[n] = NULL;
    run_argv(r, argv, input, timeout_ms);
    free_argv(argv);
}

static const char *const valgrind_argv[] = {
    "/usr/bin/valgrind",   "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
    "--error-exitcode=99", NULL};

static void run_sisp(run_t *r, const char *input, const char *const *pre, const char *home,
                     const char *const *args) {
    char *argv[40];
    build_argv(argv, 40, pre, home, args);
    run_argv(r, argv, input, pre ? VALGRIND_MS : RUN_MS);
    free_argv(argv);
}

/* `sisp --home HOME args...`, with a script on stdin, or under valgrind. */
#define SISP(r, home, ...) run_sisp(r, NULL, NULL, home, (const char *const[]){__VA_ARGS__, NULL})
#define SISP_IN(r, input, home, ...)                                                               \
    run_sisp(r, input, NULL, home, (const char *const[]){__VA_ARGS__, NULL})
#define SISP_VG(r, home, ...)                                                                      \
    run_sisp(r, NULL, valgrind_argv, home, (const char *const[]){__VA_ARGS__, NULL})

/* ---- checks on a finished command ---- */

#define CHECK_OK(r)                                                                                \
    do {                                                                                           \
        t_checks++;                                                                                \
        if ((r)->status != 0)                                                                      \
            T_FAIL_AT("`%s` exited %d\n  stdout: %s\n  stderr: %s", (r)->cmd, (r)->status,         \
                      (r)->out, (r)->err);                                                         \
    } while (0)

#define CHECK_HAS(text, needle)                                                                    \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (strstr((text), (needle)) == NULL)                                                      \
            T_FAIL_AT("%s lacks \"%s\":\n%s", #text, (needle), (text));                            \
    } while (0)

/* Why r is not a clean failure: exit 1 and stderr's last line `sisp: ...` containing needle;
 * with one_line, nothing else on stderr. NULL if it is. */
static const char *bad_failure(const run_t *r, const char *needle, int one_line) {
    size_t n = strlen(r->err);
    if (r->status != 1)
        return "exit status is not 1";
    if (n == 0 || r->err[n - 1] != '\n')
        return "stderr does not end with a line";
    const char *last = r->err + n - 1;
    while (last > r->err && last[-1] != '\n')
        last--;
    if (strncmp(last, "sisp: ", 6) != 0)
        return "stderr's last line does not start with \"sisp: \"";
    if (strstr(last, needle) == NULL)
        return "stderr's last line does not say what was expected";
    if (one_line && last != r->err)
        return "stderr holds more than one line";
    return NULL;
}

#define CHECK_FAILS(r, needle, one_line)                                                           \
    do {                                                                                           \
        const char *why_ = bad_failure((r), (needle), (one_line));                                 \
        t_checks++;                                                                                \
        if (why_ != NULL)                                                                          \
            T_FAIL_AT("`%s`: %s (expected \"%s\"; exit %d)\n  stdout: %s\n  stderr: %s", (r)->cmd, \
                      why_, (needle), (r)->status, (r)->out, (r)->err);                            \
    } while (0)

/* "... key fingerprint SHA256:<hex>" from REGISTER's output. */
static void grab_fp(const run_t *r, char out[72]) {
    const char *p = strstr(r->out, "key fingerprint ");
    snprintf(out, 72, "%.71s", p ? p + 16 : "?");
}

/* N and S of "posted NAME to GROUP (seq N, S bytes sealed)"; 0 if absent. */
static uint64_t posted(const run_t *r, const char *name, uint64_t *size) {
    char head[128];
    unsigned long long seq = 0, sz = 0;
    snprintf(head, sizeof head, "posted %s to ", name);
    const char *p = strstr(r->out, head), *q = p ? strstr(p, "(seq ") : NULL;
    if (q == NULL || sscanf(q, "(seq %llu, %llu bytes sealed)", &seq, &sz) != 2)
        return 0;
    if (size)
        *size = sz;
    return seq;
}

/* ---- a command in the background (WATCH) ---- */

typedef struct {
    pid_t pid;
    sink_t s[2];
    char out[1 << 16];
    char err[1 << 14];
} bg_t;

/* `sisp --home home args...` with `input` (or nothing) on its stdin. */
static int bg_start_args(bg_t *b, const char *home, const char *const *args, const char *input) {
    char *argv[16];
    const char *cmd = args[0];
    int in[2] = {-1, -1};
    build_argv(argv, 16, NULL, home, args);
    if (input != NULL && pipe(in) == 0)
        fcntl(in[1], F_SETFD, FD_CLOEXEC);
    b->out[0] = b->err[0] = '\0';
    b->s[0] = (sink_t){-1, b->out, sizeof b->out, 0};
    b->s[1] = (sink_t){-1, b->err, sizeof b->err, 0};
    b->pid = spawn(argv, in[0], &b->s[0].fd, &b->s[1].fd);
    free_argv(argv);
    if (in[0] >= 0) {
        close(in[0]);
        if (write(in[1], input, strlen(input)) != (ssize_t)strlen(input)) /* fits the pipe */
            T_FAIL_AT("cannot feed stdin of `%s`", cmd);
        close(in[1]);
    }
    return b->pid > 0 ? 0 : -1;
}

static int bg_start(bg_t *b, const char *home, const char *cmd, const char *input) {
    const char *args[] = {cmd, NULL};
    return bg_start_args(b, home, args, input);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Reads stdout until it holds n lines or timeout_ms passed. Returns the number of lines. */
static int bg_lines(bg_t *b, int n, int timeout_ms) {
    int64_t end = t_now_ms() + timeout_ms;
    while (count_lines(b->out) < n && t_now_ms() < end && b->s[0].fd >= 0)
        pump(b->s, 2, 50);
    return count_lines(b->out);
}

/* Reads stdout until it holds needle or timeout_ms passed. 1 if it does. */
static int bg_wait_for(bg_t *b, const char *needle, int timeout_ms) {
    int64_t end = t_now_ms() + timeout_ms;
    while (strstr(b->out, needle) == NULL && t_now_ms() < end && b->s[0].fd >= 0)
        pump(b->s, 2, 50);
    return strstr(b->out, needle) != NULL;
}

/* Its exit status (-1 if it did not exit within timeout_ms), and the rest of its output. */
static int bg_wait(bg_t *b, int timeout_ms) {
    if (b->pid <= 0)
        return -1;
    int st = reap(b->pid, timeout_ms);
    b->pid = 0;
    while (!pump(b->s, 2, 100)) {
    }
    return st;
}

/* SIGTERM, then the exit status (-1 if it did not exit within 10 s). */
static int bg_stop(bg_t *b) {
    if (b->pid > 0)
        kill(b->pid, SIGTERM);
    return bg_wait(b, 10000);
}

static bg_t watch;

/* ---- the server's disk ---- */

static sqlite3 *open_db(void) {
    char path[300];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/sisp.db", srv.dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        T_FAIL_AT("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    return db;
}

typedef struct {
    uint8_t manifest[4096], sig[128];
    size_t manifest_len, sig_len;
    char blob_path[400];
} stored_t;

/* The stored row of image `name`: manifest, signature and where its blob file is. */
static int stored_image(sqlite3 *db, const char *name, stored_t *out) {
    sqlite3_stmt *s = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(db, "SELECT manifest, sig, blob FROM images WHERE name = ?1", -1, &s,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        size_t ml = (size_t)sqlite3_column_bytes(s, 0), sl = (size_t)sqlite3_column_bytes(s, 1);
        if (ml <= sizeof out->manifest && sl <= sizeof out->sig) {
            memcpy(out->manifest, sqlite3_column_blob(s, 0), ml);
            memcpy(out->sig, sqlite3_column_blob(s, 1), sl);
            out->manifest_len = ml;
            out->sig_len = sl;
            snprintf(out->blob_path, sizeof out->blob_path, "%s/blobs/%s", srv.dir,
                     (const char *)sqlite3_column_text(s, 2));
            rc = 0;
        }
    }
    sqlite3_finalize(s);
    if (rc != 0)
        T_FAIL_AT("no stored image %s: %s", name, sqlite3_errmsg(db));
    return rc;
}

static int set_manifest(sqlite3 *db, const char *name, const uint8_t *m, size_t n) {
    sqlite3_stmt *s = NULL;
    int ok = sqlite3_prepare_v2(db, "UPDATE images SET manifest = ?1 WHERE name = ?2", -1, &s,
                                NULL) == SQLITE_OK &&
             sqlite3_bind_blob(s, 1, m, (int)n, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(db) == 1;
    sqlite3_finalize(s);
    return ok ? 0 : -1;
}

/* A user's keys and certificate as the client stored them in its home, for the tclient. */
static int load_user(const char *home, const char *name, tc_user_t *u) {
    char path[300];
    sisp_key_pair_t kp;
    int prot = 0;
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", name);
    snprintf(path, sizeof path, "%s/identity.key", home);
    int rc = sisp_keystore_load(path, SISP_KEYFILE_IDENT, NULL, &kp, &prot);
    if (rc == 0)
        rc = sisp_ident_from_seed(kp.secret, &u->id);
    snprintf(path, sizeof path, "%s/x25519.key", home);
    if (rc == 0)
        rc = sisp_keystore_load(path, SISP_KEYFILE_X25519, NULL, &kp, &prot);
    if (rc == 0)
        rc = sisp_x25519_from_private(kp.secret, &u->x);
    sisp_wipe(&kp, sizeof kp);
    snprintf(path, sizeof path, "%s/cert.der", home);
    size_t n = 0;
    uint8_t *cert = rc == 0 ? slurp(path, &n) : NULL;
    if (cert != NULL && n <= sizeof u->cert) {
        memcpy(u->cert, cert, n);
        u->cert_len = n;
    } else {
        rc = rc ? rc : SISP_EIO;
    }
    free(cert);
    if (rc != 0)
        T_FAIL_AT("cannot load %s's keys from %s: %s", name, home, sisp_err_name(rc));
    return rc;
}

/* ---- 1. the seed flow ---- */

static run_t res; /* the last command's result */

static void test_seed_flow(void) {
    printf("1. seed flow: TOFU pin, --fingerprint, admission, WATCH, POST_IMAGE (PNG, JPEG), "
           "DOWNLOAD, LIST\n");
    const char *wrong = "SHA256:00000000000000000000000000000000"
                        "00000000000000000000000000000000";
    SISP(&res, at("alice"), "--server", addr, "--fingerprint", wrong, "register", "alice");
    CHECK_FAILS(&res, "nothing was sent", 1);
    CHECK(access(at("alice/ca.der"), F_OK) != 0);
    CHECK(access(at("alice/identity.key"), F_OK) != 0);
    CHECK(access(at("alice/cert.der"), F_OK) != 0);

    SISP(&res, at("alice"), "--server", addr, "REGISTER", "alice");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "registered alice");
    CHECK_HAS(res.err, srv.fingerprint); /* "first contact ...: pinned its CA <fp>" */
    grab_fp(&res, fp_alice);
    CHECK(pins_srv(at("alice/ca.der")));
    size_t n = 0;
    struct stat st;
    CHECK(stat(at("alice/identity.key"), &st) == 0 && (st.st_mode & 077) == 0);

    SISP(&res, at("alice"), "--fingerprint", srv.fingerprint, "whoami");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "alice on ");
    CHECK_HAS(res.out, fp_alice);
    SISP(&res, at("alice"), "--fingerprint", wrong, "whoami");
    CHECK_FAILS(&res, "differs from the CA this home pinned", 1);

    /* bob by TOFU, carol with the fingerprint up front: both wait in `all` for a key. */
    SISP(&res, at("bob"), "--server", addr, "register", "bob");
    CHECK_OK(&res);
    grab_fp(&res, fp_bob);
    SISP(&res, at("carol"), "--server", addr, "--fingerprint", srv.fingerprint, "register",
         "carol");
    CHECK_OK(&res);
    CHECK_HAS(res.err, "matches --fingerprint");
    SISP(&res, at("bob"), "group", "list", "all");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "bob (pending");
    SISP(&res, at("bob"), "post_image", "early", at("img.png"));
    CHECK_FAILS(&res, "a member must admit you", 1);

    /* alice's client admits them when it connects. */
    SISP(&res, at("alice"), "whoami");
    CHECK_OK(&res);
    CHECK_HAS(res.err, "admitted bob");
    CHECK_HAS(res.err, "admitted carol");
    SISP(&res, at("bob"), "group", "list", "all");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "bob\n");
    CHECK(strstr(res.out, "pending") == NULL);

    CHECK_INT(bg_start(&watch, at("bob"), "WATCH", NULL), 0);
    uint64_t png_size = 0, jpg_size = 0;
    SISP(&res, at("alice"), "post_image", "sunset", at("img.png"));
    CHECK_OK(&res);
    CHECK(posted(&res, "sunset", &png_size) > 0);
    char want[256];
    snprintf(want, sizeof want, "NEW_IMAGE sunset alice all %" PRIu64 "\n", png_size);
    CHECK_INT(bg_lines(&watch, 1, EVENT_MS), 1);
    CHECK_HAS(watch.out, want);
    CHECK(strcmp(watch.out, want) == 0);
    SISP(&res, at("alice"), "Post_Image", "mountain", at("img.jpg"), "--group", "all");
    CHECK_OK(&res);
    CHECK(posted(&res, "mountain", &jpg_size) > 0);
    size_t len1 = strlen(want);
    snprintf(want, sizeof want, "NEW_IMAGE mountain alice all %" PRIu64 "\n", jpg_size);
    CHECK_INT(bg_lines(&watch, 2, EVENT_MS), 2);
    CHECK(strcmp(watch.out + len1, want) == 0);

    char verified[160];
    snprintf(verified, sizeof verified, "verified: signed by alice (fingerprint %s)\n", fp_alice);
    /* No temporary file ever has a name in dl/: a crash leaves no half-written plaintext. */
    char names[512];
    int nw = names_watch(at("dl"));
    SISP(&res, at("bob"), "download", "sunset", "-o", at("dl/sunset.png"));
    CHECK_OK(&res);
    CHECK_HAS(res.out, verified);
    CHECK(same_file(at("img.png"), at("dl/sunset.png")));
    names_seen(nw, names, sizeof names);
    t_checks++;
    if (strcmp(names, "sunset.png\n") != 0)
        T_FAIL_AT("names that appeared in dl/:\n%s", names);
    /* Replacing the file: the new one has a name of its own only while it is renamed over. */
    nw = names_watch(at("dl"));
    SISP(&res, at("bob"), "download", "sunset", "-o", at("dl/sunset.png"));
    CHECK_OK(&res);
    CHECK(same_file(at("img.png"), at("dl/sunset.png")));
    names_seen(nw, names, sizeof names);
    t_checks++;
    if (strncmp(names, ".sunset.png.sisp-", 17) != 0 || count_lines(names) != 2 ||
        strstr(names, "\nsunset.png\n") == NULL)
        T_FAIL_AT("names that appeared in dl/:\n%s", names);
    CHECK_INT(count_entries(at("dl")), 1);
    SISP(&res, at("bob"), "DOWNLOAD", "mountain", "-o", at("dl/mountain.jpg"));
    CHECK_OK(&res);
    CHECK_HAS(res.out, verified);
    CHECK(same_file(at("img.jpg"), at("dl/mountain.jpg")));
    CHECK_INT(count_entries(at("dl")), 2);

    /* DISPLAY without a display: verified into the home, with the viewer's sidecar. */
    SISP(&res, at("bob"), "display", "sunset");
    CHECK_OK(&res);
    CHECK_HAS(res.out, at("bob/images/any/sunset"));
    CHECK(same_file(at("img.png"), at("bob/images/any/sunset")));
    char *info = (char *)slurp(at("bob/images/any/sunset.info"), &n);
    CHECK(info != NULL);
    if (info != NULL) {
        CHECK_HAS(info, "owner: alice\n");
        CHECK_HAS(info, fp_alice);
        CHECK_HAS(info, "verified: yes\n");
    }
    free(info);

    SISP(&res, at("bob"), "list");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "sunset                   alice        all");
    CHECK_HAS(res.out, "mountain                 alice        all");
}

/* home downloads name of group to out, byte for byte orig, and LIST --group shows it. */
static void fetch_listed(const char *home, const char *name, const char *group, const char *out,
                         const char *orig) {
    SISP(&res, home, "download", name, "--group", group, "-o", out);
    CHECK_OK(&res);
    CHECK(same_file(orig, out));
    SISP(&res, home, "list", "--group", group);
    CHECK_OK(&res);
    CHECK_HAS(res.out, name);
}

/* ---- 2. WATCH sees every event, and catches up after a gap ---- */

/* POST_IMAGE lines for PREFIX<first..first+n) of tiny.png, then QUIT: a script for alice's
 * shell (one connection for all). */
static const char *post_script(const char *prefix, int first, int n) {
    static char script[8192];
    size_t k = 0;
    const char *png = at("tiny.png");
    for (int i = first; i < first + n; i++)
        k += (size_t)snprintf(script + k, sizeof script - k, "post_image %s%02d %s\n", prefix, i,
                              png);
    snprintf(script + k, sizeof script - k, "quit\n");
    return script;
}

/* Checks the script's output says each was posted, in order, and appends the NEW_IMAGE lines
 * they must give to want. The last seq. */
static uint64_t expect_posts(const char *out, const char *prefix, int first, int n, char *want,
                             size_t want_cap) {
    size_t w = strlen(want);
    uint64_t seq = 0, size = 0;
    static run_t parsed;
    snprintf(parsed.out, sizeof parsed.out, "%s", out);
    for (int i = first; i < first + n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%02d", prefix, i);
        uint64_t s = posted(&parsed, name, &size);
        CHECK(s > seq);
        seq = s;
        w += (size_t)snprintf(want + w, want_cap - w, "NEW_IMAGE %s alice all %" PRIu64 "\n", name,
                              size);
    }
    return seq;
}

static uint64_t post_many(const char *prefix, int first, int n, char *want, size_t want_cap) {
    SISP_IN(&res, post_script(prefix, first, n), at("alice"), "shell");
    CHECK_OK(&res);
    return expect_posts(res.out, prefix, first, n, want, want_cap);
}

static bg_t poster;

/* After a pause (nothing more may come), WATCH's whole output must be want; then SIGTERM,
 * which it must answer with exit status 0. */
static void stop_watch(const char *want) {
    t_sleep_ms(300);
    pump(watch.s, 2, 0);
    CHECK(strcmp(watch.out, want) == 0);
    if (strcmp(watch.out, want) != 0)
        fprintf(stderr, "  got:\n%s  want:\n%s", watch.out, want);
    CHECK_INT(bg_stop(&watch), 0);
}

static void test_watch(void) {
    printf("2. WATCH: %d posts -> %d lines in order; %d posted while it is down and %d while it "
           "restarts -> each once, in order\n",
           N_WATCH, N_WATCH, N_MISSED, N_OVERLAP);
    static char want[8192];
    int base = count_lines(watch.out);
    snprintf(want, sizeof want, "%.*s", (int)(sizeof want - 1), watch.out);
    uint64_t seq = post_many("w", 0, N_WATCH, want, sizeof want);
    CHECK_INT(bg_lines(&watch, base + N_WATCH, EVENT_MS), base + N_WATCH);
    /* The last seq shown is saved while WATCH runs (once a burst is handled), not only when
     * it stops: a WATCH killed now would not show these events again. */
    char state[64];
    snprintf(state, sizeof state, "seq %" PRIu64 "\n", seq);
    int saved_live = 0;
    for (int64_t end = t_now_ms() + EVENT_MS; !saved_live && t_now_ms() < end;) {
        size_t n = 0;
        char *saved = (char *)slurp(at("bob/state"), &n);
        saved_live = saved != NULL && strcmp(saved, state) == 0;
        free(saved);
        if (!saved_live)
            usleep(10000);
    }
    CHECK(saved_live);
    stop_watch(want);
    size_t n = 0;
    char *saved = (char *)slurp(at("bob/state"), &n);
    CHECK(saved != NULL && strcmp(saved, state) == 0);
    free(saved);

    want[0] = '\0';
    post_many("m", 0, N_MISSED, want, sizeof want);
    /* Restarted while alice keeps posting: its catch-up and the live events overlap. */
    CHECK_INT(bg_start(&poster, at("alice"), "shell", post_script("m", N_MISSED, N_OVERLAP)), 0);
    char last[32];
    snprintf(last, sizeof last, "posted m%02d ", N_MISSED + N_OVERLAP - 1);
    CHECK(bg_wait_for(&poster, "posted m", EVENT_MS));
    CHECK_INT(bg_start(&watch, at("bob"), "watch", NULL), 0);
    CHECK(bg_wait_for(&poster, last, EVENT_MS));
    CHECK_INT(bg_wait(&poster, RUN_MS), 0);
    expect_posts(poster.out, "m", N_MISSED, N_OVERLAP, want, sizeof want);
    int all = N_MISSED + N_OVERLAP;
    CHECK_INT(bg_lines(&watch, all, EVENT_MS), all);
    post_many("m", all, 1, want, sizeof want); /* and live again */
    CHECK_INT(bg_lines(&watch, all + 1, EVENT_MS), all + 1);
    /* sispd restarts on the same data and port: WATCH reconnects and sees the next post. */
    int port = srv.port;
    const char *listen[] = {"--listen", addr, NULL};
    CHECK_INT(ts_stop(&srv), 0);
    CHECK_INT(ts_start(&srv, sispd_bin, listen), 0);
    CHECK_INT(srv.port, port);
    post_many("m", all + 1, 1, want, sizeof want);
    CHECK_INT(bg_lines(&watch, all + 2, EVENT_MS), all + 2);
    CHECK_HAS(watch.err, "reconnecting");
    stop_watch(want);
    CHECK(strstr(watch.err, "sisp:") == NULL);
}

/* Reads WATCH's output until its stderr holds needle or timeout_ms passed. 1 if it does. */
static int bg_err_wait_for(bg_t *b, const char *needle, int timeout_ms) {
    int64_t end = t_now_ms() + timeout_ms;
    while (strstr(b->err, needle) == NULL && t_now_ms() < end && b->s[1].fd >= 0)
        pump(b->s, 2, 50);
    return strstr(b->err, needle) != NULL;
}

static void test_stalled_server(void) {
    printf("2b. sispd stops answering (SIGSTOP): a command gives up after --timeout; WATCH "
           "pings, reconnects once sispd is back, and shows what was posted meanwhile\n");
    static char want[1024];
    want[0] = '\0';
    const char *args[] = {"--timeout", "1", "watch", NULL};
    CHECK_INT(bg_start_args(&watch, at("bob"), args, NULL), 0);
    post_many("z", 0, 1, want, sizeof want);
    CHECK_INT(bg_lines(&watch, 1, EVENT_MS), 1);

    CHECK_INT(kill(srv.pid, SIGSTOP), 0);
    SISP(&res, at("alice"), "--timeout", "1", "list");
    CHECK_FAILS(&res, "timed out", 0);
    SISP(&res, at("alice"), "--timeout", "0", "list");
    CHECK_INT(res.status, 2);
    CHECK_HAS(res.err, "--timeout takes whole seconds");
    /* One quiet second: a PING; a second one unanswered: the connection is given up. */
    CHECK(bg_err_wait_for(&watch, "no answer to PING in 1 s", EVENT_MS));
    CHECK_INT(kill(srv.pid, SIGCONT), 0);

    post_many("z", 1, 1, want, sizeof want);
    CHECK_INT(bg_lines(&watch, 2, 2 * EVENT_MS), 2); /* the backoff may have grown meanwhile */
    CHECK_HAS(watch.err, "reconnecting");
    stop_watch(want);
}

/* ---- 3b. DELETE ---- */

static void test_delete(void) {
    printf("3b. DELETE: only the owner; afterwards not downloadable, not listed, its blob file "
           "gone, the name free again\n");
    SISP(&res, at("alice"), "post_image", "oops", at("tiny.png"));
    CHECK_OK(&res);
    stored_t st;
    sqlite3 *db = open_db();
    CHECK(db != NULL && stored_image(db, "oops", &st) == 0);
    sqlite3_close(db);
    CHECK(access(st.blob_path, F_OK) == 0);
    SISP(&res, at("bob"), "delete", "oops");
    CHECK_FAILS(&res, "only its owner can delete an image", 1);
    SISP(&res, at("alice"), "DELETE", "oops", "--group", "all");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "deleted oops from all");
    CHECK(access(st.blob_path, F_OK) != 0);
    SISP(&res, at("bob"), "download", "oops", "-o", at("t3/oops.png"));
    CHECK_FAILS(&res, "no such image", 1);
    CHECK(access(at("t3/oops.png"), F_OK) != 0);
    SISP(&res, at("bob"), "list", "--group", "all");
    CHECK_OK(&res);
    CHECK(strstr(res.out, "oops") == NULL);
    SISP(&res, at("alice"), "delete", "oops");
    CHECK_FAILS(&res, "there is no image oops in group all", 1);
    SISP(&res, at("alice"), "delete", "../oops");
    CHECK_FAILS(&res, "'../oops'", 1);
    SISP(&res, at("alice"), "post_image", "oops", at("tiny.png"));
    CHECK_OK(&res);
    CHECK(posted(&res, "oops", NULL) > 0);
}

/* ---- 3. tampering on the server's disk ---- */

static void test_tamper(void) {
    printf("3. tampering: a flipped blob byte and a changed manifest in SQLite are refused, "
           "nothing written\n");
    SISP(&res, at("alice"), "post_image", "tamper1", at("img.png"));
    CHECK_OK(&res);
    SISP(&res, at("alice"), "post_image", "tamper2", at("img.png"));
    CHECK_OK(&res);
    sqlite3 *db = open_db();
    static stored_t img;
    if (db == NULL || stored_image(db, "tamper1", &img) != 0) {
        sqlite3_close(db);
        return;
    }
    /* One byte in the middle of the stored ciphertext. */
    int fd = open(img.blob_path, O_RDWR);
    struct stat st;
    uint8_t b = 0;
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 1000);
    off_t mid = fd >= 0 ? st.st_size / 2 : 0;
    CHECK(pread(fd, &b, 1, mid) == 1);
    b ^= 0x01;
    CHECK(pwrite(fd, &b, 1, mid) == 1);
    close(fd);
    SISP(&res, at("bob"), "download", "tamper1", "-o", at("t3/tamper1.png"));
    CHECK_FAILS(&res, "tampered", 1);
    CHECK_INT(count_entries(at("t3")), 0);

    /* The manifest: its last byte (inside the signed ciphertext hash). */
    if (stored_image(db, "tamper2", &img) == 0) {
        img.manifest[img.manifest_len - 1] ^= 0x80;
        CHECK_INT(set_manifest(db, "tamper2", img.manifest, img.manifest_len), 0);
    }
    sqlite3_close(db);
    SISP(&res, at("bob"), "download", "tamper2", "-o", at("t3/tamper2.png"));
    CHECK_FAILS(&res, "bad signature", 1);
    CHECK_INT(count_entries(at("t3")), 0);
    /* The same destination takes an intact image. */
    SISP(&res, at("bob"), "download", "sunset", "-o", at("t3/tamper2.png"));
    CHECK_OK(&res);
    CHECK_INT(count_entries(at("t3")), 1);
}

/* ---- the server is blind: no plaintext and no secret key anywhere in its data dir ---- */

typedef struct {
    uint8_t bytes[32];
    const char *what;
    int found;      /* in how many files */
    char where[64]; /* the first of them, below the data dir */
} needle_t;

#define NEEDLES_MAX 160
static needle_t needles[NEEDLES_MAX];
static size_t n_needles, files_scanned;

static void needle(const void *p, size_t n, const char *what) {
    if (n_needles < NEEDLES_MAX && n >= sizeof needles[0].bytes) {
        memcpy(needles[n_needles].bytes, p, sizeof needles[0].bytes);
        needles[n_needles].what = what;
        needles[n_needles++].found = 0;
    }
}

/* 32-byte windows of the file at `path`, spread evenly over it, the first and the last among
 * them: a grainy PNG or a JPEG has no 32-byte run in common with anything else the server
 * keeps unless the plaintext itself is there. */
static void needles_of_file(const char *path, int windows, const char *what) {
    size_t n = 0;
    uint8_t *p = slurp(path, &n);
    CHECK(p != NULL && n >= 64);
    for (int i = 0; p != NULL && n >= 64 && i < windows; i++)
        needle(p + (n - 32) * (size_t)i / (size_t)(windows - 1), 32, what);
    free(p);
}

/* Every regular file under dir, recursively, against every needle. */
static void scan_tree(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char path[512];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            scan_tree(path);
            continue;
        }
        size_t n = 0;
        uint8_t *p = S_ISREG(st.st_mode) ? slurp(path, &n) : NULL;
        if (p == NULL)
            continue;
        files_scanned++;
        for (size_t i = 0; i < n_needles; i++) {
            if (memmem(p, n, needles[i].bytes, sizeof needles[i].bytes) != NULL &&
                needles[i].found++ == 0)
                snprintf(needles[i].where, sizeof needles[i].where, "%s", path + strlen(srv.dir));
        }
        free(p);
    }
    if (d != NULL)
        closedir(d);
}

/* After posts to `all` and `fam`, with the server still running (its WAL unmerged): the data
 * dir holds none of the images' bytes, no epoch key and no user's private key, while the
 * controls (a stored blob's ciphertext, a manifest, alice's identity public key) are found,
 * so the scan does read the blobs and the database. */
static void check_server_blind(const uint8_t epoch_key[32], const tc_user_t *const *users,
                               int n_users) {
    static stored_t img;
    sqlite3 *db = open_db();
    int have = db != NULL && stored_image(db, "fam1", &img) == 0;
    sqlite3_close(db);
    if (!have)
        return;
    size_t blob_len = 0;
    uint8_t *blob = slurp(img.blob_path, &blob_len);
    CHECK(blob != NULL && blob_len > 4096);
    if (blob == NULL || blob_len <= 4096) {
        free(blob);
        return;
    }
    n_needles = 0;
    files_scanned = 0;
    needle(blob + blob_len / 2, 32, "control: fam1's ciphertext");
    needle(img.manifest + img.manifest_len - 32, 32, "control: fam1's manifest");
    needle(users[0]->id.pub, 32, "control: alice's identity public key");
    size_t controls = n_needles;
    needles_of_file(at("img.png"), 64, "a window of img.png");
    needles_of_file(at("img.jpg"), 16, "a window of img.jpg");
    needle(epoch_key, 32, "fam's epoch-1 key");
    for (int i = 0; i < n_users; i++) {
        needle(users[i]->id.seed, 32, "an identity key seed");
        needle(users[i]->x.priv, 32, "an X25519 private key");
    }
    free(blob);
    CHECK_INT(n_needles, controls + 64 + 16 + 1 + 2 * (size_t)n_users);
    scan_tree(srv.dir);
    CHECK(files_scanned >= 3); /* the database, its WAL, the blobs */
    for (size_t i = 0; i < n_needles; i++) {
        if (i < controls && needles[i].found == 0)
            T_FAIL_AT("%s was not found in %s: the scan reads nothing", needles[i].what, srv.dir);
        if (i >= controls && needles[i].found != 0)
            T_FAIL_AT("%s (needle %zu) is in %d file(s) of %s, first %s", needles[i].what, i,
                      needles[i].found, srv.dir, needles[i].where);
    }
}

/* ---- 4. groups ---- */

/* carol's grant of fam for epoch, over her own connection: 0 and the key, 1 if the server
 * holds none for her, -1 on a transport failure. */
static int fetch_epoch_key(tclient_t *tc, const tc_user_t *u, uint32_t epoch, uint8_t key[32]) {
    sisp_key_fetch_t q = {sisp_slice_str("fam"), 0};
    const sisp_packet_t *rep;
    if (tc_request(tc, SISP_T_KEY_FETCH, &q, &rep) != 0)
        return -1;
    if (rep->type != SISP_T_KEY_RESULT)
        return 1;
    for (uint32_t i = 0; i < rep->u.key_result.n_grants; i++) {
        const sisp_grant_t *g = &rep->u.key_result.grants[i];
        if (g->epoch == epoch)
            return sisp_epoch_unwrap(&u->x, g->wrapped.ptr, g->wrapped.len, sisp_slice_str("fam"),
                                     epoch, sisp_slice_str(u->name), key) == 0
                       ? 0
                       : -1;
    }
    return 1;
}

/* Opens the stored image `name` of fam with epoch key `key`: 0 if it decrypts and verifies,
 * else the first error. *epoch gets the manifest's epoch. */
static int open_stored(const char *name, const uint8_t owner_pub[32], const uint8_t key[32],
                       uint32_t *epoch) {
    static stored_t img;
    sqlite3 *db = open_db();
    int rc = db && stored_image(db, name, &img) == 0 ? 0 : SISP_EIO;
    sqlite3_close(db);
    if (rc != 0)
        return rc;
    size_t n = 0;
    uint8_t *cipher = slurp(img.blob_path, &n);
    sisp_open_t o;
    sisp_expect_t ex = {sisp_slice_str("alice"), sisp_slice_str(name), sisp_slice_str("fam")};
    sisp_buf_t plain;
    sisp_buf_init(&plain, 0);
    memset(&o, 0, sizeof o);
    rc = cipher ? sisp_open_init(&o, img.manifest, img.manifest_len, img.sig, img.sig_len,
                                 owner_pub, &ex)
                : SISP_EIO;
    *epoch = rc == 0 ? o.m.epoch : 0;
    if (rc == 0)
        rc = sisp_open_key(&o, key);
    if (rc == 0)
        rc = sisp_open_update(&o, cipher, n, &plain);
    if (rc == 0)
        rc = sisp_open_final(&o);
    sisp_open_free(&o);
    sisp_buf_free(&plain);
    free(cipher);
    return rc;
}

static void test_groups(void) {
    printf("4. groups: CREATE, ADD, posts for members; REMOVE carol -> no new epoch for her, "
           "bob still reads\n");
    SISP(&res, at("alice"), "group", "create", "fam");
    CHECK_OK(&res);
    SISP(&res, at("alice"), "group", "add", "fam", "bob");
    CHECK_OK(&res);
    CHECK_HAS(res.out, fp_bob);
    SISP(&res, at("alice"), "GROUP", "ADD", "fam", "carol");
    CHECK_OK(&res);
    SISP(&res, at("alice"), "group", "list", "fam");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "alice\n");
    CHECK_HAS(res.out, "bob\n");
    CHECK_HAS(res.out, "carol\n");
    SISP(&res, at("alice"), "post_image", "fam1", at("img.png"), "--group", "fam");
    CHECK_OK(&res);
    const char *who[] = {"alice", "bob", "carol"};
    for (int i = 0; i < 3; i++) {
        char out[64];
        snprintf(out, sizeof out, "t4/%s-fam1.png", who[i]);
        SISP(&res, at(who[i]), "download", "fam1", "--group", "fam", "-o", at(out));
        CHECK_OK(&res);
        CHECK(same_file(at("img.png"), at(out)));
    }

    /* What carol could keep: her key of epoch 1, fetched while she was a member. */
    static tc_user_t carol, alice;
    uint8_t key1[32], key2[32];
    uint32_t epoch = 0;
    int err = 0;
    if (load_user(at("carol"), "carol", &carol) != 0 || load_user(at("alice"), "alice", &alice))
        return;
    tclient_t *tc = tc_connect(srv.port, srv.ca, srv.ca_len, &carol, &err);
    CHECK(tc != NULL);
    if (tc == NULL)
        return;
    CHECK_INT(fetch_epoch_key(tc, &carol, 1, key1), 0);
    CHECK_ERR(open_stored("fam1", alice.id.pub, key1, &epoch), SISP_OK);
    CHECK_INT(epoch, 1);

    SISP(&res, at("alice"), "group", "remove", "fam", "carol");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "epoch 2");
    SISP(&res, at("alice"), "post_image", "fam2", at("img.jpg"), "--group", "fam");
    CHECK_OK(&res);
    SISP(&res, at("carol"), "download", "fam2", "--group", "fam", "-o", at("t4/carol-fam2.jpg"));
    CHECK_FAILS(&res, "not a member", 0);
    CHECK(access(at("t4/carol-fam2.jpg"), F_OK) != 0);
    SISP(&res, at("carol"), "list", "--group", "fam");
    CHECK_FAILS(&res, "permission denied", 1);
    CHECK(strstr(res.err, "denied: permission denied") == NULL); /* said once */
    /* No key of the new epoch for her, and her old key does not open the new post. */
    CHECK_INT(fetch_epoch_key(tc, &carol, 2, key2), 1);
    CHECK_ERR(open_stored("fam2", alice.id.pub, key1, &epoch), SISP_EUNWRAP);
    CHECK_INT(epoch, 2);
    tc_close(tc);
    const tc_user_t *users[] = {&alice, &carol};
    check_server_blind(key1, users, 2);
    sisp_wipe(&carol, sizeof carol);
    sisp_wipe(&alice, sizeof alice);

    fetch_listed(at("bob"), "fam2", "fam", at("t4/bob-fam2.jpg"), at("img.jpg"));
}

/* ---- 4b. keys of a private group come only from users this home knows ---- */

static int put_grant_row(const char *group, const char *user, uint32_t epoch, const char *granter,
                         const tc_grant_bytes_t *gb) {
    sqlite3 *db = open_db();
    sqlite3_stmt *st = NULL;
    int ok =
        db != NULL &&
        sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO grants (grp, user, epoch, granter, "
                           "wrapped, sig) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 3, epoch) == SQLITE_OK &&
        sqlite3_bind_text(st, 4, granter, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_blob(st, 5, gb->wrapped, sizeof gb->wrapped, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_blob(st, 6, gb->sig, sizeof gb->sig, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok ? 0 : -1;
}

static void test_private_keys(void) {
    printf("4b. private groups: a key not signed by its granter's pinned key is ignored, the "
           "others still serve; a member pending in fam is not admitted by bob's WATCH\n");
    static tc_user_t zed, bobu, alice;
    if (load_user(at("bob"), "bob", &bobu) != 0 || load_user(at("alice"), "alice", &alice) != 0)
        return;
    /* A grant on the server's disk said to be alice's but signed by another key: a newer
     * epoch bob must not take, and no reason to lose the keys alice did sign. */
    CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "zed", NULL, &zed), SISP_OK);
    uint8_t fake[32];
    memset(fake, 0x5e, sizeof fake);
    tc_grant_bytes_t gb;
    sisp_grant_t g;
    CHECK_ERR(tc_make_grant(&zed, "bob", bobu.x.pub, "fam", 3, fake, &gb, &g), SISP_OK);
    CHECK_INT(put_grant_row("fam", "bob", 3, "alice", &gb), 0);
    SISP(&res, at("bob"), "post_image", "fam3", at("img.jpg"), "--group", "fam");
    CHECK_OK(&res);
    CHECK_HAS(res.err, "ignored the key of fam epoch 3: it is not signed by alice's pinned key");
    CHECK_HAS(res.out, "posted fam3 to fam");

    /* carol added to fam without keys (as any member, or the server, can): bob's WATCH says
     * so and grants nothing. */
    CHECK_INT(bg_start(&watch, at("bob"), "WATCH", NULL), 0);
    SISP(&res, at("alice"), "post_image", "fam4", at("tiny.png"), "--group", "fam");
    CHECK_OK(&res);
    CHECK(bg_wait_for(&watch, "fam4", EVENT_MS));
    int err = 0;
    tclient_t *tc = tc_connect(srv.port, srv.ca, srv.ca_len, &alice, &err);
    CHECK(tc != NULL);
    if (tc != NULL) {
        static sisp_group_add_t ga;
        const sisp_packet_t *r;
        memset(&ga, 0, sizeof ga);
        ga.group = sisp_slice_str("fam");
        ga.user = sisp_slice_str("carol");
        CHECK_INT(tc_request(tc, SISP_T_GROUP_ADD, &ga, &r), 0);
        CHECK_INT(r->type, SISP_T_GROUP_RESULT);
        tc_close(tc);
    }
    for (int64_t end = t_now_ms() + EVENT_MS; t_now_ms() < end;) {
        pump(watch.s, 2, 50);
        if (strstr(watch.err, "carol awaits the keys of group fam") != NULL)
            break;
    }
    CHECK_HAS(watch.err, "carol awaits the keys of group fam: GROUP ADD fam carol grants them");
    t_sleep_ms(300);
    pump(watch.s, 2, 0);
    CHECK(strstr(watch.err, "admitted carol") == NULL);
    CHECK_INT(bg_stop(&watch), 0);
    SISP(&res, at("carol"), "download", "fam4", "--group", "fam", "-o", at("t4/carol-fam4.png"));
    CHECK_FAILS(&res, "no key", 0);
    /* alice takes carol out again (a new epoch, 3, for bob and herself). */
    SISP(&res, at("alice"), "group", "remove", "fam", "carol");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "epoch 3");
    sisp_wipe(&zed, sizeof zed);
    sisp_wipe(&bobu, sizeof bobu);
    sisp_wipe(&alice, sizeof alice);
}

/* ---- 4c. one home, several processes ---- */

/* known_users (and state) are read, changed and written back; two processes on one home
 * (WATCH and a shell) must not drop each other's pins. The home's lock is taken around it:
 * while the test holds it, a process pinning a new user waits, and its pin is kept after. */
static void test_home_lock(void) {
    printf("4c. a process pinning a user waits while alice's home is locked; the pin is kept\n");
    static tc_user_t u;
    static bg_t pinner;
    CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "lockme", NULL, &u), SISP_OK);
    int fd = open(at("alice/.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    CHECK_INT(bg_start(&pinner, at("alice"), "shell", "fingerprint lockme\n"), 0);
    t_sleep_ms(1500); /* it would be done in a fraction of that */
    CHECK(pinner.pid > 0 && waitpid(pinner.pid, NULL, WNOHANG) == 0); /* still waiting */
    size_t n = 0;
    char *known = (char *)slurp(at("alice/known_users"), &n);
    CHECK(known != NULL && strstr(known, "\nlockme ") == NULL);
    free(known);
    if (fd >= 0)
        close(fd); /* the lock goes with it */
    CHECK_INT(bg_wait(&pinner, RUN_MS), 0);
    CHECK_HAS(pinner.out, "lockme SHA256:");
    known = (char *)slurp(at("alice/known_users"), &n);
    CHECK(known != NULL && strstr(known, "\nlockme ") != NULL);
    free(known);
    sisp_wipe(&u, sizeof u);
}

/* ---- 7. a changed user key ---- */

static void test_key_change(void) {
    printf("7. a changed key of bob in alice's known_users: refused with KEY CHANGED until "
           "TRUST\n");
    SISP(&res, at("bob"), "post_image", "bobpic", at("img.jpg"));
    CHECK_OK(&res);
    SISP(&res, at("alice"), "fingerprint", "bob");
    CHECK_OK(&res);
    char line[128];
    snprintf(line, sizeof line, "bob %s\n", fp_bob);
    CHECK(strcmp(res.out, line) == 0);

    /* Replace bob's pinned keys with others. */
    size_t n = 0;
    char *known = (char *)slurp(at("alice/known_users"), &n);
    char *bob = known ? strstr(known, "bob ") : NULL;
    CHECK(bob != NULL && (bob == known || bob[-1] == '\n'));
    if (bob == NULL) {
        free(known);
        return;
    }
    char *eol = strchr(bob, '\n');
    static char edited[8192];
    snprintf(edited, sizeof edited, "%.*sbob %s %s\n%s", (int)(bob - known), known,
             "1111111111111111111111111111111111111111111111111111111111111111",
             "2222222222222222222222222222222222222222222222222222222222222222",
             eol ? eol + 1 : "");
    CHECK_INT(t_write_file(at("alice/known_users"), edited, strlen(edited)), 0);
    free(known);

    SISP(&res, at("alice"), "fingerprint", "bob");
    CHECK_FAILS(&res, "TRUST bob", 0);
    CHECK_HAS(res.err, "KEY CHANGED");
    SISP(&res, at("alice"), "download", "bobpic", "-o", at("t7/bobpic.jpg"));
    CHECK_FAILS(&res, "TRUST bob", 0);
    CHECK_HAS(res.err, "KEY CHANGED");
    CHECK_INT(count_entries(at("t7")), 0);
    SISP(&res, at("alice"), "group", "add", "fam", "bob");
    CHECK_FAILS(&res, "TRUST bob", 0);

    /* With the fingerprint bob read out: a wrong one changes nothing, the right one is taken. */
    const char *other = "SHA256:00000000000000000000000000000000"
                        "00000000000000000000000000000000";
    SISP(&res, at("alice"), "trust", "bob", other);
    CHECK_FAILS(&res, "not the SHA256:0000", 0);
    SISP(&res, at("alice"), "fingerprint", "bob");
    CHECK_FAILS(&res, "TRUST bob", 0);
    SISP(&res, at("alice"), "trust", "bob", fp_bob);
    CHECK_OK(&res);
    CHECK_HAS(res.out, fp_bob);
    SISP(&res, at("alice"), "trust", "bob", other);
    CHECK_FAILS(&res, "check with bob", 0);
    SISP(&res, at("alice"), "fingerprint", "bob");
    CHECK_OK(&res);
    CHECK(strcmp(res.out, line) == 0);
    SISP(&res, at("alice"), "download", "bobpic", "-o", at("t7/bobpic.jpg"));
    CHECK_OK(&res);
    CHECK(same_file(at("img.jpg"), at("t7/bobpic.jpg")));
}

/* ---- 8. the shell ---- */

static char tty[1 << 16];
static size_t tty_len;

/* Reads the terminal until needle appears at or after `from`: its offset, or -1. */
static long tty_wait(int fd, const char *needle, size_t from, int timeout_ms) {
    int64_t end = t_now_ms() + timeout_ms;
    for (;;) {
        if (from <= tty_len) {
            const char *p = memmem(tty + from, tty_len - from, needle, strlen(needle));
            if (p != NULL)
                return (long)(p - tty);
        }
        int left = (int)(end - t_now_ms());
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -1;
        ssize_t k = read(fd, tty + tty_len, sizeof tty - 1 - tty_len);
        if (k <= 0)
            return -1;
        tty_len += (size_t)k;
        tty[tty_len] = '\0';
    }
}

static void type(int fd, const char *s) {
    if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
        T_FAIL_AT("cannot type \"%s\"", s);
}

static void test_shell(void) {
    printf("8. shell: in a pty a notification is printed above the half-typed line, which is "
           "redrawn; scripted on stdin\n");
    char *argv[8];
    build_argv(argv, 8, NULL, at("bob"), NULL);
    int fd = -1;
    struct winsize ws = {24, 200, 0, 0};
    pid_t pid = forkpty(&fd, NULL, NULL, &ws);
    if (pid == 0) {
        setenv("TERM", "xterm", 1);
        execv(argv[0], argv);
        _exit(127);
    }
    free_argv(argv);
    CHECK(pid > 0);
    if (pid < 0)
        return;
    int failures = t_failures;
    tty_len = 0;
    long prompt = tty_wait(fd, "sisp> ", 0, RUN_MS);
    CHECK(prompt >= 0);
    type(fd, "lis");
    long echo = tty_wait(fd, "lis", (size_t)prompt, RUN_MS);
    CHECK(echo >= 0);

    SISP(&res, at("alice"), "post_image", "ptyimg", at("tiny.png"));
    CHECK_OK(&res);
    long event = tty_wait(fd, "NEW_IMAGE ptyimg alice all ", (size_t)echo + 3, EVENT_MS);
    CHECK(event >= 0);
    /* The half-typed line was taken off its row before the event was printed... */
    CHECK(event > 0 && memchr(tty + echo + 3, '\r', (size_t)(event - echo - 3)) != NULL);
    /* ...and is back after it, with the prompt. */
    long redrawn = tty_wait(fd, "sisp> lis", (size_t)event, RUN_MS);
    CHECK(redrawn > event);
    type(fd, "t\r");
    long header = tty_wait(fd, "SEQ  NAME", (size_t)(redrawn > 0 ? redrawn : 0), RUN_MS);
    CHECK(header > redrawn);
    long listed = tty_wait(fd, "ptyimg", (size_t)(header > 0 ? header : 0), RUN_MS);
    CHECK(listed > header);
    /* bob posts from this shell: POSTED and his own NOTIFY arrive together, and the NOTIFY is
     * printed at once, not when the next command runs. */
    type(fd, "post_image ptyown ");
    type(fd, at("tiny.png"));
    type(fd, "\r");
    long own =
        tty_wait(fd, "NEW_IMAGE ptyown bob all ", (size_t)(listed > 0 ? listed : 0), EVENT_MS);
    CHECK(own > listed);
    type(fd, "quit\r");
    CHECK_INT(reap(pid, RUN_MS), 0);
    close(fd);
    if (t_failures > failures || getenv("SISP_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "the terminal showed (escaped):\n");
        for (size_t i = 0; i < tty_len; i++)
            fprintf(stderr, tty[i] == '\n' || (tty[i] >= ' ' && tty[i] < 127) ? "%c" : "\\x%02x",
                    (unsigned char)tty[i]);
        fputc('\n', stderr);
    }

    /* Not a terminal: the same commands, line by line; any failure makes the exit status 1. */
    const char *const plain[] = {sisp_bin, "--home", at("bob"), NULL};
    run_copy(&res, plain, "whoami\nlist\nquit\nwhoami\n", RUN_MS);
    CHECK_OK(&res);
    CHECK_HAS(res.out, "bob on 127.0.0.1:");
    CHECK_HAS(res.out, "SEQ  NAME");
    CHECK_HAS(res.out, "ptyimg");
    const char *first = strstr(res.out, "bob on ");
    CHECK(first != NULL && strstr(first + 1, "bob on ") == NULL); /* QUIT left */
    run_copy(&res, plain, "WHOAMI\nfrobnicate\n", RUN_MS);
    CHECK_FAILS(&res, "1 command(s) failed", 0);
    CHECK_HAS(res.err, "sisp: unknown command 'frobnicate'");
    /* It prints the notifications it receives, but does not move the seq WATCH resumes from:
     * it has not shown what came before them. */
    size_t n0 = 0, n1 = 0;
    char *before = (char *)slurp(at("bob/state"), &n0);
    char script[600];
    snprintf(script, sizeof script, "post_image scripted %s\nlist\n", at("tiny.png"));
    run_copy(&res, plain, script, RUN_MS);
    CHECK_OK(&res);
    CHECK_HAS(res.out, "NEW_IMAGE scripted bob all");
    char *after = (char *)slurp(at("bob/state"), &n1);
    CHECK(before != NULL && after != NULL && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
}

/* ---- 9. clear errors ---- */

static void test_errors(void) {
    printf("9. errors: non-image, missing file, missing image, taken and invalid names, no "
           "identity\n");
    CHECK_INT(t_write_file(at("notes.txt"), "not an image\n", 13), 0);
    SISP(&res, at("alice"), "post_image", "notes", at("notes.txt"));
    CHECK_FAILS(&res, "not a PNG or JPEG image", 1);
    SISP(&res, at("alice"), "post_image", "ghost", at("no-such-file.png"));
    CHECK_FAILS(&res, "No such file or directory", 1);
    SISP(&res, at("bob"), "download", "no-such-image", "-o", at("t9/x.png"));
    CHECK_FAILS(&res, "no such image", 1);
    CHECK_INT(count_entries(at("t9")), 0);
    SISP(&res, at("bob"), "post_image", "bad/name", at("tiny.png"));
    CHECK_FAILS(&res, "bad/name", 1);

    /* A new home that already pins the CA (so first contact says nothing). */
    CHECK_INT(mkdir(at("eve"), 0700), 0);
    CHECK_INT(t_write_file(at("eve/ca.der"), srv.ca, srv.ca_len), 0);
    SISP(&res, at("eve"), "--server", addr, "register", "alice");
    CHECK_FAILS(&res, "the name alice is taken", 1);
    CHECK(access(at("eve/identity.key"), F_OK) != 0);
    SISP(&res, at("eve"), "--server", addr, "register", "Eve!");
    CHECK_FAILS(&res, "'Eve!'", 1);
    SISP(&res, at("eve"), "--server", addr, "register", "ev");
    CHECK_FAILS(&res, "'ev'", 1);
    const char *cmds[][4] = {{"whoami", NULL, NULL},
                             {"list", NULL, NULL},
                             {"post_image", "x", at("tiny.png")},
                             {"download", "sunset", NULL},
                             {"watch", NULL, NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        run_sisp(&res, NULL, NULL, at("eve"), cmds[i]);
        CHECK_FAILS(&res, "run `sisp register NAME` first", 1);
    }
    SISP(&res, at("eve"), "frobnicate");
    CHECK_FAILS(&res, "unknown command 'frobnicate'", 1);
    SISP(&res, at("eve"), "download");
    CHECK_FAILS(&res, "usage: DOWNLOAD", 1);
}

/* ---- 6. a changed server CA ---- */

static void test_ca_changed(void) {
    printf("6. a copy of alice's home pointed at another sispd: SERVER CA CHANGED, exit 1\n");
    static tserver_t other;
    char cmd[600], addr2[64];
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", at("alice"), at("alice2"));
    CHECK_INT(system(cmd), 0);
    if (ts_start(&other, sispd_bin, NULL) != 0) {
        T_FAIL_AT("the second sispd did not start");
        return;
    }
    snprintf(addr2, sizeof addr2, "127.0.0.1:%d", other.port);
    SISP(&res, at("alice2"), "--server", addr2, "whoami");
    CHECK_FAILS(&res, "SERVER CA CHANGED", 1);
    CHECK_HAS(res.err, other.fingerprint);
    CHECK_HAS(res.err, srv.fingerprint);
    SISP(&res, at("alice2"), "--server", addr2, "list");
    CHECK_FAILS(&res, "SERVER CA CHANGED", 1);
    CHECK_INT(res.out[0], '\0'); /* not even LIST's header */
    CHECK(pins_srv(at("alice2/ca.der")));
    CHECK_INT(ts_stop(&other), 0);
    ts_cleanup(&other);
}

/* ---- 10. valgrind ---- */

#ifdef T_ASAN
#define ASAN_BUILD 1 /* valgrind cannot run ASan binaries */
#else
#define ASAN_BUILD 0
#endif

static void test_valgrind(void) {
    if (ASAN_BUILD) {
        printf("10. valgrind: skipped (AddressSanitizer build)\n");
        return;
    }
    if (access(valgrind_argv[0], X_OK) != 0) {
        printf("10. valgrind: skipped (no %s)\n", valgrind_argv[0]);
        return;
    }
    printf("10. valgrind: REGISTER, POST_IMAGE, DOWNLOAD have no definite leaks or errors\n");
    CHECK_INT(mkdir(at("val"), 0700), 0);
    CHECK_INT(t_write_file(at("val/ca.der"), srv.ca, srv.ca_len), 0);
    SISP_VG(&res, at("val"), "--server", addr, "register", "valerie");
    CHECK_OK(&res);
    SISP(&res, at("alice"), "whoami"); /* admits her to all */
    CHECK_OK(&res);
    SISP_VG(&res, at("val"), "post_image", "vpic", at("img.png"));
    CHECK_OK(&res);
    SISP_VG(&res, at("val"), "download", "vpic", "-o", at("vpic.png"));
    CHECK_OK(&res);
    CHECK(same_file(at("img.png"), at("vpic.png")));
    SISP_VG(&res, at("val"), "download", "no-such-image", "-o", at("vnone.png"));
    CHECK_FAILS(&res, "no such image", 1); /* the error path too (99 on a leak) */
}

/* sispd itself under valgrind (memcheck: uninitialised reads, invalid accesses, leaks at
 * exit), driven by the real client through registration, admission, a live notification,
 * posts to `all` and a private group, downloads, refusals and a clean SIGTERM. */
static void test_valgrind_server(void) {
    if (ASAN_BUILD || access(valgrind_argv[0], X_OK) != 0) {
        printf("10b. sispd under valgrind: skipped (%s)\n",
               ASAN_BUILD ? "AddressSanitizer build" : "no valgrind");
        return;
    }
    printf("10b. sispd under valgrind: register, admit, WATCH, POST_IMAGE, GROUP, DOWNLOAD, "
           "refusals, SIGTERM: exit 0, no memcheck errors, no definite leaks\n");
    static tserver_t vg;
    vg.wrap = valgrind_argv;
    if (ts_start(&vg, sispd_bin, NULL) != 0) {
        T_FAIL_AT("sispd did not start under valgrind");
        return;
    }
    char vaddr[64];
    snprintf(vaddr, sizeof vaddr, "127.0.0.1:%d", vg.port);
    CHECK_INT(mkdir(at("vga"), 0700), 0);
    CHECK_INT(mkdir(at("vgb"), 0700), 0);
    SISP(&res, at("vga"), "--server", vaddr, "--fingerprint", vg.fingerprint, "register", "vana");
    CHECK_OK(&res);
    SISP(&res, at("vgb"), "--server", vaddr, "--fingerprint", vg.fingerprint, "register", "vbob");
    CHECK_OK(&res);
    SISP(&res, at("vga"), "whoami");
    CHECK_OK(&res);
    CHECK_HAS(res.err, "admitted vbob");

    bg_t vw;
    CHECK_INT(bg_start(&vw, at("vgb"), "watch", NULL), 0);
    /* The post reaches it live or, if it connects later, by its catch-up: the same line. */
    SISP(&res, at("vga"), "post_image", "vgpic", at("img.png"));
    CHECK_OK(&res);
    CHECK(bg_wait_for(&vw, "NEW_IMAGE vgpic vana all", EVENT_MS));
    SISP(&res, at("vgb"), "download", "vgpic", "-o", at("vgpic.png"));
    CHECK_OK(&res);
    CHECK(same_file(at("img.png"), at("vgpic.png")));

    char script[512];
    snprintf(script, sizeof script,
             "group create vfam\ngroup add vfam vbob\npost_image vgfam %s --group vfam\nquit\n",
             at("tiny.png"));
    SISP_IN(&res, script, at("vga"), "shell");
    CHECK_OK(&res);
    fetch_listed(at("vgb"), "vgfam", "vfam", at("vgfam.png"), at("tiny.png"));
    SISP(&res, at("vgb"), "download", "no-such-image", "-o", at("vgnone.png"));
    CHECK_FAILS(&res, "no such image", 1);
    SISP(&res, at("vgb"), "post_image", "vgpic", at("img.png"));
    CHECK_FAILS(&res, "vgpic", 0); /* the name is taken in `all` */
    CHECK_INT(bg_stop(&vw), 0);
    CHECK_INT(ts_stop(&vg), 0); /* valgrind's --error-exitcode is 99 */
    ts_cleanup(&vg);
}

/* ---- 11. a group larger than one GROUP_LIST page ---- */

#define CROWD 260 /* more than SISP_MEMBERS_MAX (256) and SISP_GRANTS_MAX (256) */

/* The first column of the first row of sql on dir's database, or -1. */
static long long db_value(const char *dir, const char *sql) {
    char path[300];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long v = -1;
    snprintf(path, sizeof path, "%s/sisp.db", dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_big_group(void) {
    printf("11. %d users: GROUP LIST pages through all of them; GROUP REMOVE from a group of %d "
           "grants the new epoch to every one left (a GROUP_REMOVE, then KEY_GRANT)\n",
           CROWD, CROWD);
    static tserver_t crowd;
    const char *opts[] = {"--register-rate", "1000", NULL};
    if (ts_start(&crowd, sispd_bin, opts) != 0) {
        T_FAIL_AT("the crowd's sispd did not start");
        return;
    }
    char caddr[64];
    snprintf(caddr, sizeof caddr, "127.0.0.1:%d", crowd.port);
    CHECK_INT(mkdir(at("boss"), 0700), 0);
    SISP(&res, at("boss"), "--server", caddr, "--fingerprint", crowd.fingerprint, "register",
         "boss");
    CHECK_OK(&res);
    static tc_user_t u;
    int registered = 0;
    for (int i = 0; i < CROWD; i++) {
        char name[32];
        snprintf(name, sizeof name, "crowd-%03d", i);
        registered += tc_register(crowd.port, crowd.ca, crowd.ca_len, name, NULL, &u) == 0;
    }
    CHECK_INT(registered, CROWD);

    /* Every one of them, once, whatever the page size. */
    SISP(&res, at("boss"), "group", "list", "all");
    CHECK_OK(&res);
    int listed = 0;
    for (const char *p = res.out; (p = strstr(p, "crowd-")) != NULL; p++)
        listed++;
    CHECK_INT(listed, CROWD);
    CHECK_HAS(res.out, "crowd-000");
    CHECK_HAS(res.out, "crowd-259");

    /* boss and CROWD - 1 of them in `big`; one leaves: CROWD - 1 stay, all with the new key. */
    static char script[CROWD * 40 + 64];
    size_t k = (size_t)snprintf(script, sizeof script, "group create big\n");
    for (int i = 0; i < CROWD - 1; i++)
        k += (size_t)snprintf(script + k, sizeof script - k, "group add big crowd-%03d\n", i);
    snprintf(script + k, sizeof script - k, "quit\n");
    SISP_IN(&res, script, at("boss"), "shell");
    CHECK_OK(&res);
    CHECK_INT(db_value(crowd.dir, "SELECT count(*) FROM members WHERE grp = 'big'"), CROWD);
    SISP(&res, at("boss"), "group", "remove", "big", "crowd-100");
    CHECK_OK(&res);
    CHECK_HAS(res.out, "removed crowd-100 from big");
    CHECK_INT(db_value(crowd.dir, "SELECT count(*) FROM members WHERE grp = 'big'"), CROWD - 1);
    CHECK_INT(db_value(crowd.dir, "SELECT count(*) FROM members WHERE grp = 'big' AND pending"), 0);
    CHECK_INT(db_value(crowd.dir, "SELECT count(*) FROM grants WHERE grp = 'big' AND epoch = 2"),
              CROWD - 1);
    CHECK_INT(db_value(crowd.dir, "SELECT count(*) FROM grants WHERE grp = 'big' AND epoch = 2 "
                                  "AND user = 'crowd-100'"),
              0);
    CHECK_INT(ts_stop(&crowd), 0);
    ts_cleanup(&crowd);
}

/* ---- 5. revocation ---- */

static void test_revoke(void) {
    printf("5. `sispd revoke bob` while the server runs: his open WATCH is closed, his next "
           "command fails clearly\n");
    /* bob watches; alice's post shows his WATCH is connected. */
    CHECK_INT(bg_start(&watch, at("bob"), "WATCH", NULL), 0);
    SISP(&res, at("alice"), "post_image", "before-revoke", at("tiny.png"));
    CHECK_OK(&res);
    CHECK(bg_wait_for(&watch, "before-revoke", EVENT_MS));
    run_t admin;
    const char *const argv[] = {sispd_bin, "--data", srv.dir, "revoke", "bob", NULL};
    run_copy(&admin, argv, NULL, RUN_MS);
    CHECK_OK(&admin);
    CHECK_HAS(admin.out, "revoked bob");
    /* The server closes his connection within seconds, and WATCH ends saying why. */
    CHECK_INT(bg_wait(&watch, EVENT_MS), 1);
    CHECK_HAS(watch.err, "revoked");
    SISP(&res, at("bob"), "whoami");
    CHECK_FAILS(&res, "revoked", 1);
    SISP(&res, at("bob"), "list");
    CHECK_FAILS(&res, "revoked", 1);
    /* Others refuse what he signed. */
    SISP(&res, at("alice"), "download", "bobpic", "-o", at("t5/bobpic.jpg"));
    CHECK_FAILS(&res, "revoked", 1);
    CHECK_INT(count_entries(at("t5")), 0);
    /* fam still lists bob; a removal there re-keys for the others and skips him. */
    SISP(&res, at("alice"), "group", "add", "fam", "carol");
    CHECK_OK(&res);
    SISP(&res, at("alice"), "group", "remove", "fam", "carol");
    CHECK_OK(&res);
    CHECK_HAS(res.err, "bob is revoked: no key of the new epoch for them");
    CHECK_HAS(res.out, "epoch 4");
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr,
                "usage: test_client path/to/sispd path/to/sisp path/to/sisp-sample-image\n");
        return 2;
    }
    sispd_bin = argv[1];
    sisp_bin = argv[2];
    sample_bin = argv[3];
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IONBF, 0);
    t_rand_seed_from_env("test_client");
    /* The children see none of the caller's sisp settings or displays. */
    const char *unset[] = {"SISP_HOME", "SISP_SERVER", "SISP_PASSPHRASE",
                           "SISP_VIEW", "DISPLAY",     "WAYLAND_DISPLAY"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
        unsetenv(unset[i]);
    snprintf(root, sizeof root, "/tmp/sisp-tc-XXXXXX");
    if (mkdtemp(root) == NULL || ts_start(&srv, sispd_bin, NULL) != 0) {
        T_FAIL_AT("cannot make %s or start sispd", root);
        return t_done("test_client");
    }
    snprintf(addr, sizeof addr, "127.0.0.1:%d", srv.port);
    const char *dirs[] = {"dl", "t3", "t4", "t5", "t7", "t9"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        CHECK_INT(mkdir(at(dirs[i]), 0700), 0);
    /* The demo's photo generator: a grainy PNG of ~90 KB, so two sealed chunks. */
    const char *const sample[] = {sample_bin, at("img.png"), "300", "250", NULL};
    run_t made;
    run_copy(&made, sample, NULL, 10000);
    CHECK_INT(made.status, 0);
    struct stat img_st;
    CHECK(stat(at("img.png"), &img_st) == 0 && img_st.st_size > 65536);
    CHECK_INT(write_jpeg(at("img.jpg"), 64, 48), 0);
    CHECK_INT(t_write_file(at("tiny.png"), t_png_1x1, sizeof t_png_1x1), 0);

    int64_t t0 = t_now_ms();
    test_seed_flow();
    test_watch();
    test_stalled_server();
    test_tamper();
    test_delete();
    test_groups();
    test_private_keys();
    test_home_lock();
    test_key_change();
    test_shell();
    test_errors();
    test_ca_changed();
    test_valgrind();
    test_valgrind_server();
    test_big_group();
    test_revoke();
    if (watch.pid > 0)
        bg_stop(&watch);
    CHECK_INT(ts_stop(&srv), 0);
    printf("(%.1f s)\n", (double)(t_now_ms() - t0) / 1000.0);

    if (t_failures == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", root);
        ts_cleanup(&srv);
    } else {
        fprintf(stderr, "kept %s and %s for inspection\n", root, srv.dir);
    }
    return t_done("test_client");
}
