/* The synchronous session environment. See tenv.h. */
#include "tenv.h"

#include "seal_fixture.h"

#include <sisp/error.h>
#include <sisp/keys.h>
#include <sisp/seal.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the environment's callbacks ---- */

static tenv_t *of(sisp_env_t *env) {
    return env->data;
}

static void enqueue(tenv_t *t, sisp_job_t *job) {
    job->next = NULL;
    job->commit_failed = 0;
    if (t->tail)
        t->tail->next = job;
    else
        t->head = job;
    t->tail = job;
}

static void run_one(tenv_t *t, sisp_job_t *job);

static void env_submit(sisp_env_t *env, sisp_job_t *job) {
    tenv_t *t = of(env);
    if (t->immediate && t->depth < TENV_IMMEDIATE_DEPTH) {
        t->depth++;
        run_one(t, job);
        t->depth--;
        return;
    }
    enqueue(t, job);
}

static void record(tenv_t *t, int kind, const char *target, const uint8_t *frame, size_t len) {
    if (t->n_pushes == t->cap_pushes) {
        size_t cap = t->cap_pushes ? t->cap_pushes * 2 : 16;
        tenv_push_t *p = realloc(t->pushes, cap * sizeof *p);
        if (p == NULL)
            abort(); /* a test helper: out of memory is not a result */
        t->pushes = p;
        t->cap_pushes = cap;
    }
    tenv_push_t *p = &t->pushes[t->n_pushes++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    snprintf(p->target, sizeof p->target, "%s", target);
    p->type = len > 5 ? frame[5] : 0;
    sisp_buf_init(&p->frame, 0);
    if (sisp_buf_append(&p->frame, frame, len) != 0)
        abort();
}

/* Like conn.c's push_to_user: every attached session of that user, at once. */
static void env_notify_user(sisp_env_t *env, const char *user, const uint8_t *frame, size_t len) {
    tenv_t *t = of(env);
    record(t, TENV_PUSH_USER, user, frame, len);
    for (size_t i = 0; i < t->n_attached; i++) {
        const char *u = sisp_session_user(t->attached[i]);
        if (u != NULL && strcmp(u, user) == 0)
            sisp_session_push(t->attached[i], frame, len);
    }
}

/* Like conn.c's fan-out: a STORE job lists the members, its done() pushes to their sessions. */
typedef struct {
    sisp_job_t job;
    tenv_t *t;
    char group[SISP_GROUPNAME_MAX + 1];
    sisp_buf_t frame;
    sisp_members_t members;
} fanout_t;

static void fanout_run(sisp_job_t *job, sisp_store_t *st) {
    fanout_t *f = (fanout_t *)job;
    job->rc = sisp_store_members(st, f->group, sisp_members_add, &f->members);
}

static void push_to_members(tenv_t *t, sisp_members_t *m, const uint8_t *frame, size_t len) {
    sisp_members_sort(m);
    for (size_t i = 0; i < t->n_attached; i++) {
        const char *u = sisp_session_user(t->attached[i]);
        if (u != NULL && sisp_members_has(m, u))
            sisp_session_push(t->attached[i], frame, len);
    }
}

static void fanout_done(sisp_job_t *job) {
    fanout_t *f = (fanout_t *)job;
    if (job->rc == 0)
        push_to_members(f->t, &f->members, f->frame.data, f->frame.len);
    sisp_buf_free(&f->frame);
    sisp_members_free(&f->members);
    free(f);
}

/* Like conn.c's: the members came with the commit, so the pushes go out at once. */
static void env_notify_members(sisp_env_t *env, const char *group, sisp_members_t *m,
                               const uint8_t *frame, size_t len) {
    tenv_t *t = of(env);
    record(t, TENV_PUSH_GROUP, group, frame, len);
    push_to_members(t, m, frame, len);
}

static void env_notify_group(sisp_env_t *env, const char *group, const uint8_t *frame, size_t len) {
    tenv_t *t = of(env);
    record(t, TENV_PUSH_GROUP, group, frame, len);
    fanout_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        abort();
    f->t = t;
    snprintf(f->group, sizeof f->group, "%s", group);
    sisp_buf_init(&f->frame, 0);
    if (sisp_buf_append(&f->frame, frame, len) != 0)
        abort();
    f->job.kind = SISP_JOB_STORE;
    f->job.run = fanout_run;
    f->job.done = fanout_done;
    enqueue(t, &f->job);
}

static int env_register_allowed(sisp_env_t *env, const char *addr) {
    tenv_t *t = of(env);
    (void)addr;
    return ++t->register_calls <= env->cfg.register_per_min;
}

static int64_t env_now(sisp_env_t *env) {
    return of(env)->now;
}

static void env_wake(sisp_env_t *env, void *owner) {
    (void)owner;
    of(env)->wakes++;
}

/* ---- running jobs ---- */

/* A STORE job as the store thread runs it: in a savepoint of a batch. A job whose batch's
 * COMMIT fails reaches done() with everything it did undone, rc SISP_ESTORE and
 * commit_failed set; fail_commit_at makes that happen on purpose. */
static void run_store_job(tenv_t *t, sisp_job_t *job) {
    int fail = t->fail_commit_at > 0 && --t->fail_commit_at == 0;
    if (t->fail_begin_at > 0 && --t->fail_begin_at == 0) {
        job->rc = SISP_ESTORE; /* as sispd's store thread does: run() is skipped */
        job->commit_failed = 1;
        return;
    }
    int rc = t->hold ? 0 : sisp_store_batch_begin(t->store);
    if (rc == 0 && (rc = sisp_store_job_begin(t->store)) != 0 && !t->hold)
        sisp_store_batch_rollback(t->store);
    if (rc != 0) {
        job->rc = SISP_ESTORE;
        job->commit_failed = 1;
        return;
    }
    job->run(job, t->store);
    sisp_store_job_end(t->store, fail || job->rc != 0);
    if (!t->hold) {
        if (fail) {
            sisp_store_batch_rollback(t->store);
        } else if (sisp_store_batch_commit(t->store) != 0) {
            sisp_store_batch_rollback(t->store);
            fail = 1;
        }
    }
    if (fail) {
        job->rc = SISP_ESTORE;
        job->commit_failed = 1;
    }
}

static void run_one(tenv_t *t, sisp_job_t *job) {
    job->next = NULL;
    job->commit_failed = 0;
    if (job->kind == SISP_JOB_FILE)
        job->run(job, t->store);
    else
        run_store_job(t, job);
    t->jobs_run++;
    job->done(job); /* may queue more: tenv_step's loop picks them up */
}

size_t tenv_step(tenv_t *t, size_t max) {
    size_t n = 0;
    while (n < max && t->head != NULL) {
        sisp_job_t *job = t->head;
        t->head = job->next;
        if (t->head == NULL)
            t->tail = NULL;
        run_one(t, job);
        n++;
    }
    return n;
}

void tenv_drain(tenv_t *t) {
    while (tenv_step(t, SIZE_MAX) > 0)
        ;
}

size_t tenv_queued(const tenv_t *t) {
    size_t n = 0;
    for (const sisp_job_t *j = t->head; j; j = j->next)
        n++;
    return n;
}

int tenv_hold_begin(tenv_t *t) {
    if (t->hold)
        return SISP_EINVAL;
    int rc = sisp_store_batch_begin(t->store);
    if (rc == 0)
        t->hold = 1;
    return rc;
}

void tenv_hold_end(tenv_t *t) {
    tenv_drain(t);
    if (!t->hold)
        return;
    sisp_store_batch_rollback(t->store);
    t->hold = 0;
}

/* ---- setup and teardown ---- */

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            struct stat sb;
            if ((size_t)snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= sizeof p)
                continue;
            if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
                remove_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

int tenv_open(tenv_t *t, const char *tmpdir) {
    memset(t, 0, sizeof *t);
    if (tmpdir == NULL)
        tmpdir = getenv("TMPDIR");
    if (tmpdir == NULL || tmpdir[0] == '\0')
        tmpdir = "/tmp";
    if ((size_t)snprintf(t->dir, sizeof t->dir, "%s/sisp-tenv-XXXXXX", tmpdir) >= sizeof t->dir) {
        fprintf(stderr, "tenv: %s: path too long\n", tmpdir);
        return SISP_EINVAL;
    }
    if (mkdtemp(t->dir) == NULL) {
        perror(t->dir);
        t->dir[0] = '\0';
        return SISP_EIO;
    }
    int rc = sisp_store_open(t->dir, &t->store);
    if (rc == 0)
        rc = sisp_ca_open(t->dir, "localhost", &t->ca);
    if (rc != 0) {
        fprintf(stderr, "tenv: cannot open a store and a CA in %s: %s\n", t->dir,
                sisp_err_name(rc));
        tenv_close(t);
        return rc;
    }
    sisp_server_cfg_default(&t->env.cfg);
    t->env.ca = t->ca;
    t->env.store = t->store;
    t->env.submit = env_submit;
    t->env.notify_group = env_notify_group;
    t->env.notify_user = env_notify_user;
    t->env.notify_members = env_notify_members;
    t->env.register_allowed = env_register_allowed;
    t->env.now = env_now;
    t->env.wake = env_wake;
    t->env.data = t;
    t->now = TENV_NOW;
    return 0;
}

void tenv_pushes_clear(tenv_t *t) {
    for (size_t i = 0; i < t->n_pushes; i++)
        sisp_buf_free(&t->pushes[i].frame);
    t->n_pushes = 0;
}

void tenv_close(tenv_t *t) {
    if (t->store != NULL) {
        tenv_drain(t);
        if (t->hold)
            tenv_hold_end(t);
    }
    tenv_pushes_clear(t);
    free(t->pushes);
    t->pushes = NULL;
    t->cap_pushes = 0;
    sisp_store_close(t->store);
    t->store = NULL;
    sisp_ca_free(t->ca);
    t->ca = NULL;
    if (t->dir[0] != '\0')
        remove_tree(t->dir);
    t->dir[0] = '\0';
}

const tenv_push_t *tenv_push_find(const tenv_t *t, int kind, const char *target, uint8_t type,
                                  size_t *from) {
    for (size_t i = from ? *from : 0; i < t->n_pushes; i++) {
        const tenv_push_t *p = &t->pushes[i];
        if (p->kind == kind && p->type == type && strcmp(p->target, target) == 0) {
            if (from)
                *from = i + 1;
            return p;
        }
    }
    return NULL;
}

/* ---- users ---- */

int tenv_keys(const char *name, const uint8_t seed[SISP_KEY_SIZE], tenv_user_t *u) {
    uint8_t xpriv[SISP_KEY_SIZE];
    memset(u, 0, sizeof *u);
    if (strlen(name) >= sizeof u->name)
        return SISP_EINVAL;
    snprintf(u->name, sizeof u->name, "%s", name);
    int rc = sisp_ident_from_seed(seed, &u->id);
    if (rc == 0)
        rc = sisp_sha256(seed, SISP_KEY_SIZE, xpriv);
    if (rc == 0)
        rc = sisp_x25519_from_private(xpriv, &u->x);
    if (rc == 0)
        rc = sisp_x25519_sign(&u->id, sisp_slice_str(name), u->x.pub, u->x_sig);
    sisp_wipe(xpriv, sizeof xpriv);
    return rc;
}

int tenv_user_add(tenv_t *t, const char *name, const uint8_t seed[SISP_KEY_SIZE], tenv_user_t *u) {
    sisp_buf_t csr, cert;
    sisp_user_rec_t *rec = calloc(1, sizeof *rec);
    uint64_t serial = 0;
    int rc = rec ? tenv_keys(name, seed, u) : SISP_ENOMEM;
    sisp_buf_init(&csr, 0);
    sisp_buf_init(&cert, SISP_CERT_MAX);
    if (rc == 0)
        rc = sisp_csr_make(&u->id, name, &csr);
    if (rc == 0)
        rc = sisp_store_next_serial(t->store, &serial);
    if (rc == 0)
        rc = sisp_ca_issue(t->ca, csr.data, csr.len, name, serial, t->env.cfg.cert_days, &cert,
                           rec->ident_pub);
    if (rc == 0) {
        memcpy(u->cert, cert.data, cert.len);
        u->cert_len = cert.len;
        rc = sisp_cert_parse(u->cert, u->cert_len, &u->info);
    }
    if (rc == 0)
        rc = sisp_sha256(u->cert, u->cert_len, u->fp);
    if (rc == 0) {
        snprintf(rec->user, sizeof rec->user, "%s", name);
        memcpy(rec->cert, cert.data, cert.len);
        rec->cert_len = cert.len;
        rec->serial = serial;
        memcpy(rec->x25519, u->x.pub, SISP_KEY_SIZE);
        memcpy(rec->x25519_sig, u->x_sig, SISP_SIG_SIZE);
        rec->x25519_sig_len = SISP_SIG_SIZE;
        rec->registered_at = t->now;
        rc = sisp_store_user_add(t->store, rec);
    }
    sisp_buf_free(&csr);
    sisp_buf_free(&cert);
    free(rec);
    return rc;
}

int tenv_register_encode(const tenv_user_t *u, const char *invite, uint32_t stream,
                         sisp_buf_t *out) {
    sisp_buf_t csr;
    sisp_buf_init(&csr, 0);
    int rc = sisp_csr_make(&u->id, u->name, &csr);
    if (rc == 0) {
        sisp_register_req_t r;
        memset(&r, 0, sizeof r);
        r.user = sisp_slice_str(u->name);
        r.csr = sisp_slice(csr.data, csr.len);
        r.x25519 = sisp_slice(u->x.pub, SISP_KEY_SIZE);
        r.x25519_sig = sisp_slice(u->x_sig, SISP_SIG_SIZE);
        r.invite = invite ? sisp_slice_str(invite) : SISP_SLICE_NULL;
        rc = sisp_register_req_encode(out, stream, &r);
    }
    sisp_buf_free(&csr);
    return rc;
}

/* ---- sessions ---- */

sisp_session_t *tenv_session_cert(tenv_t *t, const sisp_cert_info_t *info,
                                  const uint8_t fp[SISP_SHA256_SIZE], const char *addr) {
    if (t->n_attached == TENV_ATTACH_MAX)
        return NULL;
    sisp_session_t *s = sisp_session_new(&t->env, info, fp, addr ? addr : "127.0.0.1");
    if (s != NULL)
        t->attached[t->n_attached++] = s;
    return s;
}

sisp_session_t *tenv_session(tenv_t *t, const tenv_user_t *u, const char *addr) {
    return tenv_session_cert(t, u ? &u->info : NULL, u ? u->fp : NULL, addr);
}

void tenv_session_free(tenv_t *t, sisp_session_t *s) {
    for (size_t i = 0; i < t->n_attached; i++) {
        if (t->attached[i] == s) {
            t->attached[i] = t->attached[--t->n_attached];
            break;
        }
    }
    sisp_session_free(s);
}

void tenv_input(tenv_t *t, sisp_session_t *s, const void *p, size_t n) {
    sisp_session_input(s, p, n);
    tenv_drain(t);
}

int tenv_send(tenv_t *t, sisp_session_t *s, uint8_t type, uint32_t stream, const void *pkt) {
    sisp_buf_t b;
    sisp_buf_init(&b, 0);
    int rc = sisp_payload_encode(&b, type, stream, pkt);
    if (rc == 0)
        tenv_input(t, s, b.data, b.len);
    sisp_buf_free(&b);
    return rc;
}

int tenv_hello_encode_limits(sisp_buf_t *out, uint32_t max_control, uint32_t max_data) {
    sisp_hello_t h;
    memset(&h, 0, sizeof h);
    h.magic = sisp_slice(SISP_MAGIC, SISP_MAGIC_LEN);
    h.version = SISP_VERSION;
    h.max_control = max_control;
    h.max_data = max_data;
    h.software = sisp_slice_str("sisp-tenv");
    return sisp_hello_encode(out, 0, &h);
}

int tenv_hello_encode_max(sisp_buf_t *out, uint32_t max_data) {
    return tenv_hello_encode_limits(out, SISP_LIMIT_CONTROL, max_data);
}

int tenv_hello_encode(sisp_buf_t *out) {
    return tenv_hello_encode_max(out, SISP_LIMIT_DATA);
}

/* ---- the client's side ---- */

int tenv_peer_init(tenv_peer_t *p, int authenticated) {
    memset(p, 0, sizeof *p);
    sisp_limits_t abs = {SISP_LIMIT_ABSOLUTE, SISP_LIMIT_ABSOLUTE};
    sisp_decoder_init(&p->dec, SISP_ROLE_CLIENT);
    sisp_decoder_set_state(&p->dec, SISP_STATE_HELLO, &abs);
    p->after_hello = authenticated ? SISP_STATE_AUTH : SISP_STATE_UNAUTH;
    sisp_buf_init(&p->in, 0);
    sisp_buf_init(&p->cur, 0);
    p->pkt = malloc(sizeof *p->pkt);
    return p->pkt ? 0 : SISP_ENOMEM;
}

void tenv_peer_free(tenv_peer_t *p) {
    sisp_buf_free(&p->in);
    sisp_buf_free(&p->cur);
    free(p->pkt);
    p->pkt = NULL;
}

void tenv_peer_take_once(tenv_peer_t *p, sisp_session_t *s) {
    sisp_buf_t *out = sisp_session_output(s);
    if (out->len == 0)
        return;
    if (sisp_buf_append(&p->in, out->data, out->len) != 0)
        abort();
    p->received += out->len;
    sisp_session_sent(s, sisp_session_taken(s, out->len)); /* the peer has it at once */
}

void tenv_peer_take(tenv_peer_t *p, tenv_t *t, sisp_session_t *s) {
    for (int i = 0; i < 1000000; i++) {
        tenv_drain(t);
        uint64_t before = p->received;
        tenv_peer_take_once(p, s);
        sisp_session_drained(s);
        tenv_drain(t);
        if (p->received == before && sisp_session_output(s)->len == 0)
            return;
    }
}

int tenv_peer_next(tenv_peer_t *p, const sisp_packet_t **pkt) {
    sisp_frame_t f;
    size_t n = 0;
    int rc = sisp_frame_decode(&p->dec, p->in.data, p->in.len, &f, &n);
    if (rc != 0)
        return rc;
    sisp_buf_reset(&p->cur);
    if (sisp_buf_append(&p->cur, p->in.data, n) != 0)
        abort();
    sisp_buf_consume(&p->in, n);
    f.payload = sisp_slice(p->cur.data + SISP_HEADER_SIZE, n - SISP_HEADER_SIZE);
    p->frames++;
    if (p->saw_bye)
        p->after_bye++;
    if (f.type == SISP_T_BYE)
        p->saw_bye = 1;
    if (f.type == SISP_T_HELLO && !p->saw_hello) {
        sisp_limits_t abs = {SISP_LIMIT_ABSOLUTE, SISP_LIMIT_ABSOLUTE};
        p->saw_hello = 1;
        sisp_decoder_set_state(&p->dec, p->after_hello, p->limits.max_control ? &p->limits : &abs);
    }
    rc = sisp_packet_decode(&f, p->pkt);
    if (rc == 0)
        *pkt = p->pkt;
    return rc;
}

/* ---- sealed images and grants ---- */

int tenv_seal(const sisp_ident_key_t *signer, const char *owner, const char *name,
              const char *group, uint32_t epoch, const uint8_t epoch_key[SISP_KEY_SIZE],
              const uint8_t *plain, size_t len, uint32_t chunk_size, unsigned variant,
              sisp_buf_t *cipher, sisp_buf_t *manifest, uint8_t sig[SISP_SIG_SIZE]) {
    uint8_t ck[SISP_KEY_SIZE], prefix[SISP_NONCE_PREFIX_SIZE], wn[SISP_GCM_NONCE_SIZE];
    memcpy(ck, t_content_key, sizeof ck);
    memcpy(prefix, t_nonce_prefix, sizeof prefix);
    memcpy(wn, t_wrap_nonce, sizeof wn);
    ck[0] ^= (uint8_t)variant;
    prefix[0] ^= (uint8_t)variant;
    wn[0] ^= (uint8_t)variant;
    sisp_seal_params_t p = {sisp_slice_str(owner),
                            sisp_slice_str(name),
                            sisp_slice_str(group),
                            epoch,
                            T_CREATED,
                            chunk_size};
    sisp_seal_t s;
    size_t mstart = manifest->len;
    int rc = sisp_seal_init_fixed(&s, &p, epoch_key, ck, prefix, wn);
    if (rc == 0)
        rc = sisp_seal_update(&s, plain, len, cipher);
    if (rc == 0)
        rc = sisp_seal_final(&s, cipher, manifest);
    if (rc == 0)
        rc = sisp_manifest_sign(signer, manifest->data + mstart, manifest->len - mstart, sig);
    sisp_seal_free(&s);
    return rc;
}

int tenv_grant(const sisp_ident_key_t *granter, const char *recipient,
               const uint8_t recipient_x[SISP_KEY_SIZE], const char *group, uint32_t epoch,
               const uint8_t epoch_key[SISP_KEY_SIZE], tenv_grant_bytes_t *gb, sisp_grant_t *g) {
    int rc = sisp_epoch_wrap_fixed(t_eph_x25519, epoch_key, recipient_x, sisp_slice_str(group),
                                   epoch, sisp_slice_str(recipient), gb->wrapped);
    if (rc == 0)
        rc = sisp_grant_sign(granter, sisp_slice_str(group), epoch, sisp_slice_str(recipient),
                             sisp_slice(gb->wrapped, sizeof gb->wrapped), gb->sig);
    memset(g, 0, sizeof *g);
    g->user = sisp_slice_str(recipient);
    g->epoch = epoch;
    g->wrapped = sisp_slice(gb->wrapped, sizeof gb->wrapped);
    g->signature = sisp_slice(gb->sig, sizeof gb->sig);
    return rc;
}

/* ---- the fuzzer's world ---- */

const uint8_t tenv_bob_seed[SISP_KEY_SIZE] = {
    0xb0, 0x0b, 0xb0, 0x0b, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
    0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c};
const uint8_t tenv_carol_seed[SISP_KEY_SIZE] = {
    0xca, 0x20, 0x1c, 0xca, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c,
    0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c};
const uint8_t tenv_eve_seed[SISP_KEY_SIZE] = {
    0xe7, 0xe0, 0xe7, 0xe0, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c,
    0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c};

/* A PNG-looking plaintext of len bytes. */
static void png_plain(uint8_t *p, size_t len, unsigned salt) {
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 131 + salt);
    memcpy(p, t_png_1x1, len < sizeof t_png_1x1 ? len : sizeof t_png_1x1);
}

/* Stores an image directly (as a committed post would leave it). */
static int store_image(tenv_t *t, const tenv_user_t *owner, const char *name, const char *group,
                       const uint8_t *plain, size_t len, unsigned variant, sisp_buf_t *cipher,
                       uint64_t *id) {
    sisp_buf_t manifest;
    sisp_image_rec_t *img = calloc(1, sizeof *img);
    sisp_blob_t blob;
    sisp_buf_init(&manifest, 0);
    int rc = img ? 0 : SISP_ENOMEM;
    if (rc == 0)
        rc = tenv_seal(&owner->id, owner->name, name, group, 1, t_epoch_key, plain, len, 4096,
                       variant, cipher, &manifest, img->sig);
    if (rc == 0)
        rc = sisp_store_blob_create(t->store, &blob);
    if (rc == 0) {
        if (write(blob.fd, cipher->data, cipher->len) != (ssize_t)cipher->len) {
            sisp_store_blob_abort(t->store, &blob);
            rc = SISP_EIO;
        }
    }
    if (rc == 0) {
        snprintf(img->name, sizeof img->name, "%s", name);
        snprintf(img->owner, sizeof img->owner, "%s", owner->name);
        snprintf(img->group, sizeof img->group, "%s", group);
        img->epoch = 1;
        img->size = cipher->len;
        memcpy(img->manifest, manifest.data, manifest.len);
        img->manifest_len = manifest.len;
        img->sig_len = SISP_SIG_SIZE;
        rc = sisp_store_image_commit(t->store, &blob, img);
    }
    if (rc == 0)
        *id = img->id;
    sisp_buf_free(&manifest);
    free(img);
    return rc;
}

static int store_grant(tenv_t *t, const tenv_user_t *granter, const tenv_user_t *to,
                       const char *group) {
    tenv_grant_bytes_t gb;
    sisp_grant_t g;
    sisp_grant_rec_t rec;
    int rc = tenv_grant(&granter->id, to->name, to->x.pub, group, 1, t_epoch_key, &gb, &g);
    memset(&rec, 0, sizeof rec);
    snprintf(rec.group, sizeof rec.group, "%s", group);
    snprintf(rec.user, sizeof rec.user, "%s", to->name);
    snprintf(rec.granter, sizeof rec.granter, "%s", granter->name);
    rec.epoch = 1;
    memcpy(rec.wrapped, gb.wrapped, sizeof gb.wrapped);
    rec.wrapped_len = sizeof gb.wrapped;
    memcpy(rec.sig, gb.sig, sizeof gb.sig);
    rec.sig_len = sizeof gb.sig;
    return rc == 0 ? sisp_store_grant_put(t->store, &rec) : rc;
}

int tenv_world_build(tenv_t *t, tenv_world_t *w) {
    static uint8_t plain[5000];
    memset(w, 0, sizeof *w);
    sisp_buf_init(&w->seed_cipher, 0);
    sisp_buf_init(&w->up_cipher, 0);
    sisp_buf_init(&w->up_manifest, 0);
    sisp_buf_t bob_cipher;
    sisp_buf_init(&bob_cipher, 0);
    int rc = tenv_user_add(t, "alice", t_alice_seed, &w->alice);
    if (rc == 0)
        rc = tenv_user_add(t, "bob", tenv_bob_seed, &w->bob);
    if (rc == 0)
        rc = tenv_user_add(t, "eve", tenv_eve_seed, &w->eve);
    if (rc == 0)
        rc = sisp_store_user_revoke(t->store, "eve");
    if (rc == 0)
        rc = tenv_keys("carol", tenv_carol_seed, &w->carol);
    if (rc == 0)
        rc = sisp_store_group_create(t->store, "all", "alice", 1);
    if (rc == 0)
        rc = sisp_store_member_add(t->store, "all", "bob", 0);
    if (rc == 0)
        rc = sisp_store_member_add(t->store, "all", "eve", 1);
    if (rc == 0)
        rc = store_grant(t, &w->alice, &w->alice, "all");
    if (rc == 0)
        rc = store_grant(t, &w->alice, &w->bob, "all");
    if (rc == 0)
        rc = sisp_store_group_create(t->store, "family", "bob", 1);
    if (rc == 0)
        rc = store_grant(t, &w->bob, &w->bob, "family");
    if (rc == 0)
        rc = sisp_store_group_create(t->store, "club", "bob", 0);
    if (rc == 0)
        rc = sisp_store_member_add(t->store, "club", "alice", 1);
    if (rc == 0)
        rc = sisp_store_group_create(t->store, "crew", "bob", 1);
    if (rc == 0)
        rc = store_grant(t, &w->bob, &w->bob, "crew");
    if (rc == 0)
        rc = sisp_store_member_add(t->store, "crew", "alice", 1);
    if (rc == 0)
        rc = sisp_store_invite_add(t->store, TENV_WORLD_INVITE, TENV_NOW + 86400);
    png_plain(plain, sizeof plain, 7);
    if (rc == 0)
        rc = store_image(t, &w->alice, "seed.png", "all", plain, sizeof plain, 1, &w->seed_cipher,
                         &w->seed_id);
    if (rc == 0)
        rc = store_image(t, &w->bob, "bob.png", "family", plain, 300, 2, &bob_cipher,
                         &w->bob_png_id);
    if (rc == 0)
        rc = tenv_seal(&w->alice.id, "alice", "up.png", "all", 1, t_epoch_key, t_png_1x1,
                       sizeof t_png_1x1, 4096, 3, &w->up_cipher, &w->up_manifest, w->up_sig);
    sisp_buf_free(&bob_cipher);

    memset(&w->ghost, 0, sizeof w->ghost);
    snprintf(w->ghost.user, sizeof w->ghost.user, "ghost");
    w->ghost.serial = 999999;
    memcpy(w->ghost.pub, w->carol.id.pub, SISP_KEY_SIZE);
    w->ghost.not_after = TENV_NOW + 86400;
    w->alice_stale = w->alice.info;
    w->alice_stale.serial = w->alice.info.serial + 5000;
    if (rc != 0)
        fprintf(stderr, "tenv: cannot build the world: %s\n", sisp_err_name(rc));
    return rc;
}

void tenv_world_free(tenv_world_t *w) {
    sisp_buf_free(&w->seed_cipher);
    sisp_buf_free(&w->up_cipher);
    sisp_buf_free(&w->up_manifest);
}
