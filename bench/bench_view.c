/* sisp-bench-view: sisp-view's time to first frame for a 24-megapixel JPEG and a 12-megapixel
 * PNG, next to the codecs' own decode time measured in the same run (issue #6; goal: first frame
 * within 1.5x of the raw decode).
 *
 * The images are generated at start-up (untimed) and written to a temp dir: a 6000x4000 JPEG
 * (photo-like gradients, shapes and noise; quality 90, 4:2:0, tjCompress2) and a 4000x3000 RGB
 * PNG (the same kind of content, libpng's simplified writer at its default compression). Then,
 * for each image, every iteration runs in turn:
 *   reference  the codec alone on the file's bytes in memory: tjDecompress2 to RGBA (flags 0)
 *              for the JPEG, libpng's simplified reader (png_image_finish_read to RGBA) for
 *              the PNG;
 *   decode     sisp_image_decode on the same bytes (limits checked, RGBA8 out);
 *   first frame  in-process, sisp-view's own code path: sisp_view_create on a software
 *              renderer (SDL_RENDERER_SOFTWARE on a 1024x768 window of SDL's dummy video
 *              driver, as sisp-view --software), whose worker reads the file (page cache) and
 *              decodes it, and whose main thread takes the result event, uploads the textures,
 *              draws the fitted image with the info overlay and calls SDL_RenderPresent; the
 *              clock stops when sisp_view_render has presented a frame showing the image.
 *              SDL start-up and the window are outside the clock; process start is not in it.
 *              The viewer draws that frame from a box-filtered preview when the image is shown
 *              at less than half size, and uploads the full resolution afterwards, so
 *   full resolution  the same view, run on as sisp_view_run would (sisp_view_pump, which
 *              uploads one full-resolution tile per call when no event waits, and
 *              sisp_view_render) until every tile is uploaded; from sisp_view_create too.
 * Every timed region includes allocating its output buffer, as an application would.
 * The median of the iterations is reported, with min and max, and the ratio of each median to
 * the reference's. Nothing is asserted about times; --quick (1 iteration, 1200x800 images) is
 * the ctest smoke entry. */
#include "bench_stats.h"

#include "sisp/decode.h"
#include "sisp/error.h"
#include "sisp/gallery.h"
#include "sisp/view.h"

#include <SDL.h>
#include <png.h>
#include <turbojpeg.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ITERS_DEFAULT 7u
#define ITERS_MAX 100u
#define GOAL_RATIO 1.5
#define WIN_W 1024
#define WIN_H 768
#define FRAME_TIMEOUT_MS 60000u

/* ---- timing and statistics ---- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ---- test images ---- */

static uint32_t rng_next(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static uint8_t clamp_u8(double v) {
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Photo-like RGB: slow colour gradients (separable waves), a few hard-edged discs and bars,
 * and per-pixel noise of +-noise, so that neither codec gets an easy ride. malloc'd w*h*3. */
static uint8_t *make_rgb(int w, int h, int noise) {
    uint8_t *rgb = malloc((size_t)w * (size_t)h * 3);
    double *cx = malloc((size_t)w * 3 * sizeof(double));
    double *cy = malloc((size_t)h * 3 * sizeof(double));
    uint32_t seed = 0x9e3779b9u;
    if (!rgb || !cx || !cy) {
        free(rgb);
        free(cx);
        free(cy);
        return NULL;
    }
    for (int x = 0; x < w; x++) {
        double t = (double)x / w;
        cx[x * 3 + 0] = 0.6 + 0.4 * SDL_sin(t * 5.1 + 0.3);
        cx[x * 3 + 1] = 0.6 + 0.4 * SDL_cos(t * 3.7 + 1.1);
        cx[x * 3 + 2] = 0.6 + 0.4 * SDL_sin(t * 7.3 + 2.0);
    }
    for (int y = 0; y < h; y++) {
        double t = (double)y / h;
        cy[y * 3 + 0] = 0.5 + 0.5 * SDL_cos(t * 4.3 + 0.7);
        cy[y * 3 + 1] = 0.5 + 0.5 * SDL_sin(t * 2.9 + 0.2);
        cy[y * 3 + 2] = 0.5 + 0.5 * SDL_cos(t * 6.1 + 1.9);
    }
    for (int y = 0; y < h; y++) {
        uint8_t *row = rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) {
            /* three discs and a band of bars: edges, as in a photo of objects */
            double dx0 = x - w * 0.3, dy0 = y - h * 0.4, r0 = h * 0.2;
            double dx1 = x - w * 0.7, dy1 = y - h * 0.6, r1 = h * 0.25;
            double dx2 = x - w * 0.5, dy2 = y - h * 0.15, r2 = h * 0.08;
            double shade = 1.0, tint[3] = {0, 0, 0};
            if (dx0 * dx0 + dy0 * dy0 < r0 * r0) {
                shade = 0.55;
                tint[0] = 40;
            }
            if (dx1 * dx1 + dy1 * dy1 < r1 * r1) {
                shade *= 1.2;
                tint[2] = 30;
            }
            if (dx2 * dx2 + dy2 * dy2 < r2 * r2)
                shade = 1.6;
            if (y > h * 8 / 10 && (x / (w / 40 + 1)) % 2 == 0)
                shade *= 0.7;
            for (int c = 0; c < 3; c++) {
                int n = (int)(rng_next(&seed) % (uint32_t)(2 * noise + 1)) - noise;
                row[x * 3 + c] =
                    clamp_u8(200.0 * cx[x * 3 + c] * cy[y * 3 + c] * shade + tint[c] + n);
            }
        }
    }
    free(cx);
    free(cy);
    return rgb;
}

static int make_jpeg(int w, int h, uint8_t **out, size_t *out_len) {
    uint8_t *rgb = make_rgb(w, h, 8);
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    tjhandle tj = tjInitCompress();
    int rc = -1;
    if (rgb && tj && tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpg, &len, TJSAMP_420, 90, 0) == 0) {
        *out = malloc(len);
        if (*out) {
            memcpy(*out, jpg, len);
            *out_len = len;
            rc = 0;
        }
    } else if (tj) {
        fprintf(stderr, "tjCompress2: %s\n", tjGetErrorStr2(tj));
    }
    tjFree(jpg);
    if (tj)
        tjDestroy(tj);
    free(rgb);
    return rc;
}

static int make_png(int w, int h, uint8_t **out, size_t *out_len) {
    uint8_t *rgb = make_rgb(w, h, 6);
    png_image img;
    png_alloc_size_t len = 0;
    int rc = -1;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    if (rgb && png_image_write_get_memory_size(img, len, 0, rgb, 0, NULL) && len > 0) {
        *out = malloc(len);
        if (*out && png_image_write_to_memory(&img, *out, &len, 0, rgb, 0, NULL)) {
            *out_len = len;
            rc = 0;
        } else {
            free(*out);
            *out = NULL;
        }
    }
    if (rc != 0)
        fprintf(stderr, "png_image_write_to_memory: %s\n", img.message);
    png_image_free(&img);
    free(rgb);
    return rc;
}

static int write_file(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* ---- the three measurements ---- */

typedef struct {
    const char *label;    /* "JPEG 6000x4000" */
    const char *ref_name; /* the reference's row label */
    sisp_image_format_t format;
    uint8_t *data; /* the encoded file, owned */
    size_t len;
    char path[512]; /* the same bytes on disk, for the viewer */
    int w, h;
} input_t;

/* The codec alone, output buffer included. Returns the RGBA buffer (malloc'd) or NULL. */
static uint8_t *reference_decode(const input_t *in) {
    uint8_t *px = NULL;
    if (in->format == SISP_IMAGE_JPEG) {
        tjhandle tj = tjInitDecompress();
        int w, h, sub, cs;
        if (tj &&
            tjDecompressHeader3(tj, in->data, (unsigned long)in->len, &w, &h, &sub, &cs) == 0 &&
            (px = malloc((size_t)w * (size_t)h * 4)) != NULL &&
            tjDecompress2(tj, in->data, (unsigned long)in->len, px, w, 0, h, TJPF_RGBA, 0) != 0) {
            fprintf(stderr, "tjDecompress2: %s\n", tjGetErrorStr2(tj));
            free(px);
            px = NULL;
        }
        if (tj)
            tjDestroy(tj);
    } else {
        png_image img;
        memset(&img, 0, sizeof img);
        img.version = PNG_IMAGE_VERSION;
        if (png_image_begin_read_from_memory(&img, in->data, in->len)) {
            img.format = PNG_FORMAT_RGBA;
            px = malloc(PNG_IMAGE_SIZE(img));
            if (px && !png_image_finish_read(&img, NULL, px, 0, NULL)) {
                free(px);
                px = NULL;
            }
        }
        if (!px)
            fprintf(stderr, "libpng: %s\n", img.message);
        png_image_free(&img);
    }
    return px;
}

/* One first frame through sisp-view's core; *ms from sisp_view_create to the presented
 * frame that shows the image, *full_ms to when all its full-resolution tiles are uploaded.
 * 0, or -1 (said why). */
static int first_frame(SDL_Window *win, SDL_Renderer *ren, const input_t *in, double *ms,
                       double *full_ms) {
    sisp_gallery_t g;
    sisp_view_opts_t o;
    sisp_view_t *v = NULL;
    SDL_Event ev;
    double t0, t1 = 0, t2 = 0;
    int err, rc = -1;

    sisp_view_opts_default(&o);
    sisp_gallery_init(&g, SISP_GALLERY_SORT_NAME);
    if ((err = sisp_gallery_add(&g, in->path)) != 0) {
        fprintf(stderr, "sisp_gallery_add: %s\n", sisp_strerror(err));
        return -1;
    }
    while (SDL_PollEvent(&ev)) /* nothing left over from the last view */
        ;
    t0 = now_ms();
    err = sisp_view_create(&v, win, ren, &g, &o);
    if (err != 0) {
        fprintf(stderr, "sisp_view_create: %s\n", sisp_strerror(err));
        sisp_gallery_free(&g);
        return -1;
    }
    for (;;) {
        int drew = sisp_view_render(v);
        sisp_view_state_t st = sisp_view_state(v);
        if (drew && st == SISP_VIEW_SHOWN) {
            t1 = now_ms();
            rc = 0;
            break;
        }
        if (st == SISP_VIEW_ERROR || st == SISP_VIEW_EMPTY) {
            fprintf(stderr, "sisp-view core: %s: %s\n", in->path, sisp_view_message(v));
            break;
        }
        if (now_ms() - t0 > FRAME_TIMEOUT_MS) {
            fprintf(stderr, "sisp-view core: no frame within %u ms\n", FRAME_TIMEOUT_MS);
            break;
        }
        sisp_view_pump(v, 10);
    }
    /* On, as sisp_view_run: each pump with no event waiting uploads one tile. */
    while (rc == 0 && sisp_view_tiles_pending(v) > 0 && sisp_view_state(v) == SISP_VIEW_SHOWN) {
        sisp_view_pump(v, 0);
        sisp_view_render(v);
    }
    t2 = now_ms();
    if (rc == 0 && sisp_view_state(v) != SISP_VIEW_SHOWN) {
        fprintf(stderr, "sisp-view core: %s: %s\n", in->path, sisp_view_message(v));
        rc = -1;
    }
    sisp_view_destroy(v);
    sisp_gallery_free(&g);
    *ms = t1 - t0;
    *full_ms = t2 - t0;
    return rc;
}

typedef struct {
    double ref[ITERS_MAX], dec[ITERS_MAX], frame[ITERS_MAX], full[ITERS_MAX];
} times_t;

static int run_input(SDL_Window *win, SDL_Renderer *ren, const input_t *in, unsigned iters,
                     times_t *t) {
    for (unsigned i = 0; i < iters; i++) {
        sisp_image_t img;
        uint8_t *px;
        double t0 = now_ms();
        int err;

        px = reference_decode(in);
        t->ref[i] = now_ms() - t0;
        if (!px)
            return -1;

        t0 = now_ms();
        err = sisp_image_decode(in->data, in->len, NULL, &img);
        t->dec[i] = now_ms() - t0;
        if (err != 0) {
            fprintf(stderr, "sisp_image_decode: %s\n", sisp_strerror(err));
            free(px);
            return -1;
        }
        if (i == 0) { /* untimed: both decoders saw the same image */
            size_t n = (size_t)in->w * (size_t)in->h * 4;
            int same = img.width == (uint32_t)in->w && img.height == (uint32_t)in->h &&
                       memcmp(img.pixels, px, n) == 0;
            printf("# %s: %zu bytes; sisp_image_decode %ux%u, pixels %s the reference's\n",
                   in->label, in->len, img.width, img.height,
                   same ? "identical to" : "differ from");
        }
        sisp_image_free(&img);
        free(px);

        if (first_frame(win, ren, in, &t->frame[i], &t->full[i]) != 0)
            return -1;
    }
    return 0;
}

static void print_row(const char *image, const char *what, const double *v, unsigned n,
                      double ref_median, int goal) {
    stats_t s = stats(v, n);
    double ratio = s.median / ref_median;
    printf("%-16s %-34s %9.1f %9.1f %9.1f %7.2f", image, what, s.median, s.min, s.max, ratio);
    if (goal)
        printf("  goal <= %.1fx: %s", GOAL_RATIO, ratio <= GOAL_RATIO ? "met" : "NOT met");
    printf("\n");
}

/* ---- main ---- */

static void usage(void) {
    fprintf(stderr,
            "usage: sisp-bench-view [--quick] [--iters N (1..%u)]\n"
            "  --quick  1 iteration on 1200x800 images: a smoke test, times mean nothing\n"
            "Runs headless on SDL's dummy video driver unless SDL_VIDEODRIVER says otherwise.\n",
            ITERS_MAX);
}

int main(int argc, char **argv) {
    unsigned iters = ITERS_DEFAULT;
    int quick = 0, rc = 1;
    char dir[] = "/tmp/sisp-bench-view-XXXXXX";
    input_t in[2];
    times_t *t = NULL;
    SDL_Window *win = NULL;
    SDL_Renderer *ren = NULL;
    int have_dir = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            char *end;
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (*end || n < 1 || n > ITERS_MAX) {
                usage();
                return 2;
            }
            iters = (unsigned)n;
        } else {
            usage();
            return 2;
        }
    }
    if (quick)
        iters = 1;

    memset(in, 0, sizeof in);
    in[0].format = SISP_IMAGE_JPEG;
    in[0].ref_name = "reference: tjDecompress2 RGBA";
    in[0].w = quick ? 1200 : 6000;
    in[0].h = quick ? 800 : 4000;
    in[1].format = SISP_IMAGE_PNG;
    in[1].ref_name = "reference: libpng simplified RGBA";
    in[1].w = quick ? 1200 : 4000;
    in[1].h = quick ? 800 : 3000;

    setenv("SDL_VIDEODRIVER", "dummy", 0);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    have_dir = 1;
    t = calloc(2, sizeof *t);
    if (!t)
        goto out;

    for (int k = 0; k < 2; k++) {
        double t0 = now_ms();
        int ok = in[k].format == SISP_IMAGE_JPEG
                     ? make_jpeg(in[k].w, in[k].h, &in[k].data, &in[k].len)
                     : make_png(in[k].w, in[k].h, &in[k].data, &in[k].len);
        snprintf(in[k].path, sizeof in[k].path, "%s/%s", dir,
                 in[k].format == SISP_IMAGE_JPEG ? "bench.jpg" : "bench.png");
        if (ok != 0 || write_file(in[k].path, in[k].data, in[k].len) != 0) {
            fprintf(stderr, "cannot make %s\n", in[k].path);
            goto out;
        }
        fprintf(stderr, "# generated %s (%dx%d, %zu bytes) in %.0f ms\n", in[k].path, in[k].w,
                in[k].h, in[k].len, now_ms() - t0);
    }
    in[0].label = quick ? "JPEG 1200x800" : "JPEG 6000x4000";
    in[1].label = quick ? "PNG 1200x800" : "PNG 4000x3000";

    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "SDL_Init: %s\n", SDL_GetError());
        goto out;
    }
    /* as sisp-view --software: no GPU texture behind the window */
    SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
    win = SDL_CreateWindow("sisp-bench-view", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                           WIN_W, WIN_H, 0);
    ren = win ? SDL_CreateRenderer(win, -1, SDL_RENDERER_SOFTWARE) : NULL;
    if (!ren) {
        fprintf(stderr, "SDL window/renderer: %s\n", SDL_GetError());
        goto out;
    }

    printf("# sisp-bench-view: %u iteration%s, median ms; first frame in-process through "
           "sisp-view's core (worker read + decode, preview or textures, draw, "
           "SDL_RenderPresent) on the %s video driver, software renderer, %dx%d window; process "
           "start not included; full resolution: the view run on until every full-resolution "
           "tile is uploaded\n",
           iters, iters == 1 ? "" : "s", SDL_GetCurrentVideoDriver(), WIN_W, WIN_H);
    if (quick)
        printf("# --quick: smoke run, the times mean nothing\n");
    for (int k = 0; k < 2; k++) {
        if (run_input(win, ren, &in[k], iters, &t[k]) != 0)
            goto out;
    }

    printf("%-16s %-34s %9s %9s %9s %7s\n", "image", "what", "median", "min", "max", "ratio");
    for (int k = 0; k < 2; k++) {
        double ref = stats(t[k].ref, iters).median;
        print_row(in[k].label, in[k].ref_name, t[k].ref, iters, ref, 0);
        print_row(in[k].label, "sisp_image_decode", t[k].dec, iters, ref, 0);
        print_row(in[k].label, "first frame (sisp-view core)", t[k].frame, iters, ref, 1);
        print_row(in[k].label, "full resolution uploaded", t[k].full, iters, ref, 0);
    }
    rc = 0;

out:
    if (ren)
        SDL_DestroyRenderer(ren);
    if (win)
        SDL_DestroyWindow(win);
    SDL_Quit();
    for (int k = 0; k < 2; k++) {
        if (in[k].path[0])
            unlink(in[k].path);
        free(in[k].data);
    }
    if (have_dir)
        rmdir(dir);
    free(t);
    return rc;
}
