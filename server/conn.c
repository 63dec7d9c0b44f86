/* libuv glue: listener, connections, backpressure, timeouts, fan-out, shutdown. Callbacks only
 * translate events into calls on the TLS engine and the session. */
#include "conn.h"
#include "log.h"
#include "session.h"

#include <sisp/error.h>

#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define TLS_QUEUE (128u * 1024u) /* session output goes into TLS while less waits there */
#define TLS_PIECE (64u * 1024u)  /* plaintext per sisp_tls_write */
#define TRIM_AT (1024u * 1024u)  /* freed since the last trim: worth handing back */
#define TRIM_EVERY_S 2           /* and no trim more often than this */

typedef struct conn conn_t;
struct conn {
    uv_tcp_t tcp;
    sisp_server_t *srv;
    conn_t *prev, *next;
    sisp_tls_t *tls;
    sisp_session_t *sess;
    uv_write_t wreq;
    sisp_buf_t inflight;    /* ciphertext handed to uv_write */
    uint64_t inflight_upto; /* the write in flight holds the session's output up to here */
    int writing;
    int closing;       /* close requested: handle closing or closed */
    int close_pending; /* close once output is flushed */
    int read_stopped;
    int preauth; /* counted in n_preauth */
    int pinged;
    char addr[64];
    int64_t created, last_rx;
    int64_t rate_since;    /* start of the current minimum-rate window (0: not measuring) */
    uint64_t rate_bytes;   /* bytes received in it */
    int64_t closing_since; /* when the session asked to close; the peer gets 2 s to take it */
};

/* Connections per peer address, for --max-per-addr: a chained hash table, so an accept costs
 * O(1) whatever the number of connections. */
#define ADDR_BUCKETS 4096
typedef struct addr_count {
    struct addr_count *next;
    unsigned n;
    char addr[64];
} addr_count_t;

#define RATE_SLOTS 256
typedef struct {
    char addr[64];
    int64_t window;
    unsigned count;
} rate_t;

struct sisp_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t sweep;
    uv_timer_t shutdown_timer;
    sisp_net_cfg_t net;
    sisp_env_t env;
    sisp_tls_ctx_t *tls;
    sisp_worker_t *worker;
    sisp_store_t *st;
    conn_t *conns;
    unsigned n_conns, n_preauth;
    addr_count_t *addrs[ADDR_BUCKETS];
    int shutting_down;
    uint64_t *revoked; /* sorted serials, refreshed from the store every few seconds */
    size_t n_revoked;
    int refreshing;
    int64_t last_refresh;
    size_t trim_freed; /* bytes idle connections gave back since the last malloc_trim */
    int64_t last_trim;
    rate_t rates[RATE_SLOTS];
    uint8_t readbuf[64 * 1024];
};

typedef struct {
    sisp_job_t job;
    sisp_server_t *srv;
    char group[SISP_GROUPNAME_MAX + 1];
    sisp_buf_t frame;
    sisp_members_t members;
} fanout_job_t;

static void submit(sisp_server_t *srv, sisp_job_t *job);
static void refresh_revoked(sisp_server_t *srv);

void sisp_net_cfg_default(sisp_net_cfg_t *cfg) {
    cfg->max_conns = 20000;
    cfg->max_preauth = 1024;
    cfg->max_per_addr = 20000;
    cfg->handshake_timeout = 10;
    cfg->idle_timeout = 300;
    cfg->min_rate = 1024;
    cfg->rate_window = 20;
}

static int64_t now_s(void) {
    return (int64_t)time(NULL);
}

/* ---- closing ---- */

static void on_closed(uv_handle_t *h) {
    conn_t *c = container_of(h, conn_t, tcp);
    sisp_tls_free(c->tls);
    sisp_buf_free(&c->inflight);
    free(c);
}

static void addr_dec(sisp_server_t *srv, const char *addr);

static void conn_close(conn_t *c) {
    if (c->closing)
        return;
    c->closing = 1;
    sisp_server_t *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_conns--;
    if (c->preauth)
        srv->n_preauth--;
    addr_dec(srv, c->addr);     /* every connection that gets here was counted */
    sisp_session_free(c->sess); /* deferred by the session while a job of it runs */
    c->sess = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- output ---- */

static void flush(conn_t *c);
static void maybe_resume(conn_t *c);

static void on_written(uv_write_t *req, int status) {
    conn_t *c = container_of(req, conn_t, wreq);
    c->writing = 0;
    sisp_buf_reset(&c->inflight);
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->sess) {
        sisp_session_sent(c->sess, c->inflight_upto);
        sisp_session_drained(c->sess);
    }
    flush(c);
    maybe_resume(c); /* reading stopped on a full queue resumes as it drains */
}

/* Moves session output through TLS, starts a write if none is in flight, applies
 * backpressure, and closes once a closing session's output is out. */
static void flush(conn_t *c) {
    if (c->closing)
        return;
    uint64_t handed = 0; /* the session's output position handed to TLS so far */
    if (c->sess) {
        sisp_buf_t *out = sisp_session_output(c->sess);
        size_t taken = 0;
        /* Into TLS records only while few wait to be written: the rest stays in the session,
         * which then stops producing (a download) or taking requests, so a connection holds
         * little memory below the session however much it is sent. */
        while (taken < out->len && sisp_tls_out(c->tls)->len < TLS_QUEUE) {
            size_t n = out->len - taken < TLS_PIECE ? out->len - taken : TLS_PIECE;
            int rc = sisp_tls_write(c->tls, out->data + taken, n);
            if (rc == SISP_NEED_MORE)
                break; /* TLS output is full: the rest waits for the write in flight */
            if (rc != 0) {
                conn_close(c);
                return;
            }
            taken += n;
        }
        handed = sisp_session_taken(c->sess, taken);
        if (sisp_session_closing(c->sess) && c->closing_since == 0)
            c->closing_since = now_s();
        if (sisp_session_closing(c->sess) && out->len == 0 && !c->close_pending) {
            c->close_pending = 1;
            sisp_tls_close(c->tls);
        }
    }
    sisp_buf_t *tls_out = sisp_tls_out(c->tls);
    if (!c->writing && tls_out->len > 0) {
        /* One write in flight; what accumulates behind it goes out together next time. */
        sisp_buf_t tmp = c->inflight;
        c->inflight = *tls_out;
        *tls_out = tmp;
        sisp_buf_reset(tls_out);
        c->inflight_upto = handed; /* TLS writes whole: all of it is in this write */
        uv_buf_t b = uv_buf_init((char *)c->inflight.data, (unsigned)c->inflight.len);
        if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
            conn_close(c);
            return;
        }
        c->writing = 1;
    }
    if (c->close_pending && !c->writing) {
        conn_close(c);
        return;
    }
    /* What waits below the session is bounded above (TLS_QUEUE); what the session holds, it
     * bounds itself, and says when to stop reading. */
    if (c->sess && sisp_session_input_full(c->sess) && !c->read_stopped) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->read_stopped = 1;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf);

static void maybe_resume(conn_t *c) {
    if (!c->read_stopped || c->closing)
        return;
    if (!(c->sess && sisp_session_input_full(c->sess))) {
        c->read_stopped = 0;
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

/* ---- input ---- */

static void start_session(conn_t *c) {
    sisp_cert_info_t info;
    int have = sisp_tls_peer(c->tls, &info) == 0 && sisp_tls_peer_fp(c->tls) != NULL;
    c->sess = sisp_session_new(&c->srv->env, have ? &info : NULL,
                               have ? sisp_tls_peer_fp(c->tls) : NULL, c->addr);
    if (c->sess == NULL) {
        conn_close(c);
        return;
    }
    sisp_session_set_owner(c->sess, c);
    if (have && c->preauth) {
        c->preauth = 0;
        c->srv->n_preauth--;
    }
    sisp_log(SISP_LOG_DEBUG, "%s: TLS done, %s", c->addr, have ? info.user : "no certificate");
}

static void process(conn_t *c) {
    if (c->sess == NULL) {
        int rc = sisp_tls_handshake(c->tls);
        if (rc == SISP_NEED_MORE) {
            flush(c);
            return;
        }
        if (rc != 0) {
            sisp_log(SISP_LOG_INFO, "%s: TLS handshake refused: %s (%s)", c->addr,
                     sisp_strerror(rc), sisp_tls_why(c->tls));
            c->close_pending = 1; /* send the alert, then close */
            flush(c);
            return;
        }
        start_session(c);
        if (c->sess == NULL)
            return;
    }
    for (;;) {
        uint8_t plain[16384];
        size_t n = 0;
        int rc = sisp_tls_read(c->tls, plain, sizeof plain, &n);
        if (rc == SISP_NEED_MORE)
            break;
        if (rc != 0) {
            if (rc != SISP_ESHUTDOWN)
                sisp_log(SISP_LOG_INFO, "%s: TLS error: %s", c->addr, sisp_strerror(rc));
            conn_close(c);
            return;
        }
        c->last_rx = now_s();
        c->pinged = 0;
        c->rate_bytes += n;
        sisp_session_input(c->sess, plain, n);
        if (sisp_session_closing(c->sess))
            break;
    }
    flush(c);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
    conn_t *c = container_of(h, conn_t, tcp);
    (void)size;
    buf->base = (char *)c->srv->readbuf; /* one loop thread: one shared read buffer */
    buf->len = sizeof c->srv->readbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn_t *c = container_of(s, conn_t, tcp);
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    /* A session that said BYE takes nothing more: what the peer still sends is read (closing
     * a socket with unread input would reset it, and the BYE with it) and dropped, not piled
     * up as ciphertext. */
    if (c->sess && sisp_session_closing(c->sess))
        return;
    if (sisp_tls_feed(c->tls, (const uint8_t *)buf->base, (size_t)nread) != 0) {
        conn_close(c);
        return;
    }
    process(c);
}

/* ---- accepting ---- */

static addr_count_t **addr_slot(sisp_server_t *srv, const char *addr) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = addr; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    addr_count_t **slot = &srv->addrs[h % ADDR_BUCKETS];
    while (*slot != NULL && strcmp((*slot)->addr, addr) != 0)
        slot = &(*slot)->next;
    return slot;
}

static unsigned count_addr(sisp_server_t *srv, const char *addr) {
    addr_count_t *a = *addr_slot(srv, addr);
    return a ? a->n : 0;
}

static int addr_inc(sisp_server_t *srv, const char *addr) {
    addr_count_t **slot = addr_slot(srv, addr);
    if (*slot == NULL) {
        *slot = calloc(1, sizeof **slot);
        if (*slot == NULL)
            return -1;
        snprintf((*slot)->addr, sizeof(*slot)->addr, "%s", addr);
    }
    (*slot)->n++;
    return 0;
}

static void addr_dec(sisp_server_t *srv, const char *addr) {
    addr_count_t **slot = addr_slot(srv, addr), *a = *slot;
    if (a != NULL && --a->n == 0) {
        *slot = a->next;
        free(a);
    }
}

static void peer_name(uv_tcp_t *tcp, char *out, size_t size) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(out, size, "?");
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, out, size);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, out, size);
}

static void on_reject_closed(uv_handle_t *h) {
    free(h);
}

static void on_connection(uv_stream_t *server, int status) {
    sisp_server_t *srv = server->data;
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL || uv_tcp_init(srv->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_reject_closed);
        return;
    }
    peer_name(&c->tcp, c->addr, sizeof c->addr);
    const char *why = NULL;
    if (srv->shutting_down)
        why = "shutting down";
    else if (srv->n_conns >= srv->net.max_conns)
        why = "too many connections";
    else if (srv->n_preauth >= srv->net.max_preauth)
        why = "too many unauthenticated connections";
    else if (count_addr(srv, c->addr) >= srv->net.max_per_addr)
        why = "too many connections from this address";
    if (why != NULL) {
        sisp_log(SISP_LOG_WARN, "%s: refused: %s", c->addr, why);
        uv_close((uv_handle_t *)&c->tcp, on_reject_closed);
        return;
    }
    c->srv = srv;
    c->tls = sisp_tls_new(srv->tls);
    sisp_buf_init(&c->inflight, 0);
    if (c->tls == NULL || addr_inc(srv, c->addr) != 0) {
        sisp_tls_free(c->tls);
        uv_close((uv_handle_t *)&c->tcp, on_reject_closed);
        return;
    }
    c->created = c->last_rx = now_s();
    c->preauth = 1;
    srv->n_preauth++;
    srv->n_conns++;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

/* ---- timeouts ---- */

/* The minimum data rate (slow-body defence): while the peer owes us the rest of a frame or an
 * upload, and we are reading, it must average min_rate bytes/s over each rate_window. */
static int too_slow(sisp_server_t *srv, conn_t *c, int64_t now) {
    if (srv->net.min_rate == 0 || srv->net.rate_window == 0 || c->read_stopped ||
        !sisp_session_receiving(c->sess)) {
        c->rate_since = 0;
        return 0;
    }
    if (c->rate_since == 0) {
        c->rate_since = now;
        c->rate_bytes = 0;
        return 0;
    }
    if (now - c->rate_since < (int64_t)srv->net.rate_window)
        return 0;
    int slow = c->rate_bytes < (uint64_t)srv->net.min_rate * srv->net.rate_window;
    c->rate_since = now;
    c->rate_bytes = 0;
    return slow;
}

static void on_sweep(uv_timer_t *t) {
    sisp_server_t *srv = t->data;
    int64_t now = now_s();
    if (now - srv->last_refresh >= 2)
        refresh_revoked(srv);
    size_t freed = 0;
    for (conn_t *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (!c->writing && !c->closing && now - c->last_rx >= 1) {
            /* Quiet for a second: what a transfer grew is given back, so an idle connection
             * holds about what a fresh one does. */
            freed += sisp_buf_trim(&c->inflight, 0) + sisp_tls_trim(c->tls, 0);
            if (c->sess)
                freed += sisp_session_trim(c->sess);
        }
        if (c->closing_since != 0) {
            /* A peer that does not take its last bytes (a stalled reader dropped over the
             * push cap, a client at shutdown) is cut off rather than kept. */
            if (now - c->closing_since >= 2)
                conn_close(c);
            continue;
        }
        if (c->sess != NULL && sisp_session_state(c->sess) == SISP_STATE_UNAUTH &&
            now - c->created > 6 * (int64_t)srv->net.handshake_timeout) {
            /* Without a certificate a connection may register, not linger. */
            sisp_session_bye(c->sess, SISP_ETIMEDOUT, "register or disconnect");
            flush(c);
            continue;
        }
        if (c->sess == NULL || sisp_session_state(c->sess) == SISP_STATE_HELLO) {
            if (now - c->created > (int64_t)srv->net.handshake_timeout) {
                sisp_log(SISP_LOG_INFO, "%s: handshake timeout", c->addr);
                if (c->sess) {
                    sisp_session_bye(c->sess, SISP_ETIMEDOUT, "handshake timeout");
                    flush(c);
                } else {
                    conn_close(c);
                }
            }
            continue;
        }
        if (too_slow(srv, c, now)) {
            sisp_log(SISP_LOG_INFO, "%s: under %u bytes/s for %u s", c->addr, srv->net.min_rate,
                     srv->net.rate_window);
            sisp_session_bye(c->sess, SISP_ETIMEDOUT, "sending too slowly");
            flush(c);
            continue;
        }
        int64_t idle = now - c->last_rx;
        if (idle > (int64_t)srv->net.idle_timeout) {
            sisp_session_bye(c->sess, SISP_ETIMEDOUT, "idle timeout");
            flush(c);
        } else if (idle > (int64_t)srv->net.idle_timeout / 2 && !c->pinged &&
                   sisp_session_state(c->sess) == SISP_STATE_AUTH) {
            uint8_t frame[64];
            sisp_buf_t b = {frame, 0, sizeof frame, sizeof frame};
            sisp_ping_t ping = {(uint64_t)now};
            if (sisp_ping_encode(&b, 0, &ping) == 0) {
                sisp_session_push(c->sess, b.data, b.len);
                c->pinged = 1;
                flush(c);
            }
        }
    }
    /* The allocator keeps freed memory for reuse; a lot of it at once goes back to the
     * system (malloc_trim also releases free pages inside the heap, not only at its top). */
    srv->trim_freed += freed;
    if (srv->trim_freed >= TRIM_AT && now - srv->last_trim >= TRIM_EVERY_S) {
        malloc_trim(0); /* walks the heap: not more than once every few seconds */
        srv->trim_freed = 0;
        srv->last_trim = now;
    }
}

/* ---- the environment sessions see ---- */

static void submit(sisp_server_t *srv, sisp_job_t *job) {
    job->commit_failed = 0;
    if (srv->worker != NULL) {
        sisp_worker_submit(srv->worker, job);
        return;
    }
    /* Shutting down, the store thread is gone: finish the work here. */
    job->commit_failed = 0;
    job->run(job, srv->st);
    job->done(job);
}

static void env_submit(sisp_env_t *env, sisp_job_t *job) {
    submit(env->data, job);
}

static void push_to_user(sisp_server_t *srv, const char *user, const uint8_t *f, size_t n) {
    for (conn_t *c = srv->conns, *next; c; c = next) {
        next = c->next;
        const char *u = c->sess ? sisp_session_user(c->sess) : NULL;
        if (u != NULL && strcmp(u, user) == 0) {
            sisp_session_push(c->sess, f, n);
            flush(c);
        }
    }
}

static void env_notify_user(sisp_env_t *env, const char *user, const uint8_t *f, size_t n) {
    push_to_user(env->data, user, f, n);
}

static void fanout_run(sisp_job_t *job, sisp_store_t *st) {
    fanout_job_t *j = (fanout_job_t *)job;
    /* Pending members are members: they are told like the others. */
    job->rc = sisp_store_members(st, j->group, sisp_members_add, &j->members);
    if (job->rc == 0 && j->members.failed)
        job->rc = SISP_ENOMEM; /* a partial list: as for the commit's, not pushed */
}

static void push_to_members(sisp_server_t *srv, sisp_members_t *m, const uint8_t *f, size_t n) {
    sisp_members_sort(m);
    for (conn_t *c = srv->conns, *next; c; c = next) {
        next = c->next;
        const char *u = c->sess ? sisp_session_user(c->sess) : NULL;
        if (u != NULL && sisp_members_has(m, u)) {
            sisp_session_push(c->sess, f, n);
            flush(c);
        }
    }
}

static void fanout_done(sisp_job_t *job) {
    fanout_job_t *j = (fanout_job_t *)job;
    if (job->rc == 0)
        push_to_members(j->srv, &j->members, j->frame.data, j->frame.len);
    else
        sisp_log(SISP_LOG_WARN, "group %s: members not listed (%s): a notification is not sent",
                 j->group, sisp_strerror(job->rc));
    sisp_buf_free(&j->frame);
    sisp_members_free(&j->members);
    free(j);
}

static void env_notify_members(sisp_env_t *env, const char *group, sisp_members_t *m,
                               const uint8_t *f, size_t n) {
    (void)group;
    push_to_members(env->data, m, f, n);
}

static void env_notify_group(sisp_env_t *env, const char *group, const uint8_t *f, size_t n) {
    sisp_server_t *srv = env->data;
    fanout_job_t *j = calloc(1, sizeof *j);
    if (j == NULL)
        return;
    j->srv = srv;
    snprintf(j->group, sizeof j->group, "%s", group);
    sisp_buf_init(&j->frame, 0);
    if (sisp_buf_append(&j->frame, f, n) != 0) {
        free(j);
        return;
    }
    j->job.kind = SISP_JOB_STORE;
    j->job.run = fanout_run;
    j->job.done = fanout_done;
    submit(srv, &j->job);
}

static int env_register_allowed(sisp_env_t *env, const char *addr) {
    sisp_server_t *srv = env->data;
    int64_t minute = now_s() / 60;
    rate_t *slot = NULL, *oldest = &srv->rates[0];
    for (size_t i = 0; i < RATE_SLOTS; i++) {
        rate_t *r = &srv->rates[i];
        if (strcmp(r->addr, addr) == 0) {
            slot = r;
            break;
        }
        if (r->window < oldest->window)
            oldest = r;
    }
    if (slot == NULL) {
        slot = oldest;
        snprintf(slot->addr, sizeof slot->addr, "%s", addr);
        slot->window = minute;
        slot->count = 0;
    }
    if (slot->window != minute) {
        slot->window = minute;
        slot->count = 0;
    }
    return ++slot->count <= env->cfg.register_per_min;
}

static int64_t env_now(sisp_env_t *env) {
    (void)env;
    return now_s();
}

static void env_wake(sisp_env_t *env, void *owner) {
    (void)env;
    conn_t *c = owner;
    if (c == NULL || c->closing)
        return;
    flush(c);
    maybe_resume(c);
}

/* ---- start and stop ---- */

/* ---- revocation ----
 * The handshake runs on the loop, which must not touch the store, so it checks a sorted copy
 * of the revoked serials that a store job refreshes every few seconds (`sispd revoke` runs in
 * another process). The session's certificate check on the store thread, after HELLO, closes
 * the gap: no request is served on a revoked certificate either way. */

typedef struct {
    sisp_job_t job;
    sisp_server_t *srv;
    uint64_t *list;
    size_t n, cap;
} revoked_job_t;

static void collect_serial(void *arg, uint64_t serial) {
    revoked_job_t *j = arg;
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        uint64_t *p = realloc(j->list, cap * sizeof *p);
        if (p == NULL) {
            j->job.rc = SISP_ENOMEM;
            return;
        }
        j->list = p;
        j->cap = cap;
    }
    j->list[j->n++] = serial;
}

static void revoked_run(sisp_job_t *job, sisp_store_t *st) {
    revoked_job_t *j = (revoked_job_t *)job;
    job->rc = 0;
    int rc = sisp_store_revoked_serials(st, collect_serial, j);
    if (job->rc == 0)
        job->rc = rc;
}

static int revoked_cb(void *arg, uint64_t serial);

static void revoked_done(sisp_job_t *job) {
    revoked_job_t *j = (revoked_job_t *)job;
    sisp_server_t *srv = j->srv;
    srv->refreshing = 0;
    if (job->rc == 0) {
        free(srv->revoked);
        srv->revoked = j->list;
        srv->n_revoked = j->n;
        j->list = NULL;
        /* Connections already open on a certificate revoked since are closed too. */
        for (conn_t *c = srv->conns, *next; c != NULL; c = next) {
            next = c->next; /* flush may close c */
            uint64_t serial = c->sess ? sisp_session_serial(c->sess) : 0;
            if (serial == 0 || c->closing || sisp_session_closing(c->sess) ||
                !revoked_cb(srv, serial))
                continue;
            sisp_log(SISP_LOG_INFO, "%s: certificate serial %llu revoked: closing", c->addr,
                     (unsigned long long)serial);
            sisp_session_bye(c->sess, SISP_EREVOKED, "your certificate was revoked");
            flush(c);
        }
    }
    free(j->list);
    free(j);
}

static void refresh_revoked(sisp_server_t *srv) {
    revoked_job_t *j = calloc(1, sizeof *j);
    if (j == NULL || srv->refreshing) {
        free(j);
        return;
    }
    j->srv = srv;
    j->job.kind = SISP_JOB_STORE;
    j->job.run = revoked_run;
    j->job.done = revoked_done;
    srv->refreshing = 1;
    srv->last_refresh = now_s();
    submit(srv, &j->job);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int revoked_cb(void *arg, uint64_t serial) {
    sisp_server_t *srv = arg;
    return srv->n_revoked > 0 &&
           bsearch(&serial, srv->revoked, srv->n_revoked, sizeof serial, cmp_u64) != NULL;
}

int sisp_server_start(uv_loop_t *loop, const sisp_net_cfg_t *net, const sisp_server_cfg_t *cfg,
                      sisp_ca_t *ca, sisp_store_t *st, const char *host, int port,
                      sisp_server_t **out, int *bound_port) {
    sisp_server_t *srv = calloc(1, sizeof *srv);
    struct sockaddr_storage addr;
    int rc;
    if (srv == NULL)
        return SISP_ENOMEM;
    srv->loop = loop;
    srv->net = *net;
    srv->st = st;
    srv->env.cfg = *cfg;
    srv->env.ca = ca;
    srv->env.store = st;
    srv->env.submit = env_submit;
    srv->env.notify_group = env_notify_group;
    srv->env.notify_user = env_notify_user;
    srv->env.notify_members = env_notify_members;
    srv->env.register_allowed = env_register_allowed;
    srv->env.now = env_now;
    srv->env.wake = env_wake;
    srv->env.data = srv;
    if ((rc = sisp_tls_ctx_new(ca, revoked_cb, srv, &srv->tls)) != 0) {
        free(srv);
        return rc;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0) {
        sisp_tls_ctx_free(srv->tls);
        free(srv);
        return SISP_EINVAL;
    }
    if ((rc = sisp_worker_start(loop, st, &srv->worker)) != 0) {
        sisp_tls_ctx_free(srv->tls);
        free(srv);
        return rc;
    }
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    if (uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection) != 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        sisp_worker_stop(srv->worker);
        srv->worker = NULL;
        *out = srv; /* freed by sisp_server_free after the loop closes the handles */
        return SISP_EIO;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    *bound_port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                   : ((struct sockaddr_in6 *)&bound)->sin6_port);
    refresh_revoked(srv); /* the first list, before the first handshake completes */
    uv_timer_init(loop, &srv->sweep);
    srv->sweep.data = srv;
    uv_timer_start(&srv->sweep, on_sweep, 1000, 1000);
    uv_timer_init(loop, &srv->shutdown_timer);
    srv->shutdown_timer.data = srv;
    *out = srv;
    return 0;
}

static void on_shutdown_timeout(uv_timer_t *t) {
    sisp_server_t *srv = t->data;
    /* Peers that would not take their last bytes: close them anyway. */
    while (srv->conns)
        conn_close(srv->conns);
    uv_close((uv_handle_t *)&srv->shutdown_timer, NULL);
}

void sisp_server_shutdown(sisp_server_t *srv) {
    if (srv->shutting_down)
        return;
    srv->shutting_down = 1;
    uv_close((uv_handle_t *)&srv->listener, NULL);
    uv_timer_stop(&srv->sweep);
    uv_close((uv_handle_t *)&srv->sweep, NULL);
    for (conn_t *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->sess) {
            sisp_session_bye(c->sess, SISP_ESHUTDOWN, "server shutting down");
            flush(c);
        } else {
            conn_close(c);
        }
    }
    /* Finish the store work under way (commits in flight complete and are acknowledged). */
    if (srv->worker) {
        sisp_worker_stop(srv->worker);
        srv->worker = NULL;
    }
    for (conn_t *c = srv->conns; c; c = c->next)
        flush(c);
    uv_timer_start(&srv->shutdown_timer, on_shutdown_timeout, 2000, 0);
    uv_unref((uv_handle_t *)&srv->shutdown_timer);
}

void sisp_server_free(sisp_server_t *srv) {
    if (srv == NULL)
        return;
    free(srv->revoked);
    sisp_tls_ctx_free(srv->tls);
    for (size_t i = 0; i < ADDR_BUCKETS; i++) {
        for (addr_count_t *a = srv->addrs[i], *next; a != NULL; a = next) {
            next = a->next;
            free(a);
        }
    }
    free(srv);
}
