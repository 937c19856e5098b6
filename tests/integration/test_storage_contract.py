"""ONE contract, run against every StorageService implementation."""

import io

import pytest

from chalicelib.storage import LocalStorage, S3Storage


@pytest.fixture(params=["s3", "local"])
def storage(request):
    if request.param == "s3":
        yield request.getfixturevalue("aws").storage
    else:
        with LocalStorage.temporary() as local:
            yield local


def test_save_and_load_bytes(storage):
    storage.save_file(b"\x00\x01binary\xff", "video_jobs/a.mp4")
    assert storage.load_file("video_jobs/a.mp4") == b"\x00\x01binary\xff"


def test_save_from_a_local_path_and_a_stream(storage, tmp_path):
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"from a file")
    storage.save_file(source, "video_jobs/from_path.mp4")
    storage.save_file(str(source), "video_jobs/from_str.mp4")
    storage.save_file(io.BytesIO(b"from a stream"), "video_jobs/from_stream.mp4")
    assert storage.load_file("video_jobs/from_path.mp4") == b"from a file"
    assert storage.load_file("video_jobs/from_str.mp4") == b"from a file"
    assert storage.load_file("video_jobs/from_stream.mp4") == b"from a stream"


def test_overwrite_replaces_content(storage):
    storage.save_file(b"first", "video_jobs/r.json")
    storage.save_file(b"second", "video_jobs/r.json")
    assert storage.load_file("video_jobs/r.json") == b"second"


def test_missing_keys(storage, tmp_path):
    with pytest.raises(FileNotFoundError):
        storage.load_file("video_jobs/missing.mp4")
    with pytest.raises(FileNotFoundError):
        storage.download_file("video_jobs/missing.mp4", tmp_path / "out")
    assert storage.size("video_jobs/missing.mp4") is None
    storage.delete_file("video_jobs/missing.mp4")  # deleting nothing is fine


def test_delete(storage):
    storage.save_file(b"x", "video_jobs/d.mp4")
    storage.delete_file("video_jobs/d.mp4")
    assert storage.size("video_jobs/d.mp4") is None


def test_size_range_and_download(storage, tmp_path):
    data = bytes(range(256)) * 40
    storage.save_file(data, "video_jobs/big.mp4")
    assert storage.size("video_jobs/big.mp4") == len(data)
    assert storage.read_range("video_jobs/big.mp4", 10, 5) == data[10:15]
    assert storage.read_range("video_jobs/big.mp4", len(data) - 3, 100) == data[-3:]
    assert storage.read_range("video_jobs/big.mp4", len(data) + 10, 4) == b""
    storage.download_file("video_jobs/big.mp4", tmp_path / "copy.mp4")
    assert (tmp_path / "copy.mp4").read_bytes() == data


def test_local_storage_rejects_paths_outside_its_root():
    with LocalStorage.temporary() as local:
        for bad in ("../escape.mp4", "video_jobs/../../escape.mp4", "/etc/passwd", ""):
            with pytest.raises(ValueError, match="escapes"):
                local.save_file(b"x", bad)


def test_temporary_local_storage_removes_its_directory():
    with LocalStorage.temporary() as local:
        local.save_file(b"x", "video_jobs/a.mp4")
        root = local.root
        assert root.is_dir()
    assert not root.exists()


def test_s3_presigned_url_is_scoped_and_expires(aws):
    assert isinstance(aws.storage, S3Storage)
    url = aws.storage.presigned_put_url("video_jobs/one.mp4", "video/mp4", 120)
    assert "/video-jobs-media/video_jobs/one.mp4?" in url
    assert "X-Amz-Expires=120" in url and "content-type" in url


def test_write_once_refuses_to_overwrite(storage, tmp_path):
    storage.save_file(b"first", "video_jobs/once.json", overwrite=False)
    with pytest.raises(FileExistsError):
        storage.save_file(b"second", "video_jobs/once.json", overwrite=False)
    source = tmp_path / "third.json"
    source.write_bytes(b"third")
    with pytest.raises(FileExistsError):
        storage.save_file(source, "video_jobs/once.json", overwrite=False)
    assert storage.load_file("video_jobs/once.json") == b"first"
