/* The decode worker: request slot under a mutex, results handed over owned. See
 * sisp/loader.h. */
#include "sisp/loader.h"

#include "readfile.h"
#include "sisp/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct sisp_loader {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *pending; /* owned; NULL when no request waits */
    uint64_t pending_gen;
    int stop;
    pthread_t thread;
    sisp_decode_limits_t limits;
    sisp_loader_cb cb;
    void *ud;
};

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* 1 if a newer request is waiting, so the current one is no longer wanted. */
static int superseded(sisp_loader_t *ld) {
    int r;
    if (!ld)
        return 0;
    pthread_mutex_lock(&ld->mu);
    r = ld->pending != NULL || ld->stop;
    pthread_mutex_unlock(&ld->mu);
    return r;
}

static int load(sisp_loader_t *ld, const char *path, const sisp_decode_limits_t *lim,
                sisp_load_result_t *res) {
    uint8_t *data = NULL;
    size_t len = 0;
    int err;

    err = sisp__file_read(path, lim->max_input_bytes, &data, &len, &res->sys_err);
    if (err == SISP_ETOOBIG)
        err = SISP_EIMGTOOBIG;
    res->file_size = len;
    if (err == 0 && superseded(ld))
        err = SISP_ECANCELED;
    if (err == 0)
        err = len == 0 ? SISP_EIMGTRUNC : sisp_image_decode(data, len, lim, &res->image);
    free(data);
    res->err = err;
    if (err != SISP_ECANCELED)
        res->info_err = sisp_info_load(path, &res->info);
    return err;
}

static void result_init(sisp_load_result_t *res) {
    memset(res, 0, sizeof(*res));
    res->info.verified = SISP_INFO_VERIFIED_ABSENT;
    res->info_err = SISP_ENOTFOUND;
}

int sisp_load_file(const char *path, const sisp_decode_limits_t *lim, sisp_load_result_t *res) {
    sisp_decode_limits_t def;
    result_init(res);
    if (!lim) {
        sisp_decode_limits_default(&def);
        lim = &def;
    }
    return load(NULL, path, lim, res);
}

void sisp_load_result_free(sisp_load_result_t *res) {
    if (!res)
        return;
    sisp_image_free(&res->image);
    free(res->path);
    free(res);
}

static void *worker_main(void *arg) {
    sisp_loader_t *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        sisp_load_result_t *res;
        char *path;
        uint64_t gen;

        while (!ld->stop && !ld->pending)
            pthread_cond_wait(&ld->cv, &ld->mu);
        if (ld->stop)
            break;
        path = ld->pending;
        gen = ld->pending_gen;
        ld->pending = NULL;
        pthread_mutex_unlock(&ld->mu);

        res = malloc(sizeof(*res));
        if (res) {
            result_init(res);
            res->generation = gen;
            res->path = path;
            path = NULL;
            if (load(ld, res->path, &ld->limits, res) == SISP_ECANCELED)
                sisp_load_result_free(res);
            else
                ld->cb(ld->ud, res);
        }
        free(path);
        pthread_mutex_lock(&ld->mu);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

int sisp_loader_start(sisp_loader_t **out, const sisp_decode_limits_t *lim, sisp_loader_cb cb,
                      void *ud) {
    sisp_loader_t *ld = calloc(1, sizeof(*ld));
    *out = NULL;
    if (!ld)
        return SISP_ENOMEM;
    if (lim)
        ld->limits = *lim;
    else
        sisp_decode_limits_default(&ld->limits);
    ld->cb = cb;
    ld->ud = ud;
    if (pthread_mutex_init(&ld->mu, NULL) != 0) {
        free(ld);
        return SISP_EIO;
    }
    if (pthread_cond_init(&ld->cv, NULL) != 0) {
        pthread_mutex_destroy(&ld->mu);
        free(ld);
        return SISP_EIO;
    }
    if (pthread_create(&ld->thread, NULL, worker_main, ld) != 0) {
        pthread_cond_destroy(&ld->cv);
        pthread_mutex_destroy(&ld->mu);
        free(ld);
        return SISP_EIO;
    }
    *out = ld;
    return 0;
}

int sisp_loader_request(sisp_loader_t *ld, const char *path, uint64_t generation) {
    char *copy = dup_str(path);
    if (!copy)
        return SISP_ENOMEM;
    pthread_mutex_lock(&ld->mu);
    free(ld->pending);
    ld->pending = copy;
    ld->pending_gen = generation;
    pthread_cond_signal(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    return 0;
}

void sisp_loader_stop(sisp_loader_t *ld) {
    if (!ld)
        return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    pthread_cond_signal(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->thread, NULL);
    free(ld->pending);
    pthread_cond_destroy(&ld->cv);
    pthread_mutex_destroy(&ld->mu);
    free(ld);
}
