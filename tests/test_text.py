import pytest

from rnnkit.data.text import atomic_write, read_text
from rnnkit.errors import RnnkitError


def test_reads_utf8_turkish_text(tmp_path):
    path = tmp_path / "tr.txt"
    path.write_bytes("Işık ğüşöç İ\n".encode("utf-8"))
    assert read_text(path) == "Işık ğüşöç İ\n"


def test_strips_bom_and_normalises_crlf(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbfline one\r\nline two\r\n")
    assert read_text(path) == "line one\nline two\n"


def test_missing_file_is_one_line_error(tmp_path):
    with pytest.raises(RnnkitError, match="does not exist") as e:
        read_text(tmp_path / "nope.txt")
    assert "\n" not in str(e.value)


def test_directory_is_rejected(tmp_path):
    with pytest.raises(RnnkitError, match="is a directory"):
        read_text(tmp_path)


@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n "], ids=["zero-bytes", "whitespace"])
def test_empty_file_is_rejected(tmp_path, content):
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    with pytest.raises(RnnkitError, match=r"data file '.*x\.txt' is empty"):
        read_text(path)


def test_nul_byte_in_first_8k_means_binary(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(RnnkitError, match=r"looks binary \(NUL byte at offset 4\)"):
        read_text(path)


def test_nul_byte_after_8k_means_binary(tmp_path):
    path = tmp_path / "late.txt"
    path.write_bytes(b"a" * 10_000 + b"\x00")
    with pytest.raises(RnnkitError, match="offset 10000"):
        read_text(path)


def test_latin1_file_names_byte_offset_and_suggests_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 ok".encode("latin-1"))  # 0xe9 at offset 3 is invalid UTF-8 here
    with pytest.raises(RnnkitError, match=r"not valid UTF-8 \(byte 0xe9 at offset 3\).*convert") as e:
        read_text(path)
    assert "\n" not in str(e.value)


def test_invalid_utf8_offset_counts_the_bom(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfab\xff")
    with pytest.raises(RnnkitError, match="offset 5"):
        read_text(path)


def test_atomic_write_replaces_whole_file_and_cleans_up_on_failure(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write(path, lambda tmp: tmp.write_text("first"))
    assert path.read_text() == "first"

    def fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, fail)
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
