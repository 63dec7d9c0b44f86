/* The metadata sidecar sisp-view shows in its overlay. For an image FILE the client writes
 * FILE.info next to it (write FILE.info first, then rename FILE into place, both as temp
 * file + rename, so an image never appears without its metadata).
 *
 * Format (the client writes exactly this; the viewer parses it as hostile input):
 * - at most SISP_INFO_MAX_BYTES (4096) bytes; a larger file is refused as a whole;
 * - lines end with LF (a CR before it is dropped); the last line may lack its LF;
 * - each line is `key: value`: the key is 1-32 of [a-z0-9_] from the start of the line,
 *   then ':', then optional spaces or tabs, then the value up to the end of the line
 *   (trailing spaces and tabs trimmed);
 * - keys: name (the image's name on the server), owner, group, signer_fingerprint
 *   (`SHA256:<64 lowercase hex>`), verified (`yes` or `no`: signature and every chunk
 *   verified), seq (decimal, the server's sequence number), size (decimal, bytes of FILE);
 * - unknown keys, blank lines and lines that are not `key: value` (e.g. `# comments`) are
 *   ignored; the first occurrence of a key wins;
 * - in values, control characters (0x00-0x1f, 0x7f) are dropped, bytes 0x80-0xff become
 *   '?', and anything past SISP_INFO_VALUE_MAX (128) bytes is cut off;
 * - verified is `yes` or `no` (any other value counts as absent); seq and size are plain
 *   decimal digits below 2^64 (anything else counts as absent).
 * Example:
 *     name: holiday.jpg
 *     owner: alice
 *     group: all
 *     signer_fingerprint: SHA256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *     verified: yes
 *     seq: 42
 *     size: 123456
 */
#ifndef SISP_INFO_H
#define SISP_INFO_H

#include <stddef.h>
#include <stdint.h>

#define SISP_INFO_MAX_BYTES 4096
#define SISP_INFO_VALUE_MAX 128
#define SISP_INFO_SUFFIX ".info"

typedef enum {
    SISP_INFO_VERIFIED_ABSENT = -1,
    SISP_INFO_VERIFIED_NO = 0,
    SISP_INFO_VERIFIED_YES = 1,
} sisp_info_verified_t;

typedef struct {
    /* NUL-terminated printable ASCII; "" when absent */
    char name[SISP_INFO_VALUE_MAX + 1];
    char owner[SISP_INFO_VALUE_MAX + 1];
    char group[SISP_INFO_VALUE_MAX + 1];
    char signer_fingerprint[SISP_INFO_VALUE_MAX + 1];
    sisp_info_verified_t verified;
    int has_seq;
    int has_size;
    uint64_t seq;
    uint64_t size;
} sisp_info_t;

/* Parses text[0..len) (need not be NUL-terminated) into *out (cleared first).
 * 0, or SISP_ETOOBIG when len > SISP_INFO_MAX_BYTES (then *out stays empty). */
int sisp_info_parse(const char *text, size_t len, sisp_info_t *out);

/* Reads and parses image_path + ".info". 0; SISP_ENOTFOUND when there is none;
 * SISP_ETOOBIG when it is larger than SISP_INFO_MAX_BYTES; SISP_EINVAL when it is not a
 * regular file; SISP_EIO, SISP_EPERM or SISP_ENOMEM. *out is cleared in every case. */
int sisp_info_load(const char *image_path, sisp_info_t *out);

/* 1 if name ends with SISP_INFO_SUFFIX (a sidecar, not an image). */
int sisp_info_is_sidecar_name(const char *name);

#endif
