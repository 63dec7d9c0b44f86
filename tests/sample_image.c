/* sisp-sample-image: writes the demo's sample photo, a PNG (libpng) of a sunset-coloured
 * gradient with a few shapes, so the demo needs no image of its own.
 * usage: sisp-sample-image OUT.png [WIDTH HEIGHT] */
#include <png.h>

#include <stdio.h>
#include <stdlib.h>

static unsigned char clamp(double v) {
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: sisp-sample-image OUT.png [WIDTH HEIGHT]\n");
        return 2;
    }
    long w = argc == 4 ? strtol(argv[2], NULL, 10) : 800;
    long h = argc == 4 ? strtol(argv[3], NULL, 10) : 600;
    if (w < 16 || h < 16 || w > 8192 || h > 8192) {
        fprintf(stderr, "sisp-sample-image: size must be 16..8192\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *row = malloc((size_t)w * 3);
    if (f == NULL || png == NULL || info == NULL || row == NULL) {
        fprintf(stderr, "sisp-sample-image: cannot write %s\n", argv[1]);
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "sisp-sample-image: libpng failed writing %s\n", argv[1]);
        return 1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    unsigned long noise = 12345; /* film grain, so the photo is not trivially compressible */
    double sx = (double)w * 0.7, sy = (double)h * 0.55, sr = (double)h * 0.18;
    for (long y = 0; y < h; y++) {
        double t = (double)y / (double)h;
        for (long x = 0; x < w; x++) {
            double r = 255 * (1 - t * 0.4), g = 120 + 100 * t, b = 80 + 150 * t;
            double dx = (double)x - sx, dy = (double)y - sy;
            if (dx * dx + dy * dy < sr * sr) { /* the sun */
                r = 255;
                g = 200;
                b = 60;
            }
            if ((double)y > (double)h * 0.7 + 20 * ((double)((x * 7) % 50) / 50.0)) { /* sea */
                r *= 0.3;
                g *= 0.5;
                b = 140 + 60 * t;
            }
            noise = noise * 1103515245ul + 12345ul;
            double grain = (double)((noise >> 16) % 17) - 8;
            r += grain;
            g += grain;
            b += grain;
            row[x * 3] = clamp(r);
            row[x * 3 + 1] = clamp(g);
            row[x * 3 + 2] = clamp(b);
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return fclose(f) == 0 ? 0 : 1;
}
