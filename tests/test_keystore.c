/* The client keystore against real files in a temporary directory. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "seal_fixture.h"
#include "testutil.h"

#include <sisp/error.h>
#include <sisp/keystore.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void path_of(char *out, size_t n, const char *name) {
    if (snprintf(out, n, "%s/%s", dir, name) >= (int)n)
        T_FAIL_AT("path too long: %s", name);
}

static size_t count_entries(void) {
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n;
}

static void remove_all(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[256];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        path_of(p, sizeof p, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static sisp_key_pair_t ident_pair(void) {
    sisp_ident_key_t id;
    sisp_key_pair_t k;
    CHECK_ERR(sisp_ident_from_seed(t_alice_seed, &id), SISP_OK);
    memcpy(k.secret, id.seed, 32);
    memcpy(k.pub, id.pub, 32);
    return k;
}

static void test_clear(void) {
    char p[256];
    struct stat st;
    sisp_key_pair_t k = ident_pair(), got;
    int prot = -1;
    path_of(p, sizeof p, "identity.key");

    mode_t old = umask(0); /* even with a permissive umask the file is 0600 */
    CHECK_ERR(sisp_keystore_save(p, SISP_KEYFILE_IDENT, &k, NULL, 0), SISP_OK);
    umask(old);
    CHECK_INT(stat(p, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0600);
    CHECK_U64(st.st_size, SISP_KEYFILE_SIZE);
    CHECK_U64(count_entries(), 1); /* no temporary file left behind */

    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_IDENT, NULL, &got, &prot), SISP_OK);
    CHECK_INT(prot, 0);
    CHECK_MEM(got.secret, 32, k.secret, 32);
    CHECK_MEM(got.pub, 32, k.pub, 32);
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_X25519, NULL, &got, &prot), SISP_EKEYFILE);

    /* Too open: refused like ssh refuses a private key others can read. */
    CHECK_INT(chmod(p, 0640), 0);
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_IDENT, NULL, &got, &prot), SISP_EKEYPERM);
    CHECK_INT(chmod(p, 0602), 0);
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_IDENT, NULL, &got, &prot), SISP_EKEYPERM);
    CHECK_INT(chmod(p, 0600), 0);

    /* Truncated or extended files are refused. */
    CHECK_INT(truncate(p, SISP_KEYFILE_SIZE - 1), 0);
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_IDENT, NULL, &got, &prot), SISP_EKEYFILE);
    CHECK_ERR(sisp_keystore_save(p, SISP_KEYFILE_IDENT, &k, NULL, 0), SISP_OK); /* overwrite */
    CHECK_INT(truncate(p, SISP_KEYFILE_SIZE + 1), 0);
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_IDENT, NULL, &got, &prot), SISP_EKEYFILE);
    unlink(p);
}

static void test_passphrase(void) {
    char p[256];
    sisp_x25519_key_t x;
    sisp_key_pair_t k, got;
    int prot = 0;
    path_of(p, sizeof p, "x25519.key");
    CHECK_ERR(sisp_x25519_from_private(t_bob_x25519, &x), SISP_OK);
    memcpy(k.secret, x.priv, 32);
    memcpy(k.pub, x.pub, 32);

    CHECK_ERR(sisp_keystore_save(p, SISP_KEYFILE_X25519, &k, "correct horse", 10), SISP_OK);
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_X25519, NULL, &got, &prot), SISP_EPASSPHRASE);
    CHECK_INT(prot, 1);
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_X25519, "wrong horse", &got, &prot),
              SISP_EPASSPHRASE);
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_X25519, "correct horse", &got, &prot), SISP_OK);
    CHECK_MEM(got.secret, 32, k.secret, 32);

    /* The secret is not in the file in the clear. */
    uint8_t bytes[SISP_KEYFILE_SIZE];
    int fd = open(p, O_RDONLY);
    CHECK(fd >= 0);
    CHECK_INT(read(fd, bytes, sizeof bytes), SISP_KEYFILE_SIZE);
    close(fd);
    int found = 0;
    for (size_t i = 0; i + 32 <= sizeof bytes; i++)
        found |= memcmp(bytes + i, k.secret, 32) == 0;
    CHECK(!found);
    unlink(p);
}

static void test_errors(void) {
    char p[256], link_path[256];
    sisp_key_pair_t k = ident_pair(), got;
    int prot = 0;
    path_of(p, sizeof p, "missing.key");
    CHECK_ERR(sisp_keystore_load(p, SISP_KEYFILE_IDENT, NULL, &got, &prot), SISP_ENOTFOUND);

    path_of(p, sizeof p, "no-such-dir/identity.key");
    CHECK_ERR(sisp_keystore_save(p, SISP_KEYFILE_IDENT, &k, NULL, 0), SISP_EIO);

    /* A symlink is not followed: a key file is a regular file of its own. */
    path_of(p, sizeof p, "real.key");
    path_of(link_path, sizeof link_path, "link.key");
    CHECK_ERR(sisp_keystore_save(p, SISP_KEYFILE_IDENT, &k, NULL, 0), SISP_OK);
    CHECK_INT(symlink(p, link_path), 0);
    CHECK(sisp_keystore_load(link_path, SISP_KEYFILE_IDENT, NULL, &got, &prot) != SISP_OK);
    unlink(link_path);
    unlink(p);

    /* A directory is not a key file. */
    CHECK_ERR(sisp_keystore_load(dir, SISP_KEYFILE_IDENT, NULL, &got, &prot), SISP_EKEYFILE);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/sisp-keystore-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_clear();
    test_passphrase();
    test_errors();
    remove_all();
    return t_done("test_keystore");
}
