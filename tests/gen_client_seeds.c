/* sisp-gen-client-seeds DIR: writes the seeds of fuzz/fuzz_client_frames.c to DIR (the
 * committed ones are fuzz/corpus/client_frames). Each is a selector byte, a transport byte
 * (see the harness) and the byte stream a server would send for that scenario: valid
 * replies on the stream ids the client uses (HELLO on 0, requests on 1, 3, 5...), with real
 * grants and a real sealed image made from the fixed keys, so that a seed reaches the end of
 * its command. Certificates are the harness's placeholders ("bob" for bob's certificate),
 * since the CA the harness pins is made afresh in every process. Deterministic. */
#include "client_frames.h"
#include "seal_fixture.h"
#include "tenv.h"

#include <sisp/error.h>
#include <sisp/keystore.h>
#include <sisp/packet.h>

#include <stdio.h>
#include <string.h>

static tenv_user_t alice, bob, carol;
static sisp_buf_t seed_cipher, seed_manifest, bob_cipher, bob_manifest;
static uint8_t seed_sig[SISP_SIG_SIZE], bob_sig[SISP_SIG_SIZE];
static const char *out_dir;

typedef struct {
    sisp_buf_t b;
    int rc;
} seed_t;

static seed_t s;

static void start(uint8_t sel, uint8_t tr) {
    uint8_t head[2] = {sel, tr};
    sisp_buf_reset(&s.b);
    s.rc = sisp_buf_append(&s.b, head, sizeof head);
}

static void add(uint8_t type, uint32_t stream, const void *pkt) {
    if (s.rc == 0)
        s.rc = sisp_payload_encode(&s.b, type, stream, pkt);
    if (s.rc != 0)
        fprintf(stderr, "client seeds: cannot encode %s: %s\n", sisp_type_name(type),
                sisp_err_name(s.rc));
}

static int save(const char *id) {
    char path[4096];
    if (s.rc != 0)
        return s.rc;
    snprintf(path, sizeof path, "%s/%s.bin", out_dir, id);
    int rc = sisp_file_write_atomic(path, s.b.data, s.b.len, 0644);
    if (rc != 0)
        fprintf(stderr, "client seeds: cannot write %s: %s\n", path, sisp_err_name(rc));
    return rc;
}

/* ---- the server's frames ---- */

static void hello(const char *user) {
    sisp_hello_t h = {sisp_slice(SISP_MAGIC, SISP_MAGIC_LEN),
                      SISP_VERSION,
                      SISP_LIMIT_CONTROL,
                      SISP_LIMIT_DATA,
                      0,
                      sisp_slice_str("sispd 0.1"),
                      sisp_slice_str(user),
                      user[0] ? SISP_REG_CLOSED : SISP_REG_OPEN};
    add(SISP_T_HELLO, 0, &h);
}

static void error(uint32_t stream, int err, const char *message) {
    sisp_error_t e = {(uint32_t)-err, sisp_slice_str(message), 0, 0};
    add(SISP_T_ERROR, stream, &e);
}

static sisp_image_info_t info(const char *name, const char *owner, const char *group, uint64_t seq,
                              uint64_t size) {
    sisp_image_info_t i = {seq + 100,
                           seq,
                           sisp_slice_str(name),
                           sisp_slice_str(owner),
                           sisp_slice_str(group),
                           size,
                           T_CREATED + seq};
    return i;
}

static void list_result(uint32_t stream, uint64_t first, uint32_t n, int more) {
    static sisp_list_result_t l;
    memset(&l, 0, sizeof l);
    for (uint32_t i = 0; i < n; i++)
        l.entries[i] = info(i % 2 ? "bob.png" : "seed.png", i % 2 ? "bob" : "alice",
                            i % 2 ? "family" : "all", first + i, 83);
    l.n_entries = n;
    l.next_since = first + n - 1;
    l.more = (uint8_t)more;
    add(SISP_T_LIST_RESULT, stream, &l);
}

static void notify(uint64_t seq) {
    sisp_notify_t n = info("new.png", "bob", "all", seq, 83);
    add(SISP_T_NOTIFY, 0, &n);
}

static void user_cert_revoked(uint32_t stream, const tenv_user_t *u, int revoked) {
    uint8_t sig[SISP_SIG_SIZE];
    if (s.rc == 0)
        s.rc = sisp_x25519_sign(&u->id, sisp_slice_str(u->name), u->x.pub, sig);
    sisp_user_cert_result_t r = {sisp_slice_str(u->name), sisp_slice_str(u->name),
                                 sisp_slice(u->x.pub, SISP_KEY_SIZE), sisp_slice(sig, sizeof sig),
                                 (uint8_t)revoked};
    add(SISP_T_USER_CERT_RESULT, stream, &r);
}

static void user_cert(uint32_t stream, const tenv_user_t *u) {
    user_cert_revoked(stream, u, 0);
}

/* KEY_RESULT: epoch 1 of group, granted to alice by granter (none: no grant). */
static void key_result(uint32_t stream, const char *group, const tenv_user_t *granter) {
    static sisp_key_result_t k;
    tenv_grant_bytes_t gb;
    memset(&k, 0, sizeof k);
    k.group = sisp_slice_str(group);
    if (granter != NULL) {
        if (s.rc == 0)
            s.rc = tenv_grant(&granter->id, "alice", alice.x.pub, group, 1, t_epoch_key, &gb,
                              &k.grants[0]);
        k.grants[0].granter = sisp_slice_str(granter->name);
        k.n_grants = 1;
    }
    add(SISP_T_KEY_RESULT, stream, &k);
}

static void group_result(uint32_t stream, const char *group, uint32_t epoch, uint32_t members) {
    sisp_group_result_t g = {sisp_slice_str(group), epoch, members};
    add(SISP_T_GROUP_RESULT, stream, &g);
}

/* GROUP_LIST_RESULT of a group: alice, then more members, carol pending with `pending`. */
static void members(uint32_t stream, int more, int pending) {
    static sisp_group_list_result_t g;
    memset(&g, 0, sizeof g);
    g.members[g.n_members++] = sisp_slice_str("alice");
    if (more) {
        g.members[g.n_members++] = sisp_slice_str("bob");
        g.members[g.n_members++] = sisp_slice_str("carol");
    }
    if (pending)
        g.pending[g.n_pending++] = sisp_slice_str("carol");
    add(SISP_T_GROUP_LIST_RESULT, stream, &g);
}

static void ok(uint32_t stream) {
    sisp_ok_t o = {1};
    add(SISP_T_OK, stream, &o);
}

/* IMAGE_BEGIN, the ciphertext in two DATA frames (the first `split` bytes, then the rest,
 * with byte `flip` of it inverted unless it is -1), IMAGE_END. Replies to the requests the
 * client makes meanwhile go after IMAGE_BEGIN (the owner's certificate on cert_stream) and
 * between the DATA frames (the group key on key_stream); 0: none. */
static void image(uint32_t stream, int bobs, size_t split, long flip, uint32_t cert_stream,
                  uint32_t key_stream) {
    const sisp_buf_t *c = bobs ? &bob_cipher : &seed_cipher;
    const sisp_buf_t *m = bobs ? &bob_manifest : &seed_manifest;
    sisp_image_begin_t b = {bobs ? info("bob.png", "bob", "family", 2, c->len)
                                 : info("seed.png", "alice", "all", 1, c->len),
                            sisp_slice(m->data, m->len),
                            sisp_slice(bobs ? bob_sig : seed_sig, SISP_SIG_SIZE), 0};
    uint8_t cipher[256];
    if (c->len > sizeof cipher || split >= c->len) {
        s.rc = SISP_EINVAL;
        return;
    }
    memcpy(cipher, c->data, c->len);
    if (flip >= 0)
        cipher[flip] ^= 0xff;
    add(SISP_T_IMAGE_BEGIN, stream, &b);
    if (cert_stream > 0)
        user_cert(cert_stream, &bob);
    sisp_data_t d1 = {0, sisp_slice(cipher, split)};
    sisp_data_t d2 = {split, sisp_slice(cipher + split, c->len - split)};
    add(SISP_T_DATA, stream, &d1);
    if (key_stream > 0)
        key_result(key_stream, bobs ? "family" : "all", bobs ? &bob : &alice);
    add(SISP_T_DATA, stream, &d2);
    sisp_image_end_t e = {c->len};
    add(SISP_T_IMAGE_END, stream, &e);
}

static void posted(uint32_t stream) {
    sisp_posted_t p = {9, 9, sisp_slice_str("up.png"), sisp_slice_str("all"), T_CREATED};
    add(SISP_T_POSTED, stream, &p);
}

/* The harness's pause: the server is silent, a read times out. */
static void pause(void) {
    static const uint8_t zero[SISP_HEADER_SIZE] = {0};
    if (s.rc == 0)
        s.rc = sisp_buf_append(&s.b, zero, sizeof zero);
}

static void ping(uint32_t stream) {
    sisp_ping_t p = {42};
    add(SISP_T_PING, stream, &p);
}

/* ---- the seeds, one per scenario or turn in it ---- */

static int seeds(void) {
    int rc = 0;

    start(CF_LIST, 0);
    hello("alice");
    list_result(1, 1, 2, 0);
    rc |= save("list");

    start(CF_LIST | CF_SEL_VARIANT, CF_TR_PIECES_16);
    hello("alice");
    ping(0);
    list_result(1, 6, 1, 1);
    notify(8);
    list_result(3, 7, 2, 0);
    rc |= save("list-pages-ping-notify");

    start(CF_LIST, 0);
    error(0, SISP_EBUSY, "too many connections");
    rc |= save("hello-refused");

    start(CF_DOWNLOAD, 0);
    hello("alice");
    image(1, 0, 40, -1, 0, 0);
    key_result(3, "all", &alice);
    rc |= save("download");

    start(CF_DOWNLOAD | CF_SEL_VARIANT | CF_SEL_PROGRESS, CF_TR_PIECES_512);
    hello("alice");
    image(1, 1, 20, -1, 3, 5); /* bob's: his certificate on 3, the family key on 5 */
    rc |= save("download-bob-info");

    start(CF_DOWNLOAD, CF_TR_PIECES_16);
    hello("alice");
    image(1, 0, 50, 60, 0, 3);
    rc |= save("download-tampered");

    start(CF_DOWNLOAD, 0);
    hello("alice");
    error(1, SISP_ENOTFOUND, "no image seed.png");
    rc |= save("download-not-found");

    /* bob.png in family, which alice is not in: the client asks which groups she is in. */
    start(CF_DOWNLOAD | CF_SEL_VARIANT, 0);
    hello("alice");
    error(1, SISP_ENOTFOUND, "no image bob.png");
    {
        static sisp_group_list_result_t g;
        memset(&g, 0, sizeof g);
        g.groups[0] = (sisp_group_info_t){sisp_slice_str("all"), 1, 3, sisp_slice_str("alice")};
        g.n_groups = 1;
        add(SISP_T_GROUP_LIST_RESULT, 3, &g);
    }
    rc |= save("download-not-member");

    start(CF_WATCH, 0);
    hello("alice");
    list_result(1, 3, 1, 0);
    notify(4);
    sisp_member_pending_t mp = {sisp_slice_str("all"), sisp_slice_str("carol")};
    add(SISP_T_MEMBER_PENDING, 0, &mp);
    user_cert(3, &carol);
    key_result(5, "all", &alice);
    ok(7);
    ping(0);
    key_result(0, "family", &bob);
    notify(5);
    sisp_bye_t bye = {0, sisp_slice_str("shutting down")};
    add(SISP_T_BYE, 0, &bye);
    rc |= save("watch-admit");

    start(CF_WATCH, CF_TR_PIECES_16);
    hello("alice");
    list_result(1, 1, 2, 0);
    pause(); /* PING */
    notify(3);
    pause();
    notify(4);
    rc |= save("watch-pauses");

    start(CF_GROUP_LIST, 0);
    hello("alice");
    {
        static sisp_group_list_result_t g;
        memset(&g, 0, sizeof g);
        g.groups[0] = (sisp_group_info_t){sisp_slice_str("all"), 1, 3, sisp_slice_str("alice")};
        g.groups[1] = (sisp_group_info_t){sisp_slice_str("family"), 2, 2, sisp_slice_str("bob")};
        g.n_groups = 2;
        add(SISP_T_GROUP_LIST_RESULT, 1, &g);
    }
    rc |= save("group-list");

    start(CF_GROUP_LIST | CF_SEL_VARIANT, 0);
    hello("alice");
    members(1, 1, 1);
    rc |= save("group-list-members");

    /* Two pages: alice and bob, then (after bob) carol, pending. */
    start(CF_GROUP_LIST | CF_SEL_VARIANT, CF_TR_PIECES_16);
    hello("alice");
    {
        static sisp_group_list_result_t g1, g2;
        memset(&g1, 0, sizeof g1);
        memset(&g2, 0, sizeof g2);
        g1.members[g1.n_members++] = sisp_slice_str("alice");
        g1.members[g1.n_members++] = sisp_slice_str("bob");
        g1.more = 1;
        add(SISP_T_GROUP_LIST_RESULT, 1, &g1);
        g2.members[g2.n_members++] = sisp_slice_str("carol");
        g2.pending[g2.n_pending++] = sisp_slice_str("carol");
        add(SISP_T_GROUP_LIST_RESULT, 3, &g2);
    }
    rc |= save("group-list-members-paged");

    start(CF_GROUP_ADD, 0);
    hello("alice");
    user_cert(1, &bob);
    key_result(3, "all", &alice);
    group_result(5, "all", 1, 3);
    rc |= save("group-add");

    start(CF_GROUP_ADD, 0);
    hello("alice");
    user_cert_revoked(1, &bob, 1);
    rc |= save("group-add-revoked");

    start(CF_GROUP_REMOVE, CF_TR_PIECES_16);
    hello("alice");
    members(1, 1, 0);
    key_result(3, "all", &alice);
    user_cert(5, &carol);
    group_result(7, "all", 2, 2);
    rc |= save("group-remove");

    start(CF_POST | CF_SEL_PROGRESS, 0);
    hello("alice");
    key_result(1, "all", &alice);
    posted(3);
    rc |= save("post");

    start(CF_POST, CF_TR_EAGER_POLLS);
    hello("alice");
    key_result(1, "all", &alice);
    error(3, SISP_EQUOTA, "over quota");
    rc |= save("post-refused");

    start(CF_WHOAMI, 0);
    hello("alice");
    sisp_whoami_result_t w = {sisp_slice_str("alice"), sisp_slice(alice.fp, SISP_SHA256_SIZE),
                              T_CREATED};
    add(SISP_T_WHOAMI_RESULT, 1, &w);
    user_cert(3, &bob);
    rc |= save("whoami-fingerprint");

    start(CF_DELETE, 0);
    hello("alice");
    ok(1);
    rc |= save("delete");
    start(CF_DELETE | CF_SEL_VARIANT, CF_TR_PIECES_16);
    hello("alice");
    error(1, SISP_EPERM, "only its owner can delete an image");
    rc |= save("delete-refused");

    start(CF_TRUST, 0);
    hello("alice");
    user_cert(1, &bob);
    user_cert(3, &bob);
    rc |= save("trust-changed-key");

    start(CF_REGISTER, 0);
    hello("");
    {
        sisp_registered_t r = {sisp_slice_str("carol"), {{0}}, 2};
        r.chain[0] = sisp_slice_str("carol");
        r.chain[1] = sisp_slice_str("ca");
        add(SISP_T_REGISTERED, 1, &r);
    }
    rc |= save("register");

    /* The bootstrap: carol pending in all (admitted), then LIST. */
    start(CF_LIST | CF_SEL_BOOTSTRAP, 0);
    hello("alice");
    members(1, 1, 1);
    key_result(3, "all", &alice);
    user_cert(5, &carol);
    key_result(7, "all", &alice);
    ok(9);
    list_result(11, 1, 1, 0);
    rc |= save("bootstrap-admit-list");

    /* The bootstrap of the first user: all's first key, then GROUP CREATE. */
    start(CF_GROUP_CREATE | CF_SEL_BOOTSTRAP, 0);
    hello("alice");
    members(1, 0, 0);
    key_result(3, "all", NULL);
    ok(5);
    group_result(7, "club", 1, 1);
    rc |= save("bootstrap-first-key-create");

    /* The shell: LIST, DOWNLOAD, GROUP ADD all carol, POST, GROUP LIST all. */
    start(CF_SHELL, 0);
    hello("alice");
    list_result(1, 1, 1, 0);
    image(3, 0, 30, -1, 0, 5);
    user_cert(7, &carol);
    key_result(9, "all", &alice);
    group_result(11, "all", 1, 3);
    key_result(13, "all", &alice);
    posted(15);
    members(17, 1, 0);
    rc |= save("shell");

    /* The shell after a failed download: the server's DATA for the canceled stream is still
     * on its way while the next command runs. */
    start(CF_SHELL, 0);
    hello("alice");
    list_result(1, 1, 1, 0);
    {
        sisp_image_begin_t b = {info("seed.png", "alice", "all", 1, seed_cipher.len),
                                sisp_slice(seed_manifest.data, seed_manifest.len),
                                sisp_slice(seed_sig, SISP_SIG_SIZE), 0};
        add(SISP_T_IMAGE_BEGIN, 3, &b);
        error(5, SISP_EPERM, "not a member of all");
        sisp_data_t d = {0, sisp_slice(seed_cipher.data, seed_cipher.len)};
        add(SISP_T_DATA, 3, &d);
        user_cert(7, &carol);
    }
    rc |= save("shell-canceled-download");

    /* The same after a download that timed out before IMAGE_BEGIN. */
    start(CF_SHELL, 0);
    hello("alice");
    list_result(1, 1, 1, 0);
    pause();
    image(3, 0, 30, -1, 0, 0);
    user_cert(5, &carol);
    key_result(7, "all", &alice);
    group_result(9, "all", 1, 3);
    rc |= save("shell-download-timeout");
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: sisp-gen-client-seeds DIR\n");
        return 2;
    }
    out_dir = argv[1];
    sisp_buf_init(&s.b, 0);
    sisp_buf_init(&seed_cipher, 0);
    sisp_buf_init(&seed_manifest, 0);
    sisp_buf_init(&bob_cipher, 0);
    sisp_buf_init(&bob_manifest, 0);
    int rc = tenv_keys("alice", t_alice_seed, &alice);
    if (rc == 0)
        rc = tenv_keys("bob", tenv_bob_seed, &bob);
    if (rc == 0)
        rc = tenv_keys("carol", tenv_carol_seed, &carol);
    if (rc == 0)
        rc = tenv_seal(&alice.id, "alice", "seed.png", "all", 1, t_epoch_key, t_png_1x1,
                       sizeof t_png_1x1, 4096, 0, &seed_cipher, &seed_manifest, seed_sig);
    if (rc == 0)
        rc = tenv_seal(&bob.id, "bob", "bob.png", "family", 1, t_epoch_key, t_png_1x1,
                       sizeof t_png_1x1, 4096, 1, &bob_cipher, &bob_manifest, bob_sig);
    if (rc == 0)
        rc = seeds();
    sisp_buf_free(&s.b);
    sisp_buf_free(&seed_cipher);
    sisp_buf_free(&seed_manifest);
    sisp_buf_free(&bob_cipher);
    sisp_buf_free(&bob_manifest);
    if (rc != 0)
        fprintf(stderr, "sisp-gen-client-seeds: failed\n");
    return rc != 0;
}
