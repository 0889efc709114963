#!/usr/bin/env bash
# GRPO on LiteSearch-v0 with verl 0.9.1 (LiteResearcher's two-stage recipe).
#
#   MODEL_PATH=Qwen/Qwen3-4B TRAIN_FILES=data/train.parquet WORLD=/data/world \
#       bash trainers/verl/run_grpo.sh [extra hydra overrides...]
#
# Run from anywhere; paths are made absolute so Ray workers on every node resolve them (the repo,
# the world and the data must be on a filesystem all nodes share). Every variable below can be set
# in the environment; extra arguments are passed to verl as hydra overrides.
#
#   STAGE              1 (32K response, 40 turns) or 2 (48K, 60 turns; MODEL_PATH = stage-1 checkpoint)
#   MODEL_PATH         HF model directory or hub id (required)
#   TRAIN_FILES        Parquet from `python -m trainers.verl.data TASKS OUT.parquet` (required)
#   VAL_FILES          validation Parquet (default: TRAIN_FILES)
#   WORLD              world directory or `demo` (default: demo)
#   TOOL_SERVICE       ""      the world is opened inside each agent-loop worker (default)
#                      start   start `lite-world serve $WORLD` here and point the workers at it
#                      http://host:port   use a running tool service
#   TOOL_SERVICE_HOST/TOOL_SERVICE_PORT   bind address of a started service (default 0.0.0.0:8765)
#   JUDGE_URL, JUDGE_MODEL   OpenAI-compatible judge (…/v1); unset: exact-match reward
#   AGENT              lite_search_agent (default: the env runs the episode) or tool_agent (verl's stock
#                      loop with config/tool_config.yaml; the data file must have agent_name=tool_agent)
#   N_GPUS_PER_NODE (8), NNODES (1), TP (1: rollout tensor parallel size), ROLLOUT_NAME (vllm|sglang)
#   TRAIN_BATCH_SIZE (128), ROLLOUT_N (8), LR (1e-6)
#   MAX_PROMPT_LENGTH (2048), MAX_RESPONSE_LENGTH (32768 | 49152), MAX_TURNS (40 | 60), MAX_TURN_TOKENS (2048 | 4096)
#   GPU_MEMORY_UTILIZATION (0.7), AGENT_WORKERS (8), EXPERIMENT_NAME, LOGGER ('["console"]'), OUT_DIR (checkpoints/...)
#   DRY_RUN=1          print the command (one argument per line) and exit
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONFIG_DIR="$REPO_DIR/trainers/verl/config"
PYTHON="${PYTHON:-python3}"

STAGE="${STAGE:-1}"
case "$STAGE" in
  1) DEF_RESPONSE=32768; DEF_TURNS=40; DEF_TURN_TOKENS=2048 ;;
  2) DEF_RESPONSE=49152; DEF_TURNS=60; DEF_TURN_TOKENS=4096 ;;
  *) echo "run_grpo.sh: expects STAGE=1 or STAGE=2, actual: $STAGE" >&2; exit 2 ;;
esac

MODEL_PATH="${MODEL_PATH:?set MODEL_PATH (an HF model directory or hub id; for STAGE=2 the stage-1 checkpoint)}"
TRAIN_FILES="${TRAIN_FILES:?set TRAIN_FILES (python -m trainers.verl.data TASKS OUT.parquet)}"
VAL_FILES="${VAL_FILES:-$TRAIN_FILES}"
WORLD="${WORLD:-demo}"
TOOL_SERVICE="${TOOL_SERVICE:-}"
TOOL_SERVICE_HOST="${TOOL_SERVICE_HOST:-0.0.0.0}"
TOOL_SERVICE_PORT="${TOOL_SERVICE_PORT:-8765}"
JUDGE_URL="${JUDGE_URL:-}"
JUDGE_MODEL="${JUDGE_MODEL:-}"
AGENT="${AGENT:-lite_search_agent}"
N_GPUS_PER_NODE="${N_GPUS_PER_NODE:-8}"
NNODES="${NNODES:-1}"
TP="${TP:-1}"
ROLLOUT_NAME="${ROLLOUT_NAME:-vllm}"
TRAIN_BATCH_SIZE="${TRAIN_BATCH_SIZE:-128}"
ROLLOUT_N="${ROLLOUT_N:-8}"
LR="${LR:-1e-6}"
MAX_PROMPT_LENGTH="${MAX_PROMPT_LENGTH:-2048}"
MAX_RESPONSE_LENGTH="${MAX_RESPONSE_LENGTH:-$DEF_RESPONSE}"
MAX_TURNS="${MAX_TURNS:-$DEF_TURNS}"
MAX_TURN_TOKENS="${MAX_TURN_TOKENS:-$DEF_TURN_TOKENS}"
GPU_MEMORY_UTILIZATION="${GPU_MEMORY_UTILIZATION:-0.7}"
AGENT_WORKERS="${AGENT_WORKERS:-8}"
EXPERIMENT_NAME="${EXPERIMENT_NAME:-lite_search_stage${STAGE}}"
LOGGER="${LOGGER:-[\"console\"]}"
OUT_DIR="${OUT_DIR:-$REPO_DIR/checkpoints/lite_world/$EXPERIMENT_NAME}"
DRY_RUN="${DRY_RUN:-0}"

abspath() {  # absolute path of an existing file/dir; anything else (hub ids, URLs, `demo`) unchanged
  if [ -e "$1" ]; then (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); else echo "$1"; fi
}
MODEL_PATH="$(abspath "$MODEL_PATH")"
TRAIN_FILES="$(abspath "$TRAIN_FILES")"
VAL_FILES="$(abspath "$VAL_FILES")"
WORLD="$(abspath "$WORLD")"

# ---- the tool service ---------------------------------------------------------------------------
WORLD_FOR_WORKERS="$WORLD"
SERVICE_PID=""
if [ "$TOOL_SERVICE" = "start" ]; then
  if [ "$TOOL_SERVICE_HOST" = "0.0.0.0" ]; then  # advertise this node's first address to the workers
    SERVICE_ADDR="$(hostname -I 2>/dev/null | awk '{print $1}')"
    SERVICE_ADDR="${SERVICE_ADDR:-127.0.0.1}"
  else
    SERVICE_ADDR="$TOOL_SERVICE_HOST"
  fi
  WORLD_FOR_WORKERS="http://$SERVICE_ADDR:$TOOL_SERVICE_PORT"
  if [ "$DRY_RUN" != "1" ]; then
    lite-world serve "$WORLD" --host "$TOOL_SERVICE_HOST" --port "$TOOL_SERVICE_PORT" &
    SERVICE_PID=$!
    trap 'kill "$SERVICE_PID" 2>/dev/null || true' EXIT
    for _ in $(seq 1 600); do  # the service loads the index and encoder before it answers
      if "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/health', timeout=2)" \
          "http://127.0.0.1:$TOOL_SERVICE_PORT" 2>/dev/null; then break; fi
      kill -0 "$SERVICE_PID" 2>/dev/null || { echo "run_grpo.sh: lite-world serve exited" >&2; exit 1; }
      sleep 1
    done
  fi
elif [ -n "$TOOL_SERVICE" ]; then
  WORLD_FOR_WORKERS="$TOOL_SERVICE"
fi

# ---- reward: the judge when one is configured, else exact match -------------------------------
if [ -n "$JUDGE_URL" ] && [ -n "$JUDGE_MODEL" ]; then
  REWARD_ARGS=(lite_world.reward=judge "lite_world.judge_url=$JUDGE_URL" "lite_world.judge_model=$JUDGE_MODEL")
else
  echo "run_grpo.sh: JUDGE_URL/JUDGE_MODEL unset: exact-match reward (lite_world.reward=em)" >&2
  REWARD_ARGS=(lite_world.reward=em)
fi

# ---- agent loop: ours, or verl's tool_agent with the lite-world tools ------------------------
case "$AGENT" in
  lite_search_agent) AGENT_ARGS=() ;;
  tool_agent) AGENT_ARGS=(
      "actor_rollout_ref.rollout.agent.default_agent_loop=tool_agent"
      "actor_rollout_ref.rollout.multi_turn.tool_config_path=$CONFIG_DIR/tool_config.yaml") ;;
  *) echo "run_grpo.sh: expects AGENT=lite_search_agent or tool_agent, actual: $AGENT" >&2; exit 2 ;;
esac

CMD=(
  "$PYTHON" -m verl.trainer.main_ppo
  "--config-path=$CONFIG_DIR"
  "--config-name=lite_search_stage${STAGE}"
  "actor_rollout_ref.model.path=$MODEL_PATH"
  "data.train_files=$TRAIN_FILES"
  "data.val_files=$VAL_FILES"
  "data.train_batch_size=$TRAIN_BATCH_SIZE"
  "data.max_prompt_length=$MAX_PROMPT_LENGTH"
  "data.max_response_length=$MAX_RESPONSE_LENGTH"
  "actor_rollout_ref.actor.ppo_mini_batch_size=$TRAIN_BATCH_SIZE"
  "actor_rollout_ref.actor.optim.lr=$LR"
  "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$((2 * (MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH)))"
  "actor_rollout_ref.rollout.name=$ROLLOUT_NAME"
  "actor_rollout_ref.rollout.n=$ROLLOUT_N"
  "actor_rollout_ref.rollout.tensor_model_parallel_size=$TP"
  "actor_rollout_ref.rollout.gpu_memory_utilization=$GPU_MEMORY_UTILIZATION"
  "actor_rollout_ref.rollout.max_model_len=$((MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH))"
  "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=$((2 * (MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH)))"
  "actor_rollout_ref.rollout.multi_turn.max_assistant_turns=$MAX_TURNS"
  "actor_rollout_ref.rollout.agent.agent_loop_config_path=$CONFIG_DIR/agent_loops.yaml"
  "actor_rollout_ref.rollout.agent.num_workers=$AGENT_WORKERS"
  "lite_world.world=$WORLD_FOR_WORKERS"
  "lite_world.max_turn_tokens=$MAX_TURN_TOKENS"
  "${REWARD_ARGS[@]}"
  ${AGENT_ARGS[@]+"${AGENT_ARGS[@]}"}
  "++ray_kwargs.ray_init.runtime_env.env_vars.PYTHONPATH=$REPO_DIR"
  "trainer.n_gpus_per_node=$N_GPUS_PER_NODE"
  "trainer.nnodes=$NNODES"
  "trainer.experiment_name=$EXPERIMENT_NAME"
  "trainer.logger=$LOGGER"
  "trainer.default_local_dir=$OUT_DIR"
  "$@"
)

if [ "$DRY_RUN" = "1" ]; then
  printf '%s\n' "${CMD[@]}"
  exit 0
fi

cd "$REPO_DIR"
export PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"
export HYDRA_FULL_ERROR=1
"${CMD[@]}"
