/* recur.h: the public API of librecur (filled in as the library grows). */
#ifndef RECUR_H
#define RECUR_H

#define RECUR_VERSION "0.1.0"

#endif
