/* The client's home directory (--home, SISP_HOME, default ~/.sisp), made 0700:
 *
 *   identity.key  Ed25519 identity key (key file, 0600)     x25519.key  X25519 key (0600)
 *   cert.der      the certificate the server issued           ca.der      the pinned CA
 *   config        "server HOST:PORT"                          state       "seq N": last event seen
 *   known_users   one line per user seen: "<user> <ed25519 hex> <x25519 hex>" (pinned keys)
 *   images/       what DISPLAY downloaded, each with a FILE.info sidecar for sisp-view
 *
 * Every file is written as temp + fsync + rename + fsync(dir), and read with a size cap. */
#ifndef SISP_HOME_H
#define SISP_HOME_H

#include <sisp/buf.h>
#include <sisp/crypto.h>

#include <stddef.h>
#include <stdint.h>

#define SISP_HOME_PATH_MAX 4096

typedef struct {
    char dir[SISP_HOME_PATH_MAX];
} sisp_home_t;

/* Resolves the directory (dir, else $SISP_HOME, else $HOME/.sisp) and, with create, makes it
 * (0700). 0, SISP_EINVAL (no HOME), or SISP_EIO. */
int sisp_home_open(sisp_home_t *h, const char *dir, int create);
/* dir/name into out. SISP_EINVAL if too long. */
int sisp_home_path(const sisp_home_t *h, const char *name, char *out, size_t n);

/* Reads a whole file of at most max bytes: 0, SISP_ENOTFOUND, SISP_ETOOBIG, SISP_EIO. */
int sisp_file_read(const char *path, size_t max, sisp_buf_t *out);
/* The same for a file in the home. */
int sisp_home_read(const sisp_home_t *h, const char *name, size_t max, sisp_buf_t *out);
/* Writes atomically with mode (0600 or 0644). 0 or SISP_EIO. */
int sisp_home_write(const sisp_home_t *h, const char *name, const void *p, size_t n, unsigned mode);
/* 1 if name exists. */
int sisp_home_exists(const sisp_home_t *h, const char *name);

/* "server HOST:PORT" from config into out ("" if none). */
int sisp_home_server(const sisp_home_t *h, char *out, size_t n);
int sisp_home_set_server(const sisp_home_t *h, const char *server);
/* The last event sequence number seen (0 if none), and updating it (only ever upward). */
uint64_t sisp_home_seq(const sisp_home_t *h);
int sisp_home_set_seq(const sisp_home_t *h, uint64_t seq);

/* Pinned user keys. */
typedef enum {
    SISP_PIN_NEW = 0,     /* first sight: now pinned */
    SISP_PIN_MATCH = 1,   /* same keys as pinned */
    SISP_PIN_CHANGED = 2, /* different keys: NOT updated (see sisp_home_pin_replace) */
} sisp_pin_t;
/* Compares a user's keys with the pin, pinning them on first sight. SISP_PIN_* or an error. */
int sisp_home_pin_user(const sisp_home_t *h, const char *user, const uint8_t ed[SISP_KEY_SIZE],
                       const uint8_t x[SISP_KEY_SIZE]);
/* Replaces a user's pin (after the person confirmed the new key). */
int sisp_home_pin_replace(const sisp_home_t *h, const char *user, const uint8_t ed[SISP_KEY_SIZE],
                          const uint8_t x[SISP_KEY_SIZE]);
/* The pinned Ed25519 key of user: 0, or SISP_ENOTFOUND. */
int sisp_home_pinned(const sisp_home_t *h, const char *user, uint8_t ed[SISP_KEY_SIZE]);

/* "SHA256:<64 hex>" of p[0..n). out must hold 72 bytes. */
void sisp_fingerprint(const uint8_t *p, size_t n, char out[72]);

#endif
