/* arena: a bump allocator for data that lives and dies together (an AST, one parse).
 *
 * Ownership: the Arena owns every block it hands out; arena_free releases them all at once.
 * Nothing returned by arena_alloc/arena_strndup may be passed to free(). */
#ifndef RECUR_ARENA_H
#define RECUR_ARENA_H

#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
    ArenaBlock *head;   /* newest block first */
    size_t total;       /* bytes handed out, for limits */
} Arena;

/* Zeroed memory of n bytes aligned for any type, or NULL when out of memory. */
void *arena_alloc(Arena *a, size_t n);
/* A NUL-terminated copy of the first n bytes of s, or NULL when out of memory. */
char *arena_strndup(Arena *a, const char *s, size_t n);
/* The growable array of an arena: arr (n elements of elem bytes, capacity *cap) itself when
 * *cap > n, else a copy in a new block of twice the capacity (8 at first; the old block stays in
 * the arena, freed with it). NULL when out of memory or too large (arr is then unchanged). */
void *arena_grow(Arena *a, void *arr, int n, int *cap, size_t elem);
/* Releases every block; the arena is empty and reusable afterwards. */
void arena_free(Arena *a);

#endif
