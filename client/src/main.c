/* sisp: the command-line client. One-shot subcommands (`sisp post_image cat cat.png`), WATCH
 * for scripts, and an interactive shell (`sisp` on a terminal) with line editing and history
 * from GNU readline's callback interface, so pushed notifications print above the prompt
 * without garbling the line being typed. Commands are case-insensitive. */
#define _DEFAULT_SOURCE
#include <sisp/client.h>
#include <sisp/error.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#define MAX_ARGS 16
#define BACKOFF_MAX_S 30
#define TIMEOUT_MAX_S 3600

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* WATCH and the shell run until asked to stop, and then stop cleanly (the last seq saved, a
 * BYE sent). A one-shot command keeps the default: Ctrl-C ends it at once, and an upload or
 * download cut short leaves nothing behind on either side. */
static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a wait returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static const char usage_global[] =
    "usage: sisp [--home DIR] [--server HOST:PORT] [--fingerprint SHA256:HEX | --ca FILE]\n"
    "            [--timeout SECONDS] [COMMAND [ARGS]]\n"
    "\n"
    "Commands (case-insensitive; `sisp COMMAND --help` for each):\n"
    "  REGISTER <username> [--invite CODE]       create your keys and get a certificate\n"
    "  POST_IMAGE <name> <path> [--group G]      seal, sign and upload a PNG or JPEG\n"
    "  DOWNLOAD <name> [-o PATH] [--group G]     download, verify and decrypt an image\n"
    "  DISPLAY <name> [--group G]                download (again), verify, open sisp-view\n"
    "  LIST [--group G] [--since SEQ]            list images\n"
    "  DELETE <name> [--group G]                 delete an image you posted\n"
    "  WATCH                                     print NEW_IMAGE lines as images are posted\n"
    "  GROUP CREATE <g> | ADD <g> <user> | REMOVE <g> <user> | LIST [<g>]\n"
    "  WHOAMI                                    who you are, on which server\n"
    "  FINGERPRINT [user]                        your key's fingerprint, or a user's\n"
    "  TRUST <user> [SHA256:HEX]                 accept a user's changed key (the one they read\n"
    "                                            you, if given)\n"
    "  SHELL                                     interactive shell (the default on a terminal)\n"
    "  HELP                                      this text\n"
    "\n"
    "--timeout: how long to wait for the server to connect or answer (default 30 s); WATCH\n"
    "pings after that much quiet and reconnects when a second spell passes unanswered.\n"
    "Environment: SISP_HOME (default ~/.sisp), SISP_SERVER, SISP_PASSPHRASE (key files).\n"
    "The first contact with a server pins its CA (compare the fingerprint with the one sispd\n"
    "printed, or give it with --fingerprint); a changed CA stops every command.\n";

typedef struct {
    const char *name;
    int min_args, max_args; /* positional arguments */
    const char *usage;
} cmd_t;

static const cmd_t commands[] = {
    {"register", 1, 1,
     "REGISTER <username> [--invite CODE]\n"
     "  Makes an identity key and an X25519 key in the home (0600), sends a\n"
     "  certificate request, and stores the certificate the server issues."},
    {"post_image", 2, 2,
     "POST_IMAGE <image_name> <image_path> [--group G]\n"
     "  Seals the image with a fresh key, signs it and uploads it to group G\n"
     "  (default all). PNG and JPEG only."},
    {"download", 1, 1,
     "DOWNLOAD <image_name> [-o PATH] [--group G]\n"
     "  Downloads, verifies the owner's signature and every chunk, and only then\n"
     "  writes PATH (default ./<image_name>; refused if it exists)."},
    {"display", 1, 1,
     "DISPLAY <image_name> [--group G]\n"
     "  Downloads and verifies into the home's images/, then opens sisp-view."},
    {"list", 0, 0, "LIST [--group G] [--since SEQ]\n  Lists images, oldest first."},
    {"delete", 1, 1,
     "DELETE <image_name> [--group G]\n"
     "  Deletes an image you posted from the server (group default all). Copies\n"
     "  members already downloaded stay theirs."},
    {"watch", 0, 0,
     "WATCH\n"
     "  Prints `NEW_IMAGE <name> <owner> <group> <size>` for each new image,\n"
     "  catching up on what was posted since the last one seen; reconnects."},
    {"group", 1, 3,
     "GROUP CREATE <g> | ADD <g> <user> | REMOVE <g> <user> | LIST [<g>]\n"
     "  Groups you own or belong to, and their members."},
    {"whoami", 0, 0, "WHOAMI\n  Your user name, key fingerprint and server."},
    {"fingerprint", 0, 1, "FINGERPRINT [user]\n  Your key's fingerprint, or another user's."},
    {"trust", 1, 2,
     "TRUST <user> [SHA256:HEX]\n  Accepts a user's changed key (after checking it with them). "
     "With the fingerprint\n  they read you, only that key is accepted."},
    {"shell", 0, 0, "SHELL\n  The interactive shell."},
    {"help", 0, 1, "HELP [command]"},
};

static const cmd_t *find_cmd(const char *name) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcasecmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* The synopsis: a usage text's first line (errors are one line). */
static int synopsis_len(const cmd_t *cmd) {
    return (int)strcspn(cmd->usage, "\n");
}

/* Parses a command's options and positionals. Returns 0, 1 for --help (printed), or -1. */
typedef struct {
    const char *pos[MAX_ARGS];
    int n_pos;
    const char *group, *out, *invite, *since;
} args_t;

static int parse_args(sisp_client_t *c, const cmd_t *cmd, int argc, char **argv, args_t *a) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char **slot = NULL;
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            fprintf(c->out, "usage: sisp %s\n", cmd->usage);
            return 1;
        }
        if (strcmp(s, "--group") == 0 || strcmp(s, "-g") == 0)
            slot = &a->group;
        else if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0)
            slot = &a->out;
        else if (strcmp(s, "--invite") == 0)
            slot = &a->invite;
        else if (strcmp(s, "--since") == 0)
            slot = &a->since;
        if (slot != NULL) {
            if (i + 1 >= argc) {
                sisp_client_fail(c, SISP_EINVAL, "%s needs a value; usage: %.*s", s,
                                 synopsis_len(cmd), cmd->usage);
                return -1;
            }
            *slot = argv[++i];
            continue;
        }
        if (s[0] == '-' && s[1] != '\0') {
            sisp_client_fail(c, SISP_EINVAL, "unknown option %s; usage: %.*s", s, synopsis_len(cmd),
                             cmd->usage);
            return -1;
        }
        if (a->n_pos >= MAX_ARGS) {
            sisp_client_fail(c, SISP_EINVAL, "too many arguments");
            return -1;
        }
        a->pos[a->n_pos++] = s;
    }
    if (a->n_pos < cmd->min_args || a->n_pos > cmd->max_args) {
        sisp_client_fail(c, SISP_EINVAL, "usage: %.*s (sisp help %s)", synopsis_len(cmd),
                         cmd->usage, cmd->name);
        return -1;
    }
    return 0;
}

static int cmd_group(sisp_client_t *c, const args_t *a) {
    const char *sub = a->pos[0];
    if (strcasecmp(sub, "create") == 0 && a->n_pos == 2)
        return sisp_cmd_group_create(c, a->pos[1]);
    if (strcasecmp(sub, "add") == 0 && a->n_pos == 3)
        return sisp_cmd_group_add(c, a->pos[1], a->pos[2]);
    if (strcasecmp(sub, "remove") == 0 && a->n_pos == 3)
        return sisp_cmd_group_remove(c, a->pos[1], a->pos[2]);
    if (strcasecmp(sub, "list") == 0 && a->n_pos <= 2)
        return sisp_cmd_group_list(c, a->n_pos == 2 ? a->pos[1] : NULL);
    return sisp_client_fail(c, SISP_EINVAL,
                            "usage: GROUP CREATE <g> | ADD <g> <user> | REMOVE <g> <user> | "
                            "LIST [<g>]");
}

static int watch(sisp_client_t *c);
static int shell(sisp_client_t *c, int interactive);

/* Runs one command. 0 or an error (c->why says what). */
static int run(sisp_client_t *c, int argc, char **argv, int in_shell) {
    const cmd_t *cmd = find_cmd(argv[0]);
    args_t a;
    c->why[0] = '\0';
    if (cmd == NULL)
        return sisp_client_fail(c, SISP_EINVAL, "unknown command '%s' (HELP lists them)", argv[0]);
    int p = parse_args(c, cmd, argc - 1, argv + 1, &a);
    if (p != 0)
        return p > 0 ? 0 : SISP_EINVAL;
    uint64_t since = 0;
    if (a.since != NULL) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(a.since, &end, 10);
        if (errno != 0 || *end != '\0' || a.since[0] == '-')
            return sisp_client_fail(c, SISP_EINVAL, "--since takes a sequence number");
        since = (uint64_t)v;
    }
    const char *n = cmd->name;
    if (strcmp(n, "register") == 0)
        return sisp_cmd_register(c, a.pos[0], a.invite);
    if (strcmp(n, "post_image") == 0)
        return sisp_cmd_post(c, a.pos[0], a.pos[1], a.group);
    if (strcmp(n, "download") == 0)
        return sisp_cmd_download(c, a.pos[0], a.group, a.out, a.out != NULL, 0);
    if (strcmp(n, "display") == 0)
        return sisp_cmd_display(c, a.pos[0], a.group);
    if (strcmp(n, "list") == 0)
        return sisp_cmd_list(c, a.group, since);
    if (strcmp(n, "delete") == 0)
        return sisp_cmd_delete(c, a.pos[0], a.group);
    if (strcmp(n, "group") == 0)
        return cmd_group(c, &a);
    if (strcmp(n, "whoami") == 0)
        return sisp_cmd_whoami(c);
    if (strcmp(n, "fingerprint") == 0)
        return sisp_cmd_fingerprint(c, a.n_pos ? a.pos[0] : NULL);
    if (strcmp(n, "trust") == 0)
        return sisp_cmd_trust(c, a.pos[0], a.n_pos > 1 ? a.pos[1] : NULL);
    if (strcmp(n, "help") == 0) {
        const cmd_t *h = a.n_pos ? find_cmd(a.pos[0]) : NULL;
        if (h != NULL)
            fprintf(c->out, "usage: %s\n", h->usage);
        else
            fputs(usage_global, c->out);
        return 0;
    }
    if (in_shell)
        return sisp_client_fail(c, SISP_EINVAL, "%s is not available inside the shell", n);
    if (strcmp(n, "watch") == 0)
        return watch(c);
    return shell(c, isatty(STDIN_FILENO));
}

/* ---- WATCH ---- */

/* Sleeps up to s seconds, returning early when asked to stop. */
static void nap(int s) {
    for (int i = 0; i < s * 10 && !stop_requested; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int fatal(int rc) {
    return rc == SISP_EPIN || rc == SISP_EREVOKED || rc == SISP_ENOIDENTITY || rc == SISP_EAUTH ||
           rc == SISP_EINVAL || rc == SISP_EKEYPERM || rc == SISP_EPASSPHRASE;
}

static int watch(sisp_client_t *c) {
    int backoff = 1;
    catch_stop_signals();
    c->print_events = 1;
    c->catch_up = 1;
    if (!c->have_identity)
        return sisp_client_fail(c, SISP_ENOIDENTITY,
                                "%s holds no identity: run `sisp register NAME` first",
                                c->home.dir);
    while (!stop_requested) {
        int rc = sisp_client_connect(c);
        if (rc == 0)
            rc = sisp_client_catch_up(c);
        if (rc == 0)
            backoff = 1;
        int pinged = 0; /* a PING went out after a quiet spell and nothing came back yet */
        while (rc == 0 && !stop_requested) {
            sisp_client_process(c);
            rc = sisp_conn_pump(c->conn, c->timeout_ms); /* a quiet spell: --timeout */
            if (rc == 1 && pinged) {
                /* A connection that answers nothing (a peer or a path gone without a word)
                 * is given up after two quiet spells, not after TCP's own quarter hour. */
                rc = sisp_client_fail(c, SISP_ETIMEDOUT, "no answer to PING in %d s",
                                      c->timeout_ms / 1000);
            } else if (rc == 1) {
                sisp_ping_t ping = {(uint64_t)time(NULL)};
                rc = sisp_conn_send(c->conn, SISP_T_PING, 0, &ping);
                pinged = 1;
            } else if (rc == 0) {
                pinged = 0;
            }
            if (ferror(c->out))
                return sisp_client_fail(c, SISP_EIO, "cannot write to stdout");
        }
        if (stop_requested)
            break;
        if (fatal(rc))
            return rc;
        if (c->why[0] == '\0')
            sisp_client_fail(c, rc, "%s", sisp_strerror(rc));
        sisp_client_say(c, "watch: connection lost (%s); reconnecting in %d s", c->why, backoff);
        sisp_client_disconnect(c);
        nap(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
    }
    return 0;
}

/* ---- the shell ---- */

static int split_line(char *line, char **argv, int max) {
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            break;
        char quote = (*p == '"' || *p == '\'') ? *p++ : 0;
        argv[n++] = p;
        while (*p && (quote ? *p != quote : (*p != ' ' && *p != '\t')))
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

typedef struct {
    sisp_client_t *c;
    int at_prompt; /* readline shows a prompt and perhaps a half-typed line */
    char *saved_line;
    int saved_point;
    int done;
    int failures;
} shell_t;

static shell_t *the_shell; /* readline's line callback takes no argument */

static const char prompt[] = "sisp> ";

static void before_print(void *arg) {
    shell_t *s = arg;
    if (!s->at_prompt)
        return;
    s->saved_point = rl_point;
    s->saved_line = rl_copy_text(0, rl_end);
    rl_set_prompt("");
    rl_replace_line("", 0);
    rl_redisplay();
}

static void after_print(void *arg) {
    shell_t *s = arg;
    if (!s->at_prompt)
        return;
    rl_set_prompt(prompt);
    rl_replace_line(s->saved_line ? s->saved_line : "", 0);
    rl_point = s->saved_point;
    rl_redisplay();
    free(s->saved_line);
    s->saved_line = NULL;
}

static void run_line(shell_t *s, char *line) {
    char *argv[MAX_ARGS + 2];
    int argc = split_line(line, argv, MAX_ARGS + 1);
    if (argc == 0)
        return;
    if (strcasecmp(argv[0], "quit") == 0 || strcasecmp(argv[0], "exit") == 0) {
        s->done = 1;
        return;
    }
    int rc = run(s->c, argc, argv, 1);
    if (rc != 0) {
        s->failures++;
        fprintf(s->c->msg, "sisp: %s\n", s->c->why[0] ? s->c->why : sisp_strerror(rc));
        fflush(s->c->msg);
    }
    if (s->c->conn != NULL && sisp_conn_error(s->c->conn) != 0)
        sisp_client_disconnect(s->c);
    else
        sisp_client_process(s->c);
}

static void on_line(char *line) {
    shell_t *s = the_shell;
    if (line == NULL) { /* Ctrl-D */
        s->done = 1;
        fputc('\n', stdout);
        return;
    }
    s->at_prompt = 0;
    if (line[0] != '\0')
        add_history(line);
    run_line(s, line);
    free(line);
    s->at_prompt = 1;
}

/* Keeps the push connection up: connect and catch up, with backoff after a failure (a
 * command may have connected already: the catch-up is still due). */
static void shell_connect(shell_t *s, time_t *next_try, int *backoff) {
    sisp_client_t *c = s->c;
    if ((c->conn != NULL && c->caught_up) || !c->have_identity || time(NULL) < *next_try)
        return;
    int rc = sisp_client_connect(c);
    if (rc == 0)
        rc = sisp_client_catch_up(c);
    if (rc == 0) {
        *backoff = 1;
        return;
    }
    sisp_client_say(c, "not connected: %s (retrying in %d s)", c->why, *backoff);
    sisp_client_disconnect(c);
    *next_try = time(NULL) + *backoff;
    *backoff = *backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : *backoff * 2;
}

static int shell(sisp_client_t *c, int interactive) {
    shell_t s = {c, 0, NULL, 0, 0, 0};
    time_t next_try = 0;
    int backoff = 1;
    catch_stop_signals();
    c->print_events = 1;
    the_shell = &s;
    if (!interactive) {
        /* Scripted: the same commands, one per line. */
        char *line = NULL;
        size_t cap = 0;
        while (!s.done && !stop_requested && getline(&line, &cap, stdin) >= 0) {
            line[strcspn(line, "\r\n")] = '\0';
            run_line(&s, line);
        }
        free(line);
        return s.failures ? sisp_client_fail(c, SISP_EINVAL, "%d command(s) failed", s.failures)
                          : 0;
    }
    c->before_print = before_print;
    c->after_print = after_print;
    c->print_arg = &s;
    c->catch_up = 1;
    fprintf(c->out, "sisp shell: HELP lists the commands, QUIT leaves.\n");
    shell_connect(&s, &next_try, &backoff);
    rl_callback_handler_install(prompt, on_line);
    s.at_prompt = 1;
    while (!s.done && !stop_requested) {
        shell_connect(&s, &next_try, &backoff);
        struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {-1, POLLIN, 0}};
        if (c->conn != NULL)
            p[1].fd = sisp_tlsc_fd(c->tls);
        /* Frames already decrypted or buffered are handled without waiting for the network. */
        int ready = c->conn != NULL && (sisp_tlsc_pending(c->tls) || sisp_conn_has_frame(c->conn));
        int timeout = ready ? 0 : 1000;
        int r = poll(p, 2, timeout);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && (p[0].revents & (POLLIN | POLLHUP)))
            rl_callback_read_char();
        if (c->conn != NULL && ((r > 0 && (p[1].revents & (POLLIN | POLLHUP))) || ready)) {
            int rc = sisp_conn_pump(c->conn, 0);
            if (rc < 0) {
                sisp_client_say(c, "disconnected from %s:%s (%s); reconnecting", c->host, c->port,
                                sisp_strerror(rc));
                sisp_client_disconnect(c);
            } else {
                sisp_client_process(c);
            }
        }
    }
    rl_callback_handler_remove();
    c->before_print = c->after_print = NULL;
    return 0;
}

/* ---- main ---- */

int main(int argc, char **argv) {
    sisp_client_t c;
    const char *home = NULL, *server = NULL;
    int i = 1;
    sisp_client_init(&c);
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(usage_global, stdout);
            return 0;
        }
        if (strcmp(o, "--version") == 0) {
            printf("%s\n%s\n", SISP_CLIENT_SOFTWARE, sisp_crypto_build());
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "sisp: %s needs a value (sisp --help)\n", o);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(o, "--home") == 0)
            home = v;
        else if (strcmp(o, "--server") == 0)
            server = v;
        else if (strcmp(o, "--fingerprint") == 0)
            snprintf(c.want_fp, sizeof c.want_fp, "%s", v);
        else if (strcmp(o, "--ca") == 0)
            c.ca_file = v;
        else if (strcmp(o, "--timeout") == 0) {
            char *end;
            errno = 0;
            long t = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || t < 1 || t > TIMEOUT_MAX_S) {
                fprintf(stderr, "sisp: --timeout takes whole seconds from 1 to %d, not '%s'\n",
                        TIMEOUT_MAX_S, v);
                return 2;
            }
            c.timeout_ms = (int)t * 1000;
        } else {
            fprintf(stderr, "sisp: unknown option %s (sisp --help)\n", o);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* sisp-view windows are not waited for */
    c.progress = isatty(STDERR_FILENO);

    int rc;
    char shell_word[] = "shell";
    char *shell_argv[] = {shell_word, NULL};
    int is_help = i < argc && strcasecmp(argv[i], "help") == 0;
    if (is_help || (i < argc && argc - i >= 2 && strcmp(argv[argc - 1], "--help") == 0)) {
        rc = run(&c, argc - i, argv + i, 0); /* help needs no home */
    } else {
        rc = sisp_client_setup(&c, home, server);
        if (rc == 0)
            rc = i < argc ? run(&c, argc - i, argv + i, 0) : run(&c, 1, shell_argv, 0);
    }
    if (rc != 0)
        fprintf(stderr, "sisp: %s\n", c.why[0] ? c.why : sisp_strerror(rc));
    sisp_client_free(&c);
    return rc == 0 ? 0 : 1;
}
