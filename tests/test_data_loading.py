"""Every source reads through datasets; every bad input gets a message naming what and how to fix."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studio.data import DataError, load_data
from studio.data.sources import read_source

ROWS = [
    {"instruction": "Capital of France?", "input": "", "output": "Paris."},
    {"instruction": "Translate", "input": "chat", "output": "cat"},
]
SECOND_USER = "Translate\n\nchat"


def write(path, text: str | bytes):
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return str(path)


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet"])
def test_each_file_type_reads_the_same_rows(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(ROWS))
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif suffix == ".csv":
        path.write_text("instruction,input,output\nCapital of France?,,Paris.\nTranslate,chat,cat\n")
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    data = load_data(str(path))
    assert (data.format, len(data.rows), data.skipped) == ("alpaca", 2, [])
    assert data.rows[1]["messages"][0] == {"role": "user", "content": SECOND_USER}
    assert data.rows[0]["messages"][1] == {"role": "assistant", "content": "Paris."}


def test_max_rows_reads_only_the_first(tmp_path):
    path = write(tmp_path / "d.jsonl", "".join(json.dumps(ROWS[i % 2]) + "\n" for i in range(10)))
    assert len(load_data(path, max_rows=3).rows) == 3


def test_hub_offline_is_named_without_a_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match=r"'someone/some-data' \(split 'train'\) is not a local file.*HF_HUB_OFFLINE"):
        load_data("someone/some-data")
    with pytest.raises(DataError, match=r"'someone/some-data' \(split 'test'\)"):
        load_data("someone/some-data:test")


def test_a_typo_that_is_no_hub_id_is_named():
    with pytest.raises(DataError, match="neither a local file nor a Hub dataset id"):
        load_data("not a file, not an id")


def test_missing_local_file_is_named(tmp_path, monkeypatch):
    from studio.data.access import read_anywhere

    # The app: in the words of any refusal, so that a missing file tells nothing (studio.data.access).
    with pytest.raises(DataError, match="nope.jsonl is no file the studio reads here: it does not exist"):
        load_data(str(tmp_path / "nope.jsonl"))
    monkeypatch.setattr("studio.data.access._anywhere", False)  # undone after the test
    read_anywhere()  # the command line: missing, plainly
    with pytest.raises(DataError, match="dataset file not found"):
        load_data(str(tmp_path / "nope.jsonl"))


def test_malformed_json_line_is_named(tmp_path):
    path = write(tmp_path / "broken.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": broken}\n')
    with pytest.raises(DataError, match="broken.jsonl: line 3 is not valid JSON"):
        load_data(path)


def test_malformed_json_array_is_named_with_line_and_column(tmp_path):
    path = write(tmp_path / "broken.json", '[\n {"text": "a"},\n {"text": "b",}\n]')
    with pytest.raises(DataError, match="invalid JSON at line 3"):
        load_data(path)


def test_no_usable_columns_lists_found_and_expected(tmp_path):
    path = write(tmp_path / "qa.csv", "question,reply\nq,r\n")
    with pytest.raises(DataError) as exc:
        load_data(path)
    message = str(exc.value)
    assert "question, reply" in message and "alpaca (instruction, output" in message and "sharegpt" in message


def test_non_utf8_names_the_line_and_the_fix(tmp_path):
    for name in ("latin1.jsonl", "latin1.csv"):
        body = b'{"text": "ok"}\n{"text": "caf\xe9"}\n' if name.endswith("jsonl") else b"text\nok\ncaf\xe9\n"
        path = write(tmp_path / name, body)
        with pytest.raises(DataError, match=r"is not UTF-8 \(byte 0xe9 at line [23]\); re-save it as UTF-8"):
            load_data(path)


@pytest.mark.parametrize("body", [b"", b"  \n\n"])
def test_empty_files(tmp_path, body):
    with pytest.raises(DataError, match="is empty"):
        load_data(write(tmp_path / "empty.jsonl", body))


def test_header_only_csv_and_empty_array(tmp_path):
    with pytest.raises(DataError, match="has a header .* but no rows"):
        load_data(write(tmp_path / "h.csv", "instruction,output\n"))
    with pytest.raises(DataError, match="empty array"):
        load_data(write(tmp_path / "a.json", "[]"))


def test_utf8_byte_order_mark_is_read_and_noted(tmp_path):
    for name, body in (
        ("bom.jsonl", b'\xef\xbb\xbf{"instruction": "a", "output": "b"}\n'),
        ("bom.csv", b"\xef\xbb\xbfinstruction,output\na,b\n"),
    ):
        data = load_data(write(tmp_path / name, body))
        assert data.format == "alpaca" and len(data.rows) == 1
        assert "byte-order mark" in data.notes[0] and "byte-order mark" in data.summary()


def test_utf16_byte_order_mark_is_refused_with_the_fix(tmp_path):
    body = '[{"text": "a"}]'.encode("utf-16")
    with pytest.raises(DataError, match="is UTF-16 .*re-save it as UTF-8"):
        load_data(write(tmp_path / "wide.json", body))


def test_mixed_formats_in_one_file_name_the_rows(tmp_path):
    lines = [{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"}, {"text": "e"}]
    path = write(tmp_path / "mixed.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    # datasets gives every row every column (absent ones None): the check looks at filled keys.
    with pytest.raises(DataError, match=r"mixes formats: 2 rows alpaca \(rows 1, 2\); 1 rows text \(rows 3\)"):
        load_data(path)
    forced = load_data(path, fmt="alpaca")
    assert len(forced.rows) == 2 and forced.skipped[0].row == 3


def test_roles_that_do_not_alternate_are_skipped_and_named(tmp_path):
    good = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    bad = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    path = write(tmp_path / "chat.jsonl", "".join(json.dumps({"messages": m}) + "\n" for m in (good, bad, good)))
    data = load_data(path)
    assert len(data.rows) == 2 and data.row_numbers == [1, 3]
    assert "row 2: turns 1 and 2 are both user: roles must alternate" in str(data.skipped[0])
    with pytest.raises(DataError, match="no usable rows as messages; first problem: row 1: .*alternate"):
        load_data(write(tmp_path / "all_bad.jsonl", json.dumps({"messages": bad}) + "\n"))


def test_a_file_larger_than_memory_is_refused_before_reading(tmp_path):
    path = write(tmp_path / "big.jsonl", b"\xff" * 4096)  # not even valid: it must not be read at all
    with pytest.raises(
        DataError,
        match=r"big.jsonl is 4.0 KiB, too large for the 2.0 KiB of free memory; split it into files under 1.0 KiB",
    ):
        read_source(path, memory_bytes=2048)
    with pytest.raises(DataError, match="too large"):
        load_data(path, memory_bytes=2048)
    with pytest.raises(DataError, match="not UTF-8"):  # with memory to spare it is read (and diagnosed)
        load_data(path, memory_bytes=10**9)


def test_a_pretty_printed_single_object_is_explained(tmp_path):
    path = write(tmp_path / "wrapped.json", json.dumps({"data": ROWS}, indent=2))
    with pytest.raises(DataError, match="single JSON object.*under 'data'"):
        load_data(path)
