#!/usr/bin/env bash
# Cold-start SFT with verl's SFT trainer (torchrun, FSDP) on the parquet of `lite-world sft-data`.
#
#   MODEL_PATH=Qwen/Qwen3-4B TRAIN_FILES=runs/sft-data/verl_sft.parquet bash trainers/verl/run_sft.sh [overrides...]
#
#   MODEL_PATH        HF model directory or hub id (required)
#   TRAIN_FILES       verl_sft.parquet from `lite-world sft-data` (required)
#   VAL_FILES         validation parquet (default: none)
#   N_GPUS_PER_NODE   GPUs on this node (default 8)
#   LORA_RANK         0: full-parameter (default); e.g. 16 for LoRA (alpha 2x rank)
#   LR (2e-5), EPOCHS (1), MAX_LENGTH (32768), OUT_DIR (checkpoints/lite_world/lite_search_sft)
#   DRY_RUN=1         print the command (one argument per line) and exit
# The HF checkpoint it saves (checkpoint.save_contents includes hf_model) is the MODEL_PATH of
# trainers/verl/run_grpo.sh, or the --model of `python -m trainers.grpo`.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODEL_PATH="${MODEL_PATH:?set MODEL_PATH (an HF model directory or hub id)}"
TRAIN_FILES="${TRAIN_FILES:?set TRAIN_FILES (verl_sft.parquet from lite-world sft-data)}"
case "$TRAIN_FILES" in /*) ;; *) TRAIN_FILES="$PWD/$TRAIN_FILES" ;; esac
LORA_RANK="${LORA_RANK:-0}"

cmd=(torchrun --standalone --nnodes=1 --nproc_per_node="${N_GPUS_PER_NODE:-8}" -m verl.trainer.sft_trainer
  --config-path="$REPO_DIR/trainers/verl/config" --config-name=lite_search_sft
  "model.path=$MODEL_PATH"
  "data.train_files=$TRAIN_FILES"
  "data.max_length=${MAX_LENGTH:-32768}"
  "optim.lr=${LR:-2e-5}"
  "trainer.total_epochs=${EPOCHS:-1}"
  "trainer.default_local_dir=${OUT_DIR:-checkpoints/lite_world/lite_search_sft}"
  "model.lora_rank=$LORA_RANK"
  "model.lora_alpha=$((2 * LORA_RANK > 0 ? 2 * LORA_RANK : 16))")
if [ -n "${VAL_FILES:-}" ]; then cmd+=("data.val_files=$VAL_FILES"); fi
cmd+=("$@")

if [ "${DRY_RUN:-0}" = "1" ]; then
  printf '%s\n' "${cmd[@]}"
  exit 0
fi
exec "${cmd[@]}"
