/* array: the one growable-array helper. Arrays that grow one element at a time keep a pointer and
 * a capacity; ARRAY_RESERVE makes room for `need` elements, doubling the capacity (from 8), so
 * appending n elements costs O(n) copies in all.
 *
 *     if (ARRAY_RESERVE(list->items, list->cap, list->n + 1) != 0) return oom();
 *     list->items[list->n++] = item;
 *
 * Ownership: the array is malloc'ed memory owned by whoever owns the pointer (free() it); on
 * failure the array and its capacity are left as they were. */
#ifndef RECUR_ARRAY_H
#define RECUR_ARRAY_H

#include <stddef.h>

/* Grows the malloc'ed array *arrp (capacity *cap elements of elem bytes) to hold at least need
 * elements; returns 0, or -1 when out of memory or when the size would overflow. */
int array_reserve(void *arrp, size_t *cap, size_t need, size_t elem);

/* ARRAY_RESERVE(arr, cap, need): arr is any T* lvalue, cap a size_t lvalue. */
#define ARRAY_RESERVE(arr, cap, need) \
    ((size_t)(need) <= (cap) ? 0 : array_reserve(&(arr), &(cap), (size_t)(need), sizeof *(arr)))

#endif
