/* File helpers (internal): errno to SISP_E*, and reading a whole file with a size cap, for
 * images and their sidecars. */
#ifndef SISP_VIEW_READFILE_H
#define SISP_VIEW_READFILE_H

#include <stddef.h>
#include <stdint.h>

/* SISP_ENOTFOUND, SISP_EPERM, SISP_ENOMEM or SISP_EIO for an errno value. */
int sisp__errno_code(int e);

/* Reads the regular file at path into a new buffer *out (owned by the caller, free();
 * NULL when empty) of *len bytes. Opens without following into FIFOs or devices: those
 * are refused with SISP_EINVAL. Returns 0; SISP_ENOTFOUND; SISP_EPERM; SISP_ETOOBIG when
 * the file holds more than cap bytes; SISP_ENOMEM; SISP_EIO. *sys_err (may be NULL) gets
 * the errno behind SISP_EIO, else 0. */
int sisp__file_read(const char *path, size_t cap, uint8_t **out, size_t *len, int *sys_err);

#endif
