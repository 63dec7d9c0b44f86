/* sispd end to end: the real binary on 127.0.0.1 (port 0, temporary data directory), real
 * TLS 1.3, real SQLite and blob files, driven by the test client. */
#include "seal_fixture.h"
#include "tclient.h"
#include "testutil.h"
#include "tserver.h"

#include <sisp/crypto.h>
#include <sisp/error.h>
#include <sisp/keys.h>
#include <sisp/seal.h>

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *sispd;
static tserver_t srv;

static tclient_t *login(const tc_user_t *u) {
    int err = 0;
    tclient_t *c = tc_connect(srv.port, srv.ca, srv.ca_len, u, &err);
    if (c == NULL)
        T_FAIL_AT("login of %s failed: %s", u->name, sisp_err_name(err));
    return c;
}

static uint8_t big[300 * 1024];

/* The largest upload temp file in the data directory, in bytes (0 if none). */
static off_t upload_in_flight(void) {
    char dir[300];
    snprintf(dir, sizeof dir, "%s/blobs/tmp", srv.dir);
    DIR *d = opendir(dir);
    off_t most = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0 && st.st_size > most)
            most = st.st_size;
    }
    if (d != NULL)
        closedir(d);
    return most;
}

/* SIGTERM while an upload streams: the upload's write jobs on the thread pool come back after
 * the store thread has stopped. sispd must exit cleanly (under ASan: no use of the freed
 * worker), and start again on the same data. */
static void shutdown_mid_upload(const tc_user_t *alice, const uint8_t all_key[32]) {
    size_t n = 24u << 20;
    uint8_t *huge = malloc(n);
    CHECK(huge != NULL);
    if (huge == NULL)
        return;
    memcpy(huge, big, sizeof big);
    memset(huge + sizeof big, 0x5a, n - sizeof big);
    for (int round = 0; round < 3; round++) {
        fflush(NULL);
        pid_t kid = fork();
        if (kid == 0) {
            int err = 0;
            tclient_t *k = tc_connect(srv.port, srv.ca, srv.ca_len, alice, &err);
            for (int i = 0; k != NULL && i < 50; i++) {
                char name[32];
                snprintf(name, sizeof name, "huge-%d-%d.png", round, i);
                if (tc_post(k, alice, "all", 1, all_key, name, huge, n, NULL) != SISP_OK)
                    break;
            }
            _exit(0);
        }
        CHECK(kid > 0);
        int64_t end = t_now_ms() + 20000;
        while (upload_in_flight() < (1 << 20) && t_now_ms() < end)
            t_sleep_ms(2);
        CHECK(upload_in_flight() >= (1 << 20));
        CHECK_INT(ts_stop(&srv), 0);
        if (kid > 0) {
            kill(kid, SIGKILL);
            waitpid(kid, NULL, 0);
        }
        CHECK_INT(ts_start(&srv, sispd, NULL), 0);
    }
    free(huge);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_server path/to/sispd\n");
        return 2;
    }
    sispd = argv[1];
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up is a test failure, not a crash */
    t_rand_seed_from_env("test_server");
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)t_rand();
    memcpy(big, t_png_1x1, 8); /* a PNG by its magic */

    if (ts_start(&srv, sispd, NULL) != 0) {
        T_FAIL_AT("sispd did not start");
        return t_done("test_server");
    }
    /* The printed fingerprint is the CA certificate's SHA-256. */
    uint8_t fp[32];
    char hex[80] = "SHA256:";
    CHECK_ERR(sisp_sha256(srv.ca, srv.ca_len, fp), SISP_OK);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 7 + 2 * i, 3, "%02x", fp[i]);
    CHECK(strcmp(hex, srv.fingerprint) == 0);

    /* Registration: names, taken names. */
    tc_user_t alice, bob, carol;
    CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "alice", NULL, &alice), SISP_OK);
    CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "bob", NULL, &bob), SISP_OK);
    tc_user_t again;
    CHECK_ERR(tc_register(srv.port, srv.ca, srv.ca_len, "alice", NULL, &again), SISP_EEXIST);

    /* alice, the first user, creates epoch 1 of `all` by granting it to herself. */
    tclient_t *a = login(&alice);
    CHECK(a != NULL);
    if (a == NULL)
        return t_done("test_server");
    CHECK(sisp_slice_eq(tc_server_hello(a)->user, sisp_slice_str("alice")));
    /* WHOAMI names her certificate by its SHA-256, as the handshake saw it. */
    const sisp_packet_t *r = NULL;
    sisp_whoami_t who = {0};
    uint8_t cert_fp[SISP_SHA256_SIZE];
    CHECK_ERR(sisp_sha256(alice.cert, alice.cert_len, cert_fp), SISP_OK);
    CHECK_INT(tc_request(a, SISP_T_WHOAMI, &who, &r), 0);
    CHECK(r != NULL && r->type == SISP_T_WHOAMI_RESULT &&
          sisp_slice_eq(r->u.whoami_result.cert_fp, sisp_slice(cert_fp, sizeof cert_fp)));
    uint8_t all_key[32], family_key[32], family_key2[32];
    sisp_rng_t rng;
    CHECK_ERR(sisp_rng_init(&rng), SISP_OK);
    CHECK_ERR(sisp_rng_bytes(&rng, all_key, 32), SISP_OK);
    CHECK_ERR(sisp_rng_bytes(&rng, family_key, 32), SISP_OK);
    CHECK_ERR(sisp_rng_bytes(&rng, family_key2, 32), SISP_OK);
    sisp_rng_free(&rng);

    static sisp_key_grant_t kg;
    tc_grant_bytes_t gb[4];
    memset(&kg, 0, sizeof kg);
    kg.group = sisp_slice_str("all");
    CHECK_ERR(tc_make_grant(&alice, "alice", alice.x.pub, "all", 1, all_key, &gb[0], &kg.grants[0]),
              SISP_OK);
    kg.n_grants = 1;
    CHECK_INT(tc_request(a, SISP_T_KEY_GRANT, &kg, &r), 0);
    CHECK_INT(r->type, SISP_T_OK);

    /* bob is pending in `all`: alice's client fetches his key and grants him epoch 1. */
    sisp_user_cert_t uc = {sisp_slice_str("bob")};
    CHECK_INT(tc_request(a, SISP_T_USER_CERT, &uc, &r), 0);
    CHECK_INT(r->type, SISP_T_USER_CERT_RESULT);
    uint8_t bob_x[32];
    memcpy(bob_x, r->u.user_cert_result.x25519.ptr, 32);
    CHECK_ERR(sisp_x25519_verify(bob.id.pub, sisp_slice_str("bob"), bob_x,
                                 r->u.user_cert_result.x25519_sig.ptr,
                                 r->u.user_cert_result.x25519_sig.len),
              SISP_OK);
    tclient_t *b = login(&bob);
    CHECK(b != NULL);
    if (b == NULL)
        return t_done("test_server");
    CHECK_ERR(tc_make_grant(&alice, "bob", bob_x, "all", 1, all_key, &gb[1], &kg.grants[0]),
              SISP_OK);
    CHECK_INT(tc_request(a, SISP_T_KEY_GRANT, &kg, &r), 0);
    CHECK_INT(r->type, SISP_T_OK);
    /* bob is told at once, and can fetch it again. */
    CHECK_INT(tc_wait_push(b, SISP_T_KEY_RESULT, 5000, &r), 0);
    sisp_key_fetch_t kf = {sisp_slice_str("all"), 0};
    CHECK_INT(tc_request(b, SISP_T_KEY_FETCH, &kf, &r), 0);
    CHECK_INT(r->type, SISP_T_KEY_RESULT);
    CHECK_U64(r->u.key_result.n_grants, 1);
    uint8_t got[32];
    CHECK_ERR(sisp_grant_verify(alice.id.pub, sisp_slice_str("all"), 1, sisp_slice_str("bob"),
                                r->u.key_result.grants[0].wrapped,
                                r->u.key_result.grants[0].signature.ptr,
                                r->u.key_result.grants[0].signature.len),
              SISP_OK);
    CHECK_ERR(sisp_epoch_unwrap(&bob.x, r->u.key_result.grants[0].wrapped.ptr,
                                r->u.key_result.grants[0].wrapped.len, sisp_slice_str("all"), 1,
                                sisp_slice_str("bob"), got),
              SISP_OK);
    CHECK_MEM(got, 32, all_key, 32);

    /* alice posts; bob is notified with the sequence number and downloads the same bytes. */
    uint64_t seq1 = 0;
    CHECK_ERR(tc_post(a, &alice, "all", 1, all_key, "beach.png", big, sizeof big, &seq1), SISP_OK);
    CHECK_INT(tc_wait_push(b, SISP_T_NOTIFY, 5000, &r), 0);
    CHECK(sisp_slice_eq(r->u.notify.name, sisp_slice_str("beach.png")));
    CHECK(sisp_slice_eq(r->u.notify.owner, sisp_slice_str("alice")));
    CHECK_U64(r->u.notify.seq, seq1);
    sisp_buf_t plain;
    sisp_buf_init(&plain, 0);
    CHECK_ERR(tc_download(b, "beach.png", "", alice.id.pub, all_key, &plain), SISP_OK);
    CHECK_MEM(plain.data, plain.len, big, sizeof big);

    /* The same name twice in a group is refused; LIST catches up from a sequence number. */
    CHECK_ERR(tc_post(a, &alice, "all", 1, all_key, "beach.png", big, 100, NULL), SISP_EEXIST);
    uint64_t seq2 = 0;
    CHECK_ERR(tc_post(a, &alice, "all", 1, all_key, "dunes.png", big, 5000, &seq2), SISP_OK);
    CHECK(seq2 > seq1);
    sisp_list_t l = {0, SISP_SLICE_NULL, 0};
    CHECK_INT(tc_request(b, SISP_T_LIST, &l, &r), 0);
    CHECK_INT(r->type, SISP_T_LIST_RESULT);
    CHECK_U64(r->u.list_result.n_entries, 2);
    l.since = seq1;
    CHECK_INT(tc_request(b, SISP_T_LIST, &l, &r), 0);
    CHECK_U64(r->u.list_result.n_entries, 1);
    CHECK(sisp_slice_eq(r->u.list_result.entries[0].name, sisp_slice_str("dunes.png")));

    /* Impersonation: bob cannot post a manifest that names alice as its owner. */
    CHECK_ERR(tc_post(b, &alice, "all", 1, all_key, "forged.png", big, 100, NULL), SISP_ESIG);

    /* Groups: family is alice's; bob sees nothing of it until added, and nothing once removed. */
    static sisp_group_create_t gc;
    memset(&gc, 0, sizeof gc);
    gc.group = sisp_slice_str("family");
    CHECK_ERR(
        tc_make_grant(&alice, "alice", alice.x.pub, "family", 1, family_key, &gb[2], &gc.grants[0]),
        SISP_OK);
    gc.n_grants = 1;
    CHECK_INT(tc_request(a, SISP_T_GROUP_CREATE, &gc, &r), 0);
    CHECK_INT(r->type, SISP_T_GROUP_RESULT);
    CHECK_ERR(tc_post(a, &alice, "family", 1, family_key, "secret.png", big, 7000, NULL), SISP_OK);
    CHECK_ERR(tc_download(b, "secret.png", "family", alice.id.pub, family_key, &plain),
              SISP_ENOTFOUND);
    static sisp_group_add_t ga;
    memset(&ga, 0, sizeof ga);
    ga.group = sisp_slice_str("family");
    ga.user = sisp_slice_str("bob");
    CHECK_ERR(tc_make_grant(&alice, "bob", bob_x, "family", 1, family_key, &gb[3], &ga.grants[0]),
              SISP_OK);
    ga.n_grants = 1;
    CHECK_INT(tc_request(a, SISP_T_GROUP_ADD, &ga, &r), 0);
    CHECK_INT(r->type, SISP_T_GROUP_RESULT);
    sisp_buf_reset(&plain);
    CHECK_ERR(tc_download(b, "secret.png", "family", alice.id.pub, family_key, &plain), SISP_OK);
    CHECK_MEM(plain.data, plain.len, big, 7000);
    static sisp_group_remove_t gr;
    memset(&gr, 0, sizeof gr);
    gr.group = sisp_slice_str("family");
    gr.user = sisp_slice_str("bob");
    CHECK_ERR(tc_make_grant(&alice, "alice", alice.x.pub, "family", 2, family_key2, &gb[0],
                            &gr.grants[0]),
              SISP_OK);
    gr.n_grants = 1;
    CHECK_INT(tc_request(a, SISP_T_GROUP_REMOVE, &gr, &r), 0);
    CHECK_INT(r->type, SISP_T_GROUP_RESULT);
    CHECK_U64(r->u.group_result.epoch, 2);
    sisp_buf_reset(&plain);
    CHECK_ERR(tc_download(b, "secret.png", "family", alice.id.pub, family_key, &plain),
              SISP_ENOTFOUND);
    sisp_list_t lf = {0, sisp_slice_str("family"), 0};
    CHECK_INT(tc_request(b, SISP_T_LIST, &lf, &r), 0);
    CHECK_ERR(tc_reply_code(r), SISP_EPERM);

    /* A malformed frame: a specific ERROR, the connection closes, the next client is served. */
    tc_register(srv.port, srv.ca, srv.ca_len, "carol", NULL, &carol);
    tclient_t *cc = login(&carol);
    if (cc != NULL) {
        uint8_t bad[] = {0, 0, 0, 4, 1, 0x27, 0, 0, 0, 0, 0, 9, 0x83, 0x03, 0, 0}; /* truncated */
        CHECK_INT(tc_send_raw(cc, bad, sizeof bad), 0);
        CHECK_INT(tc_wait_close(cc, 5000), -SISP_EFIELD);
        tc_close(cc);
    }
    sisp_ping_t ping = {42};
    CHECK_INT(tc_request(b, SISP_T_PING, &ping, &r), 0);
    CHECK_INT(r->type, SISP_T_PONG);

    /* Restart: everything persists, the CA is the same. */
    tc_close(a);
    tc_close(b);
    char fp_before[80];
    snprintf(fp_before, sizeof fp_before, "%s", srv.fingerprint);
    CHECK_INT(ts_stop(&srv), 0);
    CHECK_INT(ts_start(&srv, sispd, NULL), 0);
    CHECK(strcmp(fp_before, srv.fingerprint) == 0);
    b = login(&bob);
    if (b != NULL) {
        sisp_buf_reset(&plain);
        CHECK_ERR(tc_download(b, "beach.png", "all", alice.id.pub, all_key, &plain), SISP_OK);
        CHECK_MEM(plain.data, plain.len, big, sizeof big);
        l.since = 0;
        CHECK_INT(tc_request(b, SISP_T_LIST, &l, &r), 0);
        CHECK_U64(r->u.list_result.n_entries, 2);
        tc_close(b);
    }
    shutdown_mid_upload(&alice, all_key);
    sisp_buf_free(&plain);
    CHECK_INT(ts_stop(&srv), 0);
    ts_cleanup(&srv);
    return t_done("test_server");
}
