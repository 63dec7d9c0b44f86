/* The client's key files on disk: written 0600 and atomically, refused when others can
 * read or write them. The bytes are sisp_keyfile_encode's (protocol/keys.h). */
#ifndef SISP_KEYSTORE_H
#define SISP_KEYSTORE_H

#include <sisp/keys.h>

/* Writes the key to path: a temporary file created 0600 in the same directory, fsync,
 * rename over path, fsync of the directory. passphrase NULL or "" stores it in the clear;
 * log2n 0 = the default scrypt cost. SISP_EIO on a file-system error (errno is kept). */
int sisp_keystore_save(const char *path, int kind, const sisp_key_pair_t *key,
                       const char *passphrase, unsigned log2n);

/* Reads and decodes the key at path. SISP_EKEYPERM if group or others have any access,
 * SISP_ENOTFOUND if it does not exist, SISP_EIO, or sisp_keyfile_decode's errors
 * (SISP_EKEYFILE, SISP_EPASSPHRASE). *is_protected tells whether a passphrase is needed. */
int sisp_keystore_load(const char *path, int kind, const char *passphrase, sisp_key_pair_t *key,
                       int *is_protected);

/* Writes p[0..n) to path atomically: a temporary file in the same directory, mode set exactly
 * (e.g. 0600), fsync, rename over path, fsync of the directory. 0, SISP_EINVAL (path too
 * long) or SISP_EIO (errno kept). */
int sisp_file_write_atomic(const char *path, const void *p, size_t n, unsigned mode);

/* File helpers the client shares. Each retries on EINTR. */
/* Writes all n bytes: 0 or SISP_EIO. */
int sisp_fd_write_all(int fd, const void *p, size_t n);
/* Reads until n bytes or end of file: 0 and *got, or SISP_EIO. */
int sisp_fd_read_full(int fd, void *p, size_t n, size_t *got);
/* fsync of the directory holding path, so a rename into it is durable: 0, SISP_EINVAL, SISP_EIO. */
int sisp_fsync_parent(const char *path);

#endif
