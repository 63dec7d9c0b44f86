/* One connection's protocol logic, sans-I/O. See session.h. */
#define _GNU_SOURCE /* sync_file_range */
#include "session.h"

#include <sisp/error.h>
#include <sisp/keys.h>
#include <sisp/names.h>
#include <sisp/seal.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SOFTWARE "sispd 0.1"
/* Above this much output, the session takes no more requests (and the glue stops reading);
 * before authentication, above the second. */
#define OUT_HIGH_WATER (1024u * 1024u)
#define PREAUTH_OUT_HIGH_WATER (32u * 1024u)
/* A download reads the next chunk only while less than this waits in the output. The kernel's
 * socket buffer keeps the connection busy; more here only costs memory, and fresh memory
 * costs page faults: with 1 MiB here (and 4 MiB of TLS records below), 8 downloads at once
 * took half again as much CPU per byte (docs/BENCHMARKS.md). */
#define DOWN_HIGH_WATER (128u * 1024u)
/* The least data per DATA frame a client may ask for with its HELLO's max_data: smaller frames
 * would make a download cost a read and a frame per few bytes, on the loop everyone shares. */
#define DOWN_MIN_CHUNK 1024u
/* While an upload's write job runs, the loop goes on decrypting and checking its DATA frames
 * into the next batch, up to this much; the next job writes the whole batch. */
#define UP_BATCH_MAX (1024u * 1024u)
/* Recent pushes whose end is remembered, to tell which have left (sisp_session_push). */
#define PUSH_MARKS 8
/* What an idle session's input and output buffers may keep of what they grew to. */
#define IDLE_KEEP 16384u

/* The one job a session may have running, and what it carries. */
typedef enum {
    OP_AUTH_CHECK,
    OP_REGISTER,
    OP_REQUEST, /* any AUTH request answered from the store */
    OP_POST_BEGIN,
    OP_POST_WRITE,
    OP_POST_COMMIT,
    OP_DOWNLOAD_OPEN,
    OP_DOWNLOAD_READ,
} op_t;

typedef struct {
    sisp_job_t base;
    sisp_session_t *s;
    op_t op;
    uint32_t stream;
    sisp_buf_t frame;   /* a copy of the request frame; pkt's slices point into it */
    sisp_packet_t *pkt; /* decoded from frame */
    sisp_buf_t reply;   /* frames for the requester, built off the loop */
    sisp_buf_t fanout;  /* a frame for notify_group / notify_user */
    char fan_group[SISP_GROUPNAME_MAX + 1];
    char fan_user[SISP_USERNAME_MAX + 1];
    sisp_buf_t data; /* DATA bytes to write / read */
    size_t want;     /* bytes to read */
    uint64_t offset;
    int fd;
    int close_after; /* the reply is fatal: close once sent */
    sisp_image_rec_t *img;
    sisp_members_t members; /* the group's, listed by a commit for its NOTIFY */
} sjob_t;

struct sisp_session {
    sisp_env_t *env;
    sisp_decoder_t dec;
    sisp_buf_t in, out;
    int have_peer;
    sisp_cert_info_t peer;
    uint8_t cert_fp[SISP_SHA256_SIZE];
    char addr[64];
    char user[SISP_USERNAME_MAX + 1];
    void *owner;
    int closing, dead, busy;
    int in_pump; /* a job finishing inside submit() must not re-enter the frame loop */
    /* Output positions (bytes since the start): taken by the glue, and known to have left the
     * server. Pushes ever queued (count, bytes), how many of them are known to have left,
     * and marks: the end of recent pushes with the totals up to them (sisp_session_push). */
    uint64_t taken, sent;
    uint64_t pushed, pushed_bytes, pushes_out, push_bytes_out;
    struct {
        uint64_t end, pushed, pushed_bytes;
    } marks[PUSH_MARKS];
    unsigned mark_first, n_marks;
    uint32_t peer_max_data;    /* the client's HELLO: largest DATA payload it accepts */
    uint32_t peer_max_control; /* and largest payload of any other frame */
    sjob_t job;
    uint32_t failed_stream; /* DATA/POST_END of a refused upload are dropped quietly */
    struct {
        int active;
        uint32_t stream;
        sisp_blob_t blob;
        uint64_t size, written;
        sisp_sha256_t hash;
        uint8_t want[SISP_SHA256_SIZE];
        sisp_image_rec_t *img; /* 9 KiB with its manifest: allocated by POST_BEGIN */
        sisp_buf_t batch;      /* accepted DATA bytes not yet handed to a write job */
        int failed;            /* refused while a write ran: abort once it is back */
    } up;
    struct {
        int active;
        uint32_t stream;
        int fd;
        uint64_t size, offset;
        int cached; /* try reads from the page cache on the loop first */
    } down;
};

static void pump(sisp_session_t *s);

/* ---- output helpers ---- */

/* 1 if every frame in p..p+len fits the limits of the client's HELLO: a peer never sends
 * frames larger than the other announced (PROTOCOL.md §4). */
static int fits_peer(const sisp_session_t *s, const uint8_t *p, size_t len) {
    while (len >= SISP_HEADER_SIZE) {
        uint32_t n = sisp_load32(p);
        uint32_t max = p[5] == SISP_T_DATA ? s->peer_max_data : s->peer_max_control;
        if (n > max || n > len - SISP_HEADER_SIZE)
            return 0;
        p += SISP_HEADER_SIZE + n;
        len -= SISP_HEADER_SIZE + n;
    }
    return 1;
}

#define TOO_BIG_FOR_PEER "the answer would exceed the max_control of your HELLO"

static void send_error_to(sisp_buf_t *out, uint32_t stream, int err, const char *msg,
                          uint8_t ref_type) {
    sisp_error_t e = {0};
    e.code = (uint32_t)(-err);
    e.message = sisp_slice_str(msg ? msg : sisp_strerror(err));
    e.ref_type = ref_type;
    if (err == SISP_ERATELIMIT)
        e.retry_after_ms = 60000;
    if (sisp_error_encode(out, stream, &e) != 0) {
        e.message = SISP_SLICE_NULL; /* a message that does not fit the rules: drop it */
        if (sisp_error_encode(out, stream, &e) != 0)
            return; /* out of memory: the connection is closed when its output fails */
    }
}

/* A fatal error: ERROR, then BYE, then close. */
static void fail(sisp_session_t *s, uint32_t stream, int err, uint8_t ref_type) {
    if (s->closing)
        return;
    send_error_to(&s->out, stream, err, NULL, ref_type);
    sisp_bye_t bye = {(uint32_t)(-err), sisp_slice_str(sisp_strerror(err))};
    s->closing = 1;
    if (sisp_bye_encode(&s->out, 0, &bye) != 0)
        return; /* closing anyway */
}

void sisp_session_bye(sisp_session_t *s, int code, const char *message) {
    if (s->closing)
        return;
    sisp_bye_t bye = {(uint32_t)(code < 0 ? -code : code), sisp_slice_str(message)};
    s->closing = 1;
    if (sisp_bye_encode(&s->out, 0, &bye) != 0) {
        bye.message = SISP_SLICE_NULL;
        if (sisp_bye_encode(&s->out, 0, &bye) != 0)
            return; /* closing anyway */
    }
}

/* Copies a validated slice (a name) into a NUL-terminated field. */
static void cstr(char *dst, size_t cap, sisp_slice_t s) {
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n > 0)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

/* ---- lifecycle ---- */

sisp_session_t *sisp_session_new(sisp_env_t *env, const sisp_cert_info_t *peer,
                                 const uint8_t cert_fp[SISP_SHA256_SIZE], const char *addr) {
    sisp_session_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->env = env;
    sisp_decoder_init(&s->dec, SISP_ROLE_SERVER);
    sisp_buf_init(&s->in, SISP_LIMIT_CONTROL + SISP_HEADER_SIZE + SISP_LIMIT_DATA);
    sisp_buf_init(&s->out, 0);
    if (peer != NULL) {
        s->have_peer = 1;
        s->peer = *peer;
        memcpy(s->cert_fp, cert_fp, SISP_SHA256_SIZE);
    }
    snprintf(s->addr, sizeof s->addr, "%s", addr ? addr : "?");
    s->up.blob.fd = -1;
    s->down.fd = -1;
    s->job.fd = -1;
    sisp_buf_init(&s->job.frame, 0);
    sisp_buf_init(&s->job.reply, 0);
    sisp_buf_init(&s->job.fanout, 0);
    sisp_buf_init(&s->job.data, 0);
    sisp_buf_init(&s->up.batch, 0);
    return s;
}

static void release(sisp_session_t *s) {
    if (s->down.fd >= 0)
        close(s->down.fd);
    if (s->up.active) {
        /* An upload that never committed: its temp file is removed here, or at next start. */
        if (s->up.blob.fd >= 0)
            close(s->up.blob.fd);
        unlink(s->up.blob.tmp_path);
        sisp_sha256_free(&s->up.hash);
    }
    sisp_buf_free(&s->in);
    sisp_buf_free(&s->out);
    sisp_buf_free(&s->job.frame);
    sisp_buf_free(&s->job.reply);
    sisp_buf_free(&s->job.fanout);
    sisp_buf_free(&s->job.data);
    sisp_buf_free(&s->up.batch);
    sisp_members_free(&s->job.members);
    free(s->up.img);
    free(s->job.pkt);
    free(s->job.img);
    free(s);
}

void sisp_session_free(sisp_session_t *s) {
    if (s == NULL)
        return;
    if (s->busy) {
        s->dead = 1; /* freed when the job comes back */
        return;
    }
    release(s);
}

void sisp_session_set_owner(sisp_session_t *s, void *owner) {
    s->owner = owner;
}

sisp_buf_t *sisp_session_output(sisp_session_t *s) {
    return &s->out;
}

int sisp_session_closing(const sisp_session_t *s) {
    return s->closing;
}

/* Before authentication a peer is anyone: it gets 16 KiB frames (PROTOCOL.md §5) and little
 * room to queue, so that the connections a stranger may hold (--max-preauth) cost little. */
static size_t in_high(const sisp_session_t *s) {
    return s->dec.state == SISP_STATE_AUTH ? SISP_LIMIT_CONTROL
                                           : SISP_LIMIT_PREAUTH + SISP_HEADER_SIZE;
}

static size_t out_high(const sisp_session_t *s) {
    return s->dec.state == SISP_STATE_AUTH ? OUT_HIGH_WATER : PREAUTH_OUT_HIGH_WATER;
}

size_t sisp_session_input_len(const sisp_session_t *s) {
    return s->in.len;
}

int sisp_session_input_full(const sisp_session_t *s) {
    return s->in.len >= in_high(s) || s->out.len >= out_high(s);
}

uint64_t sisp_session_serial(const sisp_session_t *s) {
    return s->have_peer ? s->peer.serial : 0;
}

const char *sisp_session_user(const sisp_session_t *s) {
    return s->user[0] ? s->user : NULL;
}

int sisp_session_receiving(const sisp_session_t *s) {
    return (s->in.len > 0 || s->up.active) && !s->busy && !s->closing;
}

sisp_state_t sisp_session_state(const sisp_session_t *s) {
    return s->dec.state;
}

uint64_t sisp_session_taken(sisp_session_t *s, size_t n) {
    sisp_buf_consume(&s->out, n);
    s->taken += n;
    return s->taken;
}

/* The pushes whose end the output known sent has passed have left. */
static void pushes_settle(sisp_session_t *s) {
    while (s->n_marks > 0 && s->marks[s->mark_first].end <= s->sent) {
        s->pushes_out = s->marks[s->mark_first].pushed;
        s->push_bytes_out = s->marks[s->mark_first].pushed_bytes;
        s->mark_first = (s->mark_first + 1) % PUSH_MARKS;
        s->n_marks--;
    }
}

void sisp_session_sent(sisp_session_t *s, uint64_t upto) {
    if (upto > s->sent && upto <= s->taken)
        s->sent = upto;
    pushes_settle(s);
}

void sisp_session_push(sisp_session_t *s, const uint8_t *frame, size_t len) {
    if (s->closing || s->dec.state != SISP_STATE_AUTH)
        return;
    /* A push larger than the client's HELLO allows is not sent. Only KEY_RESULT can be (many
     * grants at once); the client finds the grants with KEY_FETCH, an epoch at a time. */
    if (!fits_peer(s, frame, len))
        return;
    /* The cap counts the pushes not yet known to have left the server, here or below: memory
     * for pushes stays within it. Each push's end is marked; once the output known sent
     * passes a mark, the pushes up to it have left. With more pushes in flight than marks,
     * the newest mark moves on and stands for them all (conservative: they count until the
     * last of them is out). Download data is not counted: its own backpressure bounds it, and
     * a long download with pushes arriving all along is not a reason to drop anyone. */
    pushes_settle(s);
    if (s->pushed_bytes - s->push_bytes_out + len > s->env->cfg.push_queue_bytes ||
        s->pushed - s->pushes_out >= s->env->cfg.push_queue_count) {
        sisp_session_bye(s, SISP_EBUSY, "reading too slowly; reconnect and LIST since=<seq>");
        return;
    }
    if (sisp_buf_append(&s->out, frame, len) != 0) {
        sisp_session_bye(s, SISP_ENOMEM, NULL);
        return;
    }
    s->pushed++;
    s->pushed_bytes += len;
    unsigned at = s->n_marks < PUSH_MARKS ? (s->mark_first + s->n_marks++) % PUSH_MARKS
                                          : (s->mark_first + PUSH_MARKS - 1) % PUSH_MARKS;
    s->marks[at].end = s->taken + s->out.len;
    s->marks[at].pushed = s->pushed;
    s->marks[at].pushed_bytes = s->pushed_bytes;
}

size_t sisp_session_trim(sisp_session_t *s) {
    if (s->busy || s->up.active || s->down.active)
        return 0;
    /* The job's buffers went when the last job was back (pump, idle); the output is what the
     * glue drains and nothing else gives back. */
    return sisp_buf_trim(&s->in, IDLE_KEEP) + sisp_buf_trim(&s->out, IDLE_KEEP);
}

/* ---- jobs ---- */

static void job_done(sisp_job_t *base);

static void start_job(sisp_session_t *s, op_t op, uint32_t stream,
                      void (*run)(sisp_job_t *, sisp_store_t *), int kind) {
    sjob_t *j = &s->job;
    j->base.kind = kind ? SISP_JOB_FILE : SISP_JOB_STORE;
    j->base.run = run;
    j->base.done = job_done;
    j->base.rc = 0;
    j->base.next = NULL;
    j->s = s;
    j->op = op;
    j->stream = stream;
    j->close_after = 0;
    if (!kind)
        j->fd = -1; /* a store job brings no fd; one a file job left must not be closed if the
                       store never runs this job */
    j->fan_group[0] = j->fan_user[0] = '\0';
    sisp_buf_reset(&j->reply);
    sisp_buf_reset(&j->fanout);
    s->busy = 1;
    s->env->submit(s->env, &j->base);
}

/* Copies the frame into the job and decodes it there, so the job does not depend on the
 * input buffer, which keeps filling while the job runs. */
static int job_take_frame(sisp_session_t *s, const uint8_t *frame, size_t len) {
    sjob_t *j = &s->job;
    sisp_decoder_t d;
    sisp_frame_t f;
    size_t n = 0;
    sisp_buf_reset(&j->frame);
    if (sisp_buf_append(&j->frame, frame, len) != 0)
        return SISP_ENOMEM;
    sisp_decoder_init(&d, SISP_ROLE_SERVER);
    sisp_decoder_set_state(&d, s->dec.state, &s->dec.limits);
    int rc = sisp_frame_decode(&d, j->frame.data, j->frame.len, &f, &n);
    return rc == 0 ? sisp_packet_decode(&f, j->pkt) : SISP_EINTERNAL;
}

static void continue_download(sisp_session_t *s);
static void end_download(sisp_session_t *s);
static void download_advance(sisp_session_t *s, size_t n);
static void on_post_committed(sisp_session_t *s, int quiet);
static void abort_upload(sisp_session_t *s);
static void start_write(sisp_session_t *s);

static void job_done(sisp_job_t *base) {
    sjob_t *j = (sjob_t *)base;
    sisp_session_t *s = j->s;
    s->busy = 0;
    if (j->op == OP_POST_BEGIN && (base->rc != 0 || base->commit_failed || s->dead) &&
        s->up.blob.fd >= 0) {
        /* The temp file exists but the upload will not go on: remove it now. */
        close(s->up.blob.fd);
        s->up.blob.fd = -1;
        unlink(s->up.blob.tmp_path);
        if (base->rc == 0)
            base->rc = SISP_ESTORE;
    }
    if (j->op == OP_DOWNLOAD_OPEN && (base->rc != 0 || base->commit_failed || s->dead) &&
        j->fd >= 0) {
        close(j->fd);
        j->fd = -1;
        if (base->rc == 0)
            base->rc = SISP_ESTORE;
    }
    if (base->commit_failed) {
        /* What the job did was rolled back: whatever it prepared to say is void. */
        sisp_buf_reset(&j->reply);
        sisp_buf_reset(&j->fanout);
        if (j->op != OP_POST_COMMIT) /* that one reports its own failure */
            send_error_to(&j->reply, j->stream, SISP_ESTORE, NULL, 0);
        if (j->op == OP_AUTH_CHECK || j->op == OP_REGISTER)
            j->close_after = 1;
    }
    /* What the job did stands even if its peer is gone: the others are still told. */
    if (j->fanout.len > 0 && j->fan_group[0])
        s->env->notify_group(s->env, j->fan_group, j->fanout.data, j->fanout.len);
    if (j->fanout.len > 0 && j->fan_user[0])
        s->env->notify_user(s->env, j->fan_user, j->fanout.data, j->fanout.len);
    if (s->dead) {
        if (j->op == OP_POST_COMMIT)
            on_post_committed(s, 1); /* a post committed as its uploader hung up */
        release(s);
        return;
    }
    /* Once BYE is out, nothing more goes to this peer (what others are told still goes). */
    int quiet = s->closing;
    if (!quiet && sisp_buf_append(&s->out, j->reply.data, j->reply.len) != 0)
        sisp_session_bye(s, SISP_ENOMEM, NULL);
    if (j->close_after)
        s->closing = 1;

    switch (j->op) {
    case OP_AUTH_CHECK:
        if (base->rc == 0 && !s->closing) {
            cstr(s->user, sizeof s->user, sisp_slice_str(s->peer.user));
            sisp_decoder_set_state(&s->dec, SISP_STATE_AUTH, NULL);
        }
        break;
    case OP_POST_BEGIN:
        if (base->rc == 0) {
            s->up.active = 1;
        } else {
            sisp_sha256_free(&s->up.hash);
            s->failed_stream = j->stream;
        }
        break;
    case OP_POST_WRITE:
        if (base->rc != 0) {
            if (!s->up.failed && !quiet && base->rc == SISP_ESTORE)
                send_error_to(&s->out, s->up.stream, SISP_ESTORE,
                              "the server has no room for this image", SISP_T_DATA);
            else if (!s->up.failed && !quiet)
                send_error_to(&s->out, s->up.stream, SISP_EIO, "cannot store the upload",
                              SISP_T_DATA);
            s->failed_stream = s->up.stream;
            abort_upload(s);
        } else if (s->up.failed || quiet) {
            abort_upload(s); /* closing: the upload cannot end, nothing more is written */
        } else if (s->up.batch.len > 0) {
            start_write(s);
        }
        break;
    case OP_POST_COMMIT:
        on_post_committed(s, quiet);
        break;
    case OP_DOWNLOAD_OPEN:
        if (base->rc == 0) {
            s->down.active = 1;
            s->down.stream = j->stream;
            s->down.fd = j->fd;
            s->down.size = j->img->size;
            s->down.offset = j->offset;
            s->down.cached = s->env->cfg.read_cached;
            j->fd = -1;
        }
        break;
    case OP_DOWNLOAD_READ:
        if (quiet) {
            end_download(s);
        } else if (base->rc == 0) {
            sisp_data_t d = {s->down.offset, sisp_slice(j->data.data, j->data.len)};
            if (sisp_data_encode(&s->out, s->down.stream, &d) != 0) {
                sisp_session_bye(s, SISP_ENOMEM, NULL);
                break;
            }
            download_advance(s, j->data.len);
        } else {
            send_error_to(&s->out, s->down.stream, SISP_EIO, "cannot read the image",
                          SISP_T_DOWNLOAD);
            end_download(s);
        }
        break;
    default:
        break;
    }
    if (!s->busy) {
        pump(s);
        continue_download(s);
    } else if (s->job.op == OP_POST_WRITE) {
        pump(s); /* the next batch fills while this one is written */
    }
    if (s->env->wake)
        s->env->wake(s->env, s->owner);
}

/* ---- HELLO and authentication ---- */

static int send_hello(sisp_session_t *s, sisp_buf_t *out) {
    sisp_hello_t h = {0};
    h.magic = sisp_slice(SISP_MAGIC, SISP_MAGIC_LEN);
    h.version = SISP_VERSION;
    h.max_control = s->user[0] || s->have_peer ? SISP_LIMIT_CONTROL : SISP_LIMIT_PREAUTH;
    h.max_data = SISP_LIMIT_DATA;
    h.software = sisp_slice_str(SOFTWARE);
    if (s->have_peer)
        h.user = sisp_slice_str(s->peer.user);
    else
        h.registration = (uint8_t)s->env->cfg.registration;
    return sisp_hello_encode(out, 0, &h);
}

/* On the store thread: the certificate's user must exist with this very certificate, not
 * revoked (the TLS layer already refused revoked serials; this also catches a certificate
 * from before a reset of the store). */
static void run_auth_check(sisp_job_t *base, sisp_store_t *st) {
    sjob_t *j = (sjob_t *)base;
    sisp_session_t *s = j->s;
    sisp_user_rec_t *u = malloc(sizeof *u);
    int rc = u ? sisp_store_user_get(st, s->peer.user, u) : SISP_ENOMEM;
    if (rc == 0 && (u->revoked || u->serial != s->peer.serial))
        rc = u->revoked ? SISP_EREVOKED : SISP_EAUTH;
    else if (rc == SISP_ENOTFOUND)
        rc = SISP_EAUTH;
    free(u);
    base->rc = rc;
    if (rc == 0 && send_hello(s, &j->reply) != 0)
        rc = base->rc = SISP_ENOMEM;
    if (rc != 0) {
        send_error_to(&j->reply, 0, rc, "certificate not valid here", SISP_T_HELLO);
        j->close_after = 1;
    }
}

static void on_hello(sisp_session_t *s, const sisp_hello_t *h) {
    /* Version 1 is the only one. The client's max_data sets the size of DATA frames sent. */
    s->peer_max_data = h->max_data;
    s->peer_max_control = h->max_control;
    if (s->have_peer) {
        start_job(s, OP_AUTH_CHECK, 0, run_auth_check, 0);
        return;
    }
    if (send_hello(s, &s->out) != 0)
        s->closing = 1;
    sisp_decoder_set_state(&s->dec, SISP_STATE_UNAUTH, NULL);
}

/* ---- REGISTER ---- */

static void run_register(sisp_job_t *base, sisp_store_t *st) {
    sjob_t *j = (sjob_t *)base;
    sisp_session_t *s = j->s;
    const sisp_register_req_t *r = &j->pkt->u.register_req;
    sisp_user_rec_t *u = calloc(1, sizeof *u);
    sisp_buf_t cert;
    uint64_t serial = 0, count = 0;
    int rc = u ? 0 : SISP_ENOMEM;
    sisp_buf_init(&cert, SISP_CERT_MAX);

    if (rc == 0) {
        cstr(u->user, sizeof u->user, r->user);
        if (sisp_store_user_get(st, u->user, u) == 0)
            rc = SISP_EEXIST;
    }
    if (rc == 0 && s->env->cfg.registration == SISP_REG_INVITE) {
        char code[SISP_INVITE_MAX + 1];
        if (r->invite.len == 0)
            rc = SISP_EINVITE;
        else {
            cstr(code, sizeof code, r->invite);
            rc = sisp_store_invite_use(st, code, s->env->now(s->env));
        }
    }
    if (rc == 0)
        rc = sisp_store_user_count(st, &count);
    if (rc == 0)
        rc = sisp_store_next_serial(st, &serial);
    if (rc == 0)
        rc = sisp_ca_issue(s->env->ca, r->csr.ptr, r->csr.len, u->user, serial,
                           s->env->cfg.cert_days, &cert, u->ident_pub);
    if (rc == 0 && sisp_x25519_verify(u->ident_pub, r->user, r->x25519.ptr, r->x25519_sig.ptr,
                                      r->x25519_sig.len) != 0)
        rc = SISP_ESIG;
    /* The answer is built before anything is stored: a client whose HELLO cannot take the
     * chain is refused with nothing kept, and may register again with a larger limit. */
    const char *why = NULL;
    if (rc == 0) {
        sisp_registered_t out = {0};
        out.user = r->user;
        out.chain[0] = sisp_slice(cert.data, cert.len);
        out.chain[1] = sisp_ca_cert(s->env->ca);
        out.n_chain = 2;
        rc = sisp_registered_encode(&j->reply, j->stream, &out);
        if (rc == 0 && !fits_peer(s, j->reply.data, j->reply.len)) {
            rc = SISP_ETOOBIG;
            why = TOO_BIG_FOR_PEER;
        }
    }
    if (rc == 0) {
        memcpy(u->cert, cert.data, cert.len);
        u->cert_len = cert.len;
        u->serial = serial;
        memcpy(u->x25519, r->x25519.ptr, SISP_KEY_SIZE);
        memcpy(u->x25519_sig, r->x25519_sig.ptr, r->x25519_sig.len);
        u->x25519_sig_len = r->x25519_sig.len;
        u->registered_at = s->env->now(s->env);
        rc = sisp_store_user_add(st, u);
    }
    /* Every user is a member of `all`; the first creates it (its epoch 1 comes from that
     * user's client, as a KEY_GRANT to itself). Later users wait for an online member's
     * client to grant them the keys: they are pending until then. */
    if (rc == 0 && count == 0)
        rc = sisp_store_group_create(st, "all", u->user, 0);
    if (rc == 0 && count > 0)
        rc = sisp_store_member_add(st, "all", u->user, 1);
    if (rc == 0)
        sisp_store_audit(st, u->user, "register", s->addr);

    base->rc = rc;
    if (rc == 0 && count > 0) {
        sisp_member_pending_t mp = {sisp_slice_str("all"), r->user};
        if (sisp_member_pending_encode(&j->fanout, 0, &mp) == 0)
            snprintf(j->fan_group, sizeof j->fan_group, "all");
    }
    if (rc != 0) {
        sisp_buf_reset(&j->reply);
        send_error_to(&j->reply, j->stream, rc, why, SISP_T_REGISTER);
    }
    sisp_buf_free(&cert);
    free(u);
}

/* ---- requests answered from the store ---- */

static int member_ok(sisp_store_t *st, const char *group, const char *user, int need_keys) {
    int pending = 0;
    int m = sisp_store_is_member(st, group, user, &pending);
    if (m < 0)
        return m;
    if (m == 0)
        return SISP_EPERM;
    return need_keys && pending ? SISP_EPERM : 0;
}

typedef struct {
    sisp_list_result_t *res;
    sisp_image_rec_t *copies; /* names must outlive the callback */
} list_ctx_t;

static void image_info_of(const sisp_image_rec_t *img, sisp_image_info_t *i) {
    i->id = img->id;
    i->seq = img->seq;
    i->name = sisp_slice_str(img->name);
    i->owner = sisp_slice_str(img->owner);
    i->group = sisp_slice_str(img->group);
    i->size = img->size;
    i->posted_at = (uint64_t)img->posted_at;
}

static void list_cb(void *arg, const sisp_image_rec_t *img) {
    list_ctx_t *c = arg;
    if (c->res->n_entries >= SISP_LIST_PAGE_MAX)
        return;
    sisp_image_rec_t *copy = &c->copies[c->res->n_entries];
    *copy = *img;
    image_info_of(copy, &c->res->entries[c->res->n_entries++]);
}

typedef struct {
    sisp_group_list_result_t *res;
    sisp_group_rec_t *groups;
    char (*members)[SISP_USERNAME_MAX + 1];
} glist_ctx_t;

static void groups_cb(void *arg, const sisp_group_rec_t *g) {
    glist_ctx_t *c = arg;
    if (c->res->n_groups >= SISP_GROUPS_MAX)
        return;
    sisp_group_rec_t *copy = &c->groups[c->res->n_groups];
    *copy = *g;
    sisp_group_info_t *i = &c->res->groups[c->res->n_groups++];
    i->group = sisp_slice_str(copy->group);
    i->epoch = copy->epoch ? copy->epoch : 1; /* epoch 0: `all` before its first key */
    i->members = copy->members;
    i->owner = sisp_slice_str(copy->owner);
}

static void members_cb(void *arg, const char *user, int pending) {
    glist_ctx_t *c = arg;
    if (c->res->n_members >= SISP_MEMBERS_MAX) {
        c->res->more = 1; /* the page asked one more than it holds: another page follows */
        return;
    }
    snprintf(c->members[c->res->n_members], SISP_USERNAME_MAX + 1, "%s", user);
    sisp_slice_t name = sisp_slice_str(c->members[c->res->n_members]);
    c->res->members[c->res->n_members++] = name;
    if (pending) /* listed twice: members are everyone, pending those still awaiting keys */
        c->res->pending[c->res->n_pending++] = name;
}

typedef struct {
    sisp_key_result_t *res;
    sisp_grant_rec_t *copies;
} grants_ctx_t;

static void grants_cb(void *arg, const sisp_grant_rec_t *g) {
    grants_ctx_t *c = arg;
    if (c->res->n_grants >= SISP_GRANTS_MAX)
        return;
    sisp_grant_rec_t *copy = &c->copies[c->res->n_grants];
    *copy = *g;
    sisp_grant_t *o = &c->res->grants[c->res->n_grants++];
    o->user = sisp_slice_str(copy->user);
    o->epoch = copy->epoch;
    o->wrapped = sisp_slice(copy->wrapped, copy->wrapped_len);
    o->granter = sisp_slice_str(copy->granter);
    o->signature = sisp_slice(copy->sig, copy->sig_len);
}

/* Verifies and stores grants signed by the requester. recipient_must: if non-NULL, every
 * grant must be for that user. Returns 0 or an error; *count of stored grants. */
static int store_grants(sisp_store_t *st, const sisp_session_t *s, const char *group,
                        const sisp_grant_t *grants, uint32_t n, const char *recipient_must) {
    sisp_user_rec_t *u = n > 0 ? malloc(sizeof *u) : NULL;
    int rc = n > 0 && u == NULL ? SISP_ENOMEM : 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const sisp_grant_t *g = &grants[i];
        sisp_grant_rec_t rec;
        memset(&rec, 0, sizeof rec);
        cstr(rec.user, sizeof rec.user, g->user);
        if (recipient_must && strcmp(rec.user, recipient_must) != 0) {
            rc = SISP_EPERM;
            break;
        }
        int pending = 0, m = sisp_store_is_member(st, group, rec.user, &pending);
        if (m <= 0) {
            rc = m < 0 ? m : SISP_ENOTFOUND;
            break;
        }
        /* No key goes to a revoked user: the server serves them nothing any more. */
        rc = sisp_store_user_get(st, rec.user, u);
        if (rc == 0 && u->revoked)
            rc = SISP_EREVOKED;
        if (rc == 0 && sisp_grant_verify(s->peer.pub, sisp_slice_str(group), g->epoch, g->user,
                                         g->wrapped, g->signature.ptr, g->signature.len) != 0)
            rc = SISP_ESIG;
        if (rc != 0)
            break;
        snprintf(rec.group, sizeof rec.group, "%s", group);
        snprintf(rec.granter, sizeof rec.granter, "%s", s->user);
        rec.epoch = g->epoch;
        memcpy(rec.wrapped, g->wrapped.ptr, g->wrapped.len);
        rec.wrapped_len = g->wrapped.len;
        memcpy(rec.sig, g->signature.ptr, g->signature.len);
        rec.sig_len = g->signature.len;
        rc = sisp_store_grant_put(st, &rec);
    }
    free(u);
    return rc;
}

/* After a new epoch: the members it was not granted to (the remover's client left out a
 * revoked one, or could not list them all) await its key, and are pending until a member
 * grants it. Without this they would stay members whose every post is refused (EMISMATCH). */
static int pend_ungranted(sisp_store_t *st, const char *group, const sisp_grant_t *grants,
                          uint32_t n) {
    sisp_members_t m = {0};
    int rc = sisp_store_members(st, group, sisp_members_add, &m);
    if (rc == 0 && m.failed)
        rc = SISP_ENOMEM;
    for (size_t i = 0; rc == 0 && i < m.n; i++) {
        int granted = 0;
        for (uint32_t k = 0; k < n && !granted; k++)
            granted = sisp_slice_eq(grants[k].user, sisp_slice_str(m.names[i]));
        if (!granted)
            rc = sisp_store_member_set_pending(st, group, m.names[i], 1);
    }
    sisp_members_free(&m);
    return rc;
}

/* After grants for the current epoch, their recipients have keys: no longer pending. */
static int unpend(sisp_store_t *st, const char *group, const sisp_grant_t *grants, uint32_t n,
                  uint32_t epoch) {
    for (uint32_t i = 0; i < n; i++) {
        if (grants[i].epoch != epoch)
            continue;
        char user[SISP_USERNAME_MAX + 1];
        cstr(user, sizeof user, grants[i].user);
        int rc = sisp_store_member_set_pending(st, group, user, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void run_request(sisp_job_t *base, sisp_store_t *st) {
    sjob_t *j = (sjob_t *)base;
    sisp_session_t *s = j->s;
    const sisp_packet_t *p = j->pkt;
    char group[SISP_GROUPNAME_MAX + 1] = "", user[SISP_USERNAME_MAX + 1] = "";
    const char *why = NULL; /* the ERROR's message, if not the code's own */
    int rc = 0;

    switch (p->type) {
    case SISP_T_WHOAMI: {
        sisp_user_rec_t *u = malloc(sizeof *u);
        rc = u ? sisp_store_user_get(st, s->user, u) : SISP_ENOMEM;
        if (rc == 0) {
            sisp_whoami_result_t r = {sisp_slice_str(s->user),
                                      sisp_slice(s->cert_fp, SISP_SHA256_SIZE),
                                      (uint64_t)u->registered_at};
            rc = sisp_whoami_result_encode(&j->reply, j->stream, &r);
        }
        free(u);
        break;
    }
    case SISP_T_USER_CERT: {
        sisp_user_rec_t *u = malloc(sizeof *u);
        cstr(user, sizeof user, p->u.user_cert.user);
        rc = u ? sisp_store_user_get(st, user, u) : SISP_ENOMEM;
        if (rc == 0) {
            sisp_user_cert_result_t r = {sisp_slice_str(u->user), sisp_slice(u->cert, u->cert_len),
                                         sisp_slice(u->x25519, SISP_KEY_SIZE),
                                         sisp_slice(u->x25519_sig, u->x25519_sig_len),
                                         (uint8_t)(u->revoked ? 1 : 0)};
            rc = sisp_user_cert_result_encode(&j->reply, j->stream, &r);
        }
        free(u);
        break;
    }
    case SISP_T_LIST: {
        list_ctx_t c = {calloc(1, sizeof *c.res), calloc(SISP_LIST_PAGE_MAX, sizeof *c.copies)};
        int more = 0;
        uint32_t limit = p->u.list.limit ? p->u.list.limit : SISP_LIST_PAGE_MAX;
        cstr(group, sizeof group, p->u.list.group);
        rc = c.res && c.copies ? 0 : SISP_ENOMEM;
        if (rc == 0 && group[0])
            rc = member_ok(st, group, s->user, 0);
        if (rc == 0)
            rc = sisp_store_images(st, s->user, group, p->u.list.since, limit, list_cb, &c, &more);
        if (rc == 0) {
            c.res->more = (uint8_t)(more ? 1 : 0);
            c.res->next_since = c.res->n_entries
                                    ? c.res->entries[c.res->n_entries - 1].seq
                                    : (more ? p->u.list.since : sisp_store_last_seq(st));
            if (c.res->next_since < p->u.list.since)
                c.res->next_since = p->u.list.since;
            rc = sisp_list_result_encode(&j->reply, j->stream, c.res);
            /* A page the client's max_control cannot take is cut short; the rest is the
             * next page. */
            while (rc == 0 && c.res->n_entries > 1 && !fits_peer(s, j->reply.data, j->reply.len)) {
                size_t n = c.res->n_entries;
                size_t keep = n * s->peer_max_control / (j->reply.len - SISP_HEADER_SIZE);
                c.res->n_entries = (uint32_t)(keep >= n ? n - 1 : keep > 0 ? keep : 1);
                c.res->more = 1;
                c.res->next_since = c.res->entries[c.res->n_entries - 1].seq;
                sisp_buf_reset(&j->reply);
                rc = sisp_list_result_encode(&j->reply, j->stream, c.res);
            }
        }
        free(c.res);
        free(c.copies);
        break;
    }
    case SISP_T_GROUP_LIST: {
        glist_ctx_t c = {calloc(1, sizeof *c.res), calloc(SISP_GROUPS_MAX, sizeof *c.groups),
                         calloc(SISP_MEMBERS_MAX, sizeof *c.members)};
        rc = c.res && c.groups && c.members ? 0 : SISP_ENOMEM;
        if (rc == 0 && p->u.group_list.group.len > 0) {
            cstr(group, sizeof group, p->u.group_list.group);
            cstr(user, sizeof user, p->u.group_list.after);
            rc = member_ok(st, group, s->user, 0);
            if (rc == 0)
                rc = sisp_store_members_page(st, group, user, SISP_MEMBERS_MAX + 1, members_cb, &c);
        } else if (rc == 0) {
            rc = sisp_store_groups_of(st, s->user, groups_cb, &c);
        }
        if (rc == 0)
            rc = sisp_group_list_result_encode(&j->reply, j->stream, c.res);
        /* A page of members the client's max_control cannot take is cut short (pending
         * entries go with their members); the rest is the next page. */
        while (rc == 0 && c.res->n_members > 1 && !fits_peer(s, j->reply.data, j->reply.len)) {
            uint32_t n = c.res->n_members;
            size_t keep = (size_t)n * s->peer_max_control / (j->reply.len - SISP_HEADER_SIZE);
            c.res->n_members = (uint32_t)(keep >= n ? n - 1 : keep > 0 ? keep : 1);
            c.res->more = 1;
            uint32_t k = 0;
            for (uint32_t i = 0; i < c.res->n_pending; i++)
                if (strcmp((const char *)c.res->pending[i].ptr,
                           (const char *)c.res->members[c.res->n_members - 1].ptr) <= 0)
                    c.res->pending[k++] = c.res->pending[i];
            c.res->n_pending = k;
            sisp_buf_reset(&j->reply);
            rc = sisp_group_list_result_encode(&j->reply, j->stream, c.res);
        }
        free(c.res);
        free(c.groups);
        free(c.members);
        break;
    }
    case SISP_T_KEY_FETCH: {
        grants_ctx_t c = {calloc(1, sizeof *c.res), calloc(SISP_GRANTS_MAX, sizeof *c.copies)};
        cstr(group, sizeof group, p->u.key_fetch.group);
        rc = c.res && c.copies ? 0 : SISP_ENOMEM;
        if (rc == 0)
            rc = member_ok(st, group, s->user, 0);
        if (rc == 0)
            rc = sisp_store_grants(st, group, s->user, p->u.key_fetch.epoch, grants_cb, &c);
        if (rc == 0) {
            c.res->group = sisp_slice_str(group);
            rc = sisp_key_result_encode(&j->reply, j->stream, c.res);
        }
        free(c.res);
        free(c.copies);
        break;
    }
    case SISP_T_GROUP_CREATE: {
        const sisp_group_create_t *g = &p->u.group_create;
        cstr(group, sizeof group, g->group);
        for (uint32_t i = 0; rc == 0 && i < g->n_grants; i++)
            if (g->grants[i].epoch != 1)
                rc = SISP_EVALUE;
        if (rc == 0)
            rc = sisp_store_group_create(st, group, s->user, 1);
        if (rc == 0)
            rc = store_grants(st, s, group, g->grants, g->n_grants, s->user);
        if (rc == 0) {
            sisp_group_result_t r = {sisp_slice_str(group), 1, 1};
            rc = sisp_group_result_encode(&j->reply, j->stream, &r);
            sisp_store_audit(st, s->user, "group-create", group);
        }
        break;
    }
    case SISP_T_GROUP_ADD: {
        const sisp_group_add_t *g = &p->u.group_add;
        sisp_group_rec_t rec;
        sisp_user_rec_t *u = malloc(sizeof *u);
        cstr(group, sizeof group, g->group);
        cstr(user, sizeof user, g->user);
        rc = u ? member_ok(st, group, s->user, 1) : SISP_ENOMEM;
        if (rc == 0)
            rc = sisp_store_user_get(st, user, u);
        if (rc == 0 && u->revoked)
            rc = SISP_EREVOKED;
        if (rc == 0)
            rc = sisp_store_group_get(st, group, &rec);
        if (rc == 0)
            rc = sisp_store_member_add(st, group, user, 1);
        if (rc == 0)
            rc = store_grants(st, s, group, g->grants, g->n_grants, user);
        if (rc == 0)
            rc = unpend(st, group, g->grants, g->n_grants, rec.epoch);
        if (rc == 0) {
            sisp_group_result_t r = {sisp_slice_str(group), rec.epoch ? rec.epoch : 1,
                                     rec.members + 1};
            rc = sisp_group_result_encode(&j->reply, j->stream, &r);
            sisp_store_audit(st, s->user, "group-add", user);
            if (g->n_grants == 0) { /* others may grant the keys */
                sisp_member_pending_t mp = {sisp_slice_str(group), g->user};
                if (sisp_member_pending_encode(&j->fanout, 0, &mp) == 0)
                    snprintf(j->fan_group, sizeof j->fan_group, "%s", group);
            }
        }
        free(u);
        break;
    }
    case SISP_T_GROUP_REMOVE: {
        const sisp_group_remove_t *g = &p->u.group_remove;
        sisp_group_rec_t rec;
        cstr(group, sizeof group, g->group);
        cstr(user, sizeof user, g->user);
        /* Only a member with the keys may remove one and start the next epoch: a pending
         * member could otherwise start an epoch nobody holds. */
        rc = member_ok(st, group, s->user, 1);
        if (rc == 0 && strcmp(group, "all") == 0)
            rc = SISP_EPERM; /* `all` is every registered user: revoke instead */
        if (rc == 0)
            rc = sisp_store_group_get(st, group, &rec);
        if (rc == 0)
            rc = sisp_store_member_remove(st, group, user);
        if (rc == 0)
            rc = sisp_store_grants_drop(st, group, user);
        /* A new epoch: future posts use it, and the removed member never receives it. */
        for (uint32_t i = 0; rc == 0 && i < g->n_grants; i++)
            if (g->grants[i].epoch != rec.epoch + 1)
                rc = SISP_EVALUE;
        if (rc == 0)
            rc = sisp_store_group_set_epoch(st, group, rec.epoch + 1);
        if (rc == 0)
            rc = store_grants(st, s, group, g->grants, g->n_grants, NULL);
        if (rc == 0)
            rc = pend_ungranted(st, group, g->grants, g->n_grants);
        if (rc == 0) {
            sisp_group_result_t r = {sisp_slice_str(group), rec.epoch + 1,
                                     rec.members ? rec.members - 1 : 0};
            rc = sisp_group_result_encode(&j->reply, j->stream, &r);
            sisp_store_audit(st, s->user, "group-remove", user);
        }
        break;
    }
    case SISP_T_KEY_GRANT: {
        const sisp_key_grant_t *g = &p->u.key_grant;
        sisp_group_rec_t rec;
        int pending = 0;
        cstr(group, sizeof group, g->group);
        rc = sisp_store_group_get(st, group, &rec);
        if (rc == 0) {
            int m = sisp_store_is_member(st, group, s->user, &pending);
            rc = m < 0 ? m : (m == 0 ? SISP_EPERM : 0);
        }
        if (rc == 0 && rec.epoch == 0) {
            /* A group without keys yet (`all` before its first user's client made epoch 1):
             * a member may create epoch 1 by granting it, to itself first. */
            for (uint32_t i = 0; rc == 0 && i < g->n_grants; i++)
                if (g->grants[i].epoch != 1)
                    rc = SISP_EVALUE;
            if (rc == 0)
                rc = sisp_store_group_set_epoch(st, group, 1);
            rec.epoch = 1;
        } else if (rc == 0 && pending) {
            rc = SISP_EPERM; /* a member without keys cannot grant them */
        }
        if (rc == 0)
            rc = store_grants(st, s, group, g->grants, g->n_grants, NULL);
        if (rc == 0)
            rc = unpend(st, group, g->grants, g->n_grants, rec.epoch);
        if (rc == 0) {
            sisp_ok_t ok = {g->n_grants};
            rc = sisp_ok_encode(&j->reply, j->stream, &ok);
            /* The recipient (one per frame is the common case) is told at once. */
            if (g->n_grants > 0) {
                sisp_key_result_t *kr = calloc(1, sizeof *kr);
                if (kr != NULL) {
                    kr->group = g->group;
                    for (uint32_t i = 0; i < g->n_grants; i++) {
                        if (!sisp_slice_eq(g->grants[i].user, g->grants[0].user))
                            continue;
                        kr->grants[kr->n_grants] = g->grants[i];
                        kr->grants[kr->n_grants++].granter = sisp_slice_str(s->user);
                    }
                    if (sisp_key_result_encode(&j->fanout, 0, kr) == 0)
                        cstr(j->fan_user, sizeof j->fan_user, g->grants[0].user);
                    free(kr);
                }
            }
        }
        break;
    }
    case SISP_T_DELETE: {
        /* The owner may delete an image, even after leaving its group; another member is
         * told it is not theirs; to anyone else it does not exist. */
        char name[SISP_IMAGENAME_MAX + 1], what[SISP_GROUPNAME_MAX + SISP_IMAGENAME_MAX + 32];
        sisp_image_rec_t *img = malloc(sizeof *img);
        cstr(group, sizeof group, p->u.delete.group);
        cstr(name, sizeof name, p->u.delete.name);
        rc = img ? sisp_store_image_delete(st, group, name, s->user, img) : SISP_ENOMEM;
        if (rc == SISP_EPERM && member_ok(st, group, s->user, 0) != 0)
            rc = SISP_ENOTFOUND;
        else if (rc == SISP_EPERM)
            why = "only its owner can delete an image";
        if (rc == 0) {
            sisp_ok_t ok = {1};
            rc = sisp_ok_encode(&j->reply, j->stream, &ok);
            snprintf(what, sizeof what, "%s/%s id %" PRIu64, group, name, img->id);
            sisp_store_audit(st, s->user, "image-delete", what);
        }
        free(img);
        break;
    }
    default:
        rc = SISP_EINTERNAL;
        break;
    }
    /* Only the answers of requests that change nothing can outgrow the smallest max_control
     * (1 KiB): a certificate, a long member list, many grants. */
    if (rc == 0 && !fits_peer(s, j->reply.data, j->reply.len)) {
        rc = SISP_ETOOBIG;
        why = TOO_BIG_FOR_PEER;
    }
    base->rc = rc;
    if (rc != 0) {
        sisp_buf_reset(&j->reply);
        sisp_buf_reset(&j->fanout);
        j->fan_group[0] = j->fan_user[0] = '\0';
        send_error_to(&j->reply, j->stream, rc, why, p->type);
    }
}

/* ---- uploads ---- */

/* What an upload must still satisfy when it commits, in the commit's transaction, which no
 * other write interleaves with: the poster is a member with keys, the image is sealed under the
 * group's current epoch (a member removed meanwhile must not read it), and the user's images,
 * this one included, fit the quota (other uploads of the user may have committed since
 * POST_BEGIN). */
static int upload_allowed(sisp_store_t *st, const sisp_session_t *s) {
    const sisp_image_rec_t *img = s->up.img;
    sisp_group_rec_t g;
    uint64_t used = 0, total = 0;
    int rc = member_ok(st, img->group, s->user, 1);
    if (rc == 0)
        rc = sisp_store_group_get(st, img->group, &g);
    if (rc == 0 && img->epoch != g.epoch)
        rc = SISP_EMISMATCH;
    if (rc == 0)
        rc = sisp_store_usage(st, s->user, &used);
    if (rc == 0 &&
        (__builtin_add_overflow(used, img->size, &total) || total > s->env->cfg.quota_bytes))
        rc = SISP_EQUOTA;
    return rc;
}

/* Words for the refusals an upload may meet at POST_BEGIN or at its commit. */
static const char *upload_refusal(int rc) {
    switch (rc) {
    case SISP_EEXIST:
        return "an image of that name exists in that group";
    case SISP_EMISMATCH:
        return "the image is sealed under an old key of the group: seal it again";
    case SISP_EPERM:
        return "not a member of that group with its keys";
    case SISP_EQUOTA:
        return "your images would exceed your quota";
    default:
        return NULL;
    }
}

static void run_post_begin(sisp_job_t *base, sisp_store_t *st) {
    sjob_t *j = (sjob_t *)base;
    sisp_session_t *s = j->s;
    /* The loop does not touch s->up while this job runs. The same checks run again at the
     * commit: here they refuse early, before any byte is sent. */
    int rc = upload_allowed(st, s);
    if (rc == 0)
        rc = sisp_store_blob_create(st, &s->up.blob);
    base->rc = rc;
    if (rc != 0)
        send_error_to(&j->reply, j->stream, rc, upload_refusal(rc), SISP_T_POST_BEGIN);
}

static void on_post_begin(sisp_session_t *s, const sisp_frame_t *f, const uint8_t *raw, size_t n,
                          const sisp_post_begin_t *pb) {
    sisp_manifest_t m;
    if (s->up.active) {
        send_error_to(&s->out, f->stream, SISP_EBUSY, "one upload at a time per connection",
                      SISP_T_POST_BEGIN);
        s->failed_stream = f->stream;
        return;
    }
    /* The manifest must be signed by the authenticated user and name them as its owner, and
     * describe exactly this upload. */
    int rc = sisp_manifest_verify(pb->manifest.ptr, pb->manifest.len, pb->signature.ptr,
                                  pb->signature.len, s->peer.pub, sisp_slice_str(s->user), &m);
    if (rc == 0 && (!sisp_slice_eq(m.name, pb->name) || !sisp_slice_eq(m.group, pb->group)))
        rc = SISP_EMISMATCH;
    if (rc == 0 && m.cipher_size != pb->size)
        rc = SISP_ESIZE;
    if (rc == 0 && pb->size > s->env->cfg.max_image_bytes)
        rc = SISP_EQUOTA;
    if (rc != 0) {
        send_error_to(&s->out, f->stream, rc, NULL, SISP_T_POST_BEGIN);
        s->failed_stream = f->stream;
        return;
    }
    if (s->up.img == NULL && (s->up.img = malloc(sizeof *s->up.img)) == NULL) {
        fail(s, f->stream, SISP_ENOMEM, SISP_T_POST_BEGIN);
        return;
    }
    memset(s->up.img, 0, sizeof *s->up.img);
    cstr(s->up.img->name, sizeof s->up.img->name, pb->name);
    cstr(s->up.img->group, sizeof s->up.img->group, pb->group);
    snprintf(s->up.img->owner, sizeof s->up.img->owner, "%s", s->user);
    s->up.img->epoch = m.epoch;
    s->up.img->size = pb->size;
    memcpy(s->up.img->manifest, pb->manifest.ptr, pb->manifest.len);
    s->up.img->manifest_len = pb->manifest.len;
    memcpy(s->up.img->sig, pb->signature.ptr, pb->signature.len);
    s->up.img->sig_len = pb->signature.len;
    memcpy(s->up.want, m.cipher_sha256.ptr, SISP_SHA256_SIZE);
    s->up.stream = f->stream;
    s->up.size = pb->size;
    s->up.written = 0;
    if (sisp_sha256_init(&s->up.hash) != 0) {
        fail(s, f->stream, SISP_ECRYPTO, SISP_T_POST_BEGIN);
        return;
    }
    if (job_take_frame(s, raw, n) != 0) {
        fail(s, f->stream, SISP_ENOMEM, SISP_T_POST_BEGIN);
        return;
    }
    s->up.blob.fd = -1;
    s->up.blob.tmp_path[0] = '\0';
    start_job(s, OP_POST_BEGIN, f->stream, run_post_begin, 0);
}

/* Off the loop: hash the batch, then write it. While this job runs the loop only fills the
 * next batch (s->up.batch, written, failed) and never touches s->up.hash; one write job at a
 * time keeps the hash in stream order. */
static void run_write(sisp_job_t *base, sisp_store_t *st) {
    sjob_t *j = (sjob_t *)base;
    const uint8_t *p = j->data.data;
    size_t n = j->data.len;
    off_t off = (off_t)j->offset;
    (void)st;
    /* The batch's blocks first, in one go: a full disk is a specific error (ESTORE) rather
     * than a failed write, and the write then skips ext4's block allocation for each page
     * (some 7% of an upload's CPU). Only what arrived is reserved, never the declared size,
     * which a client could claim on many connections without sending a byte. The size still
     * grows only as bytes are written, so the commit's size check keeps its meaning. File
     * systems without fallocate just write. */
    if (fallocate(j->fd, FALLOC_FL_KEEP_SIZE, off, (off_t)n) != 0 &&
        (errno == ENOSPC || errno == EDQUOT)) {
        base->rc = SISP_ESTORE;
        return;
    }
    base->rc = sisp_sha256_update(&j->s->up.hash, p, n);
    if (base->rc != 0)
        return;
    while (n > 0) {
        ssize_t w = pwrite(j->fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            base->rc = SISP_EIO;
            return;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    /* Start writing this batch back now, without waiting: the fsync before the commit then
     * finds little left to do instead of the whole image. Advice only, so errors are moot. */
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(j->fd, (off64_t)j->offset, (off64_t)j->data.len, SYNC_FILE_RANGE_WRITE);
#endif
}

static void abort_upload(sisp_session_t *s) {
    if (!s->up.active)
        return;
    if (s->up.blob.fd >= 0)
        close(s->up.blob.fd);
    s->up.blob.fd = -1;
    unlink(s->up.blob.tmp_path);
    sisp_sha256_free(&s->up.hash);
    sisp_buf_free(&s->up.batch);
    s->up.failed = 0;
    s->up.active = 0;
}

/* Hands the batch to a write job; the job's previous buffer becomes the next batch. */
static void start_write(sisp_session_t *s) {
    sjob_t *j = &s->job;
    sisp_buf_t t = j->data;
    j->data = s->up.batch;
    s->up.batch = t;
    sisp_buf_reset(&s->up.batch);
    j->fd = s->up.blob.fd;
    j->offset = s->up.written - j->data.len;
    start_job(s, OP_POST_WRITE, s->up.stream, run_write, 1);
}

static void on_data(sisp_session_t *s, const sisp_frame_t *f, const sisp_data_t *d) {
    if (!s->up.active || f->stream != s->up.stream) {
        if (f->stream != s->failed_stream)
            send_error_to(&s->out, f->stream, SISP_ESTREAM, "no upload on this stream",
                          SISP_T_DATA);
        return;
    }
    int rc = 0;
    if (d->offset != s->up.written)
        rc = SISP_EPROTO;
    else if (d->data.len > s->up.size - s->up.written)
        rc = SISP_ESIZE;
    if (rc == 0 && sisp_buf_append(&s->up.batch, d->data.ptr, d->data.len) != 0)
        rc = SISP_ENOMEM;
    if (rc != 0) {
        send_error_to(&s->out, f->stream, rc, NULL, SISP_T_DATA);
        s->failed_stream = s->up.stream;
        if (s->busy)
            s->up.failed = 1; /* the running write job uses the file: abort when it is back */
        else
            abort_upload(s);
        return;
    }
    s->up.written += d->data.len; /* accepted; on disk once its batch's job is back */
    if (!s->busy)
        start_write(s);
}

static void run_commit(sisp_job_t *base, sisp_store_t *st) {
    sjob_t *j = (sjob_t *)base;
    sisp_session_t *s = j->s;
    int rc = upload_allowed(st, s);
    if (rc == 0)
        rc = sisp_store_image_commit(st, &s->up.blob, s->up.img);
    base->rc = rc;
    if (rc == 0)
        sisp_store_audit(st, s->user, "post", s->up.img->name);
    /* The group's members, in the same job: the NOTIFY then goes out as soon as POSTED does,
     * not after another trip through the store thread. */
    sisp_members_free(&j->members);
    if (rc == 0 && sisp_store_members(st, s->up.img->group, sisp_members_add, &j->members) != 0)
        j->members.failed = 1;
}

static void on_post_end(sisp_session_t *s, const sisp_frame_t *f, const sisp_post_end_t *pe) {
    uint8_t digest[SISP_SHA256_SIZE];
    if (!s->up.active || f->stream != s->up.stream) {
        if (f->stream != s->failed_stream)
            send_error_to(&s->out, f->stream, SISP_ESTREAM, "no upload on this stream",
                          SISP_T_POST_END);
        return;
    }
    int rc = 0;
    if (pe->size != s->up.written || s->up.written != s->up.size)
        rc = SISP_ESIZE;
    if (rc == 0 && sisp_sha256_final(&s->up.hash, digest) != 0)
        rc = SISP_ECRYPTO;
    if (rc == 0 && !sisp_ct_eq(digest, s->up.want, SISP_SHA256_SIZE))
        rc = SISP_EHASH;
    if (rc != 0) {
        send_error_to(&s->out, f->stream, rc, NULL, SISP_T_POST_END);
        s->failed_stream = s->up.stream;
        abort_upload(s);
        return;
    }
    start_job(s, OP_POST_COMMIT, f->stream, run_commit, 0);
}

static void on_post_committed(sisp_session_t *s, int quiet) {
    sjob_t *j = &s->job;
    int rc = j->base.rc;
    s->up.active = 0;
    /* The commit closes the file whenever it runs; if the store never ran it, close it here. */
    if (s->up.blob.fd >= 0)
        close(s->up.blob.fd);
    s->up.blob.fd = -1;
    if (rc != 0) {
        sisp_members_free(&j->members);
        unlink(s->up.blob.tmp_path);
        if (!quiet)
            send_error_to(&s->out, j->stream, rc, upload_refusal(rc), SISP_T_POST_END);
        return;
    }
    const sisp_image_rec_t *img = s->up.img;
    sisp_posted_t posted = {img->id, img->seq, sisp_slice_str(img->name),
                            sisp_slice_str(img->group), (uint64_t)img->posted_at};
    if (!quiet && sisp_posted_encode(&s->out, j->stream, &posted) != 0)
        s->closing = 1;
    /* Acknowledged: now tell every connected member of the group, the uploader's other
     * connections included. */
    sisp_notify_t n;
    image_info_of(img, &n);
    sisp_buf_reset(&j->fanout);
    if (sisp_notify_encode(&j->fanout, 0, &n) == 0) {
        if (!j->members.failed)
            s->env->notify_members(s->env, img->group, &j->members, j->fanout.data, j->fanout.len);
        else /* listing them failed: list them again */
            s->env->notify_group(s->env, img->group, j->fanout.data, j->fanout.len);
    }
    sisp_members_free(&j->members);
}

/* ---- downloads ---- */

static void run_download_open(sisp_job_t *base, sisp_store_t *st) {
    sjob_t *j = (sjob_t *)base;
    sisp_session_t *s = j->s;
    const sisp_download_t *d = &j->pkt->u.download;
    char group[SISP_GROUPNAME_MAX + 1], name[SISP_IMAGENAME_MAX + 1], path[600];
    cstr(group, sizeof group, d->group);
    cstr(name, sizeof name, d->name);
    j->fd = -1;
    int rc = sisp_store_image_get(st, d->id, group, name, s->user, j->img);
    if (rc == 0)
        rc = member_ok(st, j->img->group, s->user, 0);
    if (rc == SISP_EPERM)
        rc = SISP_ENOTFOUND; /* do not reveal images of groups one is not in */
    if (rc == 0 && d->offset > j->img->size)
        rc = SISP_EVALUE;
    if (rc == 0) {
        sisp_store_blob_path(st, j->img->blob, path, sizeof path);
        j->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (j->fd < 0)
            rc = SISP_EIO;
    }
    base->rc = rc;
    if (rc == 0) {
        sisp_image_begin_t ib;
        memset(&ib, 0, sizeof ib);
        image_info_of(j->img, &ib.info);
        ib.manifest = sisp_slice(j->img->manifest, j->img->manifest_len);
        ib.signature = sisp_slice(j->img->sig, j->img->sig_len);
        ib.offset = d->offset;
        j->offset = d->offset;
        rc = sisp_image_begin_encode(&j->reply, j->stream, &ib);
        if (rc == 0 && !fits_peer(s, j->reply.data, j->reply.len))
            rc = SISP_ETOOBIG;
        if (rc == 0 && d->offset == j->img->size) {
            sisp_image_end_t e = {j->img->size};
            rc = sisp_image_end_encode(&j->reply, j->stream, &e);
            close(j->fd);
            j->fd = -1;
            base->rc = 1; /* nothing to stream */
        }
    }
    if (rc < 0) {
        if (j->fd >= 0)
            close(j->fd);
        j->fd = -1;
        base->rc = rc;
        sisp_buf_reset(&j->reply);
        send_error_to(&j->reply, j->stream, rc, rc == SISP_ETOOBIG ? TOO_BIG_FOR_PEER : NULL,
                      SISP_T_DOWNLOAD);
    }
}

static void run_read(sisp_job_t *base, sisp_store_t *st) {
    sjob_t *j = (sjob_t *)base;
    (void)st;
    base->rc = 0;
    ssize_t r;
    do
        r = pread(j->fd, j->data.data, j->want, (off_t)j->offset);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        base->rc = SISP_EIO;
    else
        j->data.len = (size_t)r;
}

/* Data bytes per DATA frame: the configured chunk, cut to what the client's HELLO accepts
 * (a frame's payload is the data plus SISP_DATA_OVERHEAD - SISP_HEADER_SIZE). */
static uint32_t download_chunk(const sisp_session_t *s) {
    uint32_t fit = s->peer_max_data - (SISP_DATA_OVERHEAD - SISP_HEADER_SIZE);
    uint32_t n = s->env->cfg.chunk < fit ? s->env->cfg.chunk : fit;
    return n < SISP_CHUNK_MAX ? n : SISP_CHUNK_MAX;
}

static void end_download(sisp_session_t *s) {
    if (s->down.fd >= 0)
        close(s->down.fd);
    s->down.fd = -1;
    s->down.active = 0;
    if (!s->busy)
        sisp_buf_free(&s->job.data); /* the chunk buffer of read jobs */
}

/* n more bytes of the image are in the output: after the last, IMAGE_END. */
static void download_advance(sisp_session_t *s, size_t n) {
    s->down.offset += n;
    if (s->down.offset < s->down.size)
        return;
    sisp_image_end_t e = {s->down.size};
    if (sisp_image_end_encode(&s->out, s->down.stream, &e) != 0)
        s->closing = 1;
    end_download(s);
}

/* Reads the next chunk straight into the output, on the loop, if the page cache holds it:
 * preadv2 with RWF_NOWAIT returns EAGAIN rather than wait for the disk, so the loop never
 * blocks, and a cached image costs neither a thread-pool round trip per chunk nor a copy.
 * Returns 1 if a DATA frame was added, 0 if the chunk must come from a read job. */
static int read_cached(sisp_session_t *s, size_t n) {
    uint8_t *room = sisp_data_room(&s->out, n);
    if (room == NULL)
        return 0;
    struct iovec iov = {room, n};
    ssize_t r;
    do
        r = preadv2(s->down.fd, &iov, 1, (off_t)s->down.offset, RWF_NOWAIT);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        /* EAGAIN: not cached, a job reads it. Anything else (no RWF_NOWAIT on this file
         * system, an error, the file shorter than recorded): the job path from now on, which
         * also reports a real error. */
        if (r == 0 || errno != EAGAIN)
            s->down.cached = 0;
        return 0;
    }
    if (sisp_data_put(&s->out, s->down.stream, s->down.offset, (size_t)r) != 0)
        return 0;
    download_advance(s, (size_t)r);
    return 1;
}

static void continue_download(sisp_session_t *s) {
    while (s->down.active && !s->busy && !s->closing && s->out.len < DOWN_HIGH_WATER) {
        uint64_t left = s->down.size - s->down.offset;
        uint32_t chunk = download_chunk(s);
        size_t n = left < chunk ? (size_t)left : chunk;
        if (s->down.cached && read_cached(s, n))
            continue;
        sjob_t *j = &s->job;
        sisp_buf_reset(&j->data);
        if (sisp_buf_reserve(&j->data, n) != 0) {
            sisp_session_bye(s, SISP_ENOMEM, NULL);
            return;
        }
        j->want = n;
        j->fd = s->down.fd;
        j->offset = s->down.offset;
        start_job(s, OP_DOWNLOAD_READ, s->down.stream, run_read, 1);
        return;
    }
}

void sisp_session_drained(sisp_session_t *s) {
    if (!s->busy && s->in.len > 0)
        pump(s);
    continue_download(s);
}

/* ---- dispatch ---- */

static void dispatch(sisp_session_t *s, const sisp_frame_t *f, const uint8_t *raw, size_t n) {
    /* The decoded packet (up to some 25 KiB with its repeated fields) exists only while a
     * frame is handled or a job runs, so an idle connection does not keep it. */
    if (s->job.pkt == NULL && (s->job.pkt = malloc(sizeof *s->job.pkt)) == NULL) {
        fail(s, f->stream, SISP_ENOMEM, f->type);
        return;
    }
    sisp_packet_t *pkt = s->job.pkt; /* decoded into the job's packet; copied again if needed */
    int rc = sisp_packet_decode(f, pkt);
    if (rc != 0) {
        fail(s, f->stream, rc, f->type);
        return;
    }
    switch (f->type) {
    case SISP_T_HELLO:
        on_hello(s, &pkt->u.hello);
        return;
    case SISP_T_PING: {
        sisp_pong_t pong = {pkt->u.ping.token};
        if (sisp_pong_encode(&s->out, f->stream, &pong) != 0)
            s->closing = 1;
        return;
    }
    case SISP_T_PONG:
    case SISP_T_ERROR:
        return;
    case SISP_T_BYE:
        s->closing = 1;
        return;
    case SISP_T_CANCEL:
        if (s->up.active && f->stream == s->up.stream) {
            abort_upload(s);
            s->failed_stream = f->stream;
        } else if (s->down.active && f->stream == s->down.stream) {
            end_download(s);
        }
        return;
    case SISP_T_REGISTER: {
        if (!s->env->register_allowed(s->env, s->addr)) {
            send_error_to(&s->out, f->stream, SISP_ERATELIMIT, NULL, SISP_T_REGISTER);
            return;
        }
        break;
    }
    case SISP_T_POST_BEGIN:
        on_post_begin(s, f, raw, n, &pkt->u.post_begin);
        return;
    case SISP_T_DATA:
        on_data(s, f, &pkt->u.data);
        return;
    case SISP_T_POST_END:
        on_post_end(s, f, &pkt->u.post_end);
        return;
    case SISP_T_DOWNLOAD:
        if (s->down.active) {
            send_error_to(&s->out, f->stream, SISP_EBUSY, "one download at a time",
                          SISP_T_DOWNLOAD);
            return;
        }
        if (s->peer_max_data < SISP_DATA_OVERHEAD - SISP_HEADER_SIZE + DOWN_MIN_CHUNK) {
            send_error_to(&s->out, f->stream, SISP_EVALUE,
                          "the max_data of your HELLO leaves room for less than 1 KiB of DATA",
                          SISP_T_DOWNLOAD);
            return;
        }
        break;
    default:
        break;
    }
    /* Everything else is answered from the store, off the loop. */
    if (job_take_frame(s, raw, n) != 0) {
        fail(s, f->stream, SISP_ENOMEM, f->type);
        return;
    }
    if (f->type == SISP_T_REGISTER)
        start_job(s, OP_REGISTER, f->stream, run_register, 0);
    else if (f->type == SISP_T_DOWNLOAD) {
        if (s->job.img == NULL && (s->job.img = malloc(sizeof *s->job.img)) == NULL) {
            fail(s, f->stream, SISP_ENOMEM, f->type);
            return;
        }
        start_job(s, OP_DOWNLOAD_OPEN, f->stream, run_download_open, 0);
    } else
        start_job(s, OP_REQUEST, f->stream, run_request, 0);
}

/* pump may take this frame now: always when no job runs; while an upload's write job runs,
 * only that upload's next DATA frames, into a batch of bounded size. */
static int can_take(const sisp_session_t *s, const uint8_t *p, size_t len) {
    if (!s->busy)
        return 1;
    return s->job.op == OP_POST_WRITE && s->up.active && !s->up.failed &&
           s->up.batch.len < UP_BATCH_MAX && len >= SISP_HEADER_SIZE && p[5] == SISP_T_DATA;
}

static void pump(sisp_session_t *s) {
    size_t used = 0;
    if (s->in_pump)
        return; /* the outer loop goes on once the job that finished here returns */
    s->in_pump = 1;
    /* A client that sends requests but does not read their answers stops being served once
     * this much output waits: memory stays bounded, and the glue stops reading. */
    while (!s->closing && s->out.len < out_high(s) &&
           can_take(s, s->in.data + used, s->in.len - used)) {
        sisp_frame_t f;
        size_t n = 0;
        int rc = sisp_frame_decode(&s->dec, s->in.data + used, s->in.len - used, &f, &n);
        if (rc == SISP_NEED_MORE)
            break;
        if (rc != 0) {
            uint8_t type = s->in.len - used >= SISP_HEADER_SIZE ? s->in.data[used + 5] : 0;
            fail(s, 0, rc, type);
            break;
        }
        dispatch(s, &f, s->in.data + used, n);
        used += n;
    }
    s->in_pump = 0;
    sisp_buf_consume(&s->in, used);
    if (!s->busy) {
        /* Idle: give back what only a frame in progress needs. */
        free(s->job.pkt);
        s->job.pkt = NULL;
        sisp_buf_trim(&s->in, IDLE_KEEP);
        sisp_buf_free(&s->job.frame);
        sisp_buf_free(&s->job.reply);
        sisp_buf_free(&s->job.fanout);
        if (!s->down.active)
            sisp_buf_free(&s->job.data);
        if (!s->up.active) {
            sisp_buf_free(&s->up.batch);
            free(s->up.img);
            s->up.img = NULL;
        }
        free(s->job.img); /* a download's record: its state is in s->down once open */
        s->job.img = NULL;
    }
}

void sisp_session_input(sisp_session_t *s, const uint8_t *p, size_t len) {
    if (s->closing)
        return;
    if (sisp_buf_append(&s->in, p, len) != 0) {
        fail(s, 0, SISP_ETOOBIG, 0);
        return;
    }
    pump(s);
}
