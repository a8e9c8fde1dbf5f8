"""Where to run: the launch section's form and flags, the generated accelerate config, the refusals."""

import socket

import pytest
import yaml

from studio.cli import build_parser
from studio.config import RunConfig
from studio.config.launch_section import LaunchConfig
from studio.launch.accelerate_yaml import accelerate_config, launch_command, write_config
from studio.launch.cluster import cluster_problems, resource_problems
from studio.launch.remote import decoder_layer_class
from studio.train.checks import validate
from studio.train.placement import launch_problems
from studio.ui.train_layout import LAYOUT, field_order


def _config(**launch) -> RunConfig:
    config = RunConfig()
    for name, value in launch.items():
        setattr(config.launch, name, value)
    return config


def _errors(problems, field):
    return [p.message for p in problems if p.field == field and p.level == "error"]


def test_the_launch_section_is_in_the_form_the_flags_and_the_yaml():
    shown = {name for _, _, rows in LAYOUT for row in rows for name in row}
    assert {f for f in LaunchConfig.__dataclass_fields__} <= shown <= set(field_order())
    args = build_parser().parse_args(["train", "--on", "ray", "--ray-workers", "3", "--strategy", "fsdp"])
    assert (args.on, args.ray_workers, args.strategy) == ("ray", "3", "fsdp")
    config = RunConfig.from_dict({"launch": {"on": "accelerate", "num_processes": 4}})
    assert RunConfig.from_dict(yaml.safe_load(config.to_yaml())).launch == config.launch
    hand_written = yaml.safe_load("launch:\n  on: ray\n")  # YAML reads a bare `on` as true
    assert RunConfig.from_dict(hand_written).launch.on == "ray"
    assert _errors(validate(_config(on="slurm")), "on") == ["'slurm' is not one of here, accelerate, ray"]


def test_fsdp_config_carries_the_lora_settings_and_the_decoder_layer(tiny_model_dir, tmp_path):
    config = _config(on="accelerate", strategy="fsdp", num_processes=2)
    config.model.model = str(tiny_model_dir)
    layer = decoder_layer_class(config.model.model)
    assert layer == "LlamaDecoderLayer"
    path = write_config(tmp_path, config, layer)
    written = yaml.safe_load(path.read_text())
    fsdp = written["fsdp_config"]
    assert written["distributed_type"] == "FSDP" and written["num_processes"] == 2
    assert fsdp["fsdp_use_orig_params"] is True  # frozen base and trainable adapter in one flat parameter
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert fsdp["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
    assert fsdp["fsdp_cpu_ram_efficient_loading"] is True and fsdp["fsdp_sync_module_states"] is True
    cmd = launch_command(path, tmp_path / "run")
    assert cmd[1:4] == ["launch", "--config_file", str(path)] and cmd[-4:-2] == ["--into", str(tmp_path / "run")]


def test_ddp_and_deepspeed_configs():
    ddp = accelerate_config(_config(on="accelerate", strategy="ddp", num_processes=3))
    assert (ddp["distributed_type"], ddp["num_processes"], ddp["mixed_precision"]) == ("MULTI_GPU", 3, "no")
    config = _config(on="accelerate", strategy="zero3")
    config.train.grad_accum, config.model.precision = 4, "bf16"
    ds = accelerate_config(config, gpus=2)
    assert ds["distributed_type"] == "DEEPSPEED" and ds["mixed_precision"] == "bf16"
    assert ds["deepspeed_config"]["zero_stage"] == 3 and ds["deepspeed_config"]["gradient_accumulation_steps"] == 4
    assert ds["deepspeed_config"]["zero3_init_flag"] is True


def test_strategies_the_adapter_or_machine_cannot_use_are_refused_with_what_to_choose():
    qlora_zero3 = _config(on="accelerate", strategy="zero3")
    qlora_zero3.adapter.adapter = "qlora"
    [message] = _errors(launch_problems(qlora_zero3, gpus=2), "strategy")[:1]
    assert "ZeRO-3" in message and "choose zero2 or ddp for QLoRA" in message
    qlora_fsdp = _config(on="accelerate", strategy="fsdp")
    qlora_fsdp.adapter.adapter = "qlora"
    assert "bnb_4bit_quant_storage" in _errors(launch_problems(qlora_fsdp, gpus=2), "strategy")[0]
    zero2 = _config(on="accelerate", strategy="zero2")
    assert "DeepSpeed is not installed" in _errors(launch_problems(zero2, gpus=2), "strategy")[0]
    too_many = _config(on="accelerate", strategy="ddp", num_processes=4)
    assert _errors(launch_problems(too_many, gpus=2), "num_processes") == [
        "4 processes but 2 GPUs here; set it to 2 or fewer"
    ]
    # DDP over gloo on CPU processes works (tests/test_launch_accelerate.py): no refusal; FSDP does not
    assert _errors(launch_problems(_config(on="accelerate", num_processes=2), gpus=0), "strategy") == []
    assert "on CPUs choose ddp" in _errors(launch_problems(_config(on="accelerate", strategy="fsdp")), "strategy")[0]
    qlora_ray = _config(on="ray")
    qlora_ray.adapter.adapter = "qlora"
    assert "QLoRA on Ray needs GPU workers" in _errors(validate(qlora_ray), "gpus_per_worker")[0]


def test_an_unreachable_ray_address_is_refused_before_the_run():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch = LaunchConfig(on="ray", ray_address=f"http://127.0.0.1:{port}")
    [problem] = cluster_problems(launch)
    assert problem.field == "ray_address" and "no Ray dashboard answers" in problem.message
    assert "ray start --head" in problem.message


def test_a_cluster_without_the_resources_asked_is_refused():
    nodes = [{"CPU": 2.0}, {"CPU": 2.0}]
    assert resource_problems(LaunchConfig(on="ray", ray_workers=4, cpus_per_worker=1.0), nodes) == []
    [cpus] = resource_problems(LaunchConfig(on="ray", ray_workers=5, cpus_per_worker=1.0), nodes)
    assert cpus.field == "cpus_per_worker" and "= 5, but the cluster has 4" in cpus.message
    [gpus] = resource_problems(LaunchConfig(on="ray", ray_workers=2, gpus_per_worker=1.0), nodes)
    assert gpus.field == "gpus_per_worker" and "the cluster has 0" in gpus.message
    [wide] = resource_problems(LaunchConfig(on="ray", ray_workers=1, cpus_per_worker=3.0), nodes)
    assert "no node has 3 CPUs (the largest has 2)" in wide.message


def test_stop_reaches_a_run_training_elsewhere_after_the_studio_restarted(tiny_model_dir, tmp_path):
    import os

    from studio.launch.remote import STOP_FILE
    from studio.runs.directory import new_run
    from studio.runs.owners import claim
    from studio.services import Studio

    from .conftest import tiny_recipe

    def running(on: str, user: str):
        config = tiny_recipe(tiny_model_dir)
        config.launch.on = on
        run = new_run(config, tmp_path)
        claim(run, user)
        run.set_status(status="running", pid=os.getpid())  # its workers are alive (here: this process)
        return run

    ray_run, local_run, bobs = running("ray", "alice"), running("here", "alice"), running("ray", "bob")
    studio = Studio(tmp_path)  # a studio started after them: no job of its own
    assert studio.stop_training("alice")
    assert (ray_run.path / STOP_FILE).exists()
    assert not (local_run.path / STOP_FILE).exists()  # a run here whose studio is gone is not stopped by a file
    assert not (bobs.path / STOP_FILE).exists()  # nor another person's
    assert not Studio(tmp_path).stop_training("carol")


def test_ray_restarts_the_workers_only_after_a_failure_in_training():
    """A job that failed while loading fails the same way on every restart (studio.launch.ray_driver)."""
    from studio.launch.ray_driver import worth_a_restart
    from studio.train.jobs.progress import Progress

    assert not worth_a_restart(Progress(status="failed", phase="loading", error="dataset file not found: x"))
    assert worth_a_restart(Progress(status="failed", phase="training", step=3, error="worker died"))
    assert worth_a_restart(Progress(status="failed", phase="saving", step=4, error="No space left on device"))


def test_a_job_manager_without_a_launcher_refuses_a_run_meant_for_elsewhere(tiny_model_dir, tmp_path, monkeypatch):
    """Training imports no launcher: a JobManager built without one (a script, the bench) refuses a
    run sent to accelerate instead of training it here unasked, and writes no run."""
    from studio.schema import ConfigError
    from studio.train.jobs.manager import JobManager

    from .conftest import tiny_recipe

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    config = tiny_recipe(tiny_model_dir, max_steps=1)
    config.launch.on, config.launch.num_processes = "accelerate", 2
    jobs = JobManager(tmp_path / "runs")
    with pytest.raises(ConfigError) as refused:
        jobs.start(config)
    assert [p.field for p in refused.value.problems] == ["on"] and "trains here only" in str(refused.value)
    assert not jobs.active and not list((tmp_path / "runs").glob("*"))
