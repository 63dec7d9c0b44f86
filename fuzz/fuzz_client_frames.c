/* fuzz_client_frames: a server's byte stream into the sisp client (client/src: conn.c,
 * client.c, transfer.c, home.c), through a fake transport instead of TLS.
 *
 * The client is alice (t_alice_seed), with a real CA pinned (tests/common/tenv.c's) and a
 * home in a temporary directory made once. Each input gets a fresh sisp_client_t whose
 * connection (sisp_conn_t) reads the input: HELLO, then the scenario's commands, exactly as
 * the sisp program runs them.
 *
 * Input: a selector byte, a transport byte, then the server's bytes (client_frames.h names
 * the bits).
 *
 *   selector bits 0-3  the scenario (mod 12): 0 LIST; 1 DOWNLOAD seed.png; 2 WATCH (catch up,
 *                      then pump pushes with NEW_IMAGE lines, admitting pending members, PING
 *                      on a timeout); 3 GROUP LIST; 4 GROUP ADD all bob; 5 GROUP REMOVE all
 *                      bob; 6 GROUP CREATE club; 7 POST up.png (the 67-byte PNG) to all;
 *                      8 WHOAMI, FINGERPRINT bob, FINGERPRINT; 9 TRUST bob (bob pinned with
 *                      his old key); 10 REGISTER carol (a client without identity); 11 the
 *                      shell: LIST, DOWNLOAD, GROUP ADD all carol, POST, GROUP LIST all, one
 *                      connection, admissions between commands, stopping when it breaks
 *            bit 4     the key bootstrap after HELLO (sisp_client_connect's)
 *            bit 5     the variant: LIST and GROUP LIST of `all` (LIST since 5); DOWNLOAD
 *                      bob.png from family with its .info sidecar; GROUP ADD family carol;
 *                      POST to family; REGISTER with an invite code; TRUST with a
 *                      fingerprint
 *            bit 6     progress bars on
 *            bit 7     bob pinned with his old key (always for TRUST)
 *   transport bits 0-1 read sizes: 0 a frame at a time (a read never goes past the frame
 *                      under way, so a reply is not buffered before the client asked), else
 *                      random pieces of 1-16, 1-512 or 1-8192 bytes (a PRNG seeded from the
 *                      input)
 *            bit 2     polls (reads with timeout 0, as POST does between DATA frames) get
 *                      data too; otherwise they time out, as when the server is quiet
 *            bit 3     some reads with a timeout time out
 *            bits 4-7  the n-th write fails with SISP_EIO (0: none)
 *   The stream ends with SISP_ESHUTDOWN (the server closed). A frame header of 12 zero bytes
 *   in it is a pause: the server is silent, and the read there times out (returns 0).
 *
 * Stream ids are deterministic: HELLO on 0, requests on 1, 3, 5... in the order the client
 * makes them (tests/gen_client_seeds.c writes the seeds, fuzz/corpus/client_frames).
 *
 * A fuzzer cannot make certificates or signatures, so before the stream is fed:
 *   - a USER_CERT_RESULT certificate or a REGISTERED chain entry that is one of the labels
 *     "alice", "bob", "carol", "eve", "bob#2" (bob's old key) or "ca" becomes that
 *     certificate (issued by the pinned CA);
 *   - a 64-byte signature whose first two bytes are zero is made by the world's key of its
 *     signer: a USER_CERT_RESULT's X25519 signature (the certificate's user), a KEY_RESULT
 *     grant's (its granter), an IMAGE_BEGIN manifest's (its owner).
 *
 * Invariants (abort on violation): every frame the client writes is one whole frame a server
 * decodes (HELLO first, request streams odd and increasing, DATA/POST_END/CANCEL on streams
 * it opened, nothing after BYE); a command returns 0 or a negative error and says why in
 * c->why; a failed download leaves nothing at the destination and no temporary file; a
 * successful one wrote the 67-byte PNG every world image holds; every key pinned in
 * known_users is a world user's (or an X25519 key that user signed, by the rule above); no
 * descriptor is left open; no leaks (ASan).
 *
 * Triage: SISP_FUZZ_CLIENT_VERBOSE=1 prints the frames written and each command's result. */
#include "client_frames.h"
#include "fuzz_util.h"
#include "seal_fixture.h"
#include "tenv.h"

#include "client_internal.h"

#include <sisp/cert.h>
#include <sisp/error.h>
#include <sisp/home.h>
#include <sisp/keys.h>
#include <sisp/keystore.h>
#include <sisp/seal.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INPUT (128u * 1024u)
#define WATCH_ROUNDS 4096
#define MAX_PAUSES 64

/* ---- the world: identities and their certificates ---- */

typedef struct {
    const char *label; /* what a certificate placeholder says */
    const char *name;
    const uint8_t *seed;
    tenv_user_t u; /* keys and certificate, made by setup() */
} ident_t;

static ident_t idents[] = {
    {.label = "alice", .name = "alice", .seed = t_alice_seed},
    {.label = "bob", .name = "bob", .seed = tenv_bob_seed},
    {.label = "carol", .name = "carol", .seed = tenv_carol_seed},
    {.label = "eve", .name = "eve", .seed = tenv_eve_seed},
    {.label = "bob#2", .name = "bob", .seed = t_mallory_seed}, /* bob's old key */
};
#define N_IDENTS (sizeof idents / sizeof idents[0])
#define ALICE (&idents[0].u)
#define OLD_BOB (&idents[4].u)

/* X25519 keys re-signed for this input: pins of them are genuine too. */
typedef struct {
    const ident_t *who;
    uint8_t x[SISP_KEY_SIZE];
} resigned_t;

static tenv_t env;
static int ready, verbose;
static FILE *devnull;
static sisp_home_t home;
static char dl_dir[256], post_path[256];
static sisp_slice_t ca_cert;
static sisp_packet_t *pkt;
static sisp_buf_t stream;
static uint8_t sigs[SISP_GRANTS_MAX][SISP_SIG_SIZE];
static size_t pauses[MAX_PAUSES]; /* offsets in `stream` where the server is silent */
static size_t n_pauses;
static resigned_t resigned[SISP_GRANTS_MAX];
static size_t n_resigned;

static const ident_t *by_label(sisp_slice_t s) {
    for (size_t i = 0; i < N_IDENTS; i++)
        if (sisp_slice_eq(s, sisp_slice_str(idents[i].label)))
            return &idents[i];
    return NULL;
}

/* The current key of a user name (bob's new one). */
static const ident_t *by_name(sisp_slice_t s) {
    for (size_t i = 0; i < N_IDENTS; i++)
        if (sisp_slice_eq(s, sisp_slice_str(idents[i].name)))
            return &idents[i];
    return NULL;
}

static size_t open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;
    REQUIRE(d != NULL);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void cleanup(void) {
    tenv_close(&env);
    sisp_buf_free(&stream);
    free(pkt);
    if (devnull != NULL)
        fclose(devnull);
}

static int issue(ident_t *id, uint64_t serial) {
    sisp_buf_t csr, cert;
    uint8_t pub[SISP_KEY_SIZE];
    sisp_buf_init(&csr, 0);
    sisp_buf_init(&cert, SISP_CERT_MAX);
    int rc = tenv_keys(id->name, id->seed, &id->u);
    if (rc == 0)
        rc = sisp_csr_make(&id->u.id, id->name, &csr);
    if (rc == 0)
        rc = sisp_ca_issue(env.ca, csr.data, csr.len, id->name, serial, 3650, &cert, pub);
    if (rc == 0) {
        memcpy(id->u.cert, cert.data, cert.len);
        id->u.cert_len = cert.len;
    }
    sisp_buf_free(&csr);
    sisp_buf_free(&cert);
    return rc;
}

static void setup(void) {
    /* tmpfs if there is one: the client fsyncs every file it writes. */
    struct stat sb;
    const char *tmp = getenv("TMPDIR");
    char path[300];
    if ((tmp == NULL || tmp[0] == '\0') && stat("/dev/shm", &sb) == 0 &&
        access("/dev/shm", W_OK) == 0)
        tmp = "/dev/shm";
    verbose = getenv("SISP_FUZZ_CLIENT_VERBOSE") != NULL;
    REQUIRE(tenv_open(&env, tmp) == 0);
    for (size_t i = 0; i < N_IDENTS; i++)
        REQUIRE(issue(&idents[i], 1000 + i) == 0);
    ca_cert = sisp_ca_cert(env.ca);
    snprintf(path, sizeof path, "%s/home", env.dir);
    REQUIRE(sisp_home_open(&home, path, 1) == 0);
    snprintf(dl_dir, sizeof dl_dir, "%s/dl", env.dir);
    REQUIRE(mkdir(dl_dir, 0700) == 0);
    snprintf(post_path, sizeof post_path, "%s/up.png", env.dir);
    REQUIRE(sisp_file_write_atomic(post_path, t_png_1x1, sizeof t_png_1x1, 0600) == 0);
    devnull = fopen("/dev/null", "w");
    REQUIRE(devnull != NULL);
    pkt = malloc(sizeof *pkt);
    REQUIRE(pkt != NULL);
    sisp_buf_init(&stream, 0);
    atexit(cleanup);
    ready = 1;
}

/* ---- placeholders and re-signing ---- */

static int zero_sig(sisp_slice_t s) {
    return s.len == SISP_SIG_SIZE && s.ptr[0] == 0 && s.ptr[1] == 0;
}

static int fix_cert(sisp_slice_t *cert) {
    const ident_t *id = by_label(*cert);
    if (id != NULL)
        *cert = sisp_slice(id->u.cert, id->u.cert_len);
    else if (sisp_slice_eq(*cert, sisp_slice_str("ca")))
        *cert = ca_cert;
    else
        return 0;
    return 1;
}

/* Applies the placeholder rules to the packet in pkt; 1 if it changed. */
static int fix_packet(void) {
    int changed = 0;
    switch (pkt->type) {
    case SISP_T_USER_CERT_RESULT: {
        sisp_user_cert_result_t *u = &pkt->u.user_cert_result;
        const ident_t *id = by_label(u->cert);
        changed = fix_cert(&u->cert);
        if (id != NULL && zero_sig(u->x25519_sig) && n_resigned < SISP_GRANTS_MAX &&
            sisp_x25519_sign(&id->u.id, u->user, u->x25519.ptr, sigs[0]) == 0) {
            u->x25519_sig = sisp_slice(sigs[0], SISP_SIG_SIZE);
            resigned[n_resigned].who = id;
            memcpy(resigned[n_resigned++].x, u->x25519.ptr, SISP_KEY_SIZE);
            changed = 1;
        }
        break;
    }
    case SISP_T_REGISTERED:
        for (uint32_t i = 0; i < pkt->u.registered.n_chain; i++)
            changed |= fix_cert(&pkt->u.registered.chain[i]);
        break;
    case SISP_T_KEY_RESULT: {
        sisp_key_result_t *k = &pkt->u.key_result;
        for (uint32_t i = 0; i < k->n_grants; i++) {
            sisp_grant_t *g = &k->grants[i];
            const ident_t *id = by_name(g->granter);
            if (id != NULL && zero_sig(g->signature) &&
                sisp_grant_sign(&id->u.id, k->group, g->epoch, g->user, g->wrapped, sigs[i]) == 0) {
                g->signature = sisp_slice(sigs[i], SISP_SIG_SIZE);
                changed = 1;
            }
        }
        break;
    }
    case SISP_T_IMAGE_BEGIN: {
        sisp_image_begin_t *b = &pkt->u.image_begin;
        const ident_t *id = by_name(b->info.owner);
        if (id != NULL && zero_sig(b->signature) &&
            sisp_manifest_sign(&id->u.id, b->manifest.ptr, b->manifest.len, sigs[0]) == 0) {
            b->signature = sisp_slice(sigs[0], SISP_SIG_SIZE);
            changed = 1;
        }
        break;
    }
    default:
        break;
    }
    return changed;
}

/* Copies the server's bytes into `stream`, each whole frame that a placeholder rule applies
 * to re-encoded, and each pause (12 zero bytes) taken out and noted in `pauses`. */
static void prepare(const uint8_t *p, size_t len) {
    static const uint8_t pause[SISP_HEADER_SIZE] = {0};
    size_t at = 0;
    sisp_buf_reset(&stream);
    n_resigned = 0;
    n_pauses = 0;
    sisp_frame_t f;
    while (len - at >= SISP_HEADER_SIZE) {
        if (memcmp(p + at, pause, sizeof pause) == 0 && n_pauses < MAX_PAUSES) {
            pauses[n_pauses++] = stream.len;
            at += sizeof pause;
            continue;
        }
        if (!fuzz_frame_at(p, len, at, &f))
            break;
        size_t mark = stream.len, whole = SISP_HEADER_SIZE + f.length;
        if (f.version != SISP_VERSION || f.flags != 0 || sisp_packet_decode(&f, pkt) != 0 ||
            !fix_packet() || sisp_packet_encode(&stream, pkt) != 0) {
            stream.len = mark;
            REQUIRE(sisp_buf_append(&stream, p + at, whole) == 0);
        }
        at += whole;
    }
    REQUIRE(sisp_buf_append(&stream, p + at, len - at) == 0);
}

/* ---- the fake transport ---- */

typedef struct {
    const uint8_t *p;
    size_t len, at;
    size_t frame_left; /* whole-frame reads: bytes left of the frame under way */
    size_t pause;      /* the next of `pauses` */
    uint64_t rng;
    unsigned mode;
    int eager_polls, timeouts;
    unsigned fail_write_at, writes;
    /* what the client wrote, as a server decodes it */
    sisp_decoder_t dec;
    sisp_state_t after_hello;
    sisp_packet_t *sent;
    uint32_t last_request;
    int saw_hello, saw_bye;
} fake_t;

static uint64_t next_rand(fake_t *f) {
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return f->rng;
}

static int fake_read(void *io, uint8_t *buf, size_t cap, int timeout_ms) {
    static const size_t caps[4] = {0, 16, 512, 8192};
    fake_t *f = io;
    REQUIRE(cap > 0);
    if (f->pause < n_pauses && pauses[f->pause] == f->at) {
        f->pause++;
        return 0;
    }
    if (f->at == f->len)
        return SISP_ESHUTDOWN;
    if (timeout_ms == 0 && !f->eager_polls)
        return 0;
    if (f->timeouts && timeout_ms > 0 && next_rand(f) % 8 == 0)
        return 0;
    size_t n = f->len - f->at;
    if (f->pause < n_pauses && n > pauses[f->pause] - f->at)
        n = pauses[f->pause] - f->at;
    if (f->mode == 0) {
        /* Up to the end of the frame under way, as a server writes them. */
        if (f->frame_left == 0 && n >= SISP_HEADER_SIZE &&
            sisp_load32(f->p + f->at) < n - SISP_HEADER_SIZE)
            f->frame_left = SISP_HEADER_SIZE + sisp_load32(f->p + f->at);
        if (f->frame_left != 0 && n > f->frame_left)
            n = f->frame_left;
    } else if (n > 1 + next_rand(f) % caps[f->mode]) {
        n = 1 + (size_t)(f->rng % caps[f->mode]);
    }
    if (n > cap)
        n = cap;
    if (n > 65536)
        n = 65536;
    f->frame_left -= f->frame_left != 0 ? n : 0;
    memcpy(buf, f->p + f->at, n);
    f->at += n;
    return (int)n;
}

static int is_request(uint8_t type) {
    switch (type) {
    case SISP_T_REGISTER:
    case SISP_T_WHOAMI:
    case SISP_T_USER_CERT:
    case SISP_T_POST_BEGIN:
    case SISP_T_DOWNLOAD:
    case SISP_T_LIST:
    case SISP_T_DELETE:
    case SISP_T_GROUP_CREATE:
    case SISP_T_GROUP_ADD:
    case SISP_T_GROUP_REMOVE:
    case SISP_T_GROUP_LIST:
    case SISP_T_KEY_GRANT:
    case SISP_T_KEY_FETCH:
        return 1;
    default:
        return 0;
    }
}

/* Each write must be one whole frame that a server accepts. */
static int fake_write(void *io, const uint8_t *p, size_t n) {
    fake_t *f = io;
    sisp_frame_t fr;
    size_t used = 0;
    if (++f->writes == f->fail_write_at)
        return SISP_EIO;
    REQUIRE(!f->saw_bye);
    REQUIRE(sisp_frame_decode(&f->dec, p, n, &fr, &used) == 0 && used == n);
    REQUIRE(sisp_packet_decode(&fr, f->sent) == 0);
    uint8_t t = f->sent->type;
    uint32_t s = f->sent->stream;
    if (verbose)
        fprintf(stderr, "  -> %s stream %u\n", sisp_type_name(t), s);
    if (t == SISP_T_HELLO) {
        REQUIRE(!f->saw_hello);
        f->saw_hello = 1;
        sisp_decoder_set_state(&f->dec, f->after_hello, NULL);
    } else if (is_request(t)) {
        REQUIRE(s % 2 == 1 && s > f->last_request);
        f->last_request = s;
    } else if (t == SISP_T_DATA || t == SISP_T_POST_END || t == SISP_T_CANCEL) {
        REQUIRE(s % 2 == 1 && s <= f->last_request);
    }
    f->saw_bye |= t == SISP_T_BYE;
    return 0;
}

/* ---- checks ---- */

/* A command's result: 0, or a negative error that c->why explains (a code the server sent in
 * an ERROR passes through, known or not: conn.c keeps it within 1..999). */
static void check_rc(sisp_client_t *c, const char *what, int rc) {
    if (verbose)
        fprintf(stderr, "%s: %s%s%s\n", what, sisp_err_name(rc), c->why[0] ? ": " : "", c->why);
    REQUIRE(rc <= 0 && rc > -1000);
    if (rc < 0)
        REQUIRE(c->why[0] != '\0');
    c->why[0] = '\0';
}

static void hex(const uint8_t *p, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int pin_line_is(const char *line, size_t len, const char *name, const uint8_t *ed,
                       const uint8_t *x) {
    char want[SISP_USERNAME_MAX + 4 * SISP_KEY_SIZE + 3];
    char he[2 * SISP_KEY_SIZE + 1], hx[2 * SISP_KEY_SIZE + 1];
    hex(ed, SISP_KEY_SIZE, he);
    hex(x, SISP_KEY_SIZE, hx);
    int w = snprintf(want, sizeof want, "%s %s %s", name, he, hx);
    return (size_t)w == len && memcmp(line, want, len) == 0;
}

/* Every pin in known_users is a world user's key, or an X25519 key its user signed. */
static void check_pins(void) {
    sisp_buf_t b;
    sisp_buf_init(&b, 0);
    int rc = sisp_home_read(&home, "known_users", 1u << 20, &b);
    REQUIRE(rc == 0 || rc == SISP_ENOTFOUND);
    size_t at = 0;
    while (at < b.len) {
        const char *line = (const char *)b.data + at;
        const char *nl = memchr(line, '\n', b.len - at);
        REQUIRE(nl != NULL);
        size_t len = (size_t)(nl - line);
        int ok = 0;
        for (size_t i = 0; i < N_IDENTS && !ok; i++)
            ok = pin_line_is(line, len, idents[i].name, idents[i].u.id.pub, idents[i].u.x.pub);
        for (size_t i = 0; i < n_resigned && !ok; i++)
            ok = pin_line_is(line, len, resigned[i].who->name, resigned[i].who->u.id.pub,
                             resigned[i].x);
        if (!ok && verbose)
            fprintf(stderr, "pin not genuine: %.*s\n", (int)len, line);
        REQUIRE(ok);
        at += len + 1;
    }
    sisp_buf_free(&b);
}

/* After a download: on success dest holds the PNG, on failure nothing is there; no temporary
 * file is left either way. */
static void check_download(const char *dest, const char *info, int rc) {
    sisp_buf_t b;
    struct stat sb;
    sisp_buf_init(&b, 0);
    if (rc == 0) {
        REQUIRE(sisp_file_read(dest, 1u << 20, &b) == 0);
        REQUIRE(b.len == sizeof t_png_1x1 && memcmp(b.data, t_png_1x1, b.len) == 0);
    } else {
        REQUIRE(lstat(dest, &sb) != 0 && lstat(info, &sb) != 0);
    }
    sisp_buf_free(&b);
    DIR *d = opendir(dl_dir);
    struct dirent *e;
    REQUIRE(d != NULL);
    while ((e = readdir(d)) != NULL) /* temporary files are .NAME.sisp-XXXXXX */
        REQUIRE(strstr(e->d_name, ".sisp-") == NULL);
    closedir(d);
}

/* ---- the scenarios ---- */

static void download(sisp_client_t *c, int variant) {
    const char *name = variant ? "bob.png" : "seed.png";
    char dest[300], info[310];
    snprintf(dest, sizeof dest, "%s/%s", dl_dir, name);
    snprintf(info, sizeof info, "%s.info", dest);
    unlink(dest);
    unlink(info);
    int rc = sisp_cmd_download(c, name, variant ? "family" : NULL, dest, 1, variant);
    check_rc(c, "DOWNLOAD", rc);
    check_download(dest, info, rc);
}

static void watch(sisp_client_t *c) {
    c->print_events = 1;
    int rc = sisp_client_catch_up(c);
    check_rc(c, "catch up", rc);
    for (int i = 0; rc == 0 && i < WATCH_ROUNDS; i++) {
        sisp_client_process(c);
        c->why[0] = '\0';
        rc = sisp_conn_pump(c->conn, c->timeout_ms);
        if (rc == 1) {
            sisp_ping_t ping = {(uint64_t)i};
            rc = sisp_conn_send(c->conn, SISP_T_PING, 0, &ping);
        }
    }
}

/* The shell's way: after each command, admissions, or the end once the connection broke. */
static int shell_step(sisp_client_t *c, const char *what, int rc) {
    check_rc(c, what, rc);
    if (sisp_conn_error(c->conn) != 0)
        return 0;
    check_rc(c, "admissions", sisp_client_process(c));
    return 1;
}

static void run(sisp_client_t *c, unsigned scenario, uint8_t sel) {
    int variant = (sel & CF_SEL_VARIANT) != 0;
    const char *group = variant ? "family" : "all";
    switch (scenario) {
    case CF_LIST:
        check_rc(c, "LIST", sisp_cmd_list(c, variant ? "all" : NULL, variant ? 5 : 0));
        break;
    case CF_DOWNLOAD:
        download(c, variant);
        break;
    case CF_WATCH:
        watch(c);
        break;
    case CF_GROUP_LIST:
        check_rc(c, "GROUP LIST", sisp_cmd_group_list(c, variant ? "all" : NULL));
        break;
    case CF_GROUP_ADD:
        check_rc(c, "GROUP ADD", sisp_cmd_group_add(c, group, variant ? "carol" : "bob"));
        break;
    case CF_GROUP_REMOVE:
        check_rc(c, "GROUP REMOVE", sisp_cmd_group_remove(c, "all", "bob"));
        break;
    case CF_GROUP_CREATE:
        check_rc(c, "GROUP CREATE", sisp_cmd_group_create(c, "club"));
        break;
    case CF_DELETE:
        check_rc(c, "DELETE", sisp_cmd_delete(c, "cat.png", variant ? "family" : NULL));
        break;
    case CF_POST:
        check_rc(c, "POST", sisp_cmd_post(c, "up.png", post_path, variant ? "family" : NULL));
        break;
    case CF_WHOAMI:
        check_rc(c, "WHOAMI", sisp_cmd_whoami(c));
        check_rc(c, "FINGERPRINT bob", sisp_cmd_fingerprint(c, "bob"));
        check_rc(c, "FINGERPRINT", sisp_cmd_fingerprint(c, NULL));
        break;
    case CF_TRUST:
        /* With a fingerprint half the time: the server's answer is compared with it. */
        check_rc(c, "TRUST",
                 sisp_cmd_trust(c, "bob",
                                variant ? "SHA256:00000000000000000000000000000000"
                                          "00000000000000000000000000000000"
                                        : NULL));
        break;
    case CF_REGISTER:
        check_rc(c, "REGISTER", sisp_cmd_register(c, "carol", variant ? TENV_WORLD_INVITE : NULL));
        break;
    default: /* CF_SHELL */
        if (shell_step(c, "LIST", sisp_cmd_list(c, NULL, 0))) {
            download(c, 0);
            if (shell_step(c, "DOWNLOAD", 0) &&
                shell_step(c, "GROUP ADD", sisp_cmd_group_add(c, "all", "carol")) &&
                shell_step(c, "POST", sisp_cmd_post(c, "up.png", post_path, NULL)))
                shell_step(c, "GROUP LIST", sisp_cmd_group_list(c, "all"));
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > MAX_INPUT)
        return 0;
    if (!ready)
        setup();
    uint8_t sel = data[0], tr = data[1];
    unsigned scenario = (sel & 15u) % CF_SCENARIOS;
    size_t fds = open_fds();
    prepare(data + 2, size - 2);

    /* The home as a fresh run of this scenario finds it. */
    char path[SISP_HOME_PATH_MAX];
    REQUIRE(sisp_home_path(&home, "known_users", path, sizeof path) == 0);
    unlink(path);
    REQUIRE(sisp_home_path(&home, "state", path, sizeof path) == 0);
    unlink(path);
    if (scenario == CF_TRUST || (sel & CF_SEL_STALE_PIN))
        REQUIRE(sisp_home_pin_user(&home, "bob", OLD_BOB->id.pub, OLD_BOB->x.pub) == SISP_PIN_NEW);

    fake_t f;
    memset(&f, 0, sizeof f);
    f.p = stream.data;
    f.len = stream.len;
    f.rng = (uint64_t)size * 0x9e3779b97f4a7c15ull + tr + 1;
    f.mode = tr & CF_TR_PIECES;
    f.eager_polls = (tr & CF_TR_EAGER_POLLS) != 0;
    f.timeouts = (tr & CF_TR_TIMEOUTS) != 0;
    f.fail_write_at = tr >> CF_TR_FAIL_WRITE_SHIFT;
    f.after_hello = scenario == CF_REGISTER ? SISP_STATE_UNAUTH : SISP_STATE_AUTH;
    sisp_decoder_init(&f.dec, SISP_ROLE_SERVER);
    f.sent = malloc(sizeof *f.sent);
    REQUIRE(f.sent != NULL);
    sisp_transport_t t = {fake_read, fake_write, &f};

    sisp_client_t c;
    sisp_client_init(&c);
    c.home = home;
    c.out = devnull;
    c.msg = devnull;
    c.timeout_ms = 1000;
    c.progress = (sel & CF_SEL_PROGRESS) != 0;
    REQUIRE(sisp_buf_append(&c.ca, ca_cert.ptr, ca_cert.len) == 0);
    if (scenario != CF_REGISTER) {
        c.id = ALICE->id;
        c.x = ALICE->x;
        REQUIRE(sisp_buf_append(&c.cert, ALICE->cert, ALICE->cert_len) == 0);
        snprintf(c.user, sizeof c.user, "alice");
        c.have_identity = 1;
    }
    c.conn = sisp_conn_new(&t);
    REQUIRE(c.conn != NULL);
    sisp_conn_on_push(c.conn, sisp__client_on_push, &c);

    /* What sisp_client_connect does after the TLS handshake. */
    int rc = sisp_conn_hello(c.conn, SISP_CLIENT_SOFTWARE, c.timeout_ms);
    const sisp_hello_t *h = rc == 0 ? sisp_conn_server_hello(c.conn) : NULL;
    if (verbose)
        fprintf(stderr,
                "input: %zu bytes, scenario %u, selector 0x%02x, transport 0x%02x: "
                "HELLO %s\n",
                size, scenario, sel, tr, sisp_err_name(rc));
    if (h != NULL && (!c.have_identity || sisp_slice_eq(h->user, sisp_slice_str(c.user)))) {
        if (c.have_identity && (sel & CF_SEL_BOOTSTRAP)) {
            rc = sisp__client_bootstrap(&c);
            check_rc(&c, "bootstrap", rc);
        }
        run(&c, scenario, sel);
    }
    sisp_client_free(&c);
    free(f.sent);

    check_pins();
    REQUIRE(open_fds() == fds);
    return 0;
}
