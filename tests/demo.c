/* sisp-demo: the server working end to end, narrated. Starts the real sispd on 127.0.0.1
 * with a fresh data directory, registers alice and bob, has alice post a sealed image, shows
 * bob being told live, downloading it and verifying who signed it, and shows the server
 * holding only ciphertext. (The sisp command-line client replaces this driver later.) */
#include "seal_fixture.h"
#include "tclient.h"
#include "tserver.h"

#include <sisp/error.h>
#include <sisp/keys.h>
#include <sisp/seal.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failed;

#define STEP(...)                                                                                  \
    do {                                                                                           \
        printf(__VA_ARGS__);                                                                       \
        fflush(stdout);                                                                            \
    } while (0)
#define EXPECT(cond, what)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("  FAILED: %s\n", what);                                                        \
            failed = 1;                                                                            \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static void hex(const uint8_t *p, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* Does any file under dir contain needle? (the server must hold no plaintext) */
static int dir_contains(const char *dir, const uint8_t *needle, size_t n) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d)) != NULL) {
        char path[600];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            found = dir_contains(path, needle, n);
            continue;
        }
        static uint8_t buf[1 << 20];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (size_t i = 0; !found && len >= n && i <= len - n; i++)
            found = memcmp(buf + i, needle, n) == 0;
    }
    if (d)
        closedir(d);
    return found;
}

int main(int argc, char **argv) {
    tserver_t srv = {0};
    tc_user_t alice, bob;
    tclient_t *a = NULL, *b = NULL;
    const sisp_packet_t *r = NULL;
    static uint8_t image[200 * 1024];
    uint8_t all_key[32], wrapped[2][80], gsig[2][64], sig[64];
    sisp_buf_t cipher, manifest, plain;
    sisp_rng_t rng;
    char fp[65];

    if (argc != 2) {
        fprintf(stderr, "usage: sisp-demo path/to/sispd\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sisp_buf_init(&cipher, 0);
    sisp_buf_init(&manifest, 0);
    sisp_buf_init(&plain, 0);
    sisp_rng_init(&rng);
    memcpy(image, t_png_1x1, sizeof t_png_1x1); /* a real PNG, padded to 200 KiB */
    for (size_t i = sizeof t_png_1x1; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 7);

    STEP("1. Starting sispd with a fresh data directory...\n");
    EXPECT(ts_start(&srv, argv[1], NULL) == 0, "sispd did not start");
    STEP("   sispd listening on 127.0.0.1:%d, CA fingerprint %.*s...\n", srv.port, 23,
         srv.fingerprint);

    STEP("2. alice and bob register: each makes an Ed25519 identity key and an X25519 key\n"
         "   locally and sends a CSR; the server's CA issues their certificates.\n");
    EXPECT(tc_register(srv.port, srv.ca, srv.ca_len, "alice", NULL, &alice) == 0,
           "alice could not register");
    EXPECT(tc_register(srv.port, srv.ca, srv.ca_len, "bob", NULL, &bob) == 0,
           "bob could not register");
    int err = 0;
    a = tc_connect(srv.port, srv.ca, srv.ca_len, &alice, &err);
    b = tc_connect(srv.port, srv.ca, srv.ca_len, &bob, &err);
    EXPECT(a && b, "mutual-TLS login failed");
    STEP("   both logged in over mutual TLS 1.3; the server knows them by certificate only.\n");

    STEP("3. alice creates the key of group 'all' and grants it to herself and to bob,\n"
         "   wrapped to each X25519 key and signed: the server stores keys it cannot open.\n");
    sisp_rng_bytes(&rng, all_key, sizeof all_key);
    static sisp_key_grant_t kg;
    const tc_user_t *who[2] = {&alice, &bob};
    for (int i = 0; i < 2; i++) {
        memset(&kg, 0, sizeof kg);
        kg.group = sisp_slice_str("all");
        sisp_epoch_wrap(&rng, all_key, who[i]->x.pub, kg.group, 1, sisp_slice_str(who[i]->name),
                        wrapped[i]);
        sisp_grant_sign(&alice.id, kg.group, 1, sisp_slice_str(who[i]->name),
                        sisp_slice(wrapped[i], 80), gsig[i]);
        kg.grants[0].user = sisp_slice_str(who[i]->name);
        kg.grants[0].epoch = 1;
        kg.grants[0].wrapped = sisp_slice(wrapped[i], 80);
        kg.grants[0].signature = sisp_slice(gsig[i], 64);
        kg.n_grants = 1;
        EXPECT(tc_request(a, SISP_T_KEY_GRANT, &kg, &r) == 0 && r->type == SISP_T_OK,
               "key grant refused");
    }

    STEP("4. alice seals beach.png (200 KiB): AES-256-GCM chunks under a fresh content key,\n"
         "   a manifest signed with her identity key, and uploads it.\n");
    sisp_seal_params_t p = {sisp_slice_str("alice"),
                            sisp_slice_str("beach.png"),
                            sisp_slice_str("all"),
                            1,
                            1795000000,
                            0};
    sisp_seal_t s;
    EXPECT(sisp_seal_init(&s, &p, all_key, &rng) == 0 &&
               sisp_seal_update(&s, image, sizeof image, &cipher) == 0 &&
               sisp_seal_final(&s, &cipher, &manifest) == 0 &&
               sisp_manifest_sign(&alice.id, manifest.data, manifest.len, sig) == 0,
           "sealing failed");
    sisp_seal_free(&s);
    sisp_post_begin_t pb = {p.name, p.group, cipher.len, sisp_slice(manifest.data, manifest.len),
                            sisp_slice(sig, sizeof sig)};
    uint32_t stream = tc_send(a, SISP_T_POST_BEGIN, 0, &pb);
    for (size_t off = 0; off < cipher.len; off += 65536) {
        size_t n = cipher.len - off < 65536 ? cipher.len - off : 65536;
        sisp_data_t d = {off, sisp_slice(cipher.data + off, n)};
        tc_send(a, SISP_T_DATA, stream, &d);
    }
    sisp_post_end_t pe = {cipher.len};
    tc_send(a, SISP_T_POST_END, stream, &pe);
    EXPECT(tc_read_stream(a, stream, &r) == 0 && r->type == SISP_T_POSTED, "upload refused");
    STEP("   POSTED: image %llu, sequence number %llu (stored durably before this answer).\n",
         (unsigned long long)r->u.posted.id, (unsigned long long)r->u.posted.seq);

    STEP("5. bob was told live:\n");
    EXPECT(tc_wait_push(b, SISP_T_NOTIFY, 5000, &r) == 0, "no notification");
    STEP("   NEW_IMAGE %.*s %.*s %.*s %llu\n", (int)r->u.notify.name.len,
         (const char *)r->u.notify.name.ptr, (int)r->u.notify.owner.len,
         (const char *)r->u.notify.owner.ptr, (int)r->u.notify.group.len,
         (const char *)r->u.notify.group.ptr, (unsigned long long)r->u.notify.size);

    STEP("6. bob downloads it, checks alice's signature, unwraps the keys and decrypts,\n"
         "   chunk by chunk, releasing nothing unverified.\n");
    sisp_key_fetch_t kf = {sisp_slice_str("all"), 1};
    uint8_t bob_key[32];
    EXPECT(tc_request(b, SISP_T_KEY_FETCH, &kf, &r) == 0 && r->type == SISP_T_KEY_RESULT &&
               r->u.key_result.n_grants == 1 &&
               sisp_epoch_unwrap(&bob.x, r->u.key_result.grants[0].wrapped.ptr,
                                 r->u.key_result.grants[0].wrapped.len, kf.group, 1,
                                 sisp_slice_str("bob"), bob_key) == 0,
           "bob could not get the group key");
    sisp_download_t dl = {sisp_slice_str("beach.png"), 0, SISP_SLICE_NULL, 0};
    stream = tc_send(b, SISP_T_DOWNLOAD, 0, &dl);
    EXPECT(tc_read_stream(b, stream, &r) == 0 && r->type == SISP_T_IMAGE_BEGIN, "download refused");
    sisp_open_t o;
    sisp_expect_t e = {sisp_slice_str("alice"), sisp_slice_str("beach.png"), SISP_SLICE_NULL};
    EXPECT(sisp_open_init(&o, r->u.image_begin.manifest.ptr, r->u.image_begin.manifest.len,
                          r->u.image_begin.signature.ptr, r->u.image_begin.signature.len,
                          alice.id.pub, &e) == 0 &&
               sisp_open_key(&o, bob_key) == 0,
           "signature or key check failed");
    int rc = 0;
    while (rc == 0 && tc_read_stream(b, stream, &r) == 0 && r->type == SISP_T_DATA)
        rc = sisp_open_update(&o, r->u.data.data.ptr, r->u.data.data.len, &plain);
    rc = rc ? rc : sisp_open_final(&o);
    sisp_open_free(&o);
    EXPECT(rc == 0, sisp_strerror(rc));
    EXPECT(plain.len == sizeof image && memcmp(plain.data, image, sizeof image) == 0,
           "the image differs");
    hex(alice.id.pub, 32, fp);
    STEP("   verified: signed by alice (Ed25519 %.16s...), %zu bytes, identical.\n", fp, plain.len);

    STEP("7. The server's disk holds ciphertext only: ");
    EXPECT(!dir_contains(srv.dir, image + 4096, 64), "plaintext found in the data directory");
    STEP("no 64-byte run of the image appears in %s.\n", srv.dir);

out:
    tc_close(a);
    tc_close(b);
    if (srv.pid > 0) {
        int st = ts_stop(&srv);
        STEP("8. sispd stopped on SIGTERM (exit %d).\n", st);
        failed |= st != 0;
    }
    ts_cleanup(&srv);
    sisp_buf_free(&cipher);
    sisp_buf_free(&manifest);
    sisp_buf_free(&plain);
    sisp_rng_free(&rng);
    printf("\n%s\n", failed
                         ? "DEMO FAILED"
                         : "Demo complete: posted, notified, downloaded and verified end to end.");
    return failed;
}
