"""The accelerate config of a run on several processes here, generated from its launch section.

    text = accelerate_yaml(config, layer_class="LlamaDecoderLayer", gpus=0)
    path = write_config(run.path, config, "LlamaDecoderLayer")   # run/accelerate.yaml, beside config.yaml
    launch_command(path, run.path)                 # accelerate launch --config_file ... -m studio train --into RUN

DDP needs nothing beyond the process count. FSDP is written with the settings LoRA and QLoRA need
under it: ``use_orig_params`` (frozen base and trainable adapter weights live in one flat
parameter), wrapping by the model's decoder layer class, a sharded state dict for checkpoints,
and ``cpu_ram_efficient_loading`` with ``sync_module_states`` (rank 0 reads the weights, the others
receive them). DeepSpeed ZeRO-2/3 takes the run's accumulation and clipping so the two agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

CONFIG_NAME = "accelerate.yaml"


def _mixed_precision(config, gpus: int) -> str:
    precision = config.model.precision
    return precision if gpus and precision in ("bf16", "fp16") else "no"


def _fsdp(layer_class: str) -> dict:
    return {
        "fsdp_version": 1,
        "fsdp_sharding_strategy": "FULL_SHARD",
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_transformer_layer_cls_to_wrap": layer_class,
        "fsdp_use_orig_params": True,
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_sync_module_states": True,
        "fsdp_state_dict_type": "SHARDED_STATE_DICT",
        "fsdp_backward_prefetch": "BACKWARD_PRE",
        "fsdp_forward_prefetch": False,
        "fsdp_offload_params": False,
        "fsdp_activation_checkpointing": False,
    }


def _deepspeed(config, stage: int) -> dict:
    out = {
        "zero_stage": stage,
        "gradient_accumulation_steps": config.train.grad_accum,
        "gradient_clipping": config.train.max_grad_norm or 1.0,
        "offload_optimizer_device": "none",
        "offload_param_device": "none",
    }
    if stage == 3:
        out |= {"zero3_init_flag": True, "zero3_save_16bit_model": True}
    return out


def accelerate_config(config, layer_class: str = "", gpus: int = 0) -> dict:
    """The accelerate config as a mapping (``accelerate launch --config_file`` reads its YAML)."""
    launch = config.launch
    out = {
        "compute_environment": "LOCAL_MACHINE",
        "num_machines": 1,
        "machine_rank": 0,
        "num_processes": launch.num_processes,
        "mixed_precision": _mixed_precision(config, gpus),
        "use_cpu": False,
        "rdzv_backend": "static",
        "same_network": True,
        "main_training_function": "main",
        "dynamo_config": {},
    }
    if launch.strategy == "ddp":
        # MULTI_GPU also on CPUs: accelerate then starts one process per rank (torchrun), and the
        # studio joins them over gloo; MULTI_CPU with use_cpu would start a single process.
        out["distributed_type"] = "MULTI_GPU"
    elif launch.strategy == "fsdp":
        out |= {"distributed_type": "FSDP", "fsdp_config": _fsdp(layer_class or "auto")}
    else:
        out |= {"distributed_type": "DEEPSPEED", "deepspeed_config": _deepspeed(config, int(launch.strategy[-1]))}
    return out


def accelerate_yaml(config, layer_class: str = "", gpus: int = 0) -> str:
    return yaml.safe_dump(accelerate_config(config, layer_class, gpus), sort_keys=False)


def write_config(run_dir: Path, config, layer_class: str = "", gpus: int = 0) -> Path:
    """Write run_dir/accelerate.yaml (config: a RunConfig; layer_class: what FSDP wraps)."""
    path = Path(run_dir) / CONFIG_NAME
    path.write_text(accelerate_yaml(config, layer_class, gpus))
    return path


def launch_command(config_file: Path, run_dir: Path, port: int = 0) -> list[str]:
    """The command that trains into an existing run directory on the processes the file describes."""
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--config_file", str(config_file), "--main_process_port", str(port)]
    return cmd + ["-m", "studio", "train", "--into", str(run_dir), "--runs-dir", str(Path(run_dir).parent)]
