#!/bin/sh
# mpi_cost_model.sh: the ring all-reduce cost model of doc/MPI.md.
#   t_comm(N) = 2 (N-1)/N * S / BW + 2 (N-1) * alpha
# (each of the 2(N-1) ring steps moves S/N bytes and pays one message latency alpha), and the
# predicted efficiency of data-parallel training without overlap, t_step / (t_step + t_comm),
# for a per-rank batch that stays the same as N grows (weak scaling: the global batch is N times
# the per-rank batch).
# Usage: mpi_cost_model.sh STEP_SECONDS [BYTES] [ALPHA_SECONDS]
#   defaults: the character LSTM's 13289988 gradient bytes, alpha 20e-6 (TCP over Ethernet).
t=${1:?step time in seconds}
S=${2:-13289988}
alpha=${3:-20e-6}
awk -v t="$t" -v S="$S" -v a="$alpha" 'BEGIN {
    printf "| N | t_comm 10 Gbit/s | eff. | t_comm 25 Gbit/s | eff. | t_comm 100 Gbit/s | eff. |\n"
    printf "|---|---|---|---|---|---|---|\n"
    split("10 25 100", g, " ")
    for (N = 2; N <= 64; N *= 2) {
        printf "| %d ", N
        for (i = 1; i <= 3; i++) {
            bw = g[i] * 1e9 / 8
            c = 2 * (N - 1) / N * S / bw + 2 * (N - 1) * a
            printf "| %.1f ms | %.0f%% ", c * 1e3, 100 * t / (t + c)
        }
        printf "|\n"
    }
}'
