#!/bin/bash
# slurm.sh: data-parallel training of the character LSTM on a Slurm cluster (doc/MPI.md).
# Submit with: sbatch examples/slurm.sh   (from a clone built with ./bootstrap on every node, or
# on a shared filesystem that every node mounts at the same path).
#
# 4 nodes x 2 ranks, one OpenBLAS thread per core: the global batch (the model's `batch`, 32)
# must be a multiple of the 8 ranks; each rank runs 4 of the 32 streams. The --out directory
# must be on the shared filesystem: rank 0 writes it, and every rank reads last.ckpt on
# --resume (resubmitting this script after a time limit or a failed node continues the run).
#SBATCH --job-name=recur-charlm
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
#SBATCH --output=recur-%j.log
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
OUT=runs/charlm-mpi
RESUME=""
[ -f "$OUT/last.ckpt" ] && RESUME="--resume"
# srun starts the ranks through PMIx (Open MPI's default with Slurm); with an Open MPI that was
# not built with Slurm support use: mpirun -np "$SLURM_NTASKS" ./recur train ...
srun --mpi=pmix ./recur train models/charlm.rnn --data examples/tinyshakespeare.txt \
    --steps 5000 --threads "${SLURM_CPUS_PER_TASK:-1}" --out "$OUT" $RESUME
