/* sisp-view: the command line, SDL start-up (with a software-renderer fallback and a clear
 * error when there is no display), then the view's event loop. */
#include "sisp/error.h"
#include "sisp/gallery.h"
#include "sisp/view.h"

#include <SDL.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_W 1024
#define DEFAULT_H 768

static const char usage_text[] =
    "usage: sisp-view [OPTIONS] FILE...\n"
    "       sisp-view [OPTIONS] --dir DIR [--watch]\n"
    "Shows PNG and JPEG images, with what sisp recorded about them in FILE.info beside\n"
    "each FILE: name, owner, signer fingerprint and whether the download verified.\n"
    "\n"
    "Options:\n"
    "  -d, --dir DIR          show the images in DIR (e.g. sisp's downloads)\n"
    "  -w, --watch            with --dir: show new images as they arrive\n"
    "  -s, --sort name|mtime  order of --dir images: by name, numbers in natural order\n"
    "                         (default), or by modification time, oldest first\n"
    "      --info             show the info overlay from the start (default)\n"
    "      --no-info          start with the info overlay hidden\n"
    "      --fullscreen       start in fullscreen\n"
    "      --software         use SDL's software renderer (the fallback without a GPU)\n"
    "      --screenshot BMP   save the first frame that shows an image or an error as\n"
    "                         BMP, then exit (testing)\n"
    "      --max-texture N    split images into textures of at most N pixels a side\n"
    "                         (testing; default: the renderer's limit)\n"
    "  -h, --help             show this help\n"
    "      --version          show the version\n"
    "\n"
    "Keys:\n"
    "  q, Esc                 quit\n"
    "  Space, PageDown, n     next image        BackSpace, PageUp, p  previous image\n"
    "  Home, g                first image       End, G                last image\n"
    "  0                      fit to window     w                     fit, enlarging\n"
    "  1                      1:1               +, -                  zoom in, out\n"
    "  arrows, h j k l        pan (Shift: by a screen); Left/Right change image when\n"
    "                         the whole width is shown\n"
    "  f, F11                 fullscreen        i                     info overlay\n"
    "  r                      reload\n"
    "Mouse: the wheel zooms at the cursor, dragging pans, a double-click toggles\n"
    "fullscreen.\n"
    "\n"
    "Exit status: 0 after quitting, 1 on usage errors or when no display is available.\n";

typedef struct {
    const char *dir;
    int watch;
    sisp_gallery_sort_t sort;
    int overlay;
    int fullscreen;
    int software;
    const char *screenshot;
    int max_texture;
    char **files; /* owned array of borrowed argv strings */
    int nfiles;
} cli_t;

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("sisp-view: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'sisp-view --help'.\n", stderr);
    return 1;
}

/* The option's value: "--opt=value" or the next argument. NULL when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *eq) {
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int parse_max_texture(const char *s, int *out) {
    char *end;
    long n;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || n < 1 || n > 1 << 20)
        return -1;
    *out = (int)n;
    return 0;
}

/* 0 ok; 1 usage error (reported); 2 --help or --version (printed). */
static int parse_cli(int argc, char **argv, cli_t *c) {
    int only_files = 0;
    memset(c, 0, sizeof(*c));
    c->overlay = 1;
    c->files = calloc((size_t)argc, sizeof(*c->files));
    if (!c->files)
        return usage_error("%s", sisp_strerror(SISP_ENOMEM));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = NULL, *val;
        size_t nlen;
        if (only_files || a[0] != '-' || a[1] == '\0') {
            c->files[c->nfiles++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_files = 1;
            continue;
        }
        eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        nlen = eq ? (size_t)(eq - a) : strlen(a);
#define IS(opt) (nlen == sizeof(opt) - 1 && strncmp(a, opt, nlen) == 0)
        if (IS("-h") || IS("--help")) {
            fputs(usage_text, stdout);
            return 2;
        } else if (IS("--version")) {
            puts("sisp-view 0.1.0");
            return 2;
        } else if (IS("-d") || IS("--dir")) {
            if (!(val = option_value(argc, argv, &i, eq)))
                return usage_error("%s needs a directory", a);
            c->dir = val;
        } else if (IS("-w") || IS("--watch")) {
            c->watch = 1;
        } else if (IS("-s") || IS("--sort")) {
            if (!(val = option_value(argc, argv, &i, eq)))
                return usage_error("%s needs name or mtime", a);
            if (strcmp(val, "name") == 0)
                c->sort = SISP_GALLERY_SORT_NAME;
            else if (strcmp(val, "mtime") == 0)
                c->sort = SISP_GALLERY_SORT_MTIME;
            else
                return usage_error("--sort: '%s' is not name or mtime", val);
        } else if (IS("--info")) {
            c->overlay = 1;
        } else if (IS("--no-info")) {
            c->overlay = 0;
        } else if (IS("--fullscreen")) {
            c->fullscreen = 1;
        } else if (IS("--software")) {
            c->software = 1;
        } else if (IS("--screenshot")) {
            if (!(val = option_value(argc, argv, &i, eq)))
                return usage_error("%s needs a file name", a);
            c->screenshot = val;
        } else if (IS("--max-texture")) {
            if (!(val = option_value(argc, argv, &i, eq)) ||
                parse_max_texture(val, &c->max_texture) != 0)
                return usage_error("--max-texture needs a number of pixels, not '%s'",
                                   val ? val : "");
        } else {
            return usage_error("unknown option %s", a);
        }
#undef IS
    }
    if (c->dir && c->nfiles > 0)
        return usage_error("%s", "give either FILEs or --dir DIR, not both");
    if (!c->dir && c->nfiles == 0)
        return usage_error("%s", "no FILE or --dir DIR given");
    if (c->watch && !c->dir)
        return usage_error("%s", "--watch needs --dir DIR");
    return 0;
}

static int build_gallery(const cli_t *c, sisp_gallery_t *g) {
    int err, sys_err = 0;
    sisp_gallery_init(g, c->sort);
    if (!c->dir) {
        for (int i = 0; i < c->nfiles; i++) {
            err = sisp_gallery_add(g, c->files[i]);
            if (err != 0) {
                fprintf(stderr, "sisp-view: %s\n", sisp_strerror(err));
                return 1;
            }
        }
        return 0;
    }
    err = sisp_gallery_scan(g, c->dir, &sys_err);
    if (err != 0) {
        fprintf(stderr, "sisp-view: cannot read %s: %s\n", c->dir,
                sys_err ? strerror(sys_err) : sisp_strerror(err));
        return 1;
    }
    if (g->count == 0 && !c->watch) {
        fprintf(stderr, "sisp-view: no PNG or JPEG images in %s (use --watch to wait for some)\n",
                c->dir);
        return 1;
    }
    return 0;
}

static SDL_Window *open_window(const cli_t *c) {
    SDL_Rect usable;
    int w = DEFAULT_W, h = DEFAULT_H;
    Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI;
    if (SDL_GetDisplayUsableBounds(0, &usable) == 0 && usable.w > 0 && usable.h > 0) {
        if (w > usable.w * 9 / 10)
            w = usable.w * 9 / 10;
        if (h > usable.h * 9 / 10)
            h = usable.h * 9 / 10;
    }
    if (c->fullscreen)
        flags |= SDL_WINDOW_FULLSCREEN_DESKTOP;
    return SDL_CreateWindow("sisp-view", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                            w > 64 ? w : 64, h > 64 ? h : 64, flags);
}

static SDL_Renderer *open_renderer(const cli_t *c, SDL_Window *win) {
    SDL_Renderer *r = NULL;
    if (!c->software)
        r = SDL_CreateRenderer(win, -1, SDL_RENDERER_ACCELERATED);
    if (!r) { /* no GPU, or no working driver for it */
        /* Software all the way: SDL would otherwise back the window with a GPU texture. */
        SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
        r = SDL_CreateRenderer(win, -1, SDL_RENDERER_SOFTWARE);
    }
    return r;
}

/* Left to itself, SDL 2 falls back to its invisible "offscreen" driver when no windowing
 * system works (the viewer would then run unseen), and probes Wayland noisily without
 * WAYLAND_DISPLAY. So unless SDL_VIDEODRIVER is set (obeyed as it is, e.g. offscreen
 * with --screenshot), only the drivers that can show a window here are asked for. */
static void choose_video_drivers(void) {
    char list[64] = "";
    if (SDL_getenv("SDL_VIDEODRIVER"))
        return;
    if (getenv("DISPLAY"))
        strcat(list, "x11,");
    if (getenv("WAYLAND_DISPLAY"))
        strcat(list, "wayland,");
    strcat(list, "kmsdrm"); /* a Linux console without a windowing system */
    SDL_SetHint(SDL_HINT_VIDEODRIVER, list);
}

static int no_display(const cli_t *c) {
    const char *what = c->dir ? c->dir : c->files[0];
    fprintf(stderr,
            "sisp-view: no display available (SDL: %s); open %s with another viewer or set "
            "DISPLAY\n",
            SDL_GetError(), what);
    return 1;
}

int main(int argc, char **argv) {
    sisp_view_opts_t opts;
    sisp_gallery_t gallery;
    sisp_view_t *view = NULL;
    SDL_Window *win = NULL;
    SDL_Renderer *ren = NULL;
    cli_t cli;
    int rc = 1, err;

    rc = parse_cli(argc, argv, &cli);
    if (rc == 0 && build_gallery(&cli, &gallery) != 0) {
        sisp_gallery_free(&gallery);
        rc = 1;
    }
    if (rc != 0) {
        free(cli.files);
        return rc == 2 ? 0 : 1;
    }
    SDL_SetHint(SDL_HINT_APP_NAME, "sisp-view");
    SDL_SetHint(SDL_HINT_VIDEO_ALLOW_SCREENSAVER, "1");
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    choose_video_drivers();
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        rc = no_display(&cli);
        sisp_gallery_free(&gallery);
        free(cli.files);
        return rc;
    }
    rc = 1;
    win = open_window(&cli);
    if (!win) {
        rc = no_display(&cli);
        goto out;
    }
    ren = open_renderer(&cli, win);
    if (!ren) {
        fprintf(stderr, "sisp-view: cannot create a renderer, not even SDL's software one: %s\n",
                SDL_GetError());
        goto out;
    }
    SDL_StopTextInput(); /* keys only: no input method popping up */
    sisp_view_opts_default(&opts);
    opts.dir = cli.dir;
    opts.watch = cli.watch;
    opts.overlay = cli.overlay;
    opts.max_texture = cli.max_texture;
    opts.screenshot = cli.screenshot;
    err = sisp_view_create(&view, win, ren, &gallery, &opts);
    if (err != 0) {
        fprintf(stderr, "sisp-view: cannot start%s: %s\n", cli.watch ? " watching" : "",
                sisp_strerror(err));
        goto out;
    }
    rc = sisp_view_run(view);
out:
    sisp_view_destroy(view);
    if (ren)
        SDL_DestroyRenderer(ren);
    if (win)
        SDL_DestroyWindow(win);
    SDL_Quit();
    sisp_gallery_free(&gallery);
    free(cli.files);
    return rc;
}
