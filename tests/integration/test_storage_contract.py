"""ONE contract, run against every StorageService implementation."""

import io

import pytest

from chalicelib.adapters.storage import LocalStorage, S3Storage, SourceObject
from chalicelib.errors import ObjectChanged, ObjectTooLarge, SourceUnreadable


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


def test_delete_under_removes_every_key_with_the_prefix_and_no_other(storage):
    kept = ["video_jobs/job-b.mp4", "video_jobs/job.mp4", "other/video_jobs/job-a.mp4"]
    doomed = ["video_jobs/job-a.mp4", "video_jobs/job-a_results.json",
              "video_jobs/job-a_frames00000_results.json"]  # fmt: skip
    for path in kept + doomed:
        storage.save_file(path.encode(), path)
    assert storage.delete_under("video_jobs/job-a") == 3
    assert [path for path in doomed if storage.size(path) is not None] == []
    assert [storage.load_file(path) for path in kept] == [path.encode() for path in kept]
    assert storage.delete_under("video_jobs/job-a") == 0  # again: nothing there, no error


def test_delete_under_pages_past_a_thousand_keys(aws):
    for index in range(1003):
        aws.storage.save_file(b"", f"video_jobs/many_{index:05d}")
    assert aws.storage.delete_under("video_jobs/many_") == 1003
    assert aws.storage.size("video_jobs/many_01002") is None


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


def test_presigned_get_url_serves_the_bytes(storage):
    data = bytes(range(256)) * 8
    storage.save_file(data, "video_jobs/view.mp4")
    url = storage.presigned_get_url("video_jobs/view.mp4", 60)
    if url.startswith("file:"):  # LocalStorage: a file on this machine
        from urllib.request import urlopen

        with urlopen(url) as answer:
            assert answer.read() == data
    else:  # S3: a signed, expiring URL for one key (moto answers it in-process)
        import requests

        assert "/video-jobs-media/video_jobs/view.mp4?" in url and "X-Amz-Expires=60" in url
        assert requests.get(url, timeout=5).content == data
        ranged = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=5)
        assert ranged.status_code == 206 and ranged.content == data[10:20]


def test_stat_gives_size_and_an_etag_that_changes_when_the_object_is_replaced(storage):
    assert storage.stat("video_jobs/none.mp4") is None
    storage.save_file(b"first", "video_jobs/v.mp4")
    first = storage.stat("video_jobs/v.mp4")
    assert first.size == 5 and first.etag
    storage.save_file(b"other", "video_jobs/v.mp4")  # same size, other bytes
    assert storage.stat("video_jobs/v.mp4").etag != first.etag


def test_reads_pinned_to_an_etag_refuse_a_replaced_object(storage, tmp_path):
    storage.save_file(b"validated", "video_jobs/p.mp4")
    etag = storage.stat("video_jobs/p.mp4").etag
    assert storage.read_range("video_jobs/p.mp4", 0, 5, etag=etag) == b"valid"
    storage.download_file("video_jobs/p.mp4", tmp_path / "ok", etag=etag)
    assert (tmp_path / "ok").read_bytes() == b"validated"
    storage.save_file(b"swapped!!", "video_jobs/p.mp4")
    with pytest.raises(ObjectChanged):
        storage.read_range("video_jobs/p.mp4", 0, 5, etag=etag)
    with pytest.raises(ObjectChanged):
        storage.download_file("video_jobs/p.mp4", tmp_path / "swapped", etag=etag)
    assert not (tmp_path / "swapped").exists()


def test_download_refuses_more_than_max_bytes(storage, tmp_path):
    storage.save_file(b"x" * 3000, "video_jobs/m.mp4")
    storage.download_file("video_jobs/m.mp4", tmp_path / "fits", max_bytes=3000)
    assert (tmp_path / "fits").stat().st_size == 3000
    with pytest.raises(ObjectTooLarge):
        storage.download_file("video_jobs/m.mp4", tmp_path / "big", max_bytes=2999)
    assert not (tmp_path / "big").exists() or (tmp_path / "big").stat().st_size <= 2999


# --- sources: a caller's video in another bucket (Rekognition's Video.S3Object) ----------------

CALLER_BUCKET = "caller-videos"


@pytest.fixture(params=["s3", "local"])
def with_source(request, tmp_path):
    """A storage, and how to put an object in a caller's bucket it may read from."""
    if request.param == "s3":
        storage = request.getfixturevalue("aws").storage
        s3 = storage._s3
        s3.create_bucket(Bucket=CALLER_BUCKET)
        yield storage, lambda key, data: s3.put_object(Bucket=CALLER_BUCKET, Key=key, Body=data)
    else:
        sources = tmp_path / "buckets"

        def put(key: str, data: bytes) -> None:
            (sources / CALLER_BUCKET / key).parent.mkdir(parents=True, exist_ok=True)
            (sources / CALLER_BUCKET / key).write_bytes(data)

        with LocalStorage(tmp_path / "own", sources=sources) as local:
            yield local, put


def test_a_source_is_read_by_ranges_and_copied_in(with_source):
    storage, put = with_source
    put("in/clip.mp4", b"0123456789")
    source = SourceObject(CALLER_BUCKET, "in/clip.mp4")
    assert storage.source_size(source) == 10
    assert storage.read_source(source, 2, 3) == b"234"
    storage.copy_source(source, "video_jobs/copied.mp4")
    assert storage.load_file("video_jobs/copied.mp4") == b"0123456789"


@pytest.mark.parametrize(
    ("bucket", "key", "reason"),
    [
        (CALLER_BUCKET, "missing.mp4", "does not exist"),
        ("no-such-bucket", "clip.mp4", "does not exist"),
    ],
)
def test_a_source_that_cannot_be_read_says_why(with_source, bucket, key, reason):
    storage, _ = with_source
    with pytest.raises(SourceUnreadable, match=reason):
        storage.source_size(SourceObject(bucket, key))


def test_the_service_s_own_bucket_is_never_a_source(aws):
    storage = aws.storage
    storage.save_file(b"another tenant's video", "video_jobs/theirs.mp4")
    with pytest.raises(SourceUnreadable, match="own bucket"):
        storage.source_size(SourceObject(storage.bucket, "video_jobs/theirs.mp4"))


def test_a_local_source_cannot_escape_its_buckets(tmp_path):
    with LocalStorage(tmp_path / "own", sources=tmp_path / "buckets") as local:
        for bucket, key in [("..", "own/x"), (CALLER_BUCKET, "../../etc/passwd")]:
            with pytest.raises(SourceUnreadable, match="not a valid S3 location"):
                local.source_size(SourceObject(bucket, key))
