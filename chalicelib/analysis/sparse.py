"""Decode only the frames a sample needs (PyAV), for H.264 video with a clean index.

Why it looks like this:

* At 1 frame/s of a 30 frame/s video the full reader (``frames.VideoReader``) decodes 30 frames
  to keep one; on short high-resolution clips decoding is most of a job (docs/measurements.md).
* Which frame a sample takes depends on the presentation timestamps alone, and the container
  gives them all before anything is decoded. A first pass reads the packets (no decoding) and
  picks the sampled frames with the full reader's arithmetic (``pick``), so the frames, indexes
  and timestamps are the same.
* Then only what those frames need is decoded: a packet whose picture no other picture refers
  to (H.264 ``nal_ref_idc`` 0) is discarded by the decoder unless it is sampled (FFmpeg's
  ``skip_frame``, set packet by packet); the packets before an IDR picture that comes before the
  next sampled frame are not decoded at all (an IDR picture resets the decoder, so what follows
  decodes bit for bit the same), and a long run of them is not even read: the container seeks
  to the IDR picture (each packet read from Python gives up and retakes the GIL, which the
  analysis's threads hold in turns); decoding stops after the last sampled frame.
* Frames are converted to BGR as OpenCV converts them (swscale, BT.601 coefficients whatever
  the stream declares), so the images are byte-identical to the full reader's.
* What this does not cover goes back to the full reader (``plan`` returns None): other codecs,
  a packet without a timestamp or two with the same one, packets the container marks to
  discard (edit lists), fewer or more packets than the index declares (a truncated upload),
  a pixel format other than yuv420p, or a resume position that is not where the plan has it.
"""

from __future__ import annotations

import itertools
import math
import os
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import av
import cv2
import numpy as np

# OpenCV's FFmpeg backend sets no colour details on swscale, which then uses BT.601.
_COLORSPACE = "ITU601"
_ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
_IDR_NAL = 5
_SKIP, _NONREF, _FULL = 0, 1, 2  # what is done with a packet, in decoding order


class Unplanned(Exception):
    """The stream did not decode as planned: the full reader takes over."""


@dataclass(frozen=True)
class Pick:
    index: int  # among all frames in presentation order, from 0
    position_ms: float  # as the full reader computes it
    step: int  # the next sample is due at step * interval after the first frame


@dataclass(frozen=True)
class Plan:
    origin_ms: float
    frame_count: int
    picks: dict[int, Pick]  # by presentation timestamp (stream time base)
    actions: bytes  # _SKIP, _NONREF or _FULL for each packet in decoding order
    pts: array[int]  # each packet's presentation timestamp, in decoding order


def pick(
    positions: list[float], interval_ms: float, start: tuple[int, float, int] | None = None
) -> list[Pick]:
    """The sampled frames among ``positions`` (ms, presentation order), as the full reader picks
    them; ``start``: (index, origin, step) of a resumed pass."""
    index, origin, step = start if start is not None else (-1, positions[0], 0)
    picks = []
    for i in range(index + 1, len(positions)):
        elapsed = positions[i] - origin + 1e-3  # the full reader's tolerance
        if elapsed >= step * interval_ms:
            step = math.floor(elapsed / interval_ms) + 1
            picks.append(Pick(i, positions[i], step))
    return picks


def plan(
    path: str | os.PathLike[str],
    *,
    frame_count: int,
    interval_ms: float,
    resume: tuple[int, float, float, int] | None = None,
) -> Plan | None:
    """What to decode to sample ``path``, or None if only the full reader can say."""
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        if stream.codec_context.name != "h264" or None in (stream.start_time, stream.time_base):
            return None
        length = _nal_length_size(stream.codec_context.extradata)
        packets = []  # (pts, is IDR) in decoding order
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is None or packet.is_discard:
                return None
            idr = length is not None and packet.is_keyframe and _is_idr(bytes(packet), length)
            packets.append((packet.pts, idr))
        base, start = stream.time_base, stream.start_time
        assert base is not None and start is not None  # checked above
    order = sorted(pts for pts, _ in packets)
    if not order or len(order) != frame_count or len(set(order)) != len(order):
        return None
    scale = base.numerator / base.denominator  # as OpenCV computes CAP_PROP_POS_MSEC
    positions = [max(0.0, (pts - start) * scale * 1000) for pts in order]
    if any(b <= a for a, b in zip(positions, positions[1:], strict=False)):
        return None  # the full reader corrects such times; leave them to it
    begin = None
    if resume is not None:
        index, at_ms, origin_ms, step = resume
        if not (0 <= index < len(positions) and abs(positions[index] - at_ms) < 0.5):
            return None
        begin = (index, origin_ms, step)
    picks = {order[p.index]: p for p in pick(positions, interval_ms, begin)}
    origin = begin[1] if begin else positions[0]
    pts = array("q", (p for p, _ in packets))
    return Plan(origin, len(order), picks, _actions(packets, picks), pts)


def _actions(packets: list[tuple[int, bool]], picks: dict[int, Pick]) -> bytes:
    """Per packet in decoding order: skip it (before the IDR picture that leads to the next
    sampled frame, or after the last), decode it fully (sampled) or discard it if unreferenced."""
    actions = bytearray(len(packets))  # _SKIP
    next_pick, last_idr = None, None  # decoding index of the next sampled packet, at or after
    lead = [0] * len(packets)  # the IDR at or before each packet (-1: none)
    for d, (_, idr) in enumerate(packets):
        last_idr = d if idr else last_idr
        lead[d] = -1 if last_idr is None else last_idr
    for d in range(len(packets) - 1, -1, -1):
        pts = packets[d][0]
        if pts in picks:
            next_pick = d
        if next_pick is None or lead[next_pick] > d:
            continue
        actions[d] = _FULL if pts in picks else _NONREF
    return bytes(actions)


def decode(
    path: str | os.PathLike[str], plan: Plan, rotation: int
) -> Iterator[tuple[Pick, np.ndarray]]:
    """The planned frames, upright BGR, in presentation order; raises ``Unplanned`` if the
    decoder does not give them all, in order."""
    due = deque(sorted(plan.picks))
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        context.thread_count = 1  # the analysis keeps the other cores busy
        packets, at = _packets(container, stream), 0  # ``at``: decoding index of the next one
        for start, end in _runs(plan.actions):
            if start > at:  # before the IDR picture: let out what is pending, then start afresh
                yield from _sampled(context.decode(None), plan, due, rotation)
                context.flush_buffers()
                if start - at >= SEEK_GAP:
                    # to the keyframe at or before this presentation time (MP4: by pts)
                    container.seek(plan.pts[start], stream=stream)
                    packets = _packets(container, stream)
                packets = _reach(packets, plan.pts[start], start - at)
            for d in range(start, end):
                packet = next(packets, None)
                if packet is None or packet.pts != plan.pts[d]:
                    raise Unplanned(f"packet {d} is not where the plan has it")
                context.skip_frame = "DEFAULT" if plan.actions[d] == _FULL else "NONREF"
                yield from _sampled(context.decode(packet), plan, due, rotation)
            at = end
        yield from _sampled(context.decode(None), plan, due, rotation)
    if due:
        raise Unplanned(f"the decoder did not give {len(due)} of the planned frames")


# Skipped packets worth a seek rather than reading past them: each packet read from Python gives
# up and retakes the GIL, which the analysis's threads hold in turns (docs/measurements.md).
SEEK_GAP = 8


def _packets(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator:
    return (packet for packet in container.demux(stream) if packet.size)


def _runs(actions: bytes) -> Iterator[tuple[int, int]]:
    """The ranges of packets to decode: (first, past the last), in decoding order."""
    start = None
    for d, action in enumerate(actions):
        if action != _SKIP and start is None:
            start = d
        elif action == _SKIP and start is not None:
            yield start, d
            start = None
    if start is not None:
        yield start, len(actions)


def _reach(packets: Iterator, pts: int, most: int) -> Iterator:
    """``packets`` from the one with ``pts`` on, passing at most ``most`` before it."""
    for _ in range(most + 1):
        packet = next(packets, None)
        if packet is None:
            break
        if packet.pts == pts:
            return itertools.chain((packet,), packets)
    raise Unplanned(f"no packet with pts {pts} where the plan has it")


def _sampled(
    frames: list, plan: Plan, due: deque[int], rotation: int
) -> Iterator[tuple[Pick, np.ndarray]]:
    """Those of ``frames`` that are due next, taken off ``due``."""
    for frame in frames:
        if due and frame.pts == due[0]:
            due.popleft()
            yield plan.picks[frame.pts], _image(frame, rotation)


def _image(frame: av.VideoFrame, rotation: int) -> np.ndarray:
    if frame.format.name != "yuv420p":
        raise Unplanned(f"pixel format {frame.format.name}")
    image: np.ndarray = np.ascontiguousarray(  # rows may be padded
        frame.to_ndarray(format="bgr24", src_colorspace=_COLORSPACE, dst_colorspace=_COLORSPACE)
    )
    return cv2.rotate(image, _ROTATIONS[rotation]) if rotation in _ROTATIONS else image


def _nal_length_size(extradata: bytes | None) -> int | None:
    """Bytes before each NAL unit in an MP4 sample (from the 'avcC' record), or None."""
    if not extradata or len(extradata) < 5 or extradata[0] != 1:
        return None
    return (extradata[4] & 3) + 1


def _is_idr(data: bytes, length: int) -> bool:
    at = 0
    while at + length < len(data):
        size = int.from_bytes(data[at : at + length], "big")
        if data[at + length] & 0x1F == _IDR_NAL:
            return True
        at += length + size
    return False
