/* Seeds for fuzz/fuzz_session.c (sisp-protodoc --corpus DIR writes them to DIR/session): a
 * selector byte (see the harness), then a client's frames. They are built against the same
 * world the harness builds (tenv_world_build), so their signatures, CSRs and ciphertexts are
 * real: a seed reaches the store and the blob files, not just the codec. */
#include "seal_fixture.h"
#include "tenv.h"

#include <sisp/error.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Selector bits: see fuzz/fuzz_session.c. */
enum {
    NOAUTH = 0,
    ALICE = 1,
    UPLOAD = 2,
    DOWNLOADING = 3,
    INVITE = 4,
    GHOST = 5,
    STALE = 6,
    REVOKED = 7,
    NOHELLO = 0x08,
    SLOW_STORE = 0x10,
    SLOW_READER = 0x20,
    END_BYE = 0x40,
    END_RESET = 0x80,
    FAIL_COMMIT = 0xc0,
};

typedef struct {
    sisp_buf_t b;
    int rc;
} seed_t;

static void start(seed_t *s, uint8_t sel) {
    sisp_buf_reset(&s->b);
    s->rc = sisp_buf_append(&s->b, &sel, 1);
}

static void add(seed_t *s, uint8_t type, uint32_t stream, const void *pkt) {
    if (s->rc == 0)
        s->rc = sisp_payload_encode(&s->b, type, stream, pkt);
    if (s->rc != 0)
        fprintf(stderr, "session seeds: cannot encode %s: %s\n", sisp_type_name(type),
                sisp_err_name(s->rc));
}

static void raw(seed_t *s, const void *p, size_t n) {
    if (s->rc == 0)
        s->rc = sisp_buf_append(&s->b, p, n);
}

static int save(seed_t *s, const char *dir, const char *id) {
    char path[4096];
    if (s->rc != 0)
        return s->rc;
    snprintf(path, sizeof path, "%s/session/%s.bin", dir, id);
    FILE *f = fopen(path, "wb");
    int ok = f != NULL && fwrite(s->b.data, 1, s->b.len, f) == s->b.len;
    if (f != NULL)
        ok &= fclose(f) == 0;
    if (!ok) {
        perror(path);
        return SISP_EIO;
    }
    return 0;
}

static void hello(seed_t *s) {
    if (s->rc == 0)
        s->rc = tenv_hello_encode(&s->b);
}

static void reg(seed_t *s, const tenv_user_t *keys, const char *name, const char *invite,
                uint32_t stream, int zero_sig) {
    sisp_buf_t frame;
    sisp_buf_init(&frame, 0);
    tenv_user_t u = *keys;
    snprintf(u.name, sizeof u.name, "%s", name);
    if (zero_sig)
        memset(u.x_sig, 0, sizeof u.x_sig); /* the harness signs it */
    if (s->rc == 0)
        s->rc = tenv_register_encode(&u, invite, stream, &frame);
    raw(s, frame.data, frame.len);
    sisp_buf_free(&frame);
}

/* A whole upload: POST_BEGIN, DATA in 4096-byte frames, POST_END. */
static void post(seed_t *s, const tenv_world_t *w, const char *name, const uint8_t *plain,
                 size_t len, uint32_t stream, int zero_sig) {
    sisp_buf_t cipher, manifest;
    uint8_t sig[SISP_SIG_SIZE];
    sisp_buf_init(&cipher, 0);
    sisp_buf_init(&manifest, 0);
    if (s->rc == 0)
        s->rc = tenv_seal(&w->alice.id, "alice", name, "all", 1, t_epoch_key, plain, len, 4096, 9,
                          &cipher, &manifest, sig);
    if (zero_sig)
        memset(sig, 0, sizeof sig);
    sisp_post_begin_t pb = {sisp_slice_str(name), sisp_slice_str("all"), cipher.len,
                            sisp_slice(manifest.data, manifest.len), sisp_slice(sig, sizeof sig)};
    add(s, SISP_T_POST_BEGIN, stream, &pb);
    for (size_t off = 0; off < cipher.len; off += 4096) {
        size_t n = cipher.len - off < 4096 ? cipher.len - off : 4096;
        sisp_data_t d = {off, sisp_slice(cipher.data + off, n)};
        add(s, SISP_T_DATA, stream, &d);
    }
    sisp_post_end_t pe = {cipher.len};
    add(s, SISP_T_POST_END, stream, &pe);
    sisp_buf_free(&cipher);
    sisp_buf_free(&manifest);
}

static void requests(seed_t *s) {
    sisp_whoami_t who = {0};
    sisp_list_t all = {0, SISP_SLICE_NULL, 0};
    sisp_list_t page = {0, sisp_slice_str("all"), 1};
    sisp_user_cert_t uc = {sisp_slice_str("bob")};
    sisp_group_list_t mine = {SISP_SLICE_NULL, SISP_SLICE_NULL};
    sisp_group_list_t members = {sisp_slice_str("all"), SISP_SLICE_NULL};
    sisp_group_list_t members_after = {sisp_slice_str("all"), sisp_slice_str("alice")};
    sisp_key_fetch_t kf = {sisp_slice_str("all"), 0};
    sisp_key_fetch_t kf_family = {sisp_slice_str("family"), 1};
    sisp_ping_t ping = {42};
    add(s, SISP_T_WHOAMI, 1, &who);
    add(s, SISP_T_LIST, 3, &all);
    add(s, SISP_T_LIST, 5, &page);
    add(s, SISP_T_USER_CERT, 7, &uc);
    add(s, SISP_T_GROUP_LIST, 9, &mine);
    add(s, SISP_T_GROUP_LIST, 11, &members);
    add(s, SISP_T_GROUP_LIST, 25, &members_after);
    add(s, SISP_T_KEY_FETCH, 13, &kf);
    add(s, SISP_T_KEY_FETCH, 15, &kf_family);
    add(s, SISP_T_PING, 0, &ping);
}

static void groups(seed_t *s, const tenv_world_t *w, int zero_sig) {
    static sisp_group_create_t gc;
    static sisp_group_add_t ga;
    static sisp_group_remove_t gr;
    static sisp_key_grant_t kg;
    tenv_grant_bytes_t gb[5];
    uint8_t k2[SISP_KEY_SIZE];
    memset(k2, 0x5a, sizeof k2);
    memset(&gc, 0, sizeof gc);
    memset(&ga, 0, sizeof ga);
    memset(&gr, 0, sizeof gr);
    memset(&kg, 0, sizeof kg);
    gc.group = sisp_slice_str("trip");
    gc.n_grants = 1;
    ga.group = sisp_slice_str("trip");
    ga.user = sisp_slice_str("bob");
    ga.n_grants = 1;
    gr.group = sisp_slice_str("trip");
    gr.user = sisp_slice_str("bob");
    gr.n_grants = 1;
    kg.group = sisp_slice_str("all");
    kg.n_grants = 2;
    int rc = tenv_grant(&w->alice.id, "alice", w->alice.x.pub, "trip", 1, t_epoch_key, &gb[0],
                        &gc.grants[0]);
    if (rc == 0)
        rc = tenv_grant(&w->alice.id, "bob", w->bob.x.pub, "trip", 1, t_epoch_key, &gb[1],
                        &ga.grants[0]);
    if (rc == 0)
        rc =
            tenv_grant(&w->alice.id, "alice", w->alice.x.pub, "trip", 2, k2, &gb[2], &gr.grants[0]);
    if (rc == 0)
        rc = tenv_grant(&w->alice.id, "alice", w->alice.x.pub, "all", 1, t_epoch_key, &gb[3],
                        &kg.grants[0]);
    if (rc == 0)
        rc = tenv_grant(&w->alice.id, "alice", w->alice.x.pub, "all", 1, t_epoch_key, &gb[4],
                        &kg.grants[1]);
    if (s->rc == 0)
        s->rc = rc;
    if (zero_sig)
        for (size_t i = 0; i < 5; i++)
            memset(gb[i].sig, 0, sizeof gb[i].sig);
    sisp_key_fetch_t kf = {sisp_slice_str("trip"), 0};
    sisp_group_list_t gl = {sisp_slice_str("trip"), SISP_SLICE_NULL};
    add(s, SISP_T_GROUP_CREATE, 1, &gc);
    add(s, SISP_T_GROUP_ADD, 3, &ga);
    add(s, SISP_T_KEY_FETCH, 5, &kf);
    add(s, SISP_T_GROUP_LIST, 7, &gl);
    add(s, SISP_T_GROUP_REMOVE, 9, &gr);
    add(s, SISP_T_KEY_GRANT, 11, &kg);
    add(s, SISP_T_GROUP_LIST, 13, &gl);
}

static void downloads(seed_t *s, const tenv_world_t *w) {
    sisp_download_t by_name = {sisp_slice_str("seed.png"), 0, SISP_SLICE_NULL, 0};
    sisp_download_t by_id = {SISP_SLICE_NULL, w->seed_id, SISP_SLICE_NULL, 4000};
    sisp_download_t at_end = {SISP_SLICE_NULL, w->seed_id, SISP_SLICE_NULL, w->seed_cipher.len};
    sisp_download_t foreign = {sisp_slice_str("bob.png"), 0, sisp_slice_str("family"), 0};
    sisp_download_t missing = {sisp_slice_str("missing.png"), 0, SISP_SLICE_NULL, 0};
    add(s, SISP_T_DOWNLOAD, 1, &by_name);
    add(s, SISP_T_DOWNLOAD, 3, &by_id);
    add(s, SISP_T_DOWNLOAD, 5, &at_end);
    add(s, SISP_T_DOWNLOAD, 7, &foreign);
    add(s, SISP_T_DOWNLOAD, 9, &missing);
    /* bob's image (not alice's to delete), then her own, then its download: not found. */
    sisp_delete_t not_hers = {sisp_slice_str("bob.png"), sisp_slice_str("family")};
    sisp_delete_t hers = {sisp_slice_str("seed.png"), sisp_slice_str("all")};
    add(s, SISP_T_DELETE, 11, &not_hers);
    add(s, SISP_T_DELETE, 13, &hers);
    add(s, SISP_T_DOWNLOAD, 15, &by_name);
}

int tenv_session_seeds(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/session", dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        return SISP_EIO;
    }
    tenv_t t;
    tenv_world_t w;
    int rc = tenv_open(&t, NULL);
    if (rc != 0)
        return rc;
    if ((rc = tenv_world_build(&t, &w)) != 0) {
        tenv_close(&t);
        return rc;
    }
    static uint8_t plain[5000];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i * 29 + 1);
    memcpy(plain, t_png_1x1, sizeof t_png_1x1);
    seed_t s;
    sisp_buf_init(&s.b, 0);
    sisp_ping_t ping = {7};
    sisp_bye_t bye = {0, sisp_slice_str("done")};
    sisp_whoami_t who = {0};
    sisp_list_t list = {0, SISP_SLICE_NULL, 0};
    sisp_cancel_t cancel = {(uint32_t)-SISP_ECANCELED};

    /* Registration, open and by invite. */
    start(&s, NOAUTH);
    reg(&s, &w.carol, "carol", NULL, 1, 0);
    add(&s, SISP_T_PING, 0, &ping);
    add(&s, SISP_T_BYE, 0, &bye);
    rc = save(&s, dir, "unauth-register");

    start(&s, NOAUTH | NOHELLO);
    hello(&s);
    reg(&s, &w.carol, "carol", NULL, 1, 0);
    reg(&s, &w.carol, "carol", NULL, 3, 0);
    add(&s, SISP_T_PING, 0, &ping);
    if (rc == 0)
        rc = save(&s, dir, "unauth-hello-register-twice");

    start(&s, NOAUTH);
    reg(&s, &w.carol, "dave", NULL, 1, 1);
    reg(&s, &w.carol, "erin", NULL, 3, 1);
    reg(&s, &w.carol, "frank", NULL, 5, 1);
    reg(&s, &w.carol, "grace", NULL, 7, 1);
    if (rc == 0)
        rc = save(&s, dir, "unauth-register-ratelimit");

    start(&s, INVITE);
    reg(&s, &w.carol, "carol", TENV_WORLD_INVITE, 1, 0);
    reg(&s, &w.carol, "dave", NULL, 3, 1);
    reg(&s, &w.carol, "erin", "WRONG-CODE-1", 5, 1);
    if (rc == 0)
        rc = save(&s, dir, "invite-register");

    /* Requests answered from the store. */
    start(&s, ALICE);
    requests(&s);
    if (rc == 0)
        rc = save(&s, dir, "auth-requests");

    start(&s, ALICE | NOHELLO);
    hello(&s);
    add(&s, SISP_T_WHOAMI, 1, &who);
    add(&s, SISP_T_LIST, 3, &list);
    add(&s, SISP_T_BYE, 0, &bye);
    if (rc == 0)
        rc = save(&s, dir, "auth-hello-whoami-list");

    start(&s, ALICE | SLOW_STORE);
    requests(&s);
    if (rc == 0)
        rc = save(&s, dir, "auth-requests-slow-store");

    /* Uploads. */
    start(&s, ALICE);
    post(&s, &w, "new.png", plain, sizeof plain, 1, 0);
    add(&s, SISP_T_LIST, 3, &list);
    sisp_download_t dl_new = {sisp_slice_str("new.png"), 0, sisp_slice_str("all"), 0};
    add(&s, SISP_T_DOWNLOAD, 5, &dl_new);
    if (rc == 0)
        rc = save(&s, dir, "auth-post-list-download");

    start(&s, ALICE);
    post(&s, &w, "signed-here.png", t_png_1x1, sizeof t_png_1x1, 1, 1);
    post(&s, &w, "seed.png", t_png_1x1, sizeof t_png_1x1, 3, 1); /* EEXIST */
    if (rc == 0)
        rc = save(&s, dir, "auth-post-resigned");

    start(&s, ALICE | SLOW_STORE);
    post(&s, &w, "slow.png", plain, sizeof plain, 1, 0);
    if (rc == 0)
        rc = save(&s, dir, "auth-post-slow-store");

    start(&s, UPLOAD);
    {
        sisp_data_t d = {0, sisp_slice(w.up_cipher.data, w.up_cipher.len)};
        sisp_post_end_t pe = {w.up_cipher.len};
        add(&s, SISP_T_DATA, TENV_WORLD_UP_STREAM, &d);
        add(&s, SISP_T_POST_END, TENV_WORLD_UP_STREAM, &pe);
        if (rc == 0)
            rc = save(&s, dir, "upload-finish");
        start(&s, UPLOAD);
        d.offset = 5;
        add(&s, SISP_T_DATA, TENV_WORLD_UP_STREAM, &d);
        d.offset = 0;
        add(&s, SISP_T_DATA, TENV_WORLD_UP_STREAM, &d);
        add(&s, SISP_T_POST_END, TENV_WORLD_UP_STREAM, &pe);
        add(&s, SISP_T_DATA, 9, &d);
        if (rc == 0)
            rc = save(&s, dir, "upload-bad-offset");
        start(&s, UPLOAD);
        uint8_t more[128];
        memset(more, 0x55, sizeof more);
        size_t k = w.up_cipher.len < sizeof more ? w.up_cipher.len : sizeof more;
        memcpy(more, w.up_cipher.data, k); /* the right bytes, then more than declared */
        sisp_data_t too_much = {0, sisp_slice(more, sizeof more)};
        add(&s, SISP_T_DATA, TENV_WORLD_UP_STREAM, &too_much);
        add(&s, SISP_T_POST_END, TENV_WORLD_UP_STREAM, &pe);
        if (rc == 0)
            rc = save(&s, dir, "upload-too-much");
        start(&s, UPLOAD | END_RESET);
        d.data.len = 20;
        add(&s, SISP_T_DATA, TENV_WORLD_UP_STREAM, &d);
        if (rc == 0)
            rc = save(&s, dir, "upload-reset");
        start(&s, UPLOAD);
        sisp_cancel_t c = {0};
        add(&s, SISP_T_DATA, TENV_WORLD_UP_STREAM, &d);
        add(&s, SISP_T_CANCEL, TENV_WORLD_UP_STREAM, &c);
        add(&s, SISP_T_DATA, TENV_WORLD_UP_STREAM, &d);
        add(&s, SISP_T_POST_END, TENV_WORLD_UP_STREAM, &pe);
        if (rc == 0)
            rc = save(&s, dir, "upload-cancel");
    }

    /* Over the per-image limit (12 KiB) and over alice's quota (16 KiB, 5032 used). */
    {
        static uint8_t big[13000];
        sisp_buf_t cipher, manifest;
        uint8_t sig[SISP_SIG_SIZE];
        memcpy(big, plain, sizeof plain);
        const struct {
            const char *name;
            size_t len;
        } over[] = {{"huge.png", 13000}, {"mid.png", 11500}};
        start(&s, ALICE);
        for (size_t i = 0; i < 2; i++) {
            sisp_buf_init(&cipher, 0);
            sisp_buf_init(&manifest, 0);
            if (s.rc == 0)
                s.rc = tenv_seal(&w.alice.id, "alice", over[i].name, "all", 1, t_epoch_key, big,
                                 over[i].len, 4096, 5, &cipher, &manifest, sig);
            sisp_post_begin_t pb = {sisp_slice_str(over[i].name), sisp_slice_str("all"), cipher.len,
                                    sisp_slice(manifest.data, manifest.len),
                                    sisp_slice(sig, sizeof sig)};
            add(&s, SISP_T_POST_BEGIN, (uint32_t)(1 + 2 * i), &pb);
            sisp_buf_free(&cipher);
            sisp_buf_free(&manifest);
        }
        if (rc == 0)
            rc = save(&s, dir, "auth-post-over-limits");
    }

    /* Downloads. */
    start(&s, ALICE);
    downloads(&s, &w);
    if (rc == 0)
        rc = save(&s, dir, "auth-downloads");

    start(&s, ALICE | SLOW_STORE | SLOW_READER);
    downloads(&s, &w);
    if (rc == 0)
        rc = save(&s, dir, "auth-downloads-slow");

    start(&s, DOWNLOADING);
    add(&s, SISP_T_CANCEL, 3, &cancel);
    add(&s, SISP_T_PING, 0, &ping);
    if (rc == 0)
        rc = save(&s, dir, "downloading-cancel");

    start(&s, DOWNLOADING);
    sisp_download_t again = {sisp_slice_str("seed.png"), 0, SISP_SLICE_NULL, 0};
    add(&s, SISP_T_DOWNLOAD, 5, &again);
    add(&s, SISP_T_WHOAMI, 7, &who);
    if (rc == 0)
        rc = save(&s, dir, "downloading-busy");

    start(&s, DOWNLOADING | END_RESET);
    add(&s, SISP_T_PING, 0, &ping);
    if (rc == 0)
        rc = save(&s, dir, "downloading-reset");

    /* Groups and keys. */
    start(&s, ALICE);
    groups(&s, &w, 0);
    if (rc == 0)
        rc = save(&s, dir, "auth-groups");

    start(&s, ALICE);
    groups(&s, &w, 1);
    if (rc == 0)
        rc = save(&s, dir, "auth-groups-resigned");

    /* Keys for a group without one yet (alice makes epoch 1 of `club`), and from a member
     * still waiting for keys (alice in `crew`: refused). */
    {
        static sisp_key_grant_t kg;
        tenv_grant_bytes_t gb;
        memset(&kg, 0, sizeof kg);
        kg.n_grants = 1;
        start(&s, ALICE);
        kg.group = sisp_slice_str("club");
        if (s.rc == 0)
            s.rc = tenv_grant(&w.alice.id, "alice", w.alice.x.pub, "club", 1, t_epoch_key, &gb,
                              &kg.grants[0]);
        add(&s, SISP_T_KEY_GRANT, 1, &kg);
        kg.group = sisp_slice_str("crew");
        if (s.rc == 0)
            s.rc = tenv_grant(&w.alice.id, "bob", w.bob.x.pub, "crew", 1, t_epoch_key, &gb,
                              &kg.grants[0]);
        add(&s, SISP_T_KEY_GRANT, 3, &kg);
        sisp_key_fetch_t kf = {sisp_slice_str("club"), 0};
        add(&s, SISP_T_KEY_FETCH, 5, &kf);
        sisp_group_remove_t *gr = calloc(1, sizeof *gr);
        if (gr != NULL) {
            gr->group = sisp_slice_str("all");
            gr->user = sisp_slice_str("bob");
            add(&s, SISP_T_GROUP_REMOVE, 7, gr);
            free(gr);
        }
        if (rc == 0)
            rc = save(&s, dir, "auth-key-grant-epochs");
    }

    /* Certificates the store does not accept. */
    start(&s, GHOST);
    add(&s, SISP_T_WHOAMI, 1, &who);
    if (rc == 0)
        rc = save(&s, dir, "cert-unknown-user");
    start(&s, STALE);
    add(&s, SISP_T_WHOAMI, 1, &who);
    if (rc == 0)
        rc = save(&s, dir, "cert-other-serial");
    start(&s, REVOKED | NOHELLO);
    hello(&s);
    add(&s, SISP_T_LIST, 1, &list);
    if (rc == 0)
        rc = save(&s, dir, "cert-revoked");

    /* Refusals: state, limits, fields. */
    start(&s, ALICE | NOHELLO);
    add(&s, SISP_T_WHOAMI, 1, &who);
    if (rc == 0)
        rc = save(&s, dir, "before-hello");
    start(&s, NOAUTH);
    add(&s, SISP_T_LIST, 1, &list);
    if (rc == 0)
        rc = save(&s, dir, "unauth-list");
    {
        static const uint8_t truncated[] = {0, 0, 0, 4, 1,    0x27, 0, 0,
                                            0, 0, 0, 9, 0x83, 0x03, 0, 0};
        static const uint8_t too_big[] = {0, 0x10, 0, 1, 1, 0x27, 0, 0, 0, 0, 0, 1};
        static const uint8_t bad_type[] = {0, 0, 0, 0, 1, 0x7f, 0, 0, 0, 0, 0, 1};
        start(&s, ALICE);
        add(&s, SISP_T_PING, 0, &ping);
        raw(&s, truncated, sizeof truncated);
        if (rc == 0)
            rc = save(&s, dir, "auth-truncated-field");
        start(&s, ALICE);
        raw(&s, too_big, sizeof too_big);
        if (rc == 0)
            rc = save(&s, dir, "auth-too-big");
        start(&s, ALICE | SLOW_STORE);
        add(&s, SISP_T_WHOAMI, 1, &who);
        raw(&s, bad_type, sizeof bad_type);
        if (rc == 0)
            rc = save(&s, dir, "auth-bad-type");
    }

    /* A slow reader: pushes pile up until the push cap closes the connection. */
    start(&s, ALICE | SLOW_STORE | SLOW_READER);
    for (int i = 0; i < 120; i++)
        add(&s, SISP_T_PING, 0, &ping);
    if (rc == 0)
        rc = save(&s, dir, "auth-slow-reader-pushes");

    /* A store job whose batch fails to commit (which one: see the harness). */
    start(&s, ALICE | FAIL_COMMIT);
    requests(&s);
    if (rc == 0)
        rc = save(&s, dir, "auth-requests-fail-commit");
    start(&s, ALICE | FAIL_COMMIT);
    groups(&s, &w, 0);
    if (rc == 0)
        rc = save(&s, dir, "auth-groups-fail-commit");
    start(&s, NOAUTH | FAIL_COMMIT);
    reg(&s, &w.carol, "dave", NULL, 1, 1);
    reg(&s, &w.carol, "erin", NULL, 3, 1);
    reg(&s, &w.carol, "frank", NULL, 5, 1);
    if (rc == 0)
        rc = save(&s, dir, "unauth-register-fail-commit");

    /* The glue's BYE (timeout) while requests are queued. */
    start(&s, ALICE | SLOW_STORE | END_BYE);
    requests(&s);
    if (rc == 0)
        rc = save(&s, dir, "auth-timeout-queued");

    sisp_buf_free(&s.b);
    tenv_world_free(&w);
    tenv_close(&t);
    return rc;
}
