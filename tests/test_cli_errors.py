"""The console shows a user error as one line per problem, never as a traceback (issue 12)."""

from studio.cli import main
from studio.cli.common import error_lines
from studio.schema import ConfigError, Problem


def test_each_problem_is_one_line():
    problems = ConfigError([Problem("train.batch_size", "must be at least 1"), Problem("data.dataset", "is empty")])
    assert error_lines(problems) == ["error: train.batch_size: must be at least 1", "error: data.dataset: is empty"]
    assert error_lines(ValueError("x.yaml is not valid YAML: while parsing\n  in line 2\n    ^")) == [
        "error: x.yaml is not valid YAML: while parsing in line 2 ^"
    ]


def test_a_file_the_user_named_is_an_error_line_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [\n")
    assert main(["train", str(bad)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1  # the YAML parser's message, folded
    assert main(["train", str(tmp_path)]) == 2  # a folder where a config file was expected
    err = capsys.readouterr().err
    assert err.strip() == f"error: {tmp_path}: Is a directory" and "Traceback" not in err
