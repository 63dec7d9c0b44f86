/* fuzz_session: a client's plaintext stream into a server session (server/session.c) over a
 * real store and CA, through the synchronous environment of tests/common/tenv.c.
 *
 * Input: one selector byte, then the client's byte stream, fed to sisp_session_input in pieces
 * whose sizes come from the input's length (size % 4: whole, or 1-16, 1-512 or 1-8192 bytes
 * each).
 *
 *   bits 0-2  the situation: 0 no certificate (UNAUTH path, open registration); 1 alice's
 *             certificate (AUTH path); 2 alice, an upload of up.png begun on stream 1;
 *             3 alice, a download of seed.png under way on stream 3 (IMAGE_BEGIN and the first
 *             DATA sent, the next read still queued if reads are jobs); 4 no certificate,
 *             invite-only
 *             registration; 5 a certificate for a user the store does not know; 6 alice's
 *             name with another serial; 7 a revoked user's certificate
 *   bit 3     no automatic HELLO (the stream brings its own, or none); ignored for 2 and 3
 *   bit 4     slow store: between pieces at most one queued job runs, and a NOTIFY from
 *             elsewhere is pushed to the session; what the last piece started is still
 *             queued when the input ends
 *   bit 5     slow reader: the session's output is taken only at the end
 *   bits 6-7  0 the end: drain and free; 1 the glue's BYE (a timeout) with jobs still
 *             queued, then drain and free; 2 free with jobs still queued (a connection reset);
 *             3 the (2 + size / 4 % 6)-th store job of the run fails to commit (undone and
 *             reported as a failed batch, tenv_t.fail_commit_at), then the end as for 0
 *
 * Downloads read the page cache on the loop when the input's length is odd, and by read jobs
 * when it is even (sisp_server_cfg_t.read_cached).
 *
 * The world (tenv_world_build): alice and bob in `all`, bob's `family`, `club` (no key yet)
 * and `crew` (alice pending), revoked eve, the images seed.png and bob.png, an invite code;
 * alice may store 16 KiB, 12 KiB an image. It is built once; each input runs inside one
 * held store batch that is rolled back afterwards, so every input starts from the same store
 * and the fuzzer's uploads, groups and registrations never pile up.
 *
 * A fuzzer cannot sign, so a signature whose first two bytes are zero is replaced before the
 * stream is fed: a POST_BEGIN's by alice's signature over its manifest, a grant's (GROUP_CREATE,
 * GROUP_ADD, GROUP_REMOVE, KEY_GRANT) by alice's over the grant, a REGISTER's X25519 signature
 * by carol's (the seeds' CSRs are carol's). The mutated manifests and grants then reach the
 * checks behind the signature.
 *
 * Invariants (abort on violation): every frame the session emits decodes with a client-role
 * decoder that follows the client's states (limits SISP_LIMIT_ABSOLUTE) and the output holds
 * whole frames only; ERROR and BYE carry known codes; at most one HELLO, first if any; nothing
 * follows a BYE; once sisp_session_closing says 1 the session emits nothing more; when all is
 * done no job is queued, no file descriptor is left open, no upload temp file is left in
 * blobs/tmp, and no blob file is left beyond the world's; no leaks (ASan).
 *
 * Triage: SISP_FUZZ_SESSION_VERBOSE=1 prints every input's frames; SISP_FUZZ_SESSION_SKIP
 * (a list of "after-close", "fd", "tmp") turns those checks off, to fuzz on past a finding
 * that is not fixed yet. */
#include "fuzz_util.h"
#include "seal_fixture.h"
#include "tenv.h"

#include <sisp/error.h>
#include <sisp/keys.h>
#include <sisp/seal.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INPUT (256u * 1024u)

static tenv_t env;
static tenv_world_t world;
static int ready, verbose;
static size_t base_fds;
static int skip_after_close, skip_fd, skip_tmp;
static size_t base_blobs;
static sisp_buf_t stream, notify_frame;

/* Regular files in dir; SIZE_MAX when the directory cannot be read for want of descriptors or
 * memory (the caller then skips the check: the machine is short, not the server wrong). */
static size_t count_files(const char *dir) {
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    if (d == NULL) {
        int err = errno;
        fprintf(stderr, "fuzz_session: cannot read %s: %s\n", dir, strerror(err));
        REQUIRE(err == EMFILE || err == ENFILE || err == ENOMEM);
        return SIZE_MAX;
    }
    while ((e = readdir(d)) != NULL) {
        char p[512];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            n++;
    }
    closedir(d);
    return n;
}

static size_t blob_files(void) {
    char p[256];
    snprintf(p, sizeof p, "%s/blobs", env.dir);
    return count_files(p);
}

static size_t tmp_files(void) {
    char p[256];
    snprintf(p, sizeof p, "%s/blobs/tmp", env.dir);
    return count_files(p);
}

/* Open descriptors on files in the data directory (the database, its WAL, the blob files);
 * other threads' and libFuzzer's own descriptors do not count. With print, lists them. */
static size_t dir_fds(int print) {
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0, len = strlen(env.dir);
    struct dirent *e;
    REQUIRE(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char p[300], target[600];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(p, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = '\0';
        if (strncmp(target, env.dir, len) == 0) {
            n++;
            if (print)
                fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
        }
    }
    closedir(d);
    return n;
}

static void cleanup(void) {
    tenv_world_free(&world);
    tenv_close(&env);
    sisp_buf_free(&stream);
    sisp_buf_free(&notify_frame);
}

static void setup(void) {
    /* $TMPDIR if set, else tmpfs if there is one: every upload fsyncs its blob. */
    struct stat sb;
    const char *tmp = getenv("TMPDIR");
    if ((tmp == NULL || tmp[0] == '\0') && stat("/dev/shm", &sb) == 0 &&
        access("/dev/shm", W_OK) == 0)
        tmp = "/dev/shm";
    const char *skip = getenv("SISP_FUZZ_SESSION_SKIP");
    verbose = getenv("SISP_FUZZ_SESSION_VERBOSE") != NULL;
    skip_after_close = skip && strstr(skip, "after-close");
    skip_fd = skip && strstr(skip, "fd");
    skip_tmp = skip && strstr(skip, "tmp");
    REQUIRE(tenv_open(&env, tmp) == 0);
    REQUIRE(tenv_world_build(&env, &world) == 0);
    sisp_buf_init(&stream, 0);
    sisp_buf_init(&notify_frame, 0);
    sisp_notify_t n; /* bob posted somewhere else */
    memset(&n, 0, sizeof n);
    n.id = 77;
    n.seq = 9077;
    n.name = sisp_slice_str("pushed.png");
    n.owner = sisp_slice_str("bob");
    n.group = sisp_slice_str("all");
    n.size = 1000;
    n.posted_at = TENV_NOW;
    REQUIRE(sisp_notify_encode(&notify_frame, 0, &n) == 0);
    base_fds = dir_fds(0);
    base_blobs = blob_files();
    atexit(cleanup);
    ready = 1;
}

/* ---- re-signing ---- */

static int zero_sig(sisp_slice_t s) {
    return s.len == SISP_SIG_SIZE && s.ptr[0] == 0 && s.ptr[1] == 0;
}

static void put_sig(uint8_t *buf, sisp_slice_t at, const uint8_t sig[SISP_SIG_SIZE]) {
    memcpy(buf + (at.ptr - buf), sig, SISP_SIG_SIZE);
}

static void resign_grants(uint8_t *buf, sisp_slice_t group, const sisp_grant_t *g, uint32_t n) {
    uint8_t sig[SISP_SIG_SIZE];
    for (uint32_t i = 0; i < n; i++)
        if (zero_sig(g[i].signature) &&
            sisp_grant_sign(&world.alice.id, group, g[i].epoch, g[i].user, g[i].wrapped, sig) == 0)
            put_sig(buf, g[i].signature, sig);
}

static sisp_packet_t pkt;

static void resign(uint8_t *buf, size_t len) {
    size_t at = 0;
    uint8_t sig[SISP_SIG_SIZE];
    sisp_frame_t f;
    while (fuzz_frame_at(buf, len, at, &f)) {
        at += SISP_HEADER_SIZE + f.length;
        if (sisp_packet_decode(&f, &pkt) != 0)
            continue;
        switch (f.type) {
        case SISP_T_POST_BEGIN: {
            const sisp_post_begin_t *p = &pkt.u.post_begin;
            if (zero_sig(p->signature) &&
                sisp_manifest_sign(&world.alice.id, p->manifest.ptr, p->manifest.len, sig) == 0)
                put_sig(buf, p->signature, sig);
            break;
        }
        case SISP_T_REGISTER: {
            const sisp_register_req_t *r = &pkt.u.register_req;
            if (zero_sig(r->x25519_sig) &&
                sisp_x25519_sign(&world.carol.id, r->user, r->x25519.ptr, sig) == 0)
                put_sig(buf, r->x25519_sig, sig);
            break;
        }
        case SISP_T_GROUP_CREATE:
            resign_grants(buf, pkt.u.group_create.group, pkt.u.group_create.grants,
                          pkt.u.group_create.n_grants);
            break;
        case SISP_T_GROUP_ADD:
            resign_grants(buf, pkt.u.group_add.group, pkt.u.group_add.grants,
                          pkt.u.group_add.n_grants);
            break;
        case SISP_T_GROUP_REMOVE:
            resign_grants(buf, pkt.u.group_remove.group, pkt.u.group_remove.grants,
                          pkt.u.group_remove.n_grants);
            break;
        case SISP_T_KEY_GRANT:
            resign_grants(buf, pkt.u.key_grant.group, pkt.u.key_grant.grants,
                          pkt.u.key_grant.n_grants);
            break;
        default:
            break;
        }
    }
}

/* ---- one run ---- */

typedef struct {
    sisp_session_t *s;
    tenv_peer_t peer;
    int slow_reader;
    int closed;         /* sisp_session_closing was seen */
    uint64_t closed_at; /* bytes emitted by then */
    int authenticated;  /* a certificate situation */
} run_t;

static uint64_t emitted(run_t *r) {
    return r->peer.received + sisp_session_output(r->s)->len;
}

/* With SISP_FUZZ_SESSION_VERBOSE set, says which invariant broke and prints what the session
 * still had queued, before the abort. */
static void violated(run_t *r, const char *why) {
    if (verbose) {
        fprintf(stderr, "violated: %s; queued output:\n", why);
        tenv_peer_take_once(&r->peer, r->s);
        const sisp_packet_t *p = NULL;
        int rc;
        while ((rc = tenv_peer_next(&r->peer, &p)) != SISP_NEED_MORE) {
            if (rc != 0) {
                fprintf(stderr, "  <- undecodable: %s\n", sisp_err_name(rc));
                break;
            }
            fprintf(stderr, "  <- %s stream %u\n", sisp_type_name(p->type), p->stream);
        }
    }
    abort();
}

/* After every step: nothing emitted once closing; then the output, frame by frame. */
static void check(run_t *r, int take) {
    if (r->closed && emitted(r) != r->closed_at && !skip_after_close)
        violated(r, "output after closing");
    else if (sisp_session_closing(r->s)) {
        r->closed = 1;
        r->closed_at = emitted(r);
    }
    if (!take)
        return;
    tenv_peer_take_once(&r->peer, r->s);
    for (;;) {
        const sisp_packet_t *p = NULL;
        size_t before = r->peer.frames;
        int rc = tenv_peer_next(&r->peer, &p);
        if (rc == SISP_NEED_MORE) {
            REQUIRE(r->peer.in.len == 0); /* whole frames only */
            break;
        }
        if (verbose && rc != 0)
            fprintf(stderr, "  <- undecodable: %s\n", sisp_err_name(rc));
        REQUIRE(rc == 0);
        if (verbose)
            fprintf(stderr, "  <- %s stream %u\n", sisp_type_name(p->type), p->stream);
        REQUIRE(r->peer.after_bye == 0 || skip_after_close);
        if (p->type == SISP_T_HELLO)
            REQUIRE(before == 0);
        if (p->type == SISP_T_ERROR) {
            REQUIRE(sisp_err_known(-(int)p->u.error.code));
            if (verbose)
                fprintf(stderr, "     %s\n", sisp_err_name(-(int)p->u.error.code));
        }
        if (p->type == SISP_T_BYE)
            REQUIRE(p->u.bye.code == 0 || sisp_err_known(-(int)p->u.bye.code));
    }
}

static void feed(run_t *r, const uint8_t *p, size_t n) {
    sisp_session_input(r->s, p, n);
    check(r, 0);
}

static void drain(run_t *r) {
    tenv_drain(&env);
    check(r, !r->slow_reader);
    if (!r->slow_reader) {
        sisp_session_drained(r->s);
        tenv_drain(&env);
        check(r, 1);
    }
}

/* The preamble of situations 2 and 3. */
static void begin_upload(run_t *r) {
    sisp_post_begin_t pb = {sisp_slice_str("up.png"), sisp_slice_str("all"), world.up_cipher.len,
                            sisp_slice(world.up_manifest.data, world.up_manifest.len),
                            sisp_slice(world.up_sig, SISP_SIG_SIZE)};
    sisp_buf_reset(&stream);
    REQUIRE(sisp_post_begin_encode(&stream, TENV_WORLD_UP_STREAM, &pb) == 0);
    feed(r, stream.data, stream.len);
    drain(r);
}

static void begin_download(run_t *r) {
    sisp_download_t d = {sisp_slice_str("seed.png"), 0, sisp_slice_str("all"), 0};
    sisp_buf_reset(&stream);
    REQUIRE(sisp_download_encode(&stream, 3, &d) == 0);
    feed(r, stream.data, stream.len);
    tenv_step(&env, 2); /* opened, first chunk read; the next read stays queued */
    check(r, !r->slow_reader);
}

static uint64_t rng_state;

static size_t next_piece(size_t mode, size_t left) {
    static const size_t caps[4] = {0, 16, 512, 8192};
    if (mode == 0)
        return left;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    size_t n = 1 + (size_t)(rng_state % caps[mode]);
    return n < left ? n : left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > MAX_INPUT)
        return 0;
    if (!ready)
        setup();
    uint8_t sel = data[0];
    unsigned situation = sel & 7u;
    int auto_hello = !(sel & 0x08) || situation == 2 || situation == 3;
    int slow_store = (sel & 0x10) != 0;
    unsigned end = (unsigned)sel >> 6;
    run_t r;
    memset(&r, 0, sizeof r);
    r.slow_reader = (sel & 0x20) != 0;

    sisp_server_cfg_default(&env.env.cfg);
    env.env.cfg.registration = situation == 4 ? SISP_REG_INVITE : SISP_REG_OPEN;
    env.env.cfg.chunk = 4096;
    env.env.cfg.read_cached = (int)(size & 1u); /* downloads from the page cache, or by jobs */
    env.env.cfg.push_queue_bytes = 8192;
    env.env.cfg.register_per_min = 3;
    env.env.cfg.quota_bytes = 16 * 1024; /* seed.png uses 5032 of alice's */
    env.env.cfg.max_image_bytes = 12 * 1024;
    env.register_calls = 0;
    env.fail_commit_at = end == 3 ? 2 + (unsigned)(size / 4 % 6) : 0;
    REQUIRE(tenv_hold_begin(&env) == 0);

    const sisp_cert_info_t *peer = NULL;
    const uint8_t *fp = NULL;
    switch (situation) {
    case 1:
    case 2:
    case 3:
        peer = &world.alice.info;
        fp = world.alice.fp;
        break;
    case 5:
        peer = &world.ghost;
        fp = world.alice.fp;
        break;
    case 6:
        peer = &world.alice_stale;
        fp = world.alice.fp;
        break;
    case 7:
        peer = &world.eve.info;
        fp = world.eve.fp;
        break;
    default:
        break;
    }
    r.authenticated = peer != NULL;
    r.s = tenv_session_cert(&env, peer, fp, "192.0.2.7"); /* pushes reach it */
    REQUIRE(r.s != NULL);
    REQUIRE(tenv_peer_init(&r.peer, r.authenticated) == 0);
    if (verbose)
        fprintf(stderr, "input: %zu bytes, selector 0x%02x\n", size, sel);

    if (auto_hello) {
        sisp_buf_reset(&stream);
        REQUIRE(tenv_hello_encode(&stream) == 0);
        feed(&r, stream.data, stream.len);
        drain(&r);
    }
    if (situation == 2)
        begin_upload(&r);
    if (situation == 3)
        begin_download(&r);

    sisp_buf_reset(&stream);
    REQUIRE(sisp_buf_append(&stream, data + 1, size - 1) == 0);
    resign(stream.data, stream.len);
    rng_state = (uint64_t)size * 0x9e3779b97f4a7c15ull + sel + 1;
    size_t mode = size % 4, at = 0;
    while (at < stream.len) {
        if (slow_store && at > 0) {
            /* The store thread finished one job meanwhile, and someone posted. */
            tenv_step(&env, 1);
            check(&r, 0);
            sisp_session_push(r.s, notify_frame.data, notify_frame.len);
            check(&r, !r.slow_reader);
        }
        size_t n = next_piece(mode, stream.len - at);
        feed(&r, stream.data + at, n);
        at += n;
        if (!slow_store)
            drain(&r);
        if ((at ^ size) % 3 == 0)
            (void)sisp_session_trim(r.s); /* the glue's idle sweep, at any moment */
    }

    if (end == 1) {
        sisp_session_bye(r.s, SISP_ETIMEDOUT, "idle timeout");
        check(&r, 0);
    }
    if (end != 2) {
        tenv_drain(&env);
        check(&r, 1);
        sisp_session_drained(r.s);
        tenv_drain(&env);
        check(&r, 1);
    }
    tenv_session_free(&env, r.s); /* with end 2, deferred while a job of it is queued */
    tenv_hold_end(&env);
    REQUIRE(tenv_queued(&env) == 0);
    env.fail_commit_at = 0;
    tenv_pushes_clear(&env);
    tenv_peer_free(&r.peer);

    if (!skip_fd)
        if (dir_fds(0) != base_fds) {
            if (verbose)
                dir_fds(1);
            abort();
        }
    if (!skip_tmp)
        REQUIRE(tmp_files() == 0 || tmp_files() == SIZE_MAX);
    size_t blobs = blob_files();
    REQUIRE(blobs == base_blobs || blobs == SIZE_MAX);
    return 0;
}
