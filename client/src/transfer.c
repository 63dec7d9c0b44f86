/* POST_IMAGE, DOWNLOAD and DISPLAY: sealing and opening images as they stream.
 *
 * POST_IMAGE reads the file twice: the manifest (sent first, in POST_BEGIN) covers the SHA-256
 * of the whole ciphertext, so the first pass seals to learn it and the second seals again with
 * the same keys and nonces (identical ciphertext) while sending. Memory stays one chunk,
 * whatever the file size; a file that changes between the passes is caught (the manifests
 * differ) and the upload canceled.
 *
 * DOWNLOAD writes the ciphertext as it arrives to a nameless temporary file next to the
 * destination, while the owner's key and the group key are fetched on the same connection;
 * then it verifies the signature and opens chunk by chunk into a second nameless temporary
 * file, which is linked at the destination only after the last tag and the ciphertext hash
 * verified. On any failure, a crash or a SIGKILL included, nothing is left behind. */
#define _GNU_SOURCE /* O_TMPFILE, renameat2 */
#include "client_internal.h"

#include <sisp/error.h>
#include <sisp/keystore.h>
#include <sisp/seal.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK (64u * 1024u)
#define POST_MAX (4ull * 1024 * 1024 * 1024) /* largest image sent or received */

/* ---- progress ---- */

typedef struct {
    sisp_client_t *c;
    const char *what;
    uint64_t total;
    double last;
    int shown;
} progress_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(progress_t *p, uint64_t done, int final) {
    if (!p->c->progress || p->total == 0)
        return;
    double t = now_s();
    if (!final && t - p->last < 0.1)
        return;
    p->last = t;
    int width = 30, fill = (int)((double)done / (double)p->total * width);
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '=' : ' ';
    bar[width] = '\0';
    fprintf(p->c->msg, "\r%s [%s] %3d%% %.1f/%.1f MiB", p->what, bar,
            (int)((double)done * 100.0 / (double)p->total), (double)done / 1048576.0,
            (double)p->total / 1048576.0);
    if (final)
        fputc('\n', p->c->msg);
    fflush(p->c->msg);
    p->shown = 1;
}

/* ---- POST_IMAGE ---- */

typedef struct {
    int done;
    int err;
    uint64_t seq;
} post_state_t;

static int post_sink(void *arg, const sisp_packet_t *p) {
    post_state_t *s = arg;
    s->done = 1;
    if (p->type == SISP_T_POSTED) {
        s->seq = p->u.posted.seq;
        return 1;
    }
    s->err = p->type == SISP_T_ERROR ? sisp_conn_reply_err(p) : SISP_EPROTO;
    return 1;
}

/* Seals the whole file with fixed keys; with send, streams the ciphertext as DATA frames. */
static int seal_pass(sisp_client_t *c, int fd, const sisp_seal_params_t *sp,
                     const uint8_t epoch_key[SISP_KEY_SIZE], const uint8_t *rnd, uint32_t stream,
                     post_state_t *st, progress_t *pr, sisp_buf_t *manifest) {
    sisp_seal_t s;
    sisp_buf_t cipher;
    uint8_t *buf = malloc(IO_CHUNK);
    uint64_t offset = 0, plain = 0;
    sisp_buf_init(&cipher, 0);
    if (buf == NULL)
        return SISP_ENOMEM;
    int rc = sisp_seal_init_fixed(&s, sp, epoch_key, rnd, rnd + SISP_KEY_SIZE,
                                  rnd + SISP_KEY_SIZE + SISP_NONCE_PREFIX_SIZE);
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0)
        rc = SISP_EIO;
    for (int last = 0; rc == 0 && !last;) {
        size_t n = 0;
        rc = sisp_fd_read_full(fd, buf, IO_CHUNK, &n);
        if (rc != 0)
            break;
        last = n < IO_CHUNK;
        plain += n;
        rc = n ? sisp_seal_update(&s, buf, n, &cipher) : 0;
        if (rc == 0 && last)
            rc = sisp_seal_final(&s, &cipher, manifest);
        /* DATA frames of at most 64 KiB, each at its offset. */
        size_t pos = 0;
        while (rc == 0 && stream != 0 && pos < cipher.len) {
            size_t k = cipher.len - pos < IO_CHUNK ? cipher.len - pos : IO_CHUNK;
            sisp_data_t d = {offset, sisp_slice(cipher.data + pos, k)};
            rc = sisp_conn_send(c->conn, SISP_T_DATA, stream, &d);
            offset += k;
            pos += k;
            /* An early refusal (quota, size) ends the upload at once. */
            while (rc == 0 && sisp_conn_sink_active(c->conn, stream) &&
                   (rc = sisp_conn_pump(c->conn, 0)) == 0) {
            }
            if (rc == 1)
                rc = 0;
            if (rc == 0 && st->done)
                rc = st->err ? st->err : SISP_EPROTO;
        }
        sisp_buf_reset(&cipher);
        if (stream != 0)
            progress(pr, plain, 0);
    }
    sisp_seal_free(&s);
    sisp_buf_free(&cipher);
    free(buf);
    return rc;
}

int sisp_cmd_post(sisp_client_t *c, const char *name, const char *path, const char *group) {
    int rc = sisp__client_image_args(c, name, &group);
    if (rc != 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat stt;
    if (fd < 0)
        return sisp_client_fail(c, SISP_EIO, "cannot read %s: %s", path, strerror(errno));
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
        close(fd);
        return sisp_client_fail(c, SISP_EINVAL, "%s is not a regular file", path);
    }
    if (stt.st_size == 0 || (uint64_t)stt.st_size > POST_MAX) {
        close(fd);
        return sisp_client_fail(c, SISP_ETOOBIG, "%s is %s", path,
                                stt.st_size == 0 ? "empty" : "larger than 4 GiB");
    }
    uint8_t head[16];
    size_t got = 0;
    const char *ctype = NULL;
    if (sisp_fd_read_full(fd, head, sizeof head, &got) != 0 ||
        sisp_sniff_content_type(head, got, &ctype) != 0) {
        close(fd);
        return sisp_client_fail(c, SISP_ECONTENT, "%s is not a PNG or JPEG image", path);
    }

    uint8_t epoch_key[SISP_KEY_SIZE];
    uint8_t rnd[SISP_KEY_SIZE + SISP_NONCE_PREFIX_SIZE + SISP_GCM_NONCE_SIZE];
    uint8_t sig[SISP_SIG_SIZE];
    uint32_t epoch = 0;
    sisp_buf_t m1, m2;
    sisp_rng_t rng;
    post_state_t st = {0, 0, 0};
    progress_t pr = {c, "POST_IMAGE", (uint64_t)stt.st_size, 0, 0};
    sisp_buf_init(&m1, 0);
    sisp_buf_init(&m2, 0);
    rc = sisp__client_epoch_key(c, group, 0, &epoch, epoch_key);
    if (rc == 0 && (rc = sisp_rng_init(&rng)) == 0) {
        rc = sisp_rng_bytes(&rng, rnd, sizeof rnd);
        sisp_rng_free(&rng);
    }
    sisp_seal_params_t sp = {sisp_slice_str(c->user), sisp_slice_str(name),
                             sisp_slice_str(group),   epoch,
                             (uint64_t)time(NULL),    0};
    /* Pass 1: the manifest, then its signature. */
    if (rc == 0 && (rc = seal_pass(c, fd, &sp, epoch_key, rnd, 0, &st, &pr, &m1)) != 0)
        sisp_client_fail(c, rc, "cannot seal %s: %s", path, sisp_strerror(rc));
    if (rc == 0)
        rc = sisp_manifest_sign(&c->id, m1.data, m1.len, sig);
    sisp_manifest_t m;
    if (rc == 0)
        rc = sisp_manifest_decode(m1.data, m1.len, &m);
    /* Pass 2: POST_BEGIN, the same ciphertext as DATA, POST_END, then POSTED. */
    uint32_t stream = 0;
    if (rc == 0) {
        sisp_post_begin_t pb = {sisp_slice_str(name), sisp_slice_str(group), m.cipher_size,
                                sisp_slice(m1.data, m1.len), sisp_slice(sig, sizeof sig)};
        stream = sisp_conn_stream_id(c->conn);
        rc = sisp_conn_sink(c->conn, stream, post_sink, &st);
        if (rc == 0)
            rc = sisp_conn_send(c->conn, SISP_T_POST_BEGIN, stream, &pb);
        if (rc == 0)
            rc = seal_pass(c, fd, &sp, epoch_key, rnd, stream, &st, &pr, &m2);
        if (rc == 0 && (m2.len != m1.len || memcmp(m1.data, m2.data, m1.len) != 0))
            rc = SISP_ECANCELED;
        if (rc == 0) {
            sisp_post_end_t pe = {m.cipher_size};
            rc = sisp_conn_send(c->conn, SISP_T_POST_END, stream, &pe);
        }
        if (rc == 0)
            rc = sisp_conn_wait_stream(c->conn, stream, c->timeout_ms);
        if (rc == 0 && st.err)
            rc = st.err;
        progress(&pr, (uint64_t)stt.st_size, 1);
        if (rc != 0 && sisp_conn_sink_active(c->conn, stream)) {
            sisp_cancel_t cn = {(uint32_t)-SISP_ECANCELED};
            sisp_conn_send(c->conn, SISP_T_CANCEL, stream, &cn);
        }
    }
    sisp_wipe(epoch_key, sizeof epoch_key);
    sisp_wipe(rnd, sizeof rnd);
    close(fd);
    sisp_buf_free(&m1);
    sisp_buf_free(&m2);
    if (rc == 0) {
        fprintf(c->out, "posted %s to %s (seq %" PRIu64 ", %" PRIu64 " bytes sealed)\n", name,
                group, st.seq, m.cipher_size);
        fflush(c->out);
    } else if (rc == SISP_ECANCELED) {
        sisp_client_fail(c, rc, "%s changed while it was being posted; nothing was stored", path);
    } else if (c->why[0] == '\0' || st.err) {
        const char *msg = c->conn ? sisp_conn_server_message(c->conn) : "";
        sisp_client_fail(c, rc, "POST_IMAGE %s: %s%s%s", name, sisp_strerror(rc),
                         msg[0] ? ": " : "", msg);
    }
    return rc;
}

/* ---- DOWNLOAD ---- */

typedef struct {
    int fd; /* ciphertext, unlinked */
    int began, ended, err;
    uint8_t manifest[SISP_MANIFEST_MAX];
    size_t manifest_len;
    uint8_t sig[SISP_SIG_SIZE];
    size_t sig_len;
    char name[SISP_IMAGENAME_MAX + 1];
    char owner[SISP_USERNAME_MAX + 1];
    char group[SISP_GROUPNAME_MAX + 1];
    uint64_t size, seq, received;
    progress_t pr;
} dl_t;

static void cstr(char *out, size_t n, sisp_slice_t s) {
    size_t k = s.len < n - 1 ? s.len : n - 1;
    memcpy(out, s.ptr, k);
    out[k] = '\0';
}

static int dl_sink(void *arg, const sisp_packet_t *p) {
    dl_t *d = arg;
    switch (p->type) {
    case SISP_T_IMAGE_BEGIN: {
        const sisp_image_begin_t *b = &p->u.image_begin;
        if (d->began || b->manifest.len > SISP_MANIFEST_MAX || b->signature.len != SISP_SIG_SIZE ||
            b->offset != 0)
            return d->err = SISP_EPROTO;
        /* The ciphertext goes to disk before the manifest is verified: bound it first. */
        if (b->info.size > POST_MAX)
            return d->err = SISP_ETOOBIG;
        memcpy(d->manifest, b->manifest.ptr, b->manifest.len);
        d->manifest_len = b->manifest.len;
        memcpy(d->sig, b->signature.ptr, b->signature.len);
        d->sig_len = b->signature.len;
        cstr(d->name, sizeof d->name, b->info.name);
        cstr(d->owner, sizeof d->owner, b->info.owner);
        cstr(d->group, sizeof d->group, b->info.group);
        d->size = b->info.size;
        d->seq = b->info.seq;
        d->pr.total = d->size;
        d->began = 1;
        return 0;
    }
    case SISP_T_DATA: {
        const sisp_data_t *x = &p->u.data;
        if (!d->began || x->offset != d->received || x->data.len > d->size - d->received)
            return d->err = SISP_EPROTO;
        if (sisp_fd_write_all(d->fd, x->data.ptr, x->data.len) != 0)
            return d->err = SISP_EIO;
        d->received += x->data.len;
        progress(&d->pr, d->received, 0);
        return 0;
    }
    case SISP_T_IMAGE_END:
        if (!d->began || p->u.image_end.size != d->received || d->received != d->size)
            return d->err = SISP_ETRUNCATED;
        d->ended = 1;
        return 1;
    case SISP_T_ERROR:
        d->err = sisp_conn_reply_err(p);
        return 1;
    default:
        return d->err = SISP_EPROTO;
    }
}

/* A temporary file in dir, on dest's file system. Where the kernel and the file system allow,
 * it has no name at all (O_TMPFILE), so that nothing of it outlives a crash or a SIGKILL: a
 * plaintext file half-written when the process died would be a private photo left next to
 * its destination. path is then "". Otherwise it is .BASE.sisp-XXXXXX, unlinked at once when
 * it will never be published. A file that is to be published (linkable) is unnamed only if it
 * can be given a name later: through /proc/self/fd (see publish). */
static int temp_in(const char *dir, const char *base, int linkable, char *path, size_t n) {
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        if (!linkable || access(self, F_OK) == 0) {
            path[0] = '\0';
            return fd;
        }
        close(fd);
    }
    int w = snprintf(path, n, "%s/.%s.sisp-XXXXXX", dir, base);
    if (w < 0 || (size_t)w >= n)
        return -1;
    fd = mkstemp(path);
    if (fd >= 0 && !linkable) {
        unlink(path);
        path[0] = '\0';
    }
    return fd;
}

/* Gives the finished temp file (fd, named path or unnamed if path is "") the name dest in
 * dir: atomically, and without replacing an existing dest unless overwrite. errno is EEXIST
 * if dest appeared. 0 or -1. */
static int publish(int fd, const char *path, const char *dir, const char *base, const char *dest,
                   int overwrite) {
    if (path[0] != '\0')
        return renameat2(AT_FDCWD, path, AT_FDCWD, dest, overwrite ? 0 : RENAME_NOREPLACE);
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    /* A link never replaces: that is all it takes when dest is not there (yet). */
    if (linkat(AT_FDCWD, self, AT_FDCWD, dest, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    if (errno != EEXIST || !overwrite)
        return -1;
    /* Replacing takes a name of its own first, for as long as the rename lasts. */
    char named[PATH_MAX];
    for (int tries = 0; tries < 16; tries++) {
        uint8_t r[6] = {0};
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            return -1;
        int w = snprintf(named, sizeof named, "%s/.%s.sisp-%02x%02x%02x%02x%02x%02x", dir, base,
                         r[0], r[1], r[2], r[3], r[4], r[5]);
        if (w < 0 || (size_t)w >= sizeof named) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (linkat(AT_FDCWD, self, AT_FDCWD, named, AT_SYMLINK_FOLLOW) == 0) {
            if (rename(named, dest) == 0)
                return 0;
            int e = errno;
            unlink(named);
            errno = e;
            return -1;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* What a download failure means, in words. */
static const char *cause(int rc) {
    switch (rc) {
    case SISP_ETAG:
        return "a chunk failed authentication: the image was tampered with";
    case SISP_EHASH:
        return "the ciphertext does not match its signed hash: the image was tampered with";
    case SISP_ETRUNCATED:
        return "the image ends early";
    case SISP_ESIG:
        return "bad signature: the manifest was not signed by its owner";
    case SISP_ETOOBIG:
        return "the server announced an image larger than 4 GiB";
    case SISP_EMANIFEST:
        return "the server announced another size than the owner signed";
    case SISP_EOWNER:
    case SISP_EMISMATCH:
        return "the signed manifest is for another owner, name or group";
    case SISP_EUNWRAP:
        return "the image key does not open with the group key";
    case SISP_EPERM:
        return "not a member of the image's group";
    case SISP_ENOTFOUND:
        return "no such image";
    default:
        return sisp_strerror(rc);
    }
}

static int write_info(const char *path, const dl_t *d, const char *fp, uint64_t plain) {
    char info[PATH_MAX], text[1024];
    int w = snprintf(info, sizeof info, "%s.info", path);
    if (w < 0 || (size_t)w >= sizeof info)
        return SISP_EINVAL;
    w = snprintf(text, sizeof text,
                 "name: %s\nowner: %s\ngroup: %s\nsigner_fingerprint: %s\nverified: yes\n"
                 "seq: %" PRIu64 "\nsize: %" PRIu64 "\n",
                 d->name, d->owner, d->group, fp, d->seq, plain);
    return sisp_file_write_atomic(info, text, (size_t)w, 0600);
}

int sisp_cmd_download(sisp_client_t *c, const char *name, const char *group, const char *out_path,
                      int overwrite, int info) {
    int rc = sisp__client_need_identity(c);
    if (rc != 0)
        return rc;
    if (sisp_check_imagename(name, strlen(name)) != 0)
        return sisp_client_fail(c, SISP_EIMAGENAME, "'%s': %s", name,
                                sisp_strerror(SISP_EIMAGENAME));
    if (group != NULL && sisp_check_groupname(group, strlen(group)) != 0)
        return sisp_client_fail(c, SISP_EGROUPNAME, "'%s': %s", group,
                                sisp_strerror(SISP_EGROUPNAME));
    const char *dest = out_path ? out_path : name;
    struct stat sb;
    if (!overwrite && lstat(dest, &sb) == 0)
        return sisp_client_fail(c, SISP_EEXIST, "%s exists; choose another path with -o", dest);
    char dcopy[PATH_MAX], bcopy[PATH_MAX];
    snprintf(dcopy, sizeof dcopy, "%s", dest);
    snprintf(bcopy, sizeof bcopy, "%s", dest);
    const char *dir = dirname(dcopy), *base = basename(bcopy);

    rc = sisp_client_connect(c);
    if (rc != 0)
        return rc;
    dl_t *d = calloc(1, sizeof *d);
    char tmp_c[PATH_MAX], tmp_p[PATH_MAX];
    int pfd = -1;
    if (d == NULL)
        return sisp_client_fail(c, SISP_ENOMEM, "out of memory");
    d->pr = (progress_t){c, "DOWNLOAD", 0, 0, 0};
    d->fd = temp_in(dir, base, 0, tmp_c, sizeof tmp_c);
    if (d->fd < 0) {
        free(d);
        return sisp_client_fail(c, SISP_EIO, "cannot write in %s: %s", dir, strerror(errno));
    }
    sisp_download_t q = {sisp_slice_str(name), 0, sisp_slice_str(group), 0};
    uint32_t stream = sisp_conn_stream_id(c->conn);
    rc = sisp_conn_sink(c->conn, stream, dl_sink, d);
    if (rc == 0)
        rc = sisp_conn_send(c->conn, SISP_T_DOWNLOAD, stream, &q);
    while (rc == 0 && !d->began && sisp_conn_sink_active(c->conn, stream)) {
        rc = sisp_conn_pump(c->conn, c->timeout_ms);
        if (rc == 1)
            rc = SISP_ETIMEDOUT;
    }
    if (rc == 0 && d->err)
        rc = d->err;
    if (rc != 0) {
        const char *m = sisp_conn_server_message(c->conn);
        sisp_client_fail(c, rc, "DOWNLOAD %s: %s%s%s", name, cause(rc), m[0] ? ": " : "", m);
        if (sisp_conn_sink_active(c->conn, stream)) { /* e.g. a timeout: d goes away */
            sisp_cancel_t cn = {(uint32_t)-SISP_ECANCELED};
            sisp_conn_send(c->conn, SISP_T_CANCEL, stream, &cn);
        }
        /* The server does not reveal images of groups one is not in: say which it is. */
        if (rc == SISP_ENOTFOUND && group != NULL && sisp__client_in_group(c, group) == 0)
            sisp_client_fail(c, rc, "DOWNLOAD %s: you are not a member of group %s", name, group);
        close(d->fd);
        free(d);
        return rc;
    }

    /* While the ciphertext streams into the temp file: the owner's key and the group key. */
    sisp_known_t owner;
    sisp_open_t o;
    uint8_t key[SISP_KEY_SIZE];
    uint32_t got_epoch = 0;
    int opened = 0;
    char fp[72] = "";
    memset(&o, 0, sizeof o);
    c->why[0] = '\0';
    rc = sisp__client_user(c, d->owner, &owner);
    if (rc == SISP_ENOTFOUND)
        sisp_client_fail(c, rc, "DOWNLOAD %s: unknown key: the server has no user %s", name,
                         d->owner);
    else if (rc == SISP_EREVOKED)
        sisp_client_fail(c, rc, "DOWNLOAD %s: revoked signer: %s's certificate is revoked", name,
                         d->owner);
    if (rc == 0) {
        sisp_expect_t ex = {sisp_slice_str(d->owner), sisp_slice_str(name),
                            sisp_slice_str(d->group)};
        rc = sisp_open_init(&o, d->manifest, d->manifest_len, d->sig, d->sig_len, owner.ed, &ex);
        opened = 1;
        /* From here on the name is the one the owner signed (the manifest matched the name
         * asked for), whatever IMAGE_BEGIN said. */
        if (rc == 0)
            snprintf(d->name, sizeof d->name, "%s", name);
        if (rc == 0 && o.m.cipher_size != d->size)
            rc = SISP_EMANIFEST; /* the server announced another size than the owner signed */
        if (rc != 0)
            sisp_client_fail(c, rc, "DOWNLOAD %s: %s", name, cause(rc));
    }
    if (rc == 0) {
        char mgroup[SISP_GROUPNAME_MAX + 1];
        cstr(mgroup, sizeof mgroup, o.m.group);
        rc = sisp__client_epoch_key(c, mgroup, o.m.epoch, &got_epoch, key);
        if (rc == 0 && (rc = sisp_open_key(&o, key)) != 0)
            sisp_client_fail(c, rc, "DOWNLOAD %s: %s", name, cause(rc));
        sisp_wipe(key, sizeof key);
    }
    if (rc == 0) {
        rc = sisp_conn_wait_stream(c->conn, stream, c->timeout_ms);
        if (rc == 0 && d->err)
            rc = d->err;
        progress(&d->pr, d->received, 1);
        if (rc != 0)
            sisp_client_fail(c, rc, "DOWNLOAD %s: %s", name, cause(rc));
    }
    if (rc != 0 && sisp_conn_sink_active(c->conn, stream)) {
        sisp_cancel_t cn = {(uint32_t)-SISP_ECANCELED};
        sisp_conn_send(c->conn, SISP_T_CANCEL, stream, &cn);
    }

    /* Open chunk by chunk into a second temp file; rename only when everything verified. */
    uint64_t plain_total = 0;
    if (rc == 0) {
        pfd = temp_in(dir, base, 1, tmp_p, sizeof tmp_p);
        if (pfd < 0)
            rc = sisp_client_fail(c, SISP_EIO, "cannot write in %s: %s", dir, strerror(errno));
    }
    if (rc == 0) {
        uint8_t *buf = malloc(IO_CHUNK);
        sisp_buf_t plain;
        sisp_buf_init(&plain, 0);
        rc = buf ? 0 : SISP_ENOMEM;
        if (rc == 0 && lseek(d->fd, 0, SEEK_SET) != 0)
            rc = SISP_EIO;
        for (size_t n = 1; rc == 0 && n > 0;) {
            rc = sisp_fd_read_full(d->fd, buf, IO_CHUNK, &n);
            if (rc == 0 && n > 0)
                rc = sisp_open_update(&o, buf, n, &plain);
            if (rc == 0 && plain.len > 0) {
                rc = sisp_fd_write_all(pfd, plain.data, plain.len);
                plain_total += plain.len;
            }
            sisp_buf_reset(&plain);
        }
        if (rc == 0)
            rc = sisp_open_final(&o);
        if (rc == 0 && fsync(pfd) != 0)
            rc = SISP_EIO;
        sisp_buf_free_secure(&plain);
        free(buf);
        if (rc == 0) {
            sisp_fingerprint(owner.ed, SISP_KEY_SIZE, fp);
            if (info)
                rc = write_info(dest, d, fp, plain_total);
        }
        /* Without -f, a file that appeared at dest meanwhile is not replaced either. */
        if (rc == 0 &&
            (publish(pfd, tmp_p, dir, base, dest, overwrite) != 0 || sisp_fsync_parent(dest) != 0))
            rc = errno == EEXIST ? SISP_EEXIST : SISP_EIO;
        if (rc != 0 && info) {
            char stale[PATH_MAX];
            if (snprintf(stale, sizeof stale, "%s.info", dest) < (int)sizeof stale)
                unlink(stale); /* a sidecar for an image that did not arrive says nothing true */
        }
        if (rc != 0) {
            if (tmp_p[0] != '\0')
                unlink(tmp_p);
            sisp_client_fail(c, rc, "DOWNLOAD %s: %s; nothing was written to %s", name,
                             rc == SISP_EIO      ? strerror(errno)
                             : rc == SISP_EEXIST ? "the file appeared meanwhile"
                                                 : cause(rc),
                             dest);
        }
    }
    if (pfd >= 0)
        close(pfd);
    if (opened)
        sisp_open_free(&o);
    close(d->fd);
    if (rc == 0) {
        fprintf(c->out,
                "verified: signed by %s (fingerprint %s)\nsaved %s to %s (%" PRIu64 " bytes)\n",
                d->owner, fp, name, dest, plain_total);
        fflush(c->out);
    }
    free(d);
    return rc;
}

/* ---- DISPLAY ---- */

/* sisp-view next to this program (the build tree or an install), else on PATH. */
static int find_viewer(char *out, size_t n) {
    const char *env = getenv("SISP_VIEW");
    if (env != NULL && env[0] != '\0') {
        snprintf(out, n, "%s", env);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k > 0) {
        self[k] = '\0';
        char *dir = dirname(self);
        const char *tries[] = {"", "/../viewer"};
        for (size_t i = 0; i < 2; i++) {
            int w = snprintf(out, n, "%s%s/sisp-view", dir, tries[i]);
            if (w > 0 && (size_t)w < n && access(out, X_OK) == 0)
                return 0;
        }
    }
    const char *path = getenv("PATH");
    while (path != NULL && *path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, n, "%.*s/sisp-view", (int)len, path);
        if (len > 0 && access(out, X_OK) == 0)
            return 0;
        path = colon ? colon + 1 : NULL;
    }
    return -1;
}

int sisp_cmd_display(sisp_client_t *c, const char *name, const char *group) {
    int rc = sisp__client_need_identity(c);
    if (rc != 0)
        return rc;
    if (sisp_check_imagename(name, strlen(name)) != 0 ||
        (group != NULL && sisp_check_groupname(group, strlen(group)) != 0))
        return sisp_client_fail(c, SISP_EINVAL, "DISPLAY takes an image name [--group G]");
    /* Downloads go to images/<group>/<name>; without a group, to images/any/<name> (the
     * server picks the group: the newest image of that name in any of the user's groups). */
    char dir[SISP_HOME_PATH_MAX], path[SISP_HOME_PATH_MAX + SISP_IMAGENAME_MAX + 2], rel[128];
    snprintf(rel, sizeof rel, "images/%s", group ? group : "any");
    if (sisp_home_path(&c->home, rel, dir, sizeof dir) != 0 ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST))
        return sisp_client_fail(c, SISP_EIO, "cannot create %s", dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rc = sisp_cmd_download(c, name, group, path, 1, 1);
    if (rc != 0)
        return rc;
    char viewer[PATH_MAX];
    const char *disp = getenv("DISPLAY"), *way = getenv("WAYLAND_DISPLAY");
    if ((disp == NULL || !disp[0]) && (way == NULL || !way[0])) {
        fprintf(c->out,
                "no display here: the verified image is at %s (view it with sisp-view %s "
                "where a display is available)\n",
                path, path);
        fflush(c->out);
        return 0;
    }
    if (find_viewer(viewer, sizeof viewer) != 0) {
        fprintf(c->out, "sisp-view is not built or installed: the verified image is at %s\n", path);
        fflush(c->out);
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        execl(viewer, "sisp-view", path, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return sisp_client_fail(c, SISP_EIO, "cannot start %s: %s", viewer, strerror(errno));
    fprintf(c->out, "showing %s in sisp-view\n", path);
    fflush(c->out);
    return 0;
}
