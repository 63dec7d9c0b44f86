/* The input of fuzz/fuzz_client_frames.c, shared with its seed generator
 * (tests/gen_client_seeds.c): a selector byte, a transport byte, then the server's bytes, in
 * which 12 zero bytes (a frame header that cannot be) are a pause. See the harness. */
#ifndef SISP_FUZZ_CLIENT_FRAMES_H
#define SISP_FUZZ_CLIENT_FRAMES_H

/* Selector bits 0-3 (mod CF_SCENARIOS): what the client does. */
enum {
    CF_LIST,
    CF_DOWNLOAD,
    CF_WATCH,
    CF_GROUP_LIST,
    CF_GROUP_ADD,
    CF_GROUP_REMOVE,
    CF_GROUP_CREATE,
    CF_POST,
    CF_WHOAMI,
    CF_TRUST,
    CF_REGISTER,
    CF_SHELL,
    CF_DELETE,
    CF_SCENARIOS
};
#define CF_SEL_BOOTSTRAP 0x10 /* the key bootstrap after HELLO */
#define CF_SEL_VARIANT 0x20   /* the scenario's other arguments */
#define CF_SEL_PROGRESS 0x40  /* progress bars */
#define CF_SEL_STALE_PIN 0x80 /* bob pinned with his old key */

/* Transport byte. */
#define CF_TR_PIECES 0x03        /* the read sizes: */
#define CF_TR_PIECES_FRAME 0x00  /* a read never goes past the frame under way */
#define CF_TR_PIECES_16 0x01     /* random, 1-16 bytes */
#define CF_TR_PIECES_512 0x02    /* 1-512 */
#define CF_TR_PIECES_8192 0x03   /* 1-8192 */
#define CF_TR_EAGER_POLLS 0x04   /* reads with timeout 0 get data too */
#define CF_TR_TIMEOUTS 0x08      /* some reads with a timeout time out */
#define CF_TR_FAIL_WRITE_SHIFT 4 /* bits 4-7: the n-th write fails (0: none) */

#endif
