/* h5image: in-memory HDF5 files (see h5image.h). */
#include <stdlib.h>

#include "io/h5image.h"

/* The core driver in 64 KiB increments, never backed by a file (the name is only a label). */
hid_t h5image_create(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0
              ? H5Fcreate("recur-image.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    return f;
}

/* The file's image, taken after a global flush so that every object is in it. */
int h5image_finish(hid_t f, void **img, size_t *len)
{
    ssize_t n = H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0 ? H5Fget_file_image(f, NULL, 0) : -1;
    *img = n > 0 ? malloc((size_t)n) : NULL;
    int rc = 0;
    if (!*img || H5Fget_file_image(f, *img, (size_t)n) != n) {
        free(*img);
        *img = NULL;
        rc = -1;
    }
    *len = rc == 0 ? (size_t)n : 0;
    H5Fclose(f);
    return rc;
}
