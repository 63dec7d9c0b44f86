/* What client.c lends transfer.c (and the client fuzzer). */
#ifndef SISP_CLIENT_INTERNAL_H
#define SISP_CLIENT_INTERNAL_H

#include <sisp/client.h>

/* user's keys, verified against the pinned CA and the user's pin. */
int sisp__client_user(sisp_client_t *c, const char *user, sisp_known_t *k);
/* The key of a group's epoch granted to me (epoch 0: the newest). */
int sisp__client_epoch_key(sisp_client_t *c, const char *group, uint32_t epoch, uint32_t *got,
                           uint8_t key[SISP_KEY_SIZE]);
int sisp__client_need_identity(sisp_client_t *c);
/* Before a request about image `name` in *group: an identity and valid names; a NULL *group
 * becomes "all". 0, or the error said in c->why. */
int sisp__client_image_args(sisp_client_t *c, const char *name, const char **group);
/* 1 if I am a member of group, 0 if not, or an error; c->why is left alone. */
int sisp__client_in_group(sisp_client_t *c, const char *group);

/* What sisp_client_connect does on a new connection, for a caller that set c->conn itself
 * (fuzz/fuzz_client_frames.c): the push handler (arg: c) and, after HELLO, the key
 * bootstrap. */
void sisp__client_on_push(void *arg, const sisp_packet_t *p);
int sisp__client_bootstrap(sisp_client_t *c);

#endif
