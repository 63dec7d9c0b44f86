/* The server store against real SQLite and real files in a temporary directory. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "store.h"
#include "testutil.h"

#include <sisp/error.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void path_of(char *out, size_t n, const char *name) {
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        T_FAIL_AT("path too long: %s", name);
}

static int exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static unsigned mode_of(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0 ? (unsigned)(sb.st_mode & 07777) : 0;
}

/* Regular files directly in dir/sub. */
static size_t count_files(const char *sub) {
    char p[256];
    size_t n = 0;
    path_of(p, sizeof p, sub);
    DIR *d = opendir(p);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char f[512];
        struct stat sb;
        snprintf(f, sizeof f, "%s/%s", p, e->d_name);
        if (lstat(f, &sb) == 0 && S_ISREG(sb.st_mode))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void touch(const char *sub, const char *content) {
    char p[256];
    path_of(p, sizeof p, sub);
    FILE *f = fopen(p, "w");
    if (f == NULL) {
        T_FAIL_AT("cannot create %s", p);
        return;
    }
    fputs(content, f);
    fclose(f);
}

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char p[512];
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void make_user(sisp_user_rec_t *u, const char *name, uint64_t serial) {
    memset(u, 0, sizeof *u);
    snprintf(u->user, sizeof u->user, "%s", name);
    u->cert_len = 300 + strlen(name);
    for (size_t i = 0; i < u->cert_len; i++)
        u->cert[i] = (uint8_t)(i * 7 + (unsigned char)name[0]);
    u->serial = serial;
    memset(u->x25519, name[0], sizeof u->x25519);
    u->x25519_sig_len = SISP_SIG_SIZE;
    memset(u->x25519_sig, name[1], u->x25519_sig_len);
    memset(u->ident_pub, name[2], sizeof u->ident_pub);
    u->registered_at = 1700000000;
}

static int add_user(sisp_store_t *st, const char *name) {
    sisp_user_rec_t u;
    uint64_t serial = 0;
    int rc = sisp_store_next_serial(st, &serial);
    if (rc != 0)
        return rc;
    make_user(&u, name, serial);
    return sisp_store_user_add(st, &u);
}

/* Uploads `size` bytes as group/name by owner. On return b is spent whatever happened; the
 * paths it had are left in tmp_path/final_path for the caller to check. */
static int post(sisp_store_t *st, const char *group, const char *name, const char *owner,
                size_t size, sisp_image_rec_t *img, char *tmp_path, char *final_path) {
    static uint8_t data[200000];
    sisp_blob_t b;
    int rc = sisp_store_blob_create(st, &b);
    if (rc != 0)
        return rc;
    if (tmp_path)
        memcpy(tmp_path, b.tmp_path, sizeof b.tmp_path);
    if (final_path)
        memcpy(final_path, b.final_path, sizeof b.final_path);
    if (size > sizeof data)
        size = sizeof data;
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i ^ (unsigned char)name[0]);
    if (write_all(b.fd, data, size) != 0)
        T_FAIL_AT("write failed");
    memset(img, 0, sizeof *img);
    snprintf(img->name, sizeof img->name, "%s", name);
    snprintf(img->owner, sizeof img->owner, "%s", owner);
    snprintf(img->group, sizeof img->group, "%s", group);
    img->epoch = 1;
    img->size = size;
    img->manifest_len = 100 + strlen(name);
    memset(img->manifest, name[0], img->manifest_len);
    img->sig_len = SISP_SIG_SIZE;
    memset(img->sig, 0xA5, img->sig_len);
    rc = sisp_store_image_commit(st, &b, img);
    CHECK_INT(b.fd, -1);
    return rc;
}

static sisp_store_t *reopen(sisp_store_t *st) {
    sisp_store_close(st);
    st = NULL;
    CHECK_ERR(sisp_store_open(dir, &st), SISP_OK);
    return st;
}

/* ---- users ---- */

typedef struct {
    char names[8][SISP_USERNAME_MAX + 1];
    int pending[8];
    uint32_t epochs[8];
    size_t n;
} names_t;

static void user_cb(void *arg, const sisp_user_rec_t *u) {
    names_t *c = arg;
    if (c->n < 8)
        snprintf(c->names[c->n++], sizeof c->names[0], "%s", u->user);
}

static void test_users(sisp_store_t *st) {
    sisp_user_rec_t a, b, got;
    uint64_t s1 = 0, s2 = 0, n = 0;

    CHECK_ERR(sisp_store_next_serial(st, &s1), SISP_OK);
    CHECK_ERR(sisp_store_next_serial(st, &s2), SISP_OK);
    CHECK(s1 >= 1000); /* 1-999 belong to the CA's own certificates */
    CHECK_U64(s2, s1 + 1);

    CHECK_ERR(sisp_store_user_count(st, &n), SISP_OK);
    CHECK_U64(n, 0);
    make_user(&a, "carol", s1);
    CHECK_ERR(sisp_store_user_add(st, &a), SISP_OK);
    CHECK_ERR(sisp_store_user_add(st, &a), SISP_EEXIST);
    make_user(&b, "bob", s1); /* same serial */
    CHECK_ERR(sisp_store_user_add(st, &b), SISP_EEXIST);
    b.serial = s2;
    CHECK_ERR(sisp_store_user_add(st, &b), SISP_OK);
    CHECK_ERR(add_user(st, "alice"), SISP_OK);
    CHECK_ERR(sisp_store_user_count(st, &n), SISP_OK);
    CHECK_U64(n, 3);

    memset(&got, 0xEE, sizeof got);
    CHECK_ERR(sisp_store_user_get(st, "carol", &got), SISP_OK);
    CHECK(strcmp(got.user, "carol") == 0);
    CHECK_MEM(got.cert, got.cert_len, a.cert, a.cert_len);
    CHECK_U64(got.serial, s1);
    CHECK_MEM(got.x25519, sizeof got.x25519, a.x25519, sizeof a.x25519);
    CHECK_MEM(got.x25519_sig, got.x25519_sig_len, a.x25519_sig, a.x25519_sig_len);
    CHECK_MEM(got.ident_pub, sizeof got.ident_pub, a.ident_pub, sizeof a.ident_pub);
    CHECK_INT(got.registered_at, 1700000000);
    CHECK_INT(got.revoked, 0);
    CHECK_ERR(sisp_store_user_get(st, "nobody", &got), SISP_ENOTFOUND);

    /* registered_at 0 means now */
    make_user(&a, "dave", 0);
    a.registered_at = 0;
    CHECK_ERR(sisp_store_next_serial(st, &a.serial), SISP_OK);
    int64_t before = (int64_t)time(NULL);
    CHECK_ERR(sisp_store_user_add(st, &a), SISP_OK);
    CHECK_ERR(sisp_store_user_get(st, "dave", &got), SISP_OK);
    CHECK(got.registered_at >= before && got.registered_at <= (int64_t)time(NULL));

    /* values that could never be read back are refused */
    make_user(&a, "toolong", 5000);
    memset(a.user, 'x', sizeof a.user); /* no NUL within the field */
    CHECK_ERR(sisp_store_user_add(st, &a), SISP_EINVAL);
    make_user(&a, "bigcert", 5001);
    a.cert_len = SISP_CERT_MAX + 1;
    CHECK_ERR(sisp_store_user_add(st, &a), SISP_EINVAL);
    make_user(&a, "bigserial", UINT64_MAX);
    CHECK_ERR(sisp_store_user_add(st, &a), SISP_EINVAL);

    /* revocation */
    CHECK_ERR(sisp_store_serial_revoked(st, s1), 0);
    CHECK_ERR(sisp_store_user_revoke(st, "carol"), SISP_OK);
    CHECK_ERR(sisp_store_user_revoke(st, "carol"), SISP_OK); /* idempotent */
    CHECK_ERR(sisp_store_user_revoke(st, "nobody"), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_user_get(st, "carol", &got), SISP_OK);
    CHECK_INT(got.revoked, 1);
    CHECK_INT(sisp_store_serial_revoked(st, s1), 1);
    CHECK_INT(sisp_store_serial_revoked(st, s2), 0);
    CHECK_INT(sisp_store_serial_revoked(st, 999999), 0);
    CHECK_INT(sisp_store_serial_revoked(st, UINT64_MAX), 0);
    /* a revoked name stays taken */
    make_user(&a, "carol", 6000);
    CHECK_ERR(sisp_store_user_add(st, &a), SISP_EEXIST);

    names_t c = {0};
    CHECK_ERR(sisp_store_users(st, user_cb, &c), SISP_OK);
    CHECK_U64(c.n, 4);
    CHECK(strcmp(c.names[0], "alice") == 0);
    CHECK(strcmp(c.names[1], "bob") == 0);
    CHECK(strcmp(c.names[2], "carol") == 0);
    CHECK(strcmp(c.names[3], "dave") == 0);
}

/* ---- invites ---- */

static void test_invites(sisp_store_t *st) {
    int64_t now = 1700000000;
    CHECK_ERR(sisp_store_invite_add(st, "Invite-0001", now + 3600), SISP_OK);
    CHECK_ERR(sisp_store_invite_add(st, "Invite-0001", now + 3600), SISP_EEXIST);
    CHECK_ERR(sisp_store_invite_add(st, "Invite-0002", now + 10), SISP_OK);
    CHECK_ERR(sisp_store_invite_add(st, "Invite-0003", now), SISP_OK);

    CHECK_ERR(sisp_store_invite_use(st, "Invite-0001", now), SISP_OK);
    CHECK_ERR(sisp_store_invite_use(st, "Invite-0001", now), SISP_EINVITE);      /* single use */
    CHECK_ERR(sisp_store_invite_use(st, "Invite-0002", now + 10), SISP_EINVITE); /* expired */
    CHECK_ERR(sisp_store_invite_use(st, "Invite-0002", now + 9), SISP_OK);
    CHECK_ERR(sisp_store_invite_use(st, "Invite-0003", now), SISP_EINVITE);
    CHECK_ERR(sisp_store_invite_use(st, "Unknown-000", now), SISP_EINVITE);
    CHECK_ERR(sisp_store_invite_use(st, "invite-0001", now), SISP_EINVITE); /* case matters */
}

/* ---- groups ---- */

static void member_cb(void *arg, const char *user, int pending) {
    names_t *c = arg;
    if (c->n < 8) {
        snprintf(c->names[c->n], sizeof c->names[0], "%s", user);
        c->pending[c->n++] = pending;
    }
}

static void group_cb(void *arg, const sisp_group_rec_t *g) {
    names_t *c = arg;
    if (c->n < 8) {
        snprintf(c->names[c->n], sizeof c->names[0], "%s", g->group);
        c->epochs[c->n] = g->epoch;
        c->pending[c->n++] = (int)g->members;
    }
}

static void test_groups(sisp_store_t *st) {
    sisp_group_rec_t g;
    int pending = -1;

    CHECK_ERR(sisp_store_group_create(st, "family", "alice", 1), SISP_OK);
    CHECK_ERR(sisp_store_group_create(st, "family", "bob", 1), SISP_EEXIST);
    /* an unknown owner: nothing is left half-made */
    CHECK_ERR(sisp_store_group_create(st, "ghosts", "nobody", 1), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_group_get(st, "ghosts", &g), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_group_create(st, "all", "alice", 0), SISP_OK);

    CHECK_ERR(sisp_store_group_get(st, "family", &g), SISP_OK);
    CHECK(strcmp(g.group, "family") == 0);
    CHECK(strcmp(g.owner, "alice") == 0);
    CHECK_U64(g.epoch, 1);
    CHECK_U64(g.members, 1);
    CHECK_ERR(sisp_store_group_get(st, "all", &g), SISP_OK);
    CHECK_U64(g.epoch, 0);
    CHECK_ERR(sisp_store_group_get(st, "nogroup", &g), SISP_ENOTFOUND);

    CHECK_INT(sisp_store_is_member(st, "family", "alice", &pending), 1);
    CHECK_INT(pending, 0);
    CHECK_ERR(sisp_store_member_add(st, "family", "bob", 1), SISP_OK);
    CHECK_ERR(sisp_store_member_add(st, "family", "bob", 0), SISP_EEXIST);
    CHECK_ERR(sisp_store_member_add(st, "family", "nobody", 0), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_member_add(st, "nogroup", "bob", 0), SISP_ENOTFOUND);
    CHECK_INT(sisp_store_is_member(st, "family", "bob", &pending), 1);
    CHECK_INT(pending, 1);
    CHECK_INT(sisp_store_is_member(st, "family", "bob", NULL), 1);
    CHECK_INT(sisp_store_is_member(st, "family", "carol", &pending), 0);
    CHECK_INT(sisp_store_is_member(st, "nogroup", "bob", &pending), 0);
    CHECK_ERR(sisp_store_member_set_pending(st, "family", "bob", 0), SISP_OK);
    CHECK_INT(sisp_store_is_member(st, "family", "bob", &pending), 1);
    CHECK_INT(pending, 0);
    CHECK_ERR(sisp_store_member_set_pending(st, "family", "carol", 0), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_member_add(st, "family", "dave", 1), SISP_OK);

    names_t c = {0};
    CHECK_ERR(sisp_store_members(st, "family", member_cb, &c), SISP_OK);
    CHECK_U64(c.n, 3);
    CHECK(strcmp(c.names[0], "alice") == 0 && c.pending[0] == 0);
    CHECK(strcmp(c.names[1], "bob") == 0 && c.pending[1] == 0);
    CHECK(strcmp(c.names[2], "dave") == 0 && c.pending[2] == 1);
    CHECK_ERR(sisp_store_group_get(st, "family", &g), SISP_OK);
    CHECK_U64(g.members, 3);

    CHECK_ERR(sisp_store_group_create(st, "work", "bob", 1), SISP_OK);
    memset(&c, 0, sizeof c);
    CHECK_ERR(sisp_store_groups_of(st, "bob", group_cb, &c), SISP_OK);
    CHECK_U64(c.n, 2);
    CHECK(strcmp(c.names[0], "family") == 0 && c.epochs[0] == 1 && c.pending[0] == 3);
    CHECK(strcmp(c.names[1], "work") == 0 && c.epochs[1] == 1 && c.pending[1] == 1);
    memset(&c, 0, sizeof c);
    CHECK_ERR(sisp_store_groups_of(st, "nobody", group_cb, &c), SISP_OK);
    CHECK_U64(c.n, 0);

    CHECK_ERR(sisp_store_group_set_epoch(st, "family", 2), SISP_OK);
    CHECK_ERR(sisp_store_group_get(st, "family", &g), SISP_OK);
    CHECK_U64(g.epoch, 2);
    CHECK_ERR(sisp_store_group_set_epoch(st, "nogroup", 2), SISP_ENOTFOUND);

    CHECK_ERR(sisp_store_member_remove(st, "family", "dave"), SISP_OK);
    CHECK_ERR(sisp_store_member_remove(st, "family", "dave"), SISP_ENOTFOUND);
    CHECK_INT(sisp_store_is_member(st, "family", "dave", &pending), 0);
    CHECK_ERR(sisp_store_member_add(st, "family", "dave", 1), SISP_OK); /* back, pending */
}

/* ---- grants ---- */

typedef struct {
    sisp_grant_rec_t g[4];
    size_t n;
} grants_t;

static void grant_cb(void *arg, const sisp_grant_rec_t *g) {
    grants_t *c = arg;
    if (c->n < 4)
        c->g[c->n++] = *g;
}

static void make_grant(sisp_grant_rec_t *g, const char *group, const char *user, uint32_t epoch,
                       uint8_t fill) {
    memset(g, 0, sizeof *g);
    snprintf(g->group, sizeof g->group, "%s", group);
    snprintf(g->user, sizeof g->user, "%s", user);
    snprintf(g->granter, sizeof g->granter, "alice");
    g->epoch = epoch;
    g->wrapped_len = 80;
    memset(g->wrapped, fill, g->wrapped_len);
    g->sig_len = SISP_SIG_SIZE;
    memset(g->sig, fill ^ 0xFF, g->sig_len);
}

static void test_grants(sisp_store_t *st) {
    sisp_grant_rec_t g;
    grants_t c = {0};

    make_grant(&g, "family", "bob", 2, 0x22);
    CHECK_ERR(sisp_store_grant_put(st, &g), SISP_OK);
    make_grant(&g, "family", "bob", 1, 0x11);
    CHECK_ERR(sisp_store_grant_put(st, &g), SISP_OK);
    make_grant(&g, "family", "alice", 1, 0x33);
    CHECK_ERR(sisp_store_grant_put(st, &g), SISP_OK);
    make_grant(&g, "family", "bob", 0, 0x11);
    CHECK_ERR(sisp_store_grant_put(st, &g), SISP_EINVAL);
    make_grant(&g, "nogroup", "bob", 1, 0x11);
    CHECK_ERR(sisp_store_grant_put(st, &g), SISP_ENOTFOUND);

    CHECK_ERR(sisp_store_grants(st, "family", "bob", 0, grant_cb, &c), SISP_OK);
    CHECK_U64(c.n, 2);
    CHECK_U64(c.g[0].epoch, 1);
    CHECK_U64(c.g[1].epoch, 2);
    CHECK(strcmp(c.g[0].group, "family") == 0 && strcmp(c.g[0].user, "bob") == 0);
    CHECK(strcmp(c.g[0].granter, "alice") == 0);
    CHECK_U64(c.g[1].wrapped_len, 80);
    CHECK_INT(c.g[1].wrapped[0], 0x22);
    CHECK_U64(c.g[1].sig_len, SISP_SIG_SIZE);
    CHECK_INT(c.g[1].sig[0], 0x22 ^ 0xFF);

    /* replace epoch 1 */
    make_grant(&g, "family", "bob", 1, 0x44);
    snprintf(g.granter, sizeof g.granter, "bob");
    g.wrapped_len = 90;
    CHECK_ERR(sisp_store_grant_put(st, &g), SISP_OK);
    memset(&c, 0, sizeof c);
    CHECK_ERR(sisp_store_grants(st, "family", "bob", 1, grant_cb, &c), SISP_OK);
    CHECK_U64(c.n, 1);
    CHECK_U64(c.g[0].epoch, 1);
    CHECK_U64(c.g[0].wrapped_len, 90);
    CHECK_INT(c.g[0].wrapped[79], 0x44);
    CHECK(strcmp(c.g[0].granter, "bob") == 0);
    memset(&c, 0, sizeof c);
    CHECK_ERR(sisp_store_grants(st, "family", "bob", 3, grant_cb, &c), SISP_OK);
    CHECK_U64(c.n, 0);

    CHECK_ERR(sisp_store_grants_drop(st, "family", "bob"), SISP_OK);
    memset(&c, 0, sizeof c);
    CHECK_ERR(sisp_store_grants(st, "family", "bob", 0, grant_cb, &c), SISP_OK);
    CHECK_U64(c.n, 0);
    CHECK_ERR(sisp_store_grants(st, "family", "alice", 0, grant_cb, &c), SISP_OK);
    CHECK_U64(c.n, 1); /* others' grants stay */
}

/* ---- images ---- */

typedef struct {
    uint64_t seq[16];
    char names[16][SISP_IMAGENAME_MAX + 1];
    char groups[16][SISP_GROUPNAME_MAX + 1];
    size_t n;
} images_t;

static void image_cb(void *arg, const sisp_image_rec_t *img) {
    images_t *c = arg;
    if (c->n < 16) {
        c->seq[c->n] = img->seq;
        snprintf(c->names[c->n], sizeof c->names[0], "%s", img->name);
        snprintf(c->groups[c->n++], sizeof c->groups[0], "%s", img->group);
    }
}

static size_t list(sisp_store_t *st, const char *user, const char *group, uint64_t since,
                   uint32_t limit, images_t *c, int *more) {
    memset(c, 0, sizeof *c);
    CHECK_ERR(sisp_store_images(st, user, group, since, limit, image_cb, c, more), SISP_OK);
    return c->n;
}

static void test_images(sisp_store_t *st) {
    sisp_image_rec_t img, got, first;
    char tmp[512], fin[512], p[600];
    uint64_t base = sisp_store_last_seq(st), usage = 0;

    /* a temp file is 0600 whatever the umask, and abort removes it */
    sisp_blob_t b;
    mode_t old = umask(0);
    CHECK_ERR(sisp_store_blob_create(st, &b), SISP_OK);
    umask(old);
    CHECK(b.fd >= 0);
    CHECK_U64(strlen(b.id), 32);
    CHECK(exists(b.tmp_path));
    CHECK_INT(mode_of(b.tmp_path), 0600);
    CHECK(!exists(b.final_path));
    memcpy(tmp, b.tmp_path, sizeof tmp);
    sisp_store_blob_abort(st, &b);
    CHECK_INT(b.fd, -1);
    CHECK(!exists(tmp));
    sisp_store_blob_abort(st, &b); /* twice is harmless */

    /* commit */
    old = umask(0);
    CHECK_ERR(post(st, "family", "cat.jpg", "alice", 1000, &img, tmp, fin), SISP_OK);
    umask(old);
    CHECK(img.id > 0);
    CHECK_U64(img.seq, base + 1);
    CHECK_U64(sisp_store_last_seq(st), base + 1);
    CHECK(img.posted_at > 1700000000);
    CHECK(!exists(tmp));
    CHECK(exists(fin));
    CHECK_INT(mode_of(fin), 0600);
    sisp_store_blob_path(st, img.blob, p, sizeof p);
    CHECK(strcmp(p, fin) == 0);
    struct stat sb;
    CHECK_INT(stat(fin, &sb), 0);
    CHECK_U64(sb.st_size, 1000);
    first = img;

    /* get by id, by group + name */
    memset(&got, 0, sizeof got);
    CHECK_ERR(sisp_store_image_get(st, img.id, NULL, NULL, NULL, &got), SISP_OK);
    CHECK_U64(got.id, img.id);
    CHECK_U64(got.seq, img.seq);
    CHECK(strcmp(got.name, "cat.jpg") == 0);
    CHECK(strcmp(got.owner, "alice") == 0);
    CHECK(strcmp(got.group, "family") == 0);
    CHECK_U64(got.epoch, 1);
    CHECK_U64(got.size, 1000);
    CHECK_INT(got.posted_at, img.posted_at);
    CHECK_MEM(got.manifest, got.manifest_len, img.manifest, img.manifest_len);
    CHECK_MEM(got.sig, got.sig_len, img.sig, img.sig_len);
    CHECK(strcmp(got.blob, img.blob) == 0);
    memset(&got, 0, sizeof got);
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "cat.jpg", "nobody", &got), SISP_OK);
    CHECK_U64(got.id, img.id);
    CHECK_ERR(sisp_store_image_get(st, img.id + 1000, NULL, NULL, NULL, &got), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_image_get(st, 0, "work", "cat.jpg", "alice", &got), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "dog.jpg", "alice", &got), SISP_ENOTFOUND);

    /* the same name in another group: by name alone, the newest among the user's groups */
    CHECK_ERR(sisp_store_member_add(st, "work", "alice", 0), SISP_OK);
    CHECK_ERR(post(st, "work", "cat.jpg", "bob", 2000, &img, NULL, NULL), SISP_OK);
    CHECK_U64(img.seq, base + 2);
    CHECK_ERR(sisp_store_image_get(st, 0, "", "cat.jpg", "alice", &got), SISP_OK);
    CHECK(strcmp(got.group, "work") == 0);
    CHECK_ERR(sisp_store_image_get(st, 0, NULL, "cat.jpg", "dave", &got), SISP_OK);
    CHECK(strcmp(got.group, "family") == 0); /* dave is not in work */
    CHECK_ERR(sisp_store_image_get(st, 0, "", "cat.jpg", "carol", &got), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_image_get(st, 0, "", "cat.jpg", "", &got), SISP_ENOTFOUND);

    /* a taken (group, name): EEXIST, and neither file is left */
    size_t files = count_files("blobs");
    CHECK_ERR(post(st, "family", "cat.jpg", "bob", 500, &img, tmp, fin), SISP_EEXIST);
    CHECK(!exists(tmp));
    CHECK(!exists(fin));
    CHECK_U64(count_files("blobs"), files);
    CHECK_U64(count_files("blobs/tmp"), 0);
    CHECK_U64(sisp_store_last_seq(st), base + 2); /* the sequence did not move */
    /* a size that does not match the file */
    sisp_blob_t b2;
    CHECK_ERR(sisp_store_blob_create(st, &b2), SISP_OK);
    memcpy(tmp, b2.tmp_path, sizeof tmp);
    CHECK_INT(write_all(b2.fd, (const uint8_t *)"abc", 3), 0);
    memset(&img, 0, sizeof img);
    snprintf(img.name, sizeof img.name, "short.png");
    snprintf(img.owner, sizeof img.owner, "alice");
    snprintf(img.group, sizeof img.group, "family");
    img.size = 4;
    CHECK_ERR(sisp_store_image_commit(st, &b2, &img), SISP_ESIZE);
    CHECK_INT(b2.fd, -1);
    CHECK(!exists(tmp));
    /* an unknown group or owner */
    CHECK_ERR(post(st, "nogroup", "x.png", "alice", 10, &img, tmp, fin), SISP_ENOTFOUND);
    CHECK(!exists(tmp) && !exists(fin));
    CHECK_ERR(post(st, "family", "x.png", "nobody", 10, &img, tmp, fin), SISP_ENOTFOUND);
    CHECK(!exists(tmp) && !exists(fin));
    CHECK_U64(count_files("blobs"), files);

    /* listing: ascending seq, pages, membership */
    CHECK_ERR(post(st, "family", "a.png", "bob", 10, &img, NULL, NULL), SISP_OK);   /* +3 */
    CHECK_ERR(post(st, "work", "b.png", "bob", 20, &img, NULL, NULL), SISP_OK);     /* +4 */
    CHECK_ERR(post(st, "family", "c.png", "alice", 30, &img, NULL, NULL), SISP_OK); /* +5 */
    CHECK_U64(img.seq, base + 5);
    images_t c;
    int more = -1;
    CHECK_U64(list(st, "alice", "", 0, 2, &c, &more), 2);
    CHECK_INT(more, 1);
    CHECK_U64(c.seq[0], base + 1);
    CHECK(strcmp(c.names[0], "cat.jpg") == 0 && strcmp(c.groups[0], "family") == 0);
    CHECK_U64(c.seq[1], base + 2);
    CHECK(strcmp(c.groups[1], "work") == 0);
    CHECK_U64(list(st, "alice", "", base + 2, 2, &c, &more), 2);
    CHECK_INT(more, 1);
    CHECK_U64(c.seq[0], base + 3);
    CHECK_U64(c.seq[1], base + 4);
    CHECK_U64(list(st, "alice", "", base + 4, 2, &c, &more), 1);
    CHECK_INT(more, 0);
    CHECK_U64(c.seq[0], base + 5);
    CHECK_U64(list(st, "alice", "", base + 5, 2, &c, &more), 0);
    CHECK_INT(more, 0);
    CHECK_U64(list(st, "alice", "", base + 3, 2, &c, &more), 2); /* exactly a page */
    CHECK_INT(more, 0);
    CHECK_U64(list(st, "alice", "", 0, 0, &c, &more), 5); /* 0 = a full page */
    CHECK_INT(more, 0);
    CHECK_U64(list(st, "alice", "family", 0, 10, &c, &more), 3);
    CHECK_U64(c.seq[0], base + 1);
    CHECK_U64(c.seq[1], base + 3);
    CHECK_U64(c.seq[2], base + 5);
    CHECK_U64(list(st, "alice", "work", base + 2, 10, &c, &more), 1);
    CHECK_U64(c.seq[0], base + 4);
    /* dave is a pending member of family only: he sees family's images, none of work's */
    CHECK_U64(list(st, "dave", "", 0, 10, &c, &more), 3);
    CHECK(strcmp(c.groups[0], "family") == 0 && strcmp(c.groups[2], "family") == 0);
    CHECK_U64(list(st, "dave", "work", 0, 10, &c, &more), 0);
    CHECK_U64(list(st, "carol", "", 0, 10, &c, &more), 0);
    CHECK_U64(list(st, "nobody", "", 0, 10, &c, &more), 0);
    /* a removed member stops seeing the group */
    CHECK_ERR(sisp_store_member_remove(st, "work", "alice"), SISP_OK);
    CHECK_U64(list(st, "alice", "", 0, 10, &c, &more), 3);
    CHECK_ERR(sisp_store_image_get(st, 0, "", "cat.jpg", "alice", &got), SISP_OK);
    CHECK(strcmp(got.group, "family") == 0);
    CHECK_ERR(sisp_store_member_add(st, "work", "alice", 0), SISP_OK);

    /* usage */
    CHECK_ERR(sisp_store_usage(st, "alice", &usage), SISP_OK);
    CHECK_U64(usage, 1000 + 30);
    CHECK_ERR(sisp_store_usage(st, "bob", &usage), SISP_OK);
    CHECK_U64(usage, 2000 + 10 + 20);
    CHECK_ERR(sisp_store_usage(st, "nobody", &usage), SISP_OK);
    CHECK_U64(usage, 0);

    /* blob paths are only made for well-formed ids */
    sisp_store_blob_path(st, "../../etc/passwd", p, sizeof p);
    CHECK(p[0] == '\0');
    sisp_store_blob_path(st, first.blob, p, 10); /* too small */
    CHECK(p[0] == '\0');

    CHECK_ERR(sisp_store_audit(st, "alice", "post", "cat.jpg"), SISP_OK);
    CHECK_ERR(sisp_store_audit(st, NULL, "start", NULL), SISP_OK);
}

/* ---- batches ---- */

static void test_batches(sisp_store_t *st) {
    sisp_image_rec_t img, got;
    sisp_user_rec_t u;
    char tmp[512], fin[512], fin2[512];
    uint64_t base = sisp_store_last_seq(st);
    size_t files = count_files("blobs");

    /* two jobs: the second fails and is undone, the first survives the commit */
    CHECK_ERR(sisp_store_job_begin(st), SISP_EINVAL); /* jobs live in batches */
    CHECK_ERR(sisp_store_batch_commit(st), SISP_EINVAL);
    CHECK_ERR(sisp_store_batch_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_batch_begin(st), SISP_EINVAL);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_job_begin(st), SISP_EINVAL);
    CHECK_ERR(post(st, "family", "batch1.png", "alice", 100, &img, NULL, fin), SISP_OK);
    CHECK_U64(img.seq, base + 1);
    sisp_store_job_end(st, 0);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(add_user(st, "erin"), SISP_OK);
    CHECK_ERR(post(st, "family", "batch2.png", "alice", 100, &img, NULL, fin2), SISP_OK);
    CHECK(exists(fin2));
    CHECK_ERR(post(st, "family", "batch1.png", "bob", 100, &img, tmp, NULL), SISP_EEXIST);
    CHECK(!exists(tmp));
    sisp_store_job_end(st, 1);
    CHECK(!exists(fin2)); /* the failed job's renamed blob is gone at once */
    CHECK_ERR(sisp_store_batch_commit(st), SISP_OK);
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "batch1.png", NULL, &got), SISP_OK);
    CHECK_U64(got.seq, base + 1);
    CHECK(exists(fin));
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "batch2.png", NULL, &got), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_user_get(st, "erin", &u), SISP_ENOTFOUND);
    CHECK_U64(sisp_store_last_seq(st), base + 1);
    CHECK_U64(count_files("blobs"), files + 1);

    /* a rolled-back batch leaves nothing, not even its renamed files */
    CHECK_ERR(sisp_store_batch_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(add_user(st, "frank"), SISP_OK);
    CHECK_ERR(post(st, "family", "batch3.png", "alice", 100, &img, NULL, fin), SISP_OK);
    sisp_store_job_end(st, 0);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_audit(st, "alice", "x", NULL), SISP_OK);
    sisp_store_job_end(st, 0);
    CHECK(exists(fin));
    sisp_store_batch_rollback(st);
    CHECK(!exists(fin));
    CHECK_ERR(sisp_store_user_get(st, "frank", &u), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "batch3.png", NULL, &got), SISP_ENOTFOUND);
    CHECK_U64(sisp_store_last_seq(st), base + 1);
    CHECK_U64(count_files("blobs"), files + 1);
    sisp_store_batch_rollback(st); /* no batch: harmless */

    /* a batch committed with a job still open is refused and rolled back */
    CHECK_ERR(sisp_store_batch_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(add_user(st, "gina"), SISP_OK);
    CHECK_ERR(sisp_store_batch_commit(st), SISP_EINVAL);
    CHECK_ERR(sisp_store_user_get(st, "gina", &u), SISP_ENOTFOUND);

    /* a batch with only reads and a successful job */
    CHECK_ERR(sisp_store_batch_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(add_user(st, "gina"), SISP_OK);
    sisp_store_job_end(st, 0);
    sisp_store_job_end(st, 0); /* no job: harmless */
    CHECK_ERR(sisp_store_batch_commit(st), SISP_OK);
    CHECK_ERR(sisp_store_user_get(st, "gina", &u), SISP_OK);
}

/* ---- deleting ---- */

static void test_delete(sisp_store_t *st) {
    sisp_image_rec_t img, got;
    char fin[512], fin2[512], fin3[512];
    uint64_t before = 0, after = 0, seq = sisp_store_last_seq(st);
    CHECK_ERR(sisp_store_usage(st, "alice", &before), SISP_OK);
    CHECK_ERR(post(st, "family", "gone.png", "alice", 3000, &img, NULL, fin), SISP_OK);
    uint64_t id = img.id;

    /* only the owner; an unknown name or group is not found; nothing changes */
    CHECK_ERR(sisp_store_image_delete(st, "family", "gone.png", "bob", &got), SISP_EPERM);
    CHECK_ERR(sisp_store_image_delete(st, "family", "nope.png", "alice", &got), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_image_delete(st, "nogroup", "gone.png", "alice", &got), SISP_ENOTFOUND);
    CHECK(exists(fin));

    /* outside a batch: the row and the file at once */
    CHECK_ERR(sisp_store_image_delete(st, "family", "gone.png", "alice", &got), SISP_OK);
    CHECK_U64(got.id, id);
    CHECK(strcmp(got.owner, "alice") == 0);
    CHECK(!exists(fin));
    CHECK_ERR(sisp_store_image_get(st, id, NULL, NULL, NULL, &got), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "gone.png", NULL, &got), SISP_ENOTFOUND);
    CHECK_ERR(sisp_store_usage(st, "alice", &after), SISP_OK);
    CHECK_U64(after, before);
    CHECK_ERR(sisp_store_image_delete(st, "family", "gone.png", "alice", &got), SISP_ENOTFOUND);
    CHECK_U64(sisp_store_last_seq(st), seq + 1); /* a deletion takes no seq */
    /* the name is free again; the new image has a new id and seq */
    CHECK_ERR(post(st, "family", "gone.png", "alice", 200, &img, NULL, fin), SISP_OK);
    CHECK(img.id != id);
    CHECK_U64(img.seq, seq + 2);

    /* in a batch: the file stays until the commit; an undone job's deletion never happens */
    CHECK_ERR(post(st, "family", "gone2.png", "alice", 200, &img, NULL, fin2), SISP_OK);
    CHECK_ERR(post(st, "family", "gone3.png", "alice", 200, &img, NULL, fin3), SISP_OK);
    CHECK_ERR(sisp_store_batch_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_image_delete(st, "family", "gone.png", "alice", &got), SISP_OK);
    sisp_store_job_end(st, 0);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_image_delete(st, "family", "gone2.png", "alice", &got), SISP_OK);
    sisp_store_job_end(st, 1);
    CHECK(exists(fin) && exists(fin2));
    CHECK_ERR(sisp_store_batch_commit(st), SISP_OK);
    CHECK(!exists(fin));
    CHECK(exists(fin2));
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "gone2.png", NULL, &got), SISP_OK);

    /* a rolled-back batch deletes nothing */
    CHECK_ERR(sisp_store_batch_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_job_begin(st), SISP_OK);
    CHECK_ERR(sisp_store_image_delete(st, "family", "gone3.png", "alice", &got), SISP_OK);
    sisp_store_job_end(st, 0);
    sisp_store_batch_rollback(st);
    CHECK(exists(fin3));
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "gone3.png", NULL, &got), SISP_OK);
    CHECK_ERR(sisp_store_image_delete(st, "family", "gone2.png", "alice", &got), SISP_OK);
    CHECK_ERR(sisp_store_image_delete(st, "family", "gone3.png", "alice", &got), SISP_OK);
    CHECK(!exists(fin2) && !exists(fin3));
}

/* ---- persistence and startup cleanup ---- */

static void test_reopen(sisp_store_t **pst) {
    sisp_image_rec_t img, got;
    sisp_user_rec_t u;
    char fin[512], orphan[256], stray[256], other[256], p[256];
    uint64_t seq = sisp_store_last_seq(*pst), serial = 0, serial2 = 0, n = 0;
    CHECK_ERR(sisp_store_next_serial(*pst, &serial), SISP_OK);
    CHECK_ERR(post(*pst, "family", "keep.png", "alice", 5000, &img, NULL, fin), SISP_OK);
    uint64_t id = img.id;
    size_t files = count_files("blobs");

    /* an orphan blob, a file with another name, a stray upload: all go at open */
    sisp_store_close(*pst);
    *pst = NULL;
    path_of(orphan, sizeof orphan, "blobs/0123456789abcdef0123456789abcdef");
    touch("blobs/0123456789abcdef0123456789abcdef", "orphan");
    path_of(other, sizeof other, "blobs/junk");
    touch("blobs/junk", "junk");
    path_of(stray, sizeof stray, "blobs/tmp/ffffffffffffffffffffffffffffffff.part");
    touch("blobs/tmp/ffffffffffffffffffffffffffffffff.part", "partial");
    path_of(p, sizeof p, "blobs/subdir");
    CHECK_INT(mkdir(p, 0700), 0); /* directories are left alone */
    CHECK_U64(count_files("blobs"), files + 2);

    sisp_store_t *st = NULL;
    CHECK_ERR(sisp_store_open(dir, &st), SISP_OK);
    *pst = st;
    if (st == NULL)
        return;
    CHECK(!exists(orphan));
    CHECK(!exists(other));
    CHECK(!exists(stray));
    CHECK(exists(p));
    rmdir(p);
    CHECK(exists(fin));
    CHECK_U64(count_files("blobs"), files);

    /* everything committed is still there; counters continue */
    CHECK_U64(sisp_store_last_seq(st), seq + 1);
    CHECK_ERR(sisp_store_image_get(st, id, NULL, NULL, NULL, &got), SISP_OK);
    CHECK(strcmp(got.name, "keep.png") == 0);
    CHECK_ERR(sisp_store_user_get(st, "carol", &u), SISP_OK);
    CHECK_INT(u.revoked, 1);
    CHECK_ERR(sisp_store_user_count(st, &n), SISP_OK);
    CHECK_U64(n, 5);
    CHECK_ERR(sisp_store_next_serial(st, &serial2), SISP_OK);
    CHECK_U64(serial2, serial + 1);
    CHECK_ERR(post(st, "family", "after.png", "alice", 10, &img, NULL, NULL), SISP_OK);
    CHECK_U64(img.seq, seq + 2);
    CHECK(img.id > id);
    CHECK_ERR(sisp_store_invite_use(st, "Invite-0001", 1700000000), SISP_EINVITE);

    /* files are private */
    path_of(p, sizeof p, "sisp.db");
    CHECK_INT(mode_of(p), 0600);
    path_of(p, sizeof p, "sisp.db-wal");
    CHECK_INT(mode_of(p), 0600);
    path_of(p, sizeof p, "blobs");
    CHECK_INT(mode_of(p), 0700);

    /* a second opener (an admin subcommand while sispd runs) must not delete the first's
     * uploads in progress */
    sisp_blob_t b;
    CHECK_ERR(sisp_store_blob_create(st, &b), SISP_OK);
    sisp_store_t *st2 = NULL;
    CHECK_ERR(sisp_store_open(dir, &st2), SISP_OK);
    CHECK(exists(b.tmp_path));
    CHECK_ERR(sisp_store_user_get(st2, "alice", &u), SISP_OK);
    CHECK_ERR(sisp_store_user_revoke(st2, "bob"), SISP_OK); /* autocommit, seen by the first */
    sisp_store_close(st2);
    CHECK_ERR(sisp_store_user_get(st, "bob", &u), SISP_OK);
    CHECK_INT(u.revoked, 1);
    CHECK_INT(write_all(b.fd, (const uint8_t *)"hello", 5), 0);
    memset(&img, 0, sizeof img);
    snprintf(img.name, sizeof img.name, "late.png");
    snprintf(img.owner, sizeof img.owner, "alice");
    snprintf(img.group, sizeof img.group, "family");
    img.size = 5;
    CHECK_ERR(sisp_store_image_commit(st, &b, &img), SISP_OK);
    CHECK_U64(img.seq, seq + 3);
}

/* ---- a process killed mid-batch ---- */

static void test_crash(void) {
    size_t files = count_files("blobs");
    int fds[2];
    if (pipe(fds) != 0) {
        T_FAIL_AT("pipe failed");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        sisp_store_t *st = NULL;
        sisp_image_rec_t img;
        sisp_blob_t b;
        int ok = sisp_store_open(dir, &st) == 0 && sisp_store_batch_begin(st) == 0 &&
                 sisp_store_job_begin(st) == 0 &&
                 post(st, "family", "acked.png", "alice", 300, &img, NULL, NULL) == 0;
        if (ok) {
            sisp_store_job_end(st, 0);
            ok = sisp_store_batch_commit(st) == 0 && sisp_store_batch_begin(st) == 0 &&
                 sisp_store_job_begin(st) == 0 &&
                 post(st, "family", "lost.png", "alice", 300, &img, NULL, NULL) == 0 &&
                 sisp_store_blob_create(st, &b) == 0 &&
                 write_all(b.fd, (const uint8_t *)"partial", 7) == 0;
        }
        char c = ok ? 'y' : 'n';
        if (write(fds[1], &c, 1) != 1)
            _exit(1);
        raise(SIGKILL); /* dies like kill -9 with a batch open: no commit, no close */
        _exit(1);
    }
    int status = -1;
    char c = 0;
    close(fds[1]);
    CHECK(pid > 0);
    CHECK_INT(read(fds[0], &c, 1), 1);
    close(fds[0]);
    CHECK_INT(c, 'y');
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_U64(count_files("blobs"), files + 2); /* acked, and lost's renamed blob */
    CHECK_U64(count_files("blobs/tmp"), 1);

    sisp_store_t *st = NULL;
    sisp_image_rec_t got;
    CHECK_ERR(sisp_store_open(dir, &st), SISP_OK);
    if (st == NULL)
        return;
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "acked.png", NULL, &got), SISP_OK);
    CHECK_ERR(sisp_store_image_get(st, 0, "family", "lost.png", NULL, &got), SISP_ENOTFOUND);
    CHECK_U64(count_files("blobs"), files + 1);
    CHECK_U64(count_files("blobs/tmp"), 0);
    sisp_store_close(st);
}

/* ---- a damaged database ---- */

static int copy_file(const char *from, const char *to) {
    static uint8_t buf[1 << 16];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static void test_corrupt(void) {
    char db[256], saved[256], orphan[256];
    sisp_store_t *st = NULL;
    remove_tree(dir);
    CHECK_ERR(sisp_store_open(dir, &st), SISP_OK);
    if (st == NULL)
        return;
    for (int i = 0; i < 60; i++) {
        sisp_user_rec_t u;
        char name[32];
        snprintf(name, sizeof name, "user%03d", i);
        make_user(&u, name, (uint64_t)(2000 + i));
        u.cert_len = 3000;
        CHECK_ERR(sisp_store_user_add(st, &u), SISP_OK);
    }
    sisp_store_close(st); /* checkpoints the WAL into sisp.db */
    path_of(db, sizeof db, "sisp.db");
    path_of(saved, sizeof saved, "saved.db");
    CHECK_INT(copy_file(db, saved), 0);
    touch("blobs/0123456789abcdef0123456789abcdef", "orphan");
    path_of(orphan, sizeof orphan, "blobs/0123456789abcdef0123456789abcdef");

    struct stat sb;
    CHECK_INT(stat(db, &sb), 0);
    uint8_t hdr[100];
    FILE *f = fopen(db, "rb");
    CHECK(f != NULL && fread(hdr, 1, sizeof hdr, f) == sizeof hdr);
    if (f)
        fclose(f);
    size_t page = (size_t)hdr[16] << 8 | hdr[17];
    if (page == 1)
        page = 65536;
    size_t pages = (size_t)sb.st_size / page;
    CHECK(pages >= 10);

    /* garbage over one whole page in the middle (a users b-tree page) */
    uint8_t junk[65536];
    memset(junk, 0x5A, sizeof junk);
    int fd = open(db, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, junk, page, (off_t)(page * (pages / 2))) == (ssize_t)page);
    close(fd);
    st = NULL;
    CHECK_ERR(sisp_store_open(dir, &st), SISP_ESTORE);
    CHECK(st == NULL);
    CHECK(exists(orphan)); /* nothing is deleted on the word of a damaged database */

    /* truncated to half */
    CHECK_INT(copy_file(saved, db), 0);
    CHECK_INT(truncate(db, (off_t)(page * (pages / 2))), 0);
    CHECK_ERR(sisp_store_open(dir, &st), SISP_ESTORE);
    CHECK(st == NULL);

    /* not a database at all */
    CHECK_INT(copy_file(saved, db), 0);
    fd = open(db, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, junk, 100, 0) == 100);
    close(fd);
    CHECK_ERR(sisp_store_open(dir, &st), SISP_ESTORE);
    CHECK(st == NULL);

    /* the undamaged copy opens, and then the orphan goes */
    CHECK_INT(copy_file(saved, db), 0);
    CHECK_ERR(sisp_store_open(dir, &st), SISP_OK);
    CHECK(!exists(orphan));
    uint64_t n = 0;
    if (st != NULL)
        CHECK_ERR(sisp_store_user_count(st, &n), SISP_OK);
    CHECK_U64(n, 60);
    sisp_store_close(st);
    unlink(saved);
}

static void test_open_args(void) {
    sisp_store_t *st = (sisp_store_t *)1;
    char longdir[600];
    CHECK_ERR(sisp_store_open("", &st), SISP_EINVAL);
    CHECK(st == NULL);
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = '\0';
    CHECK_ERR(sisp_store_open(longdir, &st), SISP_EINVAL);
    /* a file where the directory should be */
    char p[256];
    path_of(p, sizeof p, "plainfile");
    touch("plainfile", "x");
    CHECK_ERR(sisp_store_open(p, &st), SISP_EIO);
    unlink(p);
    sisp_store_close(NULL);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/sisp-store-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_open_args();

    /* a nested path that does not exist yet is created 0700 */
    char data[128];
    snprintf(data, sizeof data, "%s", dir);
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/data/sub");
    sisp_store_t *st = NULL;
    CHECK_ERR(sisp_store_open(dir, &st), SISP_OK);
    CHECK_INT(mode_of(dir), 0700);
    if (st != NULL) {
        test_users(st);
        test_invites(st);
        test_groups(st);
        test_grants(st);
        test_images(st);
        test_batches(st);
        test_delete(st);
        st = reopen(st);
        if (st != NULL)
            test_reopen(&st);
        sisp_store_close(st);
        test_crash();
    }
    test_corrupt();

    remove_tree(data);
    return t_done("test_store");
}
