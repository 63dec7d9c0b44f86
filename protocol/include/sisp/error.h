/* sisp error codes: one X-macro list generates the enum, sisp_strerror() and
 * sisp_err_name(). Functions return 0 on success and a negative SISP_E* value on
 * failure. The positive form of a code is what travels in an ERROR frame, so the
 * numbers below are part of the wire protocol: never renumber, only append. */
#ifndef SISP_ERROR_H
#define SISP_ERROR_H

/* XX(NAME, number, message) */
#define SISP_ERRNO_MAP(XX)                                                                         \
    /* local */                                                                                    \
    XX(ENOMEM, 1, "out of memory")                                                                 \
    XX(EINVAL, 2, "invalid argument")                                                              \
    /* framing (1x) */                                                                             \
    XX(EVERSION, 10, "unsupported protocol version")                                               \
    XX(ETYPE, 11, "unknown frame type")                                                            \
    XX(EFLAGS, 12, "reserved frame flags set")                                                     \
    XX(ETOOBIG, 13, "frame larger than the limit for this session state")                          \
    XX(ESTREAM, 14, "stream id not allowed for this frame type")                                   \
    XX(ESTATE, 15, "frame type not allowed in this session state")                                 \
    XX(EMAGIC, 16, "bad HELLO magic")                                                              \
    XX(EPROTO, 17, "protocol violation")                                                           \
    /* payload fields (2x) */                                                                      \
    XX(EFIELD, 20, "malformed field header or field overruns the payload")                         \
    XX(EFIELDTYPE, 21, "field has the wrong wire type")                                            \
    XX(EFIELDLEN, 22, "field length out of range")                                                 \
    XX(EDUPFIELD, 23, "duplicate field")                                                           \
    XX(EMISSING, 24, "required field missing")                                                     \
    XX(EUNKNOWNFIELD, 25, "unknown critical field")                                                \
    XX(ETOOMANY, 26, "too many repeated fields")                                                   \
    XX(EUTF8, 27, "text is not UTF-8 or contains control characters")                              \
    XX(EUSERNAME, 28, "invalid user name (3-32 of a-z 0-9 _ -)")                                   \
    XX(EIMAGENAME, 29, "invalid image name (1-128 of A-Z a-z 0-9 . _ -, starting alphanumeric)")   \
    XX(EGROUPNAME, 30, "invalid group name (3-32 of a-z 0-9 _ -)")                                 \
    XX(EINVITECODE, 31, "invalid invite code format (8-64 of A-Z a-z 0-9 -)")                      \
    XX(EVALUE, 32, "field value out of range")                                                     \
    /* requests (4x) */                                                                            \
    XX(EAUTH, 40, "authentication required")                                                       \
    XX(EPERM, 41, "permission denied")                                                             \
    XX(ENOTFOUND, 42, "not found")                                                                 \
    XX(EEXIST, 43, "already exists")                                                               \
    XX(EQUOTA, 44, "quota exceeded")                                                               \
    XX(ERATELIMIT, 45, "rate limited; retry later")                                                \
    XX(EINVITE, 46, "invite code invalid, expired or already used")                                \
    XX(EREVOKED, 47, "certificate revoked")                                                        \
    XX(ECSR, 48, "certificate signing request invalid")                                            \
    XX(ESIG, 49, "signature verification failed")                                                  \
    XX(EBUSY, 50, "too many connections or transfers; retry later")                                \
    XX(ECANCELED, 51, "transfer canceled")                                                         \
    XX(ESIZE, 52, "transfer size does not match what was declared")                                \
    XX(ECONTENT, 53, "unsupported content type")                                                   \
    /* peer and system (6x) */                                                                     \
    XX(ETIMEDOUT, 60, "timed out")                                                                 \
    XX(ESHUTDOWN, 61, "server shutting down")                                                      \
    XX(EIO, 62, "I/O error")                                                                       \
    XX(ESTORE, 63, "storage error")                                                                \
    XX(ECRYPTO, 64, "cryptographic operation failed")                                              \
    XX(EINTERNAL, 65, "internal error")                                                            \
    /* sealed images and keys (7x) */                                                              \
    XX(ESEALFMT, 70, "not a sealed image, or its header is malformed")                             \
    XX(EMANIFEST, 71, "manifest malformed or inconsistent")                                        \
    XX(EOWNER, 72, "manifest owner is not the claimed owner")                                      \
    XX(EMISMATCH, 73, "manifest does not match the image's name or group")                         \
    XX(EUNWRAP, 74, "key unwrap failed: wrong key, or the wrapped key was tampered with")          \
    XX(ETAG, 75, "chunk authentication failed: tampered, reordered or from another image")         \
    XX(ETRUNCATED, 76, "sealed image ends early")                                                  \
    XX(EEXTRA, 77, "data after the final chunk")                                                   \
    XX(EHASH, 78, "ciphertext does not match the manifest's SHA-256")                              \
    XX(EPASSPHRASE, 79, "wrong passphrase, or the key file was altered")                           \
    XX(EKEYFILE, 80, "not a sisp key file, or a malformed one")                                    \
    XX(EKEY, 81, "invalid key")                                                                    \
    XX(EKEYPERM, 82, "key file is readable or writable by others (chmod 600 it)")                  \
    /* client trust (8x, continued) */                                                             \
    XX(EPIN, 83, "server's CA does not match the pinned fingerprint")                              \
    XX(EKEYCHANGED, 84, "a user's key changed since it was first seen")                            \
    XX(ENOIDENTITY, 85, "no identity in this home; REGISTER first")                                \
    XX(ECERT, 86, "certificate expired, not yet valid, or not from the pinned CA")                 \
    /* image decoding (9x) */                                                                      \
    XX(EIMGTRUNC, 90, "image data ends early")                                                     \
    XX(EIMGCORRUPT, 91, "image data is corrupt")                                                   \
    XX(EIMGTOOBIG, 92, "image exceeds the decoder's size limits")                                  \
    XX(EIMGUNSUPP, 93, "unsupported image format or feature")

typedef enum {
    SISP_OK = 0,
#define SISP__ERR_ENUM(name, num, msg) SISP_##name = -(num),
    SISP_ERRNO_MAP(SISP__ERR_ENUM)
#undef SISP__ERR_ENUM
} sisp_err_t;

/* Human-readable message for a code (0, or negative SISP_E*). Never NULL. */
const char *sisp_strerror(int err);

/* Symbolic name ("EUSERNAME") for a code. Never NULL; "UNKNOWN" for unknown codes. */
const char *sisp_err_name(int err);

/* 1 if err (negative) is a code defined above, else 0. */
int sisp_err_known(int err);

#endif
