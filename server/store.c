/* The embedded store: SQLite (WAL, synchronous=FULL) for metadata, one file per blob.
 *
 * Every SQL statement is prepared once at open (SQLITE_PREPARE_PERSISTENT) and reused; values
 * only ever reach SQLite as bound parameters. The schema carries its version in
 * PRAGMA user_version; MIGRATIONS[v] takes a database from version v to v + 1.
 *
 * Transactions. A batch is BEGIN IMMEDIATE .. COMMIT; a job inside it is SAVEPOINT job. A
 * function that writes more than one row wraps them in SAVEPOINT op, so it is atomic inside a
 * job and outside any batch alike; outside a batch, releasing `op` is the commit.
 *
 * Blobs. An upload is written to blobs/tmp/<id>.part; image_commit fsyncs and renames it to
 * blobs/<id> inside the current transaction and remembers the rename. Whatever commits that
 * transaction (COMMIT, or the release of an outermost `op`) first fsyncs the blob directory,
 * so a committed row never names a file that a crash can take away. A rolled-back rename is
 * unlinked at once; after a failed COMMIT nobody knows whether the commit record reached the
 * disk, so those files stay, and the next open keeps them or deletes them according to what
 * the database then holds.
 *
 * Several processes may open one data directory (sispd and its admin subcommands). The startup
 * cleanup of temporary and orphan files runs only in a process that gets the blob directory's
 * flock exclusively; every open store then holds it shared, so a second process never deletes
 * the uploads of a running server. */
#define _DEFAULT_SOURCE /* flock */
#include "store.h"

#include <sisp/error.h>

#include <sqlite3.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The longest data directory path: blobs/tmp/<32 hex>.part must fit sisp_blob_t's paths. */
#define DIR_MAX 400
#define BLOB_ID_LEN 32
#define FIRST_SERIAL 1000 /* ca.c keeps 1-999 for the CA's and the server's own certificates */
#define BUSY_TIMEOUT_MS 10000

_Static_assert(DIR_MAX + sizeof "/blobs/tmp/" + BLOB_ID_LEN + sizeof ".part" <=
                   sizeof(((sisp_blob_t *)0)->tmp_path),
               "blob paths fit sisp_blob_t");

/* ---- schema ---- */

/* Append only: a released migration never changes. */
static const char *const MIGRATIONS[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  next_serial INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL"
    ") STRICT;"
    "INSERT INTO meta (id, next_serial, last_seq) VALUES (1, 1000, 0);" /* FIRST_SERIAL */
    "CREATE TABLE users ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  cert BLOB NOT NULL,"
    "  serial INTEGER NOT NULL UNIQUE,"
    "  x25519 BLOB NOT NULL,"
    "  x25519_sig BLOB NOT NULL,"
    "  ident_pub BLOB NOT NULL,"
    "  registered_at INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))"
    ") STRICT;"
    "CREATE INDEX users_revoked ON users (serial) WHERE revoked = 1;"
    "CREATE TABLE invites ("
    "  code TEXT PRIMARY KEY NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER"
    ") STRICT;"
    "CREATE TABLE groups ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  owner TEXT NOT NULL,"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 0)"
    ") STRICT;"
    "CREATE TABLE members ("
    "  grp TEXT NOT NULL REFERENCES groups (name),"
    "  user TEXT NOT NULL REFERENCES users (name),"
    "  pending INTEGER NOT NULL CHECK (pending IN (0, 1)),"
    "  PRIMARY KEY (grp, user)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX members_user ON members (user, grp);"
    "CREATE TABLE grants ("
    "  grp TEXT NOT NULL REFERENCES groups (name),"
    "  user TEXT NOT NULL REFERENCES users (name),"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),"
    "  granter TEXT NOT NULL,"
    "  wrapped BLOB NOT NULL,"
    "  sig BLOB NOT NULL,"
    "  PRIMARY KEY (grp, user, epoch)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE images ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  seq INTEGER NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  owner TEXT NOT NULL REFERENCES users (name),"
    "  grp TEXT NOT NULL REFERENCES groups (name),"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 0),"
    "  size INTEGER NOT NULL CHECK (size >= 0),"
    "  posted_at INTEGER NOT NULL,"
    "  manifest BLOB NOT NULL,"
    "  sig BLOB NOT NULL,"
    "  blob TEXT NOT NULL UNIQUE,"
    "  UNIQUE (grp, name)"
    ") STRICT;"
    "CREATE INDEX images_grp_seq ON images (grp, seq);"
    "CREATE INDEX images_name_seq ON images (name, seq);"
    "CREATE INDEX images_owner_size ON images (owner, size);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT,"
    "  event TEXT NOT NULL,"
    "  detail TEXT"
    ") STRICT;"
    "CREATE INDEX audit_at ON audit (at);"
    "PRAGMA user_version = 1;",
};
#define SCHEMA_VERSION ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

/* ---- statements ---- */

#define USER_COLS "name, cert, serial, x25519, x25519_sig, ident_pub, registered_at, revoked"
#define GROUP_COLS "g.name, g.owner, g.epoch, (SELECT count(*) FROM members c WHERE c.grp = g.name)"
#define GRANT_COLS "grp, user, granter, epoch, wrapped, sig"
#define IMAGE_COLS                                                                                 \
    "i.id, i.seq, i.name, i.owner, i.grp, i.epoch, i.size, i.posted_at, i.manifest, i.sig, i.blob"

/* XX(NAME, sql)
 *
 * IMAGES_ALL walks images in seq order and probes membership (CROSS JOIN fixes that order):
 * a page then costs the rows up to the last one returned, instead of every later image of the
 * user's groups plus a sort, which SQLite's own choice costs for each page of a catch-up. */
#define STORE_STMTS(XX)                                                                            \
    XX(BEGIN, "BEGIN IMMEDIATE")                                                                   \
    XX(COMMIT, "COMMIT")                                                                           \
    XX(ROLLBACK, "ROLLBACK")                                                                       \
    XX(JOB_SAVE, "SAVEPOINT job")                                                                  \
    XX(JOB_RELEASE, "RELEASE job")                                                                 \
    XX(JOB_UNDO, "ROLLBACK TO job")                                                                \
    XX(OP_SAVE, "SAVEPOINT op")                                                                    \
    XX(OP_RELEASE, "RELEASE op")                                                                   \
    XX(OP_UNDO, "ROLLBACK TO op")                                                                  \
    XX(NEXT_SERIAL,                                                                                \
       "UPDATE meta SET next_serial = next_serial + 1 WHERE id = 1 RETURNING next_serial - 1")     \
    XX(NEXT_SEQ, "UPDATE meta SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq")        \
    XX(LAST_SEQ, "SELECT last_seq FROM meta WHERE id = 1")                                         \
    XX(USER_ADD, "INSERT INTO users (" USER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")      \
    XX(USER_GET, "SELECT " USER_COLS " FROM users WHERE name = ?1")                                \
    XX(USER_COUNT, "SELECT count(*) FROM users")                                                   \
    XX(USERS, "SELECT " USER_COLS " FROM users ORDER BY name")                                     \
    XX(USER_REVOKE, "UPDATE users SET revoked = 1 WHERE name = ?1")                                \
    XX(SERIAL_REVOKED, "SELECT revoked FROM users WHERE serial = ?1")                              \
    XX(REVOKED_SERIALS, "SELECT serial FROM users WHERE revoked = 1 ORDER BY serial")              \
    XX(INVITE_ADD, "INSERT INTO invites (code, expires_at) VALUES (?1, ?2)")                       \
    XX(INVITE_USE, "UPDATE invites SET used_at = ?2 "                                              \
                   "WHERE code = ?1 AND used_at IS NULL AND expires_at > ?2")                      \
    XX(GROUP_ADD, "INSERT INTO groups (name, owner, epoch) VALUES (?1, ?2, ?3)")                   \
    XX(GROUP_GET, "SELECT " GROUP_COLS " FROM groups g WHERE g.name = ?1")                         \
    XX(GROUP_SET_EPOCH, "UPDATE groups SET epoch = ?2 WHERE name = ?1")                            \
    XX(MEMBER_ADD, "INSERT INTO members (grp, user, pending) VALUES (?1, ?2, ?3)")                 \
    XX(MEMBER_SET_PENDING, "UPDATE members SET pending = ?3 WHERE grp = ?1 AND user = ?2")         \
    XX(MEMBER_REMOVE, "DELETE FROM members WHERE grp = ?1 AND user = ?2")                          \
    XX(MEMBER_GET, "SELECT pending FROM members WHERE grp = ?1 AND user = ?2")                     \
    XX(MEMBERS, "SELECT user, pending FROM members WHERE grp = ?1 ORDER BY user")                  \
    XX(MEMBERS_PAGE, "SELECT user, pending FROM members WHERE grp = ?1 AND user > ?2 "             \
                     "ORDER BY user LIMIT ?3")                                                     \
    XX(GROUPS_OF, "SELECT " GROUP_COLS " FROM members m JOIN groups g ON g.name = m.grp "          \
                  "WHERE m.user = ?1 ORDER BY g.name")                                             \
    XX(GRANT_PUT, "INSERT INTO grants (" GRANT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) "           \
                  "ON CONFLICT (grp, user, epoch) DO UPDATE SET granter = excluded.granter, "      \
                  "wrapped = excluded.wrapped, sig = excluded.sig")                                \
    XX(GRANTS_ALL,                                                                                 \
       "SELECT " GRANT_COLS " FROM grants WHERE grp = ?1 AND user = ?2 ORDER BY epoch")            \
    XX(GRANTS_ONE,                                                                                 \
       "SELECT " GRANT_COLS " FROM grants WHERE grp = ?1 AND user = ?2 AND epoch = ?3")            \
    XX(GRANTS_DROP, "DELETE FROM grants WHERE grp = ?1 AND user = ?2")                             \
    XX(IMAGE_ADD, "INSERT INTO images (seq, name, owner, grp, epoch, size, posted_at, manifest, "  \
                  "sig, blob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")                   \
    XX(IMAGE_BY_ID, "SELECT " IMAGE_COLS " FROM images i WHERE i.id = ?1")                         \
    XX(IMAGE_BY_NAME, "SELECT " IMAGE_COLS " FROM images i WHERE i.grp = ?1 AND i.name = ?2")      \
    XX(IMAGE_NEWEST, "SELECT " IMAGE_COLS " FROM images i "                                        \
                     "JOIN members m ON m.grp = i.grp AND m.user = ?2 "                            \
                     "WHERE i.name = ?1 ORDER BY i.seq DESC LIMIT 1")                              \
    XX(IMAGES_ALL, "SELECT " IMAGE_COLS " FROM images i "                                          \
                   "CROSS JOIN members m ON m.grp = i.grp AND m.user = ?1 "                        \
                   "WHERE i.seq > ?2 ORDER BY i.seq LIMIT ?3")                                     \
    XX(IMAGES_GROUP, "SELECT " IMAGE_COLS " FROM images i "                                        \
                     "JOIN members m ON m.grp = i.grp AND m.user = ?1 "                            \
                     "WHERE i.grp = ?4 AND i.seq > ?2 ORDER BY i.seq LIMIT ?3")                    \
    XX(IMAGE_DEL, "DELETE FROM images WHERE id = ?1")                                              \
    XX(BLOB_USED, "SELECT 1 FROM images WHERE blob = ?1")                                          \
    XX(USAGE, "SELECT coalesce(sum(size), 0) FROM images WHERE owner = ?1")                        \
    XX(AUDIT, "INSERT INTO audit (at, actor, event, detail) VALUES (?1, ?2, ?3, ?4)")

enum {
#define STMT_ENUM(name, sql) S_##name,
    STORE_STMTS(STMT_ENUM)
#undef STMT_ENUM
        S_COUNT
};

static const char *const STMT_SQL[S_COUNT] = {
#define STMT_SQL_ENTRY(name, sql) sql,
    STORE_STMTS(STMT_SQL_ENTRY)
#undef STMT_SQL_ENTRY
};

/* Blob ids a transaction acts on when it ends, oldest first, and their count when the job and
 * the op savepoints began. */
typedef struct {
    char (*id)[BLOB_ID_LEN + 1];
    size_t n, cap;
    size_t job_mark, op_mark;
} blob_list_t;

struct sisp_store {
    sqlite3 *db;
    sqlite3_stmt *s[S_COUNT];
    sisp_rng_t rng;
    int blobs_fd; /* DIR/blobs: fsync target and flock holder */
    int in_batch;
    int in_job;
    int poisoned; /* the batch's state is unknown: it can only be rolled back */
    blob_list_t
        renamed;        /* renamed into blobs/ by the open transaction: unlinked if it rolls back */
    blob_list_t doomed; /* of the images it deleted: unlinked once it commits */
    char blobs[DIR_MAX + sizeof "/blobs"];
    char tmp[DIR_MAX + sizeof "/blobs/tmp"];
};

/* ---- small helpers ---- */

static int sql_err(int rc) {
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return SISP_EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return SISP_ENOTFOUND;
    default:
        return (rc & 0xff) == SQLITE_NOMEM ? SISP_ENOMEM : SISP_ESTORE;
    }
}

static void done(sqlite3_stmt *s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Steps s to the end (ignoring rows), resets it; 0 or a SISP error. */
static int run(sqlite3_stmt *s) {
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

/* Runs a statement that must change a row: SISP_ENOTFOUND when it changed none. */
static int run_changing(sisp_store_t *st, sqlite3_stmt *s) {
    int rc = run(s);
    return rc == 0 && sqlite3_changes(st->db) == 0 ? SISP_ENOTFOUND : rc;
}

/* A failed bind: resets s and maps the code. */
static int bind_fail(sqlite3_stmt *s, int rc) {
    done(s);
    if (rc == SQLITE_TOOBIG || rc == SQLITE_RANGE)
        return SISP_EINVAL;
    return sql_err(rc);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v) {
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Parameters 1 and 2, the (group, user) or (user, group) pair most statements take. */
static int bind_pair(sqlite3_stmt *s, const char *a, const char *b) {
    int rc = bind_text(s, 1, a);
    return rc == SQLITE_OK ? bind_text(s, 2, b) : rc;
}

static int bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n) {
    if (n > INT_MAX)
        return SQLITE_TOOBIG;
    if (n == 0) /* a NULL pointer would bind NULL, not an empty blob */
        return sqlite3_bind_zeroblob(s, i, 0);
    return sqlite3_bind_blob(s, i, p, (int)n, SQLITE_STATIC);
}

static int bind_i64(sqlite3_stmt *s, int i, int64_t v) {
    return sqlite3_bind_int64(s, i, v);
}

static int bind_u64(sqlite3_stmt *s, int i, uint64_t v) {
    return v > INT64_MAX ? SQLITE_TOOBIG : sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

/* Runs a query whose first row's first column is an integer. SISP_ENOTFOUND if no row. */
static int query_i64(sqlite3_stmt *s, int64_t *out) {
    int rc = sqlite3_step(s), err = 0;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) != SQLITE_INTEGER)
            err = SISP_ESTORE;
        *out = sqlite3_column_int64(s, 0);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        }
    } else if (rc == SQLITE_DONE) {
        err = SISP_ENOTFOUND;
    }
    done(s);
    if (rc != SQLITE_DONE)
        return sql_err(rc);
    return err;
}

/* 1 if s (NUL-terminated) is longer than max bytes. */
static int too_long(const char *s, size_t max) {
    return s == NULL || strnlen(s, max + 1) > max;
}

static int is_blob_id(const char *s, size_t n) {
    if (n != BLOB_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* The store is usable unless a batch lost its transaction or its state is unknown: then every
 * call fails until the batch is rolled back, rather than writing outside the batch. */
static int ready(sisp_store_t *st) {
    if (st->in_batch && (st->poisoned || sqlite3_get_autocommit(st->db))) {
        st->poisoned = 1;
        return SISP_ESTORE;
    }
    return 0;
}

/* ---- reading rows: sticky SISP_ESTORE for a value that does not fit ---- */

typedef struct {
    sqlite3_stmt *s;
    int err;
} row_t;

static void get_text(row_t *r, int col, char *out, size_t cap) {
    out[0] = '\0';
    if (sqlite3_column_type(r->s, col) != SQLITE_TEXT) {
        r->err = SISP_ESTORE;
        return;
    }
    const unsigned char *t = sqlite3_column_text(r->s, col);
    int n = sqlite3_column_bytes(r->s, col);
    if (t == NULL || n < 0 || (size_t)n >= cap || memchr(t, 0, (size_t)n) != NULL) {
        r->err = SISP_ESTORE;
        return;
    }
    memcpy(out, t, (size_t)n);
    out[n] = '\0';
}

static void get_blob(row_t *r, int col, uint8_t *out, size_t cap, size_t *len) {
    *len = 0;
    if (sqlite3_column_type(r->s, col) != SQLITE_BLOB) {
        r->err = SISP_ESTORE;
        return;
    }
    const void *p = sqlite3_column_blob(r->s, col);
    int n = sqlite3_column_bytes(r->s, col);
    if (n < 0 || (size_t)n > cap || (n > 0 && p == NULL)) {
        r->err = SISP_ESTORE;
        return;
    }
    if (n > 0)
        memcpy(out, p, (size_t)n);
    *len = (size_t)n;
}

static void get_fixed(row_t *r, int col, uint8_t *out, size_t n) {
    size_t len;
    get_blob(r, col, out, n, &len);
    if (len != n)
        r->err = SISP_ESTORE;
}

static int64_t get_i64(row_t *r, int col) {
    if (sqlite3_column_type(r->s, col) != SQLITE_INTEGER) {
        r->err = SISP_ESTORE;
        return 0;
    }
    return sqlite3_column_int64(r->s, col);
}

static uint64_t get_u64(row_t *r, int col) {
    int64_t v = get_i64(r, col);
    if (v < 0) {
        r->err = SISP_ESTORE;
        return 0;
    }
    return (uint64_t)v;
}

static uint32_t get_u32(row_t *r, int col) {
    int64_t v = get_i64(r, col);
    if (v < 0 || v > UINT32_MAX) {
        r->err = SISP_ESTORE;
        return 0;
    }
    return (uint32_t)v;
}

static int get_flag(row_t *r, int col) {
    int64_t v = get_i64(r, col);
    if (v != 0 && v != 1)
        r->err = SISP_ESTORE;
    return v == 1;
}

static int read_user(sqlite3_stmt *s, sisp_user_rec_t *u) {
    row_t r = {s, 0};
    get_text(&r, 0, u->user, sizeof u->user);
    get_blob(&r, 1, u->cert, sizeof u->cert, &u->cert_len);
    u->serial = get_u64(&r, 2);
    get_fixed(&r, 3, u->x25519, sizeof u->x25519);
    get_blob(&r, 4, u->x25519_sig, sizeof u->x25519_sig, &u->x25519_sig_len);
    get_fixed(&r, 5, u->ident_pub, sizeof u->ident_pub);
    u->registered_at = get_i64(&r, 6);
    u->revoked = get_flag(&r, 7);
    return r.err;
}

static int read_group(sqlite3_stmt *s, sisp_group_rec_t *g) {
    row_t r = {s, 0};
    get_text(&r, 0, g->group, sizeof g->group);
    get_text(&r, 1, g->owner, sizeof g->owner);
    g->epoch = get_u32(&r, 2);
    g->members = get_u32(&r, 3);
    return r.err;
}

static int read_grant(sqlite3_stmt *s, sisp_grant_rec_t *g) {
    row_t r = {s, 0};
    get_text(&r, 0, g->group, sizeof g->group);
    get_text(&r, 1, g->user, sizeof g->user);
    get_text(&r, 2, g->granter, sizeof g->granter);
    g->epoch = get_u32(&r, 3);
    get_blob(&r, 4, g->wrapped, sizeof g->wrapped, &g->wrapped_len);
    get_blob(&r, 5, g->sig, sizeof g->sig, &g->sig_len);
    return r.err;
}

static int read_image(sqlite3_stmt *s, sisp_image_rec_t *img) {
    row_t r = {s, 0};
    img->id = get_u64(&r, 0);
    img->seq = get_u64(&r, 1);
    get_text(&r, 2, img->name, sizeof img->name);
    get_text(&r, 3, img->owner, sizeof img->owner);
    get_text(&r, 4, img->group, sizeof img->group);
    img->epoch = get_u32(&r, 5);
    img->size = get_u64(&r, 6);
    img->posted_at = get_i64(&r, 7);
    get_blob(&r, 8, img->manifest, sizeof img->manifest, &img->manifest_len);
    get_blob(&r, 9, img->sig, sizeof img->sig, &img->sig_len);
    get_text(&r, 10, img->blob, sizeof img->blob);
    /* The blob id becomes a path: a tampered row must not name ../anything. */
    if (!is_blob_id(img->blob, strlen(img->blob)))
        r.err = SISP_ESTORE;
    return r.err;
}

/* Steps a bound query to its first row: 0 with the row ready (read it, then done()), or
 * SISP_ENOTFOUND or an error with s already reset. */
static int first_row(sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 0;
    done(s);
    return rc == SQLITE_DONE ? SISP_ENOTFOUND : sql_err(rc);
}

/* ---- blobs a transaction renamed or deleted ---- */

/* Room for one more id in l. */
static int reserve(blob_list_t *l) {
    if (l->n < l->cap)
        return 0;
    size_t cap = l->cap ? l->cap * 2 : 16;
    void *p = realloc(l->id, cap * sizeof l->id[0]);
    if (p == NULL)
        return SISP_ENOMEM;
    l->id = p;
    l->cap = cap;
    return 0;
}

/* Unlinks the blobs renamed since index `from`: their rows were certainly rolled back. */
static void unlink_renamed(sisp_store_t *st, size_t from) {
    for (size_t i = from; i < st->renamed.n; i++)
        unlinkat(st->blobs_fd, st->renamed.id[i], 0);
    if (from < st->renamed.n)
        st->renamed.n = from;
}

/* Forgets the deletions since index `from`: their rows were rolled back. */
static void keep_doomed(sisp_store_t *st, size_t from) {
    if (from < st->doomed.n)
        st->doomed.n = from;
}

/* ---- transactions ---- */

/* Rolls back whatever transaction is open and forgets the batch. */
static void rollback_tx(sisp_store_t *st) {
    int rc = sqlite3_get_autocommit(st->db) ? 0 : run(st->s[S_ROLLBACK]);
    if (rc == 0)
        unlink_renamed(st, 0);
    st->renamed.n = 0;
    keep_doomed(st, 0);
    st->in_batch = st->in_job = st->poisoned = 0;
}

/* Commits the open transaction with stmt (COMMIT, or RELEASE of the outermost savepoint),
 * after making the renames in it durable; then removes the files of the images it deleted. */
static int commit_tx(sisp_store_t *st, int stmt) {
    if (st->renamed.n > 0 && fsync(st->blobs_fd) != 0) {
        rollback_tx(st);
        return SISP_EIO;
    }
    int rc = run(st->s[stmt]);
    if (rc != 0) {
        /* The commit record may or may not be on disk: the renamed files and those of deleted
         * images stay, and the next open keeps or removes each one by what the database
         * holds. */
        st->renamed.n = 0;
        rollback_tx(st);
        return rc;
    }
    st->renamed.n = 0;
    /* A crash before these unlinks leaves files no row names: the next open removes them. */
    for (size_t i = 0; i < st->doomed.n; i++)
        unlinkat(st->blobs_fd, st->doomed.id[i], 0);
    st->doomed.n = 0;
    return 0;
}

/* A savepoint around one function's writes. *outer = 1 if it opened the transaction. */
static int op_begin(sisp_store_t *st, int *outer) {
    *outer = sqlite3_get_autocommit(st->db) != 0;
    st->renamed.op_mark = st->renamed.n;
    st->doomed.op_mark = st->doomed.n;
    return run(st->s[S_OP_SAVE]);
}

/* Ends the savepoint: releases it if rc == 0 (a commit if outer), else rolls it back. */
static int op_end(sisp_store_t *st, int outer, int rc) {
    if (rc == 0) {
        if (outer)
            return commit_tx(st, S_OP_RELEASE);
        rc = run(st->s[S_OP_RELEASE]);
        if (rc == 0)
            return 0;
    }
    if (run(st->s[S_OP_UNDO]) == 0 && run(st->s[S_OP_RELEASE]) == 0) {
        unlink_renamed(st, st->renamed.op_mark);
        keep_doomed(st, st->doomed.op_mark);
    } else if (outer)
        rollback_tx(st);
    else
        st->poisoned = 1;
    return rc;
}

int sisp_store_batch_begin(sisp_store_t *st) {
    if (st->in_batch || !sqlite3_get_autocommit(st->db))
        return SISP_EINVAL;
    int rc = run(st->s[S_BEGIN]);
    if (rc != 0)
        return rc;
    st->in_batch = 1;
    st->in_job = st->poisoned = 0;
    st->renamed.n = 0;
    st->doomed.n = 0;
    return 0;
}

int sisp_store_batch_commit(sisp_store_t *st) {
    if (!st->in_batch)
        return SISP_EINVAL;
    if (st->in_job) { /* a job never ended: its outcome is unknown */
        rollback_tx(st);
        return SISP_EINVAL;
    }
    if (ready(st) != 0) {
        rollback_tx(st);
        return SISP_ESTORE;
    }
    st->in_batch = 0;
    return commit_tx(st, S_COMMIT);
}

void sisp_store_batch_rollback(sisp_store_t *st) {
    rollback_tx(st);
}

int sisp_store_job_begin(sisp_store_t *st) {
    if (!st->in_batch || st->in_job)
        return SISP_EINVAL;
    int rc = ready(st);
    if (rc == 0)
        rc = run(st->s[S_JOB_SAVE]);
    if (rc != 0)
        return rc;
    st->in_job = 1;
    st->renamed.job_mark = st->renamed.n;
    st->doomed.job_mark = st->doomed.n;
    return 0;
}

void sisp_store_job_end(sisp_store_t *st, int failed) {
    if (!st->in_job)
        return;
    st->in_job = 0;
    if (failed) {
        if (run(st->s[S_JOB_UNDO]) == 0) {
            unlink_renamed(st, st->renamed.job_mark);
            keep_doomed(st, st->doomed.job_mark);
        } else {
            st->poisoned = 1;
        }
    }
    if (run(st->s[S_JOB_RELEASE]) != 0)
        st->poisoned = 1;
}

/* ---- opening ---- */

static int mkdir_p(const char *path) {
    char buf[DIR_MAX + 1];
    size_t n = strlen(path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return SISP_EIO;
        buf[i] = c;
    }
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : SISP_EIO;
}

static int mkdir_one(const char *path) {
    struct stat sb;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return SISP_EIO;
    return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : SISP_EIO;
}

/* Creates the database file 0600 if it does not exist, so that SQLite (which gives the -wal
 * and -shm files the database's mode) never makes a world-readable one. */
static int create_db_file(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return errno == EEXIST ? 0 : SISP_EIO;
    int ok = fchmod(fd, 0600) == 0;
    ok &= close(fd) == 0;
    if (!ok)
        unlink(path);
    return ok ? 0 : SISP_EIO;
}

/* Runs a one-off statement whose first row's first column is text, comparing it to want
 * (case-insensitive). 0 if equal, SISP_ESTORE otherwise. */
static int pragma_is(sqlite3 *db, const char *sql, const char *want) {
    sqlite3_stmt *s = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        ok = t != NULL && sqlite3_stricmp((const char *)t, want) == 0;
    }
    sqlite3_finalize(s);
    return ok ? 0 : SISP_ESTORE;
}

static int user_version(sqlite3 *db, int *v) {
    sqlite3_stmt *s = NULL;
    int rc = SISP_ESTORE;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        *v = sqlite3_column_int(s, 0);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Brings the schema to SCHEMA_VERSION in one transaction (IMMEDIATE, so two processes
 * opening a new directory at once do not both create it). */
static int migrate(sqlite3 *db) {
    int v = 0, rc;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return SISP_ESTORE;
    rc = user_version(db, &v);
    if (rc == 0 && (v < 0 || v > SCHEMA_VERSION))
        rc = SISP_ESTORE; /* written by a newer sispd */
    for (; rc == 0 && v < SCHEMA_VERSION; v++)
        if (sqlite3_exec(db, MIGRATIONS[v], NULL, NULL, NULL) != SQLITE_OK)
            rc = SISP_ESTORE;
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = SISP_ESTORE;
    if (rc != 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int open_db(sisp_store_t *st, const char *dir) {
    char path[DIR_MAX + sizeof "/sisp.db"];
    snprintf(path, sizeof path, "%s/sisp.db", dir);
    int rc = create_db_file(path);
    if (rc != 0)
        return rc;
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                            SQLITE_OPEN_NOFOLLOW,
                        NULL) != SQLITE_OK)
        return st->db ? SISP_ESTORE : SISP_ENOMEM;
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    if (sqlite3_exec(st->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", NULL, NULL,
                     NULL) != SQLITE_OK)
        return SISP_ESTORE;
    /* Before anything writes: a damaged database is refused, not repaired or added to. */
    rc = pragma_is(st->db, "PRAGMA quick_check", "ok");
    if (rc == 0)
        rc = pragma_is(st->db, "PRAGMA journal_mode = WAL", "wal");
    if (rc == 0)
        rc = migrate(st->db);
    if (rc == 0)
        rc = pragma_is(st->db, "PRAGMA foreign_keys", "1");
    for (int i = 0; rc == 0 && i < S_COUNT; i++) {
        const char *tail = NULL;
        if (sqlite3_prepare_v3(st->db, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &st->s[i],
                               &tail) != SQLITE_OK ||
            st->s[i] == NULL || (tail != NULL && *tail != '\0'))
            rc = SISP_ESTORE;
    }
    return rc;
}

/* Deletes every non-directory entry of the directory open as dfd for which keep() is 0. */
static int sweep(sisp_store_t *st, int dfd, int (*keep)(sisp_store_t *, const char *, int *)) {
    int fd = dup(dfd);
    if (fd < 0)
        return SISP_EIO;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return SISP_EIO;
    }
    rewinddir(d);
    int rc = 0;
    struct dirent *e = NULL;
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        struct stat sb;
        int k = 0;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                rc = SISP_EIO;
            continue;
        }
        if (S_ISDIR(sb.st_mode))
            continue;
        if (keep != NULL && (rc = keep(st, e->d_name, &k)) != 0)
            break;
        if (!k && unlinkat(dfd, e->d_name, 0) != 0 && errno != ENOENT)
            rc = SISP_EIO;
    }
    if (rc == 0 && e == NULL && errno != 0)
        rc = SISP_EIO;
    closedir(d);
    return rc;
}

/* keep() for blobs/: a file stays if an image row names it. */
static int blob_referenced(sisp_store_t *st, const char *name, int *keep) {
    sqlite3_stmt *s = st->s[S_BLOB_USED];
    int64_t one;
    *keep = 0;
    if (!is_blob_id(name, strlen(name)))
        return 0;
    int rc = bind_text(s, 1, name);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    rc = query_i64(s, &one);
    if (rc == SISP_ENOTFOUND)
        return 0;
    *keep = rc == 0;
    return rc;
}

static int cleanup(sisp_store_t *st) {
    int tfd = open(st->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (tfd < 0)
        return SISP_EIO;
    int rc = sweep(st, tfd, NULL);
    close(tfd);
    if (rc == 0)
        rc = sweep(st, st->blobs_fd, blob_referenced);
    return rc;
}

int sisp_store_open(const char *dir, sisp_store_t **out) {
    *out = NULL;
    if (dir == NULL || dir[0] == '\0' || strlen(dir) > DIR_MAX)
        return SISP_EINVAL;
    sisp_store_t *st = calloc(1, sizeof *st);
    if (st == NULL)
        return SISP_ENOMEM;
    st->blobs_fd = -1;
    snprintf(st->blobs, sizeof st->blobs, "%s/blobs", dir);
    snprintf(st->tmp, sizeof st->tmp, "%s/blobs/tmp", dir);

    int rc = mkdir_p(dir);
    if (rc == 0)
        rc = mkdir_one(st->blobs);
    if (rc == 0)
        rc = mkdir_one(st->tmp);
    if (rc == 0) {
        st->blobs_fd = open(st->blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        rc = st->blobs_fd >= 0 ? 0 : SISP_EIO;
    }
    if (rc == 0)
        rc = sisp_rng_init(&st->rng);
    if (rc == 0)
        rc = open_db(st, dir);
    /* Clean up only if no other process has the store open; then share the lock with later
     * openers, which therefore leave this process's uploads alone. */
    if (rc == 0) {
        int r;
        while ((r = flock(st->blobs_fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
        }
        if (r == 0)
            rc = cleanup(st);
        else if (errno != EWOULDBLOCK)
            rc = SISP_EIO;
        while (rc == 0 && (r = flock(st->blobs_fd, LOCK_SH)) != 0)
            if (errno != EINTR)
                rc = SISP_EIO;
    }
    if (rc != 0) {
        sisp_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void sisp_store_close(sisp_store_t *st) {
    if (st == NULL)
        return;
    if (st->db != NULL) {
        if (st->s[S_ROLLBACK] != NULL)
            rollback_tx(st); /* an unfinished batch */
        for (int i = 0; i < S_COUNT; i++)
            sqlite3_finalize(st->s[i]);
        sqlite3_close(st->db);
    }
    if (st->blobs_fd >= 0)
        close(st->blobs_fd); /* releases the flock */
    sisp_rng_free(&st->rng);
    free(st->renamed.id);
    free(st->doomed.id);
    free(st);
}

/* ---- users ---- */

int sisp_store_next_serial(sisp_store_t *st, uint64_t *serial) {
    int64_t v = 0;
    int rc = ready(st);
    if (rc == 0)
        rc = query_i64(st->s[S_NEXT_SERIAL], &v);
    if (rc == SISP_ENOTFOUND || (rc == 0 && v < FIRST_SERIAL))
        rc = SISP_ESTORE;
    *serial = rc == 0 ? (uint64_t)v : 0;
    return rc;
}

int sisp_store_user_add(sisp_store_t *st, const sisp_user_rec_t *u) {
    if (too_long(u->user, SISP_USERNAME_MAX) || u->cert_len > sizeof u->cert ||
        u->x25519_sig_len > sizeof u->x25519_sig)
        return SISP_EINVAL;
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_USER_ADD];
    int64_t at = u->registered_at ? u->registered_at : (int64_t)time(NULL);
    rc = bind_text(s, 1, u->user);
    if (rc == SQLITE_OK)
        rc = bind_blob(s, 2, u->cert, u->cert_len);
    if (rc == SQLITE_OK)
        rc = bind_u64(s, 3, u->serial);
    if (rc == SQLITE_OK)
        rc = bind_blob(s, 4, u->x25519, sizeof u->x25519);
    if (rc == SQLITE_OK)
        rc = bind_blob(s, 5, u->x25519_sig, u->x25519_sig_len);
    if (rc == SQLITE_OK)
        rc = bind_blob(s, 6, u->ident_pub, sizeof u->ident_pub);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 7, at);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 8, u->revoked ? 1 : 0);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run(s);
}

int sisp_store_user_get(sisp_store_t *st, const char *user, sisp_user_rec_t *out) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_USER_GET];
    if ((rc = bind_text(s, 1, user)) != SQLITE_OK)
        return bind_fail(s, rc);
    if ((rc = first_row(s)) == 0) {
        rc = read_user(s, out);
        done(s);
    }
    return rc;
}

int sisp_store_user_count(sisp_store_t *st, uint64_t *n) {
    int64_t v = 0;
    int rc = ready(st);
    if (rc == 0)
        rc = query_i64(st->s[S_USER_COUNT], &v);
    if (rc == SISP_ENOTFOUND || (rc == 0 && v < 0))
        rc = SISP_ESTORE;
    *n = rc == 0 ? (uint64_t)v : 0;
    return rc;
}

int sisp_store_users(sisp_store_t *st, void (*cb)(void *arg, const sisp_user_rec_t *u), void *arg) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sisp_user_rec_t *u = malloc(sizeof *u);
    if (u == NULL)
        return SISP_ENOMEM;
    sqlite3_stmt *s = st->s[S_USERS];
    int err = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && (err = read_user(s, u)) == 0)
        cb(arg, u);
    done(s);
    free(u);
    return err ? err : rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int sisp_store_user_revoke(sisp_store_t *st, const char *user) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_USER_REVOKE];
    if ((rc = bind_text(s, 1, user)) != SQLITE_OK)
        return bind_fail(s, rc);
    return run_changing(st, s);
}

int sisp_store_serial_revoked(sisp_store_t *st, uint64_t serial) {
    int64_t v = 0;
    int rc = ready(st);
    if (rc != 0)
        return rc;
    if (serial > INT64_MAX)
        return 0; /* never issued: user_add refuses it */
    sqlite3_stmt *s = st->s[S_SERIAL_REVOKED];
    if ((rc = bind_u64(s, 1, serial)) != SQLITE_OK)
        return bind_fail(s, rc);
    rc = query_i64(s, &v);
    if (rc == SISP_ENOTFOUND)
        return 0;
    return rc != 0 ? rc : v != 0;
}

int sisp_store_revoked_serials(sisp_store_t *st, void (*cb)(void *arg, uint64_t serial),
                               void *arg) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_REVOKED_SERIALS];
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cb(arg, (uint64_t)sqlite3_column_int64(s, 0));
    done(s);
    return rc == SQLITE_DONE ? 0 : sql_err(rc);
}

/* ---- invites ---- */

int sisp_store_invite_add(sisp_store_t *st, const char *code, int64_t expires_at) {
    if (too_long(code, SISP_INVITE_MAX))
        return SISP_EINVAL;
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_INVITE_ADD];
    rc = bind_text(s, 1, code);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 2, expires_at);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run(s);
}

int sisp_store_invite_use(sisp_store_t *st, const char *code, int64_t now) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_INVITE_USE];
    rc = bind_text(s, 1, code);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 2, now);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    rc = run(s);
    if (rc == 0 && sqlite3_changes(st->db) != 1)
        rc = SISP_EINVITE;
    return rc;
}

/* ---- groups and members ---- */

static int add_member(sisp_store_t *st, const char *group, const char *user, int pending) {
    sqlite3_stmt *s = st->s[S_MEMBER_ADD];
    int rc = bind_pair(s, group, user);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 3, pending ? 1 : 0);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run(s);
}

int sisp_store_group_create(sisp_store_t *st, const char *group, const char *owner,
                            uint32_t epoch) {
    if (too_long(group, SISP_GROUPNAME_MAX) || too_long(owner, SISP_USERNAME_MAX))
        return SISP_EINVAL;
    int outer, rc = ready(st);
    if (rc != 0 || (rc = op_begin(st, &outer)) != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_GROUP_ADD];
    rc = bind_pair(s, group, owner);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 3, epoch);
    rc = rc == SQLITE_OK ? run(s) : bind_fail(s, rc);
    if (rc == 0)
        rc = add_member(st, group, owner, 0);
    return op_end(st, outer, rc);
}

int sisp_store_group_get(sisp_store_t *st, const char *group, sisp_group_rec_t *out) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_GROUP_GET];
    if ((rc = bind_text(s, 1, group)) != SQLITE_OK)
        return bind_fail(s, rc);
    if ((rc = first_row(s)) == 0) {
        rc = read_group(s, out);
        done(s);
    }
    return rc;
}

int sisp_store_group_set_epoch(sisp_store_t *st, const char *group, uint32_t epoch) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_GROUP_SET_EPOCH];
    rc = bind_text(s, 1, group);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 2, epoch);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run_changing(st, s);
}

int sisp_store_member_add(sisp_store_t *st, const char *group, const char *user, int pending) {
    int rc = ready(st);
    return rc != 0 ? rc : add_member(st, group, user, pending);
}

int sisp_store_member_set_pending(sisp_store_t *st, const char *group, const char *user,
                                  int pending) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_MEMBER_SET_PENDING];
    rc = bind_pair(s, group, user);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 3, pending ? 1 : 0);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run_changing(st, s);
}

int sisp_store_member_remove(sisp_store_t *st, const char *group, const char *user) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_MEMBER_REMOVE];
    rc = bind_pair(s, group, user);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run_changing(st, s);
}

int sisp_store_is_member(sisp_store_t *st, const char *group, const char *user, int *pending) {
    int64_t v = 0;
    int rc = ready(st);
    if (pending != NULL)
        *pending = 0;
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_MEMBER_GET];
    rc = bind_pair(s, group, user);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    rc = query_i64(s, &v);
    if (rc == SISP_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v != 0 && v != 1)
        return SISP_ESTORE;
    if (pending != NULL)
        *pending = (int)v;
    return 1;
}

int sisp_store_members(sisp_store_t *st, const char *group,
                       void (*cb)(void *arg, const char *user, int pending), void *arg) {
    return sisp_store_members_page(st, group, NULL, 0, cb, arg);
}

int sisp_store_members_page(sisp_store_t *st, const char *group, const char *after, uint32_t limit,
                            void (*cb)(void *arg, const char *user, int pending), void *arg) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    int paged = after != NULL || limit != 0;
    sqlite3_stmt *s = st->s[paged ? S_MEMBERS_PAGE : S_MEMBERS];
    rc = bind_text(s, 1, group);
    if (rc == SQLITE_OK && paged)
        rc = bind_text(s, 2, after ? after : "");
    if (rc == SQLITE_OK && paged)
        rc = bind_i64(s, 3, limit ? (int64_t)limit : -1);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    row_t r = {s, 0};
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char user[SISP_USERNAME_MAX + 1];
        get_text(&r, 0, user, sizeof user);
        int pending = get_flag(&r, 1);
        if (r.err != 0)
            break;
        cb(arg, user, pending);
    }
    done(s);
    return r.err ? r.err : rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int sisp_store_groups_of(sisp_store_t *st, const char *user,
                         void (*cb)(void *arg, const sisp_group_rec_t *g), void *arg) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_GROUPS_OF];
    if ((rc = bind_text(s, 1, user)) != SQLITE_OK)
        return bind_fail(s, rc);
    sisp_group_rec_t g;
    int err = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && (err = read_group(s, &g)) == 0)
        cb(arg, &g);
    done(s);
    return err ? err : rc == SQLITE_DONE ? 0 : sql_err(rc);
}

/* ---- grants ---- */

int sisp_store_grant_put(sisp_store_t *st, const sisp_grant_rec_t *g) {
    if (g->epoch == 0 || g->wrapped_len > sizeof g->wrapped || g->sig_len > sizeof g->sig ||
        too_long(g->group, SISP_GROUPNAME_MAX) || too_long(g->user, SISP_USERNAME_MAX) ||
        too_long(g->granter, SISP_USERNAME_MAX))
        return SISP_EINVAL;
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_GRANT_PUT];
    rc = bind_pair(s, g->group, g->user);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, g->granter);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 4, g->epoch);
    if (rc == SQLITE_OK)
        rc = bind_blob(s, 5, g->wrapped, g->wrapped_len);
    if (rc == SQLITE_OK)
        rc = bind_blob(s, 6, g->sig, g->sig_len);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run(s);
}

int sisp_store_grants(sisp_store_t *st, const char *group, const char *user, uint32_t epoch,
                      void (*cb)(void *arg, const sisp_grant_rec_t *g), void *arg) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[epoch == 0 ? S_GRANTS_ALL : S_GRANTS_ONE];
    rc = bind_pair(s, group, user);
    if (rc == SQLITE_OK && epoch != 0)
        rc = bind_i64(s, 3, epoch);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    sisp_grant_rec_t *g = malloc(sizeof *g);
    if (g == NULL) {
        done(s);
        return SISP_ENOMEM;
    }
    int err = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && (err = read_grant(s, g)) == 0)
        cb(arg, g);
    done(s);
    free(g);
    return err ? err : rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int sisp_store_grants_drop(sisp_store_t *st, const char *group, const char *user) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_GRANTS_DROP];
    rc = bind_pair(s, group, user);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run(s);
}

/* ---- blobs and images ---- */

static void blob_clear(sisp_blob_t *b) {
    b->fd = -1;
    b->tmp_path[0] = '\0';
}

int sisp_store_blob_create(sisp_store_t *st, sisp_blob_t *b) {
    static const char hex[] = "0123456789abcdef";
    memset(b, 0, sizeof *b);
    blob_clear(b);
    for (int attempt = 0; attempt < 4; attempt++) {
        uint8_t raw[BLOB_ID_LEN / 2];
        int rc = sisp_rng_bytes(&st->rng, raw, sizeof raw);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < sizeof raw; i++) {
            b->id[2 * i] = hex[raw[i] >> 4];
            b->id[2 * i + 1] = hex[raw[i] & 15];
        }
        b->id[BLOB_ID_LEN] = '\0';
        snprintf(b->tmp_path, sizeof b->tmp_path, "%s/%s.part", st->tmp, b->id);
        snprintf(b->final_path, sizeof b->final_path, "%s/%s", st->blobs, b->id);
        int fd = open(b->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            break;
        /* open's mode is masked by the umask; the file must be exactly 0600 */
        if (fchmod(fd, 0600) != 0) {
            close(fd);
            unlink(b->tmp_path);
            break;
        }
        b->fd = fd;
        return 0;
    }
    blob_clear(b);
    return SISP_EIO;
}

void sisp_store_blob_abort(sisp_store_t *st, sisp_blob_t *b) {
    (void)st;
    if (b->fd >= 0)
        close(b->fd);
    if (b->tmp_path[0] != '\0')
        unlink(b->tmp_path);
    blob_clear(b);
}

void sisp_store_blob_path(const sisp_store_t *st, const char *blob, char *out, size_t out_size) {
    if (out_size == 0)
        return;
    out[0] = '\0';
    if (blob == NULL || !is_blob_id(blob, strnlen(blob, BLOB_ID_LEN + 1)))
        return;
    if ((size_t)snprintf(out, out_size, "%s/%s", st->blobs, blob) >= out_size)
        out[0] = '\0';
}

/* fsync, close and rename the temp file into blobs/, recording the rename. b is spent. */
static int blob_finish(sisp_store_t *st, sisp_blob_t *b, uint64_t size) {
    struct stat sb;
    int rc = 0;
    if (fstat(b->fd, &sb) != 0)
        rc = SISP_EIO;
    else if (sb.st_size < 0 || (uint64_t)sb.st_size != size)
        rc = SISP_ESIZE;
    else if (fsync(b->fd) != 0)
        rc = SISP_EIO;
    int fd = b->fd;
    b->fd = -1;
    if (close(fd) != 0 && rc == 0)
        rc = SISP_EIO;
    if (rc == 0 && rename(b->tmp_path, b->final_path) != 0)
        rc = SISP_EIO;
    if (rc != 0) {
        sisp_store_blob_abort(st, b);
        return rc;
    }
    memcpy(st->renamed.id[st->renamed.n++], b->id, BLOB_ID_LEN + 1);
    blob_clear(b);
    return 0;
}

static int insert_image(sisp_store_t *st, const char *blob, sisp_image_rec_t *img) {
    int64_t seq = 0, now = (int64_t)time(NULL);
    int rc = query_i64(st->s[S_NEXT_SEQ], &seq);
    if (rc != 0)
        return rc == SISP_ENOTFOUND ? SISP_ESTORE : rc;
    sqlite3_stmt *s = st->s[S_IMAGE_ADD];
    rc = bind_i64(s, 1, seq);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, img->name);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, img->owner);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 4, img->group);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 5, img->epoch);
    if (rc == SQLITE_OK)
        rc = bind_u64(s, 6, img->size);
    if (rc == SQLITE_OK)
        rc = bind_i64(s, 7, now);
    if (rc == SQLITE_OK)
        rc = bind_blob(s, 8, img->manifest, img->manifest_len);
    if (rc == SQLITE_OK)
        rc = bind_blob(s, 9, img->sig, img->sig_len);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 10, blob);
    rc = rc == SQLITE_OK ? run(s) : bind_fail(s, rc);
    if (rc != 0)
        return rc;
    img->id = (uint64_t)sqlite3_last_insert_rowid(st->db);
    img->seq = (uint64_t)seq;
    img->posted_at = now;
    memcpy(img->blob, blob, BLOB_ID_LEN + 1);
    return 0;
}

int sisp_store_image_commit(sisp_store_t *st, sisp_blob_t *b, sisp_image_rec_t *img) {
    char blob[BLOB_ID_LEN + 1];
    int outer = 0, rc = 0;
    if (b->fd < 0 || !is_blob_id(b->id, strnlen(b->id, sizeof b->id)) ||
        too_long(img->name, SISP_IMAGENAME_MAX) || too_long(img->owner, SISP_USERNAME_MAX) ||
        too_long(img->group, SISP_GROUPNAME_MAX) || img->size > INT64_MAX ||
        img->manifest_len > sizeof img->manifest || img->sig_len > sizeof img->sig)
        rc = SISP_EINVAL;
    if (rc == 0)
        rc = ready(st);
    if (rc == 0)
        rc = reserve(&st->renamed);
    if (rc == 0)
        rc = op_begin(st, &outer);
    if (rc != 0) {
        sisp_store_blob_abort(st, b);
        return rc;
    }
    memcpy(blob, b->id, sizeof blob);
    rc = blob_finish(st, b, img->size);
    if (rc == 0)
        rc = insert_image(st, blob, img);
    return op_end(st, outer, rc);
}

int sisp_store_image_get(sisp_store_t *st, uint64_t id, const char *group, const char *name,
                         const char *user, sisp_image_rec_t *out) {
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s;
    if (id != 0) {
        s = st->s[S_IMAGE_BY_ID];
        rc = bind_u64(s, 1, id);
        if (rc == SQLITE_TOOBIG) {
            done(s);
            return SISP_ENOTFOUND;
        }
    } else if (name == NULL) {
        return SISP_EINVAL;
    } else if (group != NULL && group[0] != '\0') {
        s = st->s[S_IMAGE_BY_NAME];
        rc = bind_pair(s, group, name);
    } else {
        if (user == NULL || user[0] == '\0')
            return SISP_ENOTFOUND;
        s = st->s[S_IMAGE_NEWEST];
        rc = bind_pair(s, name, user);
    }
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    if ((rc = first_row(s)) == 0) {
        rc = read_image(s, out);
        done(s);
    }
    return rc;
}

int sisp_store_image_delete(sisp_store_t *st, const char *group, const char *name,
                            const char *owner, sisp_image_rec_t *out) {
    if (group == NULL || name == NULL || owner == NULL || too_long(group, SISP_GROUPNAME_MAX) ||
        too_long(name, SISP_IMAGENAME_MAX))
        return SISP_EINVAL;
    int outer = 0, rc = ready(st);
    if (rc == 0)
        rc = reserve(&st->doomed);
    if (rc == 0)
        rc = op_begin(st, &outer);
    if (rc != 0)
        return rc;
    rc = sisp_store_image_get(st, 0, group, name, NULL, out);
    if (rc == 0 && strcmp(out->owner, owner) != 0)
        rc = SISP_EPERM;
    if (rc == 0) {
        sqlite3_stmt *s = st->s[S_IMAGE_DEL];
        rc = bind_u64(s, 1, out->id);
        rc = rc == SQLITE_OK ? run_changing(st, s) : bind_fail(s, rc);
    }
    if (rc == 0)
        memcpy(st->doomed.id[st->doomed.n++], out->blob, BLOB_ID_LEN + 1);
    return op_end(st, outer, rc);
}

int sisp_store_images(sisp_store_t *st, const char *user, const char *group, uint64_t since,
                      uint32_t limit, void (*cb)(void *arg, const sisp_image_rec_t *img), void *arg,
                      int *more) {
    if (more != NULL)
        *more = 0;
    int rc = ready(st);
    if (rc != 0)
        return rc;
    if (limit == 0)
        limit = SISP_LIST_PAGE_MAX;
    if (since > INT64_MAX)
        return 0; /* no seq is that large */
    int by_group = group != NULL && group[0] != '\0';
    sqlite3_stmt *s = st->s[by_group ? S_IMAGES_GROUP : S_IMAGES_ALL];
    rc = bind_text(s, 1, user);
    if (rc == SQLITE_OK)
        rc = bind_u64(s, 2, since);
    if (rc == SQLITE_OK) /* one more than asked: tells whether another page follows */
        rc = bind_i64(s, 3, (int64_t)limit + 1);
    if (rc == SQLITE_OK && by_group)
        rc = bind_text(s, 4, group);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    sisp_image_rec_t *img = malloc(sizeof *img);
    if (img == NULL) {
        done(s);
        return SISP_ENOMEM;
    }
    uint32_t n = 0;
    int err = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == limit) {
            if (more != NULL)
                *more = 1;
            continue;
        }
        if ((err = read_image(s, img)) != 0)
            break;
        cb(arg, img);
        n++;
    }
    done(s);
    free(img);
    return err ? err : rc == SQLITE_DONE ? 0 : sql_err(rc);
}

int sisp_store_usage(sisp_store_t *st, const char *owner, uint64_t *bytes) {
    int64_t v = 0;
    *bytes = 0;
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_USAGE];
    if ((rc = bind_text(s, 1, owner)) != SQLITE_OK)
        return bind_fail(s, rc);
    rc = query_i64(s, &v);
    if (rc == SISP_ENOTFOUND || (rc == 0 && v < 0))
        rc = SISP_ESTORE;
    if (rc == 0)
        *bytes = (uint64_t)v;
    return rc;
}

uint64_t sisp_store_last_seq(sisp_store_t *st) {
    int64_t v = 0;
    if (ready(st) != 0 || query_i64(st->s[S_LAST_SEQ], &v) != 0 || v < 0)
        return 0;
    return (uint64_t)v;
}

/* ---- audit ---- */

int sisp_store_audit(sisp_store_t *st, const char *actor, const char *event, const char *detail) {
    if (event == NULL)
        return SISP_EINVAL;
    int rc = ready(st);
    if (rc != 0)
        return rc;
    sqlite3_stmt *s = st->s[S_AUDIT];
    rc = bind_i64(s, 1, (int64_t)time(NULL));
    if (rc == SQLITE_OK)
        rc = bind_text(s, 2, actor);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 3, event);
    if (rc == SQLITE_OK)
        rc = bind_text(s, 4, detail);
    if (rc != SQLITE_OK)
        return bind_fail(s, rc);
    return run(s);
}
