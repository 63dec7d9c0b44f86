/* Overlay text with SDL2's built-in 8x8 font. See font.h. */
#include "font.h"

#include <SDL_test_font.h>
#include <string.h>

_Static_assert(FONT_CHARACTER_SIZE == SISP_FONT_CELL, "SDL_test font cell size");

int sisp_font_draw(SDL_Renderer *r, int x, int y, int scale, const char *text, SDL_Color c) {
    int err;
    if (scale < 1)
        scale = 1;
    if (SDL_SetRenderDrawColor(r, c.r, c.g, c.b, c.a) != 0)
        return -1;
    if (scale > 1 && SDL_RenderSetScale(r, (float)scale, (float)scale) != 0)
        return -1;
    err = SDLTest_DrawString(r, x / scale, y / scale, text);
    if (scale > 1)
        SDL_RenderSetScale(r, 1.0f, 1.0f);
    return err == 0 ? 0 : -1;
}

int sisp_font_width(const char *text, int scale) {
    size_t n = strlen(text);
    if (scale < 1)
        scale = 1;
    if (n > (size_t)(SDL_MAX_SINT32 / (SISP_FONT_CELL * scale)))
        return SDL_MAX_SINT32;
    return (int)n * SISP_FONT_CELL * scale;
}

void sisp_font_release(void) {
    SDLTest_CleanupTextDrawing();
}
