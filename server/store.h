/* The store: SQLite (WAL, synchronous=FULL) for metadata, blob files for ciphertext.
 *
 * One narrow interface, so another backend (PostgreSQL + object store) can replace it without
 * touching the session code. Every function here blocks: the server calls them only on its
 * store thread (worker.c), never on the event loop. Not thread-safe: one thread at a time.
 *
 * Transactions: the store thread wraps a batch of requests in sisp_store_batch_begin /
 * sisp_store_batch_commit, and each request in sisp_store_job_begin / _end, so that one
 * failing request (a taken name) does not undo the others, and one fsync of the directory and
 * one WAL commit cover the whole batch (group commit).
 *
 * Strings are NUL-terminated, already validated by the caller (names.h rules); one longer than
 * its struct field is refused (SISP_EINVAL). Results are copied into caller structs; nothing
 * returned borrows from the store. A value read back that does not fit its field (a tampered
 * database) is SISP_ESTORE. Callbacks run while a statement is being stepped: they must not
 * call back into the store.
 *
 * References are enforced: a member, grant or image naming a group or user that does not
 * exist is SISP_ENOTFOUND. Every function works outside a batch too (autocommit: each call is
 * its own durable transaction, as the admin subcommands use them). */
#ifndef SISP_STORE_H
#define SISP_STORE_H

#include <sisp/buf.h>
#include <sisp/crypto.h>
#include <sisp/names.h>
#include <sisp/packet.h>

#include <stdint.h>

typedef struct sisp_store sisp_store_t;

/* Opens or creates DIR/sisp.db and DIR/blobs/. On start: removes DIR/blobs/tmp/ files (uploads
 * that never committed), removes blob files no image row names (orphans), runs
 * PRAGMA quick_check (SISP_ESTORE if it fails). Creates DIR (and missing parents) 0700, and the
 * database 0600. DIR may be at most 400 bytes long (SISP_EINVAL).
 * The cleanup runs only when no other process has DIR open (an flock on DIR/blobs, held
 * shared while open): an admin subcommand run beside sispd never deletes its uploads. */
int sisp_store_open(const char *dir, sisp_store_t **out);
void sisp_store_close(sisp_store_t *st); /* NULL is a no-op */

int sisp_store_batch_begin(sisp_store_t *st); /* BEGIN IMMEDIATE; SISP_EINVAL if in one */
/* fsyncs the blob directory if any blob was renamed in the batch, then COMMITs. On failure the
 * batch is already rolled back (sisp_store_batch_rollback is then a no-op) and the caller must
 * treat every job in it as failed. Blobs renamed by a batch whose COMMIT failed stay on disk
 * (the commit record may have reached it) and the next open keeps or deletes each by what the
 * database holds. A batch whose transaction SQLite abandoned, or a job whose rollback failed,
 * makes every call fail until the batch ends, and the commit then fails. */
int sisp_store_batch_commit(sisp_store_t *st);
/* Rolls back and unlinks the blobs the batch renamed. No-op outside a batch. */
void sisp_store_batch_rollback(sisp_store_t *st);
/* SAVEPOINT; only inside a batch, one at a time (SISP_EINVAL otherwise). */
int sisp_store_job_begin(sisp_store_t *st);
/* RELEASE, or (failed) ROLLBACK TO + RELEASE, which also unlinks the blobs the job renamed. */
void sisp_store_job_end(sisp_store_t *st, int failed);

/* ---- users and certificates ---- */

typedef struct {
    char user[SISP_USERNAME_MAX + 1];
    uint8_t cert[SISP_CERT_MAX];
    size_t cert_len;
    uint64_t serial;
    uint8_t x25519[SISP_KEY_SIZE];
    uint8_t x25519_sig[SISP_SIG_SIZE];
    size_t x25519_sig_len;
    uint8_t ident_pub[SISP_KEY_SIZE]; /* the Ed25519 key in cert */
    int64_t registered_at;
    int revoked;
} sisp_user_rec_t;

/* A serial number no certificate has had: a monotonic counter in the database, from 1000
 * (ca.c keeps 1-999 for the CA's and the server's certificates). A serial taken in a batch that
 * rolls back is handed out again, which is safe: its certificate never left the server. */
int sisp_store_next_serial(sisp_store_t *st, uint64_t *serial);
/* SISP_EEXIST if the name (revoked names stay taken) or the serial is taken. registered_at 0
 * means now. */
int sisp_store_user_add(sisp_store_t *st, const sisp_user_rec_t *u);
/* SISP_ENOTFOUND if there is no such user. */
int sisp_store_user_get(sisp_store_t *st, const char *user, sisp_user_rec_t *out);
int sisp_store_user_count(sisp_store_t *st, uint64_t *n);
/* Calls cb for each user, in name order. */
int sisp_store_users(sisp_store_t *st, void (*cb)(void *arg, const sisp_user_rec_t *u), void *arg);
/* Marks the user's certificate revoked. SISP_ENOTFOUND. */
int sisp_store_user_revoke(sisp_store_t *st, const char *user);
/* 1 if a certificate with this serial was revoked, 0 if not (also for a serial no user has:
 * the caller also checks that the serial is the one on file for the certificate's user), a
 * negative error if the store failed. */
int sisp_store_serial_revoked(sisp_store_t *st, uint64_t serial);
/* Calls cb with every revoked serial, ascending. */
int sisp_store_revoked_serials(sisp_store_t *st, void (*cb)(void *arg, uint64_t serial), void *arg);

/* ---- invites ---- */

int sisp_store_invite_add(sisp_store_t *st, const char *code, int64_t expires_at);
/* Consumes a code: 0 once, SISP_EINVITE if unknown, used or expired (now >= expires_at). */
int sisp_store_invite_use(sisp_store_t *st, const char *code, int64_t now);

/* ---- groups, members, keys ---- */

typedef struct {
    char group[SISP_GROUPNAME_MAX + 1];
    char owner[SISP_USERNAME_MAX + 1];
    uint32_t epoch; /* current; 0 while a group has no epoch yet (`all` before its first user) */
    uint32_t members;
} sisp_group_rec_t;

/* SISP_EEXIST. The creator becomes its first member. epoch starts at `epoch` (1, or 0 for a
 * group whose first key is still to come). */
int sisp_store_group_create(sisp_store_t *st, const char *group, const char *owner, uint32_t epoch);
int sisp_store_group_get(sisp_store_t *st, const char *group, sisp_group_rec_t *out);
/* Sets the current epoch (after a removal, or `all`'s first epoch). */
int sisp_store_group_set_epoch(sisp_store_t *st, const char *group, uint32_t epoch);
/* pending = 1: admitted but without keys yet. SISP_EEXIST if already a member; SISP_ENOTFOUND
 * if the group or the user does not exist. */
int sisp_store_member_add(sisp_store_t *st, const char *group, const char *user, int pending);
int sisp_store_member_set_pending(sisp_store_t *st, const char *group, const char *user,
                                  int pending);
/* SISP_ENOTFOUND if not a member. */
int sisp_store_member_remove(sisp_store_t *st, const char *group, const char *user);
/* 1 member, 0 not, or a negative error; *pending if non-NULL. */
int sisp_store_is_member(sisp_store_t *st, const char *group, const char *user, int *pending);
/* (sisp_members_t, in sisp/names.h, collects what sisp_store_members lists: on the store
 * thread, then used on the loop.) */
int sisp_store_members(sisp_store_t *st, const char *group,
                       void (*cb)(void *arg, const char *user, int pending), void *arg);
/* The same for the members whose names sort after `after` (NULL: from the first), at most
 * limit of them (0: all). */
int sisp_store_members_page(sisp_store_t *st, const char *group, const char *after, uint32_t limit,
                            void (*cb)(void *arg, const char *user, int pending), void *arg);
int sisp_store_groups_of(sisp_store_t *st, const char *user,
                         void (*cb)(void *arg, const sisp_group_rec_t *g), void *arg);

typedef struct {
    char group[SISP_GROUPNAME_MAX + 1];
    char user[SISP_USERNAME_MAX + 1];    /* recipient */
    char granter[SISP_USERNAME_MAX + 1]; /* who wrapped and signed it */
    uint32_t epoch;
    uint8_t wrapped[SISP_WRAPPED_MAX];
    size_t wrapped_len;
    uint8_t sig[SISP_SIG_MAX];
    size_t sig_len;
} sisp_grant_rec_t;

/* Replaces any grant for the same (group, user, epoch). epoch >= 1. */
int sisp_store_grant_put(sisp_store_t *st, const sisp_grant_rec_t *g);
/* Grants for (group, user), all epochs when epoch == 0, in epoch order. */
int sisp_store_grants(sisp_store_t *st, const char *group, const char *user, uint32_t epoch,
                      void (*cb)(void *arg, const sisp_grant_rec_t *g), void *arg);
/* Drops every grant of a removed member for the group. */
int sisp_store_grants_drop(sisp_store_t *st, const char *group, const char *user);

/* ---- images ---- */

/* An upload in progress: a temp file DIR/blobs/tmp/<id>.part created O_EXCL 0600. The caller
 * writes ciphertext to fd (any thread), then commits or aborts it on the store thread. */
typedef struct {
    int fd;
    char id[33]; /* 32 hex chars from the DRBG: the blob's file name */
    char tmp_path[512];
    char final_path[512];
} sisp_blob_t;

int sisp_store_blob_create(sisp_store_t *st, sisp_blob_t *b);
/* Closes and unlinks the temp file. */
void sisp_store_blob_abort(sisp_store_t *st, sisp_blob_t *b);

typedef struct {
    uint64_t id;  /* assigned by the store */
    uint64_t seq; /* global sequence number, assigned by the store */
    char name[SISP_IMAGENAME_MAX + 1];
    char owner[SISP_USERNAME_MAX + 1];
    char group[SISP_GROUPNAME_MAX + 1];
    uint32_t epoch;
    uint64_t size; /* ciphertext bytes */
    int64_t posted_at;
    uint8_t manifest[SISP_MANIFEST_MAX];
    size_t manifest_len;
    uint8_t sig[SISP_SIG_MAX];
    size_t sig_len;
    char blob[33];
} sisp_image_rec_t;

/* Within the current job: fsync(b->fd), close it, rename tmp → final, insert the image row
 * (assigning id, seq, posted_at into *img). SISP_EEXIST if (group, name) is taken: then the
 * temp file is removed. The directory fsync and the commit happen at batch commit, before
 * anyone is told (outside a batch: before this call returns).
 * b is spent whatever the result (fd closed, b->fd = -1; on failure no file is left), so a
 * later sisp_store_blob_abort on it is a harmless no-op. SISP_ESIZE if the file does not hold
 * exactly img->size bytes; SISP_ENOTFOUND if the group or owner does not exist. */
int sisp_store_image_commit(sisp_store_t *st, sisp_blob_t *b, sisp_image_rec_t *img);
/* By id (id != 0), else by (group, name) or, with group "" (or NULL), the newest image of that
 * name in any group the user is a member of (pending too). SISP_ENOTFOUND. Lookups by id and by
 * (group, name) do not look at user: the caller checks membership of the result's group. */
int sisp_store_image_get(sisp_store_t *st, uint64_t id, const char *group, const char *name,
                         const char *user, sisp_image_rec_t *out);
/* Path of the blob file for reading; "" if blob is not a well-formed id or out_size too small.
 * Reads only what open set: safe from any thread while st is open. */
void sisp_store_blob_path(const sisp_store_t *st, const char *blob, char *out, size_t out_size);
/* Images with seq > since in groups where user is a (non-pending or pending) member,
 * optionally only `group` (""= all), ascending seq, at most limit (0 = SISP_LIST_PAGE_MAX).
 * *more = 1 if more exist (more may be NULL). Pending members are listed their groups' images:
 * they cannot decrypt them until granted keys, and they are told what is coming. */
int sisp_store_images(sisp_store_t *st, const char *user, const char *group, uint64_t since,
                      uint32_t limit, void (*cb)(void *arg, const sisp_image_rec_t *img), void *arg,
                      int *more);
/* Deletes image name of group if owner posted it (SISP_EPERM if another user did,
 * SISP_ENOTFOUND if there is none); *out gets its record. The row goes with the open
 * transaction (or at once, outside one); the ciphertext file is removed once that commits,
 * and a crash in between leaves a file the next open removes. */
int sisp_store_image_delete(sisp_store_t *st, const char *group, const char *name,
                            const char *owner, sisp_image_rec_t *out);
/* Total ciphertext bytes stored for owner (for quotas). */
int sisp_store_usage(sisp_store_t *st, const char *owner, uint64_t *bytes);
uint64_t sisp_store_last_seq(sisp_store_t *st); /* 0 if none, or on error */

/* ---- audit ---- */

/* actor and detail may be NULL. */
int sisp_store_audit(sisp_store_t *st, const char *actor, const char *event, const char *detail);

#endif
