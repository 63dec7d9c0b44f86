/* Overlay text (internal). The glyphs are SDL2's own 8x8 font from its SDL2_test library
 * (libSDL2_test.a, shipped with libsdl2-dev): no font file at run time and no extra
 * package. Text is drawn on the main thread only; pass printable ASCII. */
#ifndef SISP_VIEW_FONT_H
#define SISP_VIEW_FONT_H

#include <SDL.h>

#define SISP_FONT_CELL 8 /* glyph cell edge in pixels, before scaling */

/* Draws text with its top-left corner at output pixel (x, y), each glyph scale * 8 pixels
 * square, in colour c. 0, or -1 with SDL_GetError set. */
int sisp_font_draw(SDL_Renderer *r, int x, int y, int scale, const char *text, SDL_Color c);

/* Width in output pixels of text drawn at scale. */
int sisp_font_width(const char *text, int scale);

/* Frees the cached glyph textures of every renderer. Call it before SDL_DestroyRenderer:
 * the cache is keyed by renderer pointer. */
void sisp_font_release(void);

#endif
