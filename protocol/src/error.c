#include <sisp/error.h>

const char *sisp_strerror(int err) {
    switch (err) {
    case SISP_OK:
        return "success";
#define SISP__ERR_MSG(name, num, msg)                                                              \
    case SISP_##name:                                                                              \
        return msg;
        SISP_ERRNO_MAP(SISP__ERR_MSG)
#undef SISP__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *sisp_err_name(int err) {
    switch (err) {
    case SISP_OK:
        return "OK";
#define SISP__ERR_NAME(name, num, msg)                                                             \
    case SISP_##name:                                                                              \
        return #name;
        SISP_ERRNO_MAP(SISP__ERR_NAME)
#undef SISP__ERR_NAME
    default:
        return "UNKNOWN";
    }
}

int sisp_err_known(int err) {
    switch (err) {
#define SISP__ERR_KNOWN(name, num, msg) case SISP_##name:
        SISP_ERRNO_MAP(SISP__ERR_KNOWN)
#undef SISP__ERR_KNOWN
        return 1;
    default:
        return 0;
    }
}
