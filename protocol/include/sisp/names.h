/* Name and text validation shared by server and client, so both apply one rule.
 *
 *   user name   ^[a-z0-9_-]{3,32}$
 *   group name  ^[a-z0-9_-]{3,32}$
 *   image name  ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$   (safe as a file name: no '/', no
 *                                                    leading '.', no spaces or controls)
 *   invite code ^[A-Za-z0-9-]{8,64}$
 *   text        UTF-8 (shortest form, no surrogates), no C0/C1 controls and no DEL
 *
 * Each returns 0 or its specific negative error. */
#ifndef SISP_NAMES_H
#define SISP_NAMES_H

#include <stddef.h>

#define SISP_USERNAME_MIN 3
#define SISP_USERNAME_MAX 32
#define SISP_GROUPNAME_MIN 3
#define SISP_GROUPNAME_MAX 32
#define SISP_IMAGENAME_MAX 128
#define SISP_INVITE_MIN 8
#define SISP_INVITE_MAX 64

int sisp_check_username(const char *s, size_t len);  /* SISP_EUSERNAME */
int sisp_check_groupname(const char *s, size_t len); /* SISP_EGROUPNAME */
int sisp_check_imagename(const char *s, size_t len); /* SISP_EIMAGENAME */
int sisp_check_invite(const char *s, size_t len);    /* SISP_EINVITECODE */
int sisp_check_text(const char *s, size_t len);      /* SISP_EUTF8 */

/* A growable list of user names, e.g. a group's members. Zero-initialise; `failed`: a name
 * could not be kept (out of memory). */
typedef struct {
    char (*names)[SISP_USERNAME_MAX + 1];
    size_t n, cap;
    int failed;
} sisp_members_t;
/* Appends user; the signature of a member-listing callback (pending is ignored). */
void sisp_members_add(void *members, const char *user, int pending);
int sisp_members_has(const sisp_members_t *m, const char *user); /* after sisp_members_sort */
void sisp_members_sort(sisp_members_t *m);
void sisp_members_free(sisp_members_t *m); /* and empties it for reuse */

#endif
