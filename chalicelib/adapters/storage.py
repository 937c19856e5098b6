"""StorageService port: where videos and results documents live.

Two implementations honour one contract (tests/integration/test_storage_contract.py runs
against both):
``S3Storage`` for AWS and the emulator, ``LocalStorage`` for a plain directory. Paths are
``/``-separated keys such as ``video_jobs/{job_id}.mp4``; a missing key is ``FileNotFoundError``.

Readers can pin the version they mean by its ``etag`` (from ``stat``): a read of an object that
was replaced since raises ``ObjectChanged`` instead of returning other bytes. That is how the
worker analyzes exactly the upload that ``start`` validated, even though the presigned upload
URL stays valid until it expires.

Sources: a Rekognition Start* names a video in the caller's own bucket (``SourceObject``). The port
reads it (``source_size``, ``read_source``) and copies it in (``copy_source``) without the
caller ever seeing a client; a source in the service's own bucket, or one that cannot be read,
is ``SourceUnreadable`` with the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import ParamValidationError

from chalicelib.errors import ObjectChanged, ObjectTooLarge, SourceUnreadable

Source = bytes | str | Path | BinaryIO
COPY_CHUNK = 1024 * 1024
S3_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


@dataclass(frozen=True)
class StoredObject:
    size: int
    etag: str  # changes whenever the object is replaced


@dataclass(frozen=True)
class SourceObject:
    """A caller's object in another bucket (a Rekognition ``Video.S3Object``)."""

    bucket: str
    key: str
    version: str | None = None

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


S3_REFUSALS = {
    **dict.fromkeys(("404", "NoSuchKey", "NoSuchBucket", "NoSuchVersion"), "does not exist"),
    **dict.fromkeys(("403", "AccessDenied"), "access denied (this API may not read that bucket)"),
}


def _copy_capped(body: BinaryIO, local_path: Path, max_bytes: int | None) -> None:
    """Copy a stream to a file, refusing (and stopping) past ``max_bytes``."""
    copied = 0
    with open(local_path, "wb") as out:
        while chunk := body.read(COPY_CHUNK):
            copied += len(chunk)
            if max_bytes is not None and copied > max_bytes:
                raise ObjectTooLarge(f"more than {max_bytes} bytes")
            out.write(chunk)


def _read_all(src: str | Path | BinaryIO) -> bytes:
    return Path(src).read_bytes() if isinstance(src, str | Path) else src.read()


class StorageService(ABC):
    @abstractmethod
    def save_file(self, src: Source, dest_path: str, *, overwrite: bool = True) -> None:
        """Store bytes, a local file (path) or a readable binary stream at ``dest_path``.

        With ``overwrite=False`` the write happens only if nothing is there yet (atomically);
        otherwise FileExistsError. That is how results are written exactly once.
        """

    @abstractmethod
    def load_file(self, path: str) -> bytes: ...

    @abstractmethod
    def delete_file(self, path: str) -> None:
        """Remove ``path``; removing a missing key is not an error (deletes are retried)."""

    @abstractmethod
    def delete_under(self, prefix: str) -> int:
        """Remove every key that starts with ``prefix`` (a job's video, results pieces and
        checkpoints share one); how many there were. Nothing there is not an error."""

    @abstractmethod
    def download_file(
        self, path: str, local_path: Path, *, etag: str | None = None, max_bytes: int | None = None
    ) -> None:
        """Stream ``path`` into a local file without holding it in memory.

        With ``etag``: only that version, else ObjectChanged. With ``max_bytes``: ObjectTooLarge
        rather than write more than that.
        """

    @abstractmethod
    def stat(self, path: str) -> StoredObject | None:
        """Size and ETag, or None when there is no such key."""

    def size(self, path: str) -> int | None:
        """Size in bytes, or None when there is no such key."""
        info = self.stat(path)
        return None if info is None else info.size

    @abstractmethod
    def read_range(self, path: str, start: int, length: int, *, etag: str | None = None) -> bytes:
        """Up to ``length`` bytes from ``start``; lets validators peek without a full download.

        With ``etag``: only from that version, else ObjectChanged.
        """

    @abstractmethod
    def presigned_get_url(self, path: str, expires_s: int) -> str:
        """A URL that lets its holder GET (and range-read) one key until it expires."""

    @abstractmethod
    def source_size(self, source: SourceObject) -> int:
        """The source's size in bytes; SourceUnreadable if it is ours, missing or refused."""

    @abstractmethod
    def read_source(self, source: SourceObject, start: int, length: int) -> bytes:
        """Up to ``length`` bytes of the source from ``start`` (after ``source_size``)."""

    @abstractmethod
    def copy_source(self, source: SourceObject, dest_path: str) -> None:
        """Copy the source to ``dest_path`` in this storage, without passing through memory."""


class S3Storage(StorageService):
    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    def save_file(self, src: Source, dest_path: str, *, overwrite: bool = True) -> None:
        if not overwrite:  # S3 conditional write: refused if the key exists
            body = src if isinstance(src, bytes) else _read_all(src)
            try:
                self._s3.put_object(Bucket=self.bucket, Key=dest_path, Body=body, IfNoneMatch="*")
            except self._s3.exceptions.ClientError as error:
                if error.response["Error"]["Code"] in ("PreconditionFailed", "412"):
                    raise FileExistsError(dest_path) from None
                raise
        elif isinstance(src, bytes):
            self._s3.put_object(Bucket=self.bucket, Key=dest_path, Body=src)
        elif isinstance(src, str | Path):
            self._s3.upload_file(str(src), self.bucket, dest_path)
        else:
            self._s3.upload_fileobj(src, self.bucket, dest_path)

    def load_file(self, path: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=path)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise FileNotFoundError(path) from None

    def delete_file(self, path: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=path)

    def delete_under(self, prefix: str) -> int:
        removed = 0
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": S3_DELETE_BATCH}
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                answer = self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )
                if answer.get("Errors"):  # the caller retries; a half-done delete is safe
                    raise OSError(f"could not delete {len(answer['Errors'])} objects of {prefix}")
                removed += len(keys)
        return removed

    def download_file(
        self, path: str, local_path: Path, *, etag: str | None = None, max_bytes: int | None = None
    ) -> None:
        # One GET, pinned to a version: what is written is what the ETag names, never a mix.
        response = self._get(path, etag)
        if max_bytes is not None and response["ContentLength"] > max_bytes:
            response["Body"].close()
            raise ObjectTooLarge(f"{response['ContentLength']} bytes, over {max_bytes}")
        with contextlib.closing(response["Body"]) as body:
            _copy_capped(body, local_path, max_bytes)

    def stat(self, path: str) -> StoredObject | None:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=path)
        except self._s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(head["ContentLength"], head["ETag"])

    def read_range(self, path: str, start: int, length: int, *, etag: str | None = None) -> bytes:
        if length <= 0:
            return b""
        try:
            response = self._get(path, etag, Range=f"bytes={start}-{start + length - 1}")
        except self._s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "InvalidRange":  # start at or past the end
                return b""
            raise
        return response["Body"].read()

    def presigned_get_url(self, path: str, expires_s: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": path}, ExpiresIn=expires_s
        )

    def _get(self, path: str, etag: str | None, **extra: Any) -> dict:
        if etag is not None:
            extra["IfMatch"] = etag
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=path, **extra)
        except self._s3.exceptions.NoSuchKey:
            raise FileNotFoundError(path) from None
        except self._s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("PreconditionFailed", "412"):
                raise ObjectChanged(path) from None
            raise

    def source_size(self, source: SourceObject) -> int:
        if source.bucket == self.bucket:  # other tenants' videos live there
            raise SourceUnreadable(
                f"{source.where}: videos cannot be read from video-jobs' own bucket"
            )
        try:
            head = self._s3.head_object(Bucket=source.bucket, Key=source.key, **_version(source))
        except ParamValidationError:  # a name botocore's S3 client refuses to send
            raise SourceUnreadable(f"{source.where} is not a valid S3 location") from None
        except self._s3.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            reason = S3_REFUSALS.get(code, f"S3 refused it ({code}): check Bucket, Name, Version")
            raise SourceUnreadable(f"cannot read the video {source.where}: {reason}") from None
        return int(head["ContentLength"])

    def read_source(self, source: SourceObject, start: int, length: int) -> bytes:
        byte_range = f"bytes={start}-{start + length - 1}"
        answer = self._s3.get_object(
            Bucket=source.bucket, Key=source.key, Range=byte_range, **_version(source)
        )
        return bytes(answer["Body"].read())

    def copy_source(self, source: SourceObject, dest_path: str) -> None:
        copied = {"Bucket": source.bucket, "Key": source.key, **_version(source)}
        self._s3.copy(copied, self.bucket, dest_path)  # managed: multipart for large objects

    def presigned_put_url(self, path: str, content_type: str, expires_s: int) -> str:
        """A URL that lets its holder PUT exactly one key, with this content type, until expiry."""
        return self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": path, "ContentType": content_type},
            ExpiresIn=expires_s,
            HttpMethod="PUT",
        )


class LocalStorage(StorageService):
    """A directory on disk. ``LocalStorage.temporary()`` owns (and on close removes) a temp dir."""

    def __init__(
        self, root: str | Path, *, owns_root: bool = False, sources: str | Path | None = None
    ):
        """``sources``: a directory whose subdirectories stand for the callers' buckets."""
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._owns_root = owns_root
        self._sources = None if sources is None else Path(sources).resolve()

    @classmethod
    def temporary(cls) -> LocalStorage:
        return cls(tempfile.mkdtemp(prefix="video-jobs-storage-"), owns_root=True)

    def close(self) -> None:
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _file(self, path: str) -> Path:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root) or target == self.root:
            raise ValueError(f"storage path escapes the storage root: {path!r}")
        return target

    def save_file(self, src: Source, dest_path: str, *, overwrite: bool = True) -> None:
        target = self._file(dest_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
        if isinstance(src, bytes):
            partial.write_bytes(src)
        elif isinstance(src, str | Path):
            shutil.copyfile(src, partial)
        else:
            with partial.open("wb") as out:
                shutil.copyfileobj(src, out)
        if overwrite:
            partial.replace(target)  # readers never see a half-written file
            return
        try:
            os.link(partial, target)  # atomic, and fails if the target exists
        finally:
            partial.unlink()

    def load_file(self, path: str) -> bytes:
        return self._file(path).read_bytes()

    def delete_file(self, path: str) -> None:
        self._file(path).unlink(missing_ok=True)

    def delete_under(self, prefix: str) -> int:
        folder, _, start = prefix.rpartition("/")
        directory = self._file(folder) if folder else self.root
        doomed = [path for path in directory.glob(f"{glob.escape(start)}*") if path.is_file()]
        for path in doomed:
            path.unlink(missing_ok=True)
        return len(doomed)

    def download_file(
        self, path: str, local_path: Path, *, etag: str | None = None, max_bytes: int | None = None
    ) -> None:
        with self._open(path, etag) as handle:  # an open file keeps its version if replaced
            _copy_capped(handle, local_path, max_bytes)

    def stat(self, path: str) -> StoredObject | None:
        target = self._file(path)
        return _stored(target.stat()) if target.is_file() else None

    def read_range(self, path: str, start: int, length: int, *, etag: str | None = None) -> bytes:
        with self._open(path, etag) as handle:
            handle.seek(start)
            return handle.read(max(length, 0))

    def presigned_get_url(self, path: str, expires_s: int) -> str:
        """A ``file://`` URL: a directory on this machine has no signatures or expiry."""
        return self._file(path).as_uri()

    def source_size(self, source: SourceObject) -> int:
        return self._source_file(source).stat().st_size

    def read_source(self, source: SourceObject, start: int, length: int) -> bytes:
        with self._source_file(source).open("rb") as handle:
            handle.seek(start)
            return handle.read(max(length, 0))

    def copy_source(self, source: SourceObject, dest_path: str) -> None:
        self.save_file(self._source_file(source), dest_path)

    def _source_file(self, source: SourceObject) -> Path:
        if self._sources is None:
            raise SourceUnreadable(f"{source.where}: this storage reads no other buckets")
        bucket = (self._sources / source.bucket).resolve()
        target = (bucket / source.key).resolve()
        inside = bucket.parent == self._sources and target.is_relative_to(bucket)
        if not inside or bucket == self.root:
            raise SourceUnreadable(f"{source.where} is not a valid S3 location")
        if not target.is_file():
            raise SourceUnreadable(f"cannot read the video {source.where}: does not exist")
        return target

    def _open(self, path: str, etag: str | None) -> BinaryIO:
        handle = self._file(path).open("rb")
        if etag is not None and _stored(os.fstat(handle.fileno())).etag != etag:
            handle.close()
            raise ObjectChanged(path)
        return handle


def _version(source: SourceObject) -> dict[str, str]:
    return {} if source.version is None else {"VersionId": source.version}


def _stored(stat: os.stat_result) -> StoredObject:
    # Every save is a new file renamed into place: a new inode, so a new ETag.
    return StoredObject(stat.st_size, f'"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"')
