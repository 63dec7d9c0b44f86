/* Loading images off the UI thread: one worker thread reads a file (size-capped), decodes
 * it with sisp_image_decode and reads its FILE.info sidecar. Requests carry a generation
 * number; a newer request replaces a pending one, and a result whose request was
 * superseded while it was being read is dropped before decoding. Each result is handed,
 * owned, to a callback on the worker thread, which passes it on (sisp-view: SDL_PushEvent)
 * and never shares it: the worker keeps no pointer to it. The request slot is guarded by a
 * mutex and condition variable. */
#ifndef SISP_LOADER_H
#define SISP_LOADER_H

#include "sisp/decode.h"
#include "sisp/info.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t generation; /* the request's */
    char *path;          /* owned copy of the requested path */
    int err;             /* 0, or SISP_E* from reading or decoding the file */
    int sys_err;         /* the errno behind SISP_EIO, else 0 */
    sisp_image_t image;  /* owned when err == 0 */
    uint64_t file_size;  /* bytes read */
    int info_err;        /* sisp_info_load's result (SISP_ENOTFOUND: no sidecar) */
    sisp_info_t info;
} sisp_load_result_t;

typedef struct sisp_loader sisp_loader_t;

/* Receives each result on the worker thread and owns it from then on. */
typedef void (*sisp_loader_cb)(void *ud, sisp_load_result_t *res);

/* Loads path synchronously into *res (cleared first), as the worker does: reads at most
 * lim->max_input_bytes (a larger file is SISP_EIMGTOOBIG), decodes, loads the sidecar.
 * lim NULL = decoder defaults. Returns res->err. */
int sisp_load_file(const char *path, const sisp_decode_limits_t *lim, sisp_load_result_t *res);

/* Frees a result from the callback, including res itself. NULL is a no-op. */
void sisp_load_result_free(sisp_load_result_t *res);

/* Starts the worker. lim NULL = decoder defaults (copied). 0, SISP_ENOMEM or SISP_EIO. */
int sisp_loader_start(sisp_loader_t **out, const sisp_decode_limits_t *lim, sisp_loader_cb cb,
                      void *ud);

/* Asks for path (copied) under generation, replacing any request not yet started.
 * 0 or SISP_ENOMEM. */
int sisp_loader_request(sisp_loader_t *ld, const char *path, uint64_t generation);

/* Stops and joins the worker and frees the loader. A load in progress is cut short where
 * it can be; a result it still produces goes to the callback before this returns. NULL is
 * a no-op. */
void sisp_loader_stop(sisp_loader_t *ld);

#endif
