/* embed: a small program that embeds librecur. It compiles a .rnn model (or loads a checkpoint),
 * runs it over a few random token ids or vectors, and prints the output's shape and first row.
 *
 *   cc embed.c $(pkg-config --cflags --libs recur) -o embed
 *   ./embed models/charlm.rnn vocab=65        # compile + fresh weights (seed 1)
 *   ./embed runs/charlm/best.ckpt             # a trained checkpoint
 */
#include <recur.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: embed MODEL.rnn [NAME=VALUE]... | embed FILE.ckpt\n");
        return 2;
    }
    char *error = NULL;
    size_t n = strlen(argv[1]);
    RecurModel *m = n > 4 && strcmp(argv[1] + n - 4, ".rnn") == 0
                        ? recur_compile(argv[1], (const char *const *)argv + 2, argc - 2, 1, &error)
                        : recur_load(argv[1], &error);
    if (!m) {
        fputs(error, stderr);
        free(error);
        return 1;
    }
    enum { T = 4, B = 2 };
    int vocab = recur_input_vocab(m), width = recur_input_width(m);
    int32_t ids[T * B];
    float *vec = calloc((size_t)T * B * (size_t)(width ? width : 1), sizeof *vec);
    unsigned x = 12345;
    for (int i = 0; i < T * B; i++)
        ids[i] = vocab ? (int32_t)((x = x * 1103515245u + 12345u) >> 16) % vocab : 0;
    for (int i = 0; i < T * B * width; i++)
        vec[i] = (float)((x = x * 1103515245u + 12345u) >> 16) / 65536.0f;
    int rows = recur_output_is_sequence(m) ? T * B : B, out_w = recur_output_width(m);
    float *out = malloc(sizeof *out * (size_t)rows * (size_t)out_w);
    int rc = recur_forward(m, T, B, vocab ? ids : NULL, vocab ? NULL : vec, out, &error);
    if (rc == 0) {
        printf("recur %s: %lld parameters, output %d rows x %d\nfirst row:", recur_version(),
               (long long)recur_num_params(m), rows, out_w);
        for (int j = 0; j < out_w && j < 8; j++)
            printf(" %.5f", out[j]);
        printf("%s\n", out_w > 8 ? " ..." : "");
    } else {
        fputs(error, stderr);
        free(error);
    }
    free(out);
    free(vec);
    recur_free(m);
    return rc ? 1 : 0;
}
