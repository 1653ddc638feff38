/* torch_pt: PyTorch .pt/.pth files (see torch_pt.h). UNFINISHED: probes only in this commit. */
#include "io/torch_pt.h"

#include <string.h>

#include "io/ziparch.h"

/* The pickled magic number of the legacy format: PROTO 2, LONG1 10 bytes 0x1950a86a20f9469cfc6c. */
static const unsigned char legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                             0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static bool is_data_pkl(const char *name)
{
    const char *slash = strchr(name, '/');
    return slash && strcmp(slash + 1, "data.pkl") == 0;
}

int torch_probe_zip(const unsigned char *head, size_t n, const char *path)
{
    if (n < 4 || memcmp(head, "PK\3\4", 4) != 0)
        return 0;
    return ziparch_probe_path(path, is_data_pkl, false);
}

int torch_probe_legacy(const unsigned char *head, size_t n, const char *path)
{
    (void)path;
    return n >= sizeof legacy_magic && memcmp(head, legacy_magic, sizeof legacy_magic) == 0;
}

int torch_read_buffer(const unsigned char *buf, size_t n, const char *what, const WfReadOpts *o,
                      WeightSet *out, Diag *d)
{
    (void)buf, (void)n, (void)o, (void)out;
    diag_error_in(d, what, "PyTorch import is not finished in this build");
    return -1;
}

int torch_read(const char *path, const WfReadOpts *o, WeightSet *out, Diag *d)
{
    return torch_read_buffer(NULL, 0, path, o, out, d);
}

int torch_write_zip(const char *path, const WeightSet *w, Diag *d)
{
    (void)w;
    diag_error_in(d, path, "PyTorch export is not finished in this build");
    return -1;
}
