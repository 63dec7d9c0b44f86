#include "worker.h"
#include "log.h"

#include <sisp/error.h>

#include <stdlib.h>

struct sisp_worker {
    uv_loop_t *loop;
    sisp_store_t *st;
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_async_t async;
    sisp_job_t *todo, *todo_tail; /* guarded by mu */
    sisp_job_t *done, *done_tail; /* guarded by mu */
    int stop;                     /* guarded by mu */
    size_t pending;               /* loop thread only */
    int joined;                   /* the store thread is gone: store jobs run inline */
    int closed;                   /* the async handle is closed: free once pending is 0 */
};

typedef struct {
    uv_work_t req;
    sisp_worker_t *w;
    sisp_job_t *job;
} file_work_t;

static void append(sisp_job_t **head, sisp_job_t **tail, sisp_job_t *j) {
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void store_thread(void *arg) {
    sisp_worker_t *w = arg;
    for (;;) {
        uv_mutex_lock(&w->mu);
        while (w->todo == NULL && !w->stop)
            uv_cond_wait(&w->cv, &w->mu);
        sisp_job_t *batch = w->todo;
        w->todo = w->todo_tail = NULL;
        int stop = w->stop;
        uv_mutex_unlock(&w->mu);
        if (batch == NULL && stop)
            return;

        /* Everything queued while the last batch ran goes into this one. */
        int rc = sisp_store_batch_begin(w->st);
        for (sisp_job_t *j = batch; j; j = j->next) {
            j->commit_failed = 0;
            if (rc != 0) {
                j->rc = rc;
                j->commit_failed = 1;
                continue;
            }
            if (sisp_store_job_begin(w->st) != 0) {
                j->rc = SISP_ESTORE;
                j->commit_failed = 1;
                continue;
            }
            j->run(j, w->st);
            sisp_store_job_end(w->st, j->rc != 0);
        }
        if (rc == 0 && (rc = sisp_store_batch_commit(w->st)) != 0) {
            sisp_log(SISP_LOG_ERROR, "store: batch commit failed: %s", sisp_strerror(rc));
            sisp_store_batch_rollback(w->st);
            for (sisp_job_t *j = batch; j; j = j->next) {
                j->rc = SISP_ESTORE;
                j->commit_failed = 1;
            }
        }
        uv_mutex_lock(&w->mu);
        for (sisp_job_t *j = batch, *next; j; j = next) {
            next = j->next;
            append(&w->done, &w->done_tail, j);
        }
        uv_mutex_unlock(&w->mu);
        uv_async_send(&w->async);
    }
}

static void on_async(uv_async_t *a) {
    sisp_worker_t *w = a->data;
    uv_mutex_lock(&w->mu);
    sisp_job_t *list = w->done;
    w->done = w->done_tail = NULL;
    uv_mutex_unlock(&w->mu);
    for (sisp_job_t *j = list, *next; j; j = next) {
        next = j->next;
        w->pending--;
        j->done(j);
    }
}

static void file_run(uv_work_t *req) {
    file_work_t *fw = req->data;
    fw->job->commit_failed = 0;
    fw->job->run(fw->job, fw->w->st);
}

static void worker_free(sisp_worker_t *w) {
    uv_mutex_destroy(&w->mu);
    uv_cond_destroy(&w->cv);
    free(w);
}

static void file_after(uv_work_t *req, int status) {
    file_work_t *fw = req->data;
    sisp_worker_t *w = fw->w;
    sisp_job_t *job = fw->job;
    free(fw);
    if (status != 0)
        job->rc = SISP_ECANCELED;
    job->done(job);
    /* A file job may outlive sisp_worker_stop (an upload's write at shutdown): the last one
     * back frees the worker. */
    if (--w->pending == 0 && w->closed)
        worker_free(w);
}

int sisp_worker_start(uv_loop_t *loop, sisp_store_t *st, sisp_worker_t **out) {
    sisp_worker_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return SISP_ENOMEM;
    w->loop = loop;
    w->st = st;
    if (uv_mutex_init(&w->mu) != 0 || uv_cond_init(&w->cv) != 0 ||
        uv_async_init(loop, &w->async, on_async) != 0) {
        free(w);
        return SISP_EINTERNAL;
    }
    w->async.data = w;
    if (uv_thread_create(&w->thread, store_thread, w) != 0) {
        uv_close((uv_handle_t *)&w->async, NULL);
        return SISP_EINTERNAL;
    }
    *out = w;
    return 0;
}

void sisp_worker_submit(sisp_worker_t *w, sisp_job_t *job) {
    if (w->joined && job->kind != SISP_JOB_FILE) {
        /* Stopping: a job submitted by the last done() callbacks (a post's fan-out) would wait
         * for a store thread that is gone. Run it here, as the server does once stopped. */
        job->commit_failed = 0;
        job->run(job, w->st);
        job->done(job);
        return;
    }
    w->pending++;
    if (job->kind == SISP_JOB_FILE) {
        file_work_t *fw = malloc(sizeof *fw);
        if (fw != NULL) {
            fw->w = w;
            fw->job = job;
            fw->req.data = fw;
            if (uv_queue_work(w->loop, &fw->req, file_run, file_after) == 0)
                return;
            free(fw);
        }
        /* Could not queue: run it here rather than lose it. */
        job->run(job, w->st);
        w->pending--;
        job->done(job);
        return;
    }
    uv_mutex_lock(&w->mu);
    append(&w->todo, &w->todo_tail, job);
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
}

size_t sisp_worker_pending(const sisp_worker_t *w) {
    return w->pending;
}

static void on_async_closed(uv_handle_t *h) {
    sisp_worker_t *w = h->data;
    w->closed = 1;
    if (w->pending == 0)
        worker_free(w);
}

void sisp_worker_stop(sisp_worker_t *w) {
    uv_mutex_lock(&w->mu);
    w->stop = 1;
    uv_cond_signal(&w->cv);
    uv_mutex_unlock(&w->mu);
    uv_thread_join(&w->thread);
    w->joined = 1;
    on_async(&w->async); /* hand back what the last batch finished */
    uv_close((uv_handle_t *)&w->async, on_async_closed);
}
