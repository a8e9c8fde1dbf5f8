"""``python -m studio data preview|clean``: the JSON it prints, and an exit code for every bad input."""

import json
import os
import subprocess
import sys

import pytest

from studio.cli import build_parser
from studio.data import load_data

from .conftest import REAL_DATA, ROOT, free_port

ALPACA = str(REAL_DATA / "alpaca_en_demo.json")


def studio(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )


def command(*argv) -> int:
    """Run a data command in this process (the subprocess tests cover the entry point itself)."""
    args = build_parser().parse_args(["data", *argv])
    return args.func(args)


def write(path, body: str | bytes) -> str:
    (path.write_bytes if isinstance(body, bytes) else path.write_text)(body)
    return str(path)


@pytest.mark.cli
def test_preview_json():
    result = studio("data", "preview", ALPACA, "--json", "--examples", "2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["format"], report["num_rows"], len(report["examples"])) == ("alpaca", 999, 2)
    first = json.loads((REAL_DATA / "alpaca_en_demo.json").read_text())[0]
    assert report["examples"][0].startswith("<|im_start|>system")
    assert f"<|im_start|>assistant\n{first['output']}<|im_end|>" in report["examples"][0]
    assert report["lengths"]["max_length"] == 512 and report["lengths"]["measured"] == 999


@pytest.mark.cli
def test_clean_json_writes_a_fingerprinted_file(tmp_path):
    out = tmp_path / "clean.jsonl"
    result = studio(
        "data", "clean", ALPACA, "--out", str(out), "--dedup", "exact,near", "--min-tokens", "40",
        "--max-tokens", "400", "--exclude", "As an AI", "I cannot", "--val-fraction", "0.1", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["removed"]) == {
        "special_tokens", "empty", "exclude", "min_tokens", "max_tokens", "exact_duplicate", "near_duplicate",
    }  # fmt: skip
    assert report["removed"]["exact_duplicate"] > 0 and report["removed"]["exclude"] > 0
    assert report["kept"] + sum(report["removed"].values()) == 999
    assert report["kept"] == report["train_rows"] + report["val_rows"] and report["val_rows"] > 0
    assert load_data(str(out)).fingerprint == report["fingerprint"]
    assert report["files"]["val"] == str(tmp_path / "clean.val.jsonl")


@pytest.mark.cli
def test_malformed_input_exits_2_with_the_line(tmp_path):
    path = write(tmp_path / "broken.jsonl", '{"text": "a"}\n{"text": }\n')
    result = studio("data", "preview", path, "--json")
    assert result.returncode == 2
    assert "broken.jsonl: line 2 is not valid JSON" in result.stderr
    assert "line 2" in json.loads(result.stdout)["error"]


@pytest.mark.cli
def test_unreachable_hub_exits_2_with_the_reason():
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: no request leaves the machine
    result = studio("data", "preview", "someone/some-data", env_extra={"HF_ENDPOINT": closed})
    assert result.returncode == 2
    assert "'someone/some-data' is not a local file, and the Hub cannot be reached" in result.stderr


BAD = {
    "columns.jsonl": ('{"question": "q", "reply": "r"}\n', "no known format in columns question, reply"),
    "latin1.csv": (b"text\ncaf\xe9\n", "not UTF-8"),
    "empty.jsonl": ("", "is empty"),
    "wide.json": ('[{"text": "a"}]'.encode("utf-16"), "is UTF-16"),
    "mixed.jsonl": ('{"text": "a"}\n{"instruction": "b", "output": "c"}\n', "mixes formats"),
    "turns.jsonl": (
        '{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}\n',
        "alternate",
    ),
}


@pytest.mark.parametrize("name", BAD)
def test_each_bad_input_exits_2_with_its_message(tmp_path, capsys, name):
    body, message = BAD[name]
    path = write(tmp_path / name, body)
    assert command("preview", path) == 2
    assert command("clean", path, "--out", str(tmp_path / "out.jsonl")) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_file_larger_than_memory_exits_2(tmp_path, capsys, monkeypatch):
    from studio.data import sources

    monkeypatch.setattr(sources, "free_memory_bytes", lambda: 1000)
    assert command("preview", write(tmp_path / "big.jsonl", '{"text": "a"}\n' * 100)) == 2
    assert "too large for the 1000 bytes of free memory" in capsys.readouterr().err


def test_some_unusable_rows_exit_1_unless_skipped(tmp_path, capsys):
    good = '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n'
    bad = '{"messages": [{"role": "assistant", "content": "a"}]}\n'
    path = write(tmp_path / "some_bad.jsonl", good + bad + good.replace('"b"', '"c"'))
    out = tmp_path / "clean.jsonl"
    assert command("clean", path, "--out", str(out), "--json") == 1
    captured = capsys.readouterr()
    assert "warning: row 2: the conversation starts with assistant" in captured.err
    assert json.loads(captured.out)["removed"]["invalid"] == 1 and out.exists()
    assert command("clean", path, "--out", str(out), "--skip-invalid") == 0
    assert command("preview", path, "--skip-invalid") == 0


def test_bad_options_exit_2_naming_the_field(tmp_path, capsys):
    out = str(tmp_path / "o.jsonl")
    assert command("clean", ALPACA, "--out", out, "--min-tokens", "10", "--max-tokens", "5") == 2
    assert command("clean", ALPACA, "--out", out, "--dedup", "fuzzy") == 2
    err = capsys.readouterr().err
    assert "error: min_tokens: 10 is above max_tokens 5" in err and "error: dedup: 'fuzzy' is not one of" in err


def test_byte_order_mark_is_read_with_a_note(tmp_path, capsys):
    path = write(tmp_path / "bom.jsonl", b'\xef\xbb\xbf{"text": "hello"}\n')
    assert command("preview", path) == 0
    assert "note: bom.jsonl starts with a UTF-8 byte-order mark" in capsys.readouterr().err


def test_data_commands_explain_themselves(capsys):
    for action, flag in (("preview", "--max-length"), ("clean", "--near-threshold")):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(["data", action, "--help"])
        assert exc.value.code == 0 and flag in capsys.readouterr().out
