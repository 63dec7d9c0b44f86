/* What a session needs from the server around it: configuration, the CA, and a way to run
 * blocking work and reach other connections. The libuv glue (conn.c, worker.c) provides the
 * real thing; tests and the session fuzzer provide a synchronous one over a real store. */
#ifndef SISP_SERVER_H
#define SISP_SERVER_H

#include "ca.h"
#include "store.h"

#include <sisp/buf.h>
#include <sisp/frame.h>

#include <stdint.h>

typedef struct {
    int registration;          /* SISP_REG_OPEN or SISP_REG_INVITE */
    uint64_t quota_bytes;      /* per user, ciphertext */
    uint64_t max_image_bytes;  /* per image, ciphertext */
    unsigned cert_days;        /* validity of issued user certificates */
    unsigned register_per_min; /* REGISTER attempts per source address per minute */
    /* Pushes (bytes, and count) a connection may have queued and not yet sent; one more and
     * it is dropped (sisp_session_push). */
    size_t push_queue_bytes;
    size_t push_queue_count;
    uint32_t chunk;  /* DATA bytes per frame the server sends (at most; the client's limit) */
    int read_cached; /* downloads read cached pages on the loop (RWF_NOWAIT), jobs the rest */
} sisp_server_cfg_t;

void sisp_server_cfg_default(sisp_server_cfg_t *cfg);

/* Blocking work. run() executes off the event loop (STORE jobs on the store thread, batched
 * into one transaction per batch and wrapped in a savepoint each; FILE jobs on the thread
 * pool); done() then runs on the loop. */
typedef struct sisp_job sisp_job_t;
struct sisp_job {
    enum { SISP_JOB_STORE, SISP_JOB_FILE } kind;
    void (*run)(sisp_job_t *job, sisp_store_t *st);
    void (*done)(sisp_job_t *job);
    int rc;            /* set by run() */
    int commit_failed; /* set by the store thread if the batch's COMMIT failed */
    sisp_job_t *next;  /* the queue's */
};

typedef struct sisp_env sisp_env_t;
struct sisp_env {
    sisp_server_cfg_t cfg;
    sisp_ca_t *ca;       /* used by REGISTER jobs on the store thread */
    sisp_store_t *store; /* for blob paths only on the loop; everything else through jobs */
    void (*submit)(sisp_env_t *env, sisp_job_t *job);
    /* Sends an encoded frame to every connection of every member of group (skip_conn: none). */
    void (*notify_group)(sisp_env_t *env, const char *group, const uint8_t *frame, size_t len);
    /* The same, with the members already listed (sorted here) by a job on the store thread. */
    void (*notify_members)(sisp_env_t *env, const char *group, sisp_members_t *members,
                           const uint8_t *frame, size_t len);
    /* Sends an encoded frame to every connection of user. */
    void (*notify_user)(sisp_env_t *env, const char *user, const uint8_t *frame, size_t len);
    /* 1 if another REGISTER from this address is allowed now. */
    int (*register_allowed)(sisp_env_t *env, const char *addr);
    int64_t (*now)(sisp_env_t *env);
    /* The session has new output, or wants to close: called after a job completes. */
    void (*wake)(sisp_env_t *env, void *owner);
    void *data; /* the glue's */
};

#endif
