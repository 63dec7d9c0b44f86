/* The store thread: runs STORE jobs in batches (one transaction, one savepoint per job, one
 * COMMIT and one directory fsync per batch: group commit), FILE jobs on libuv's thread pool,
 * and hands every finished job back to the loop. */
#ifndef SISP_WORKER_H
#define SISP_WORKER_H

#include "server.h"

#include <uv.h>

typedef struct sisp_worker sisp_worker_t;

int sisp_worker_start(uv_loop_t *loop, sisp_store_t *st, sisp_worker_t **out);
void sisp_worker_submit(sisp_worker_t *w, sisp_job_t *job);
/* Finishes every queued store job, joins the thread and closes its handle; the loop must run
 * for the close to complete. Store jobs the last callbacks submit run at once; FILE jobs still
 * on the thread pool come back later, and the last of them frees the worker. */
void sisp_worker_stop(sisp_worker_t *w);
/* Jobs submitted and not yet handed back (for shutdown). */
size_t sisp_worker_pending(const sisp_worker_t *w);

#endif
