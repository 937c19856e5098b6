"""Object tracks on synthetic box sequences: moving and crossing objects, occlusion, a missed
sample, label flicker, boxes read twice, weak boxes, confirmation, state, determinism."""

import json
from dataclasses import dataclass

from chalicelib.results.tracking import (
    CONFIDENT,
    CONFIRM_MS,
    GATE,
    IOU_MIN,
    LOST_MS,
    SAME_BOX_IOU,
    Tracker,
    iou,
)


@dataclass(frozen=True)
class Det:
    label: str
    box: tuple
    confidence: float = 0.9


def run(frames, step_ms=1000, weak=None):
    """Keys per frame and the confirmed tracks; ``weak``: per frame, boxes below min_confidence."""
    tracker = Tracker()
    keys = [
        tracker.update(i * step_ms, dets, (weak or {}).get(i, ())) for i, dets in enumerate(frames)
    ]
    return keys, tracker.tracks, tracker


def test_iou():
    assert iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0
    assert iou((0, 0, 0.5, 1), (0.5, 0, 0.5, 1)) == 0.0
    assert abs(iou((0, 0, 0.2, 0.2), (0.1, 0, 0.2, 0.2)) - 1 / 3) < 1e-9
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_a_moving_object_keeps_one_track_and_is_summarised():
    frames = [[Det("dog", (0.1 + 0.03 * i, 0.2, 0.2, 0.3), 0.5 + 0.1 * i)] for i in range(4)]
    keys, tracks, _ = run(frames)
    assert keys == [[1], [1], [1], [1]]
    (track,) = tracks
    assert (track.track_id, track.label, track.first_ms, track.last_ms) == (1, "dog", 0, 3000)
    assert track.frames == 4 and abs(track.max_confidence - 0.8) < 1e-9
    assert track.first_box == (0.1, 0.2, 0.2, 0.3)


def test_motion_prediction_follows_an_object_faster_than_its_own_overlap():
    """It moves 0.15 a sample, its box 0.1 wide: no overlap with its last box, but with where it
    was going; another car of the same size elsewhere keeps the lone rule out of it."""
    frames = [
        [Det("car", (0.15 * i, 0.1, 0.1, 0.1)), Det("car", (0.5, 0.8, 0.1, 0.1))] for i in range(5)
    ]
    assert iou(frames[1][0].box, frames[2][0].box) == 0.0
    keys, tracks, _ = run(frames)
    assert [k[0] for k in keys] == [1] * 5 and len(tracks) == 2


def test_two_objects_crossing_keep_their_own_tracks():
    """Two people walk through each other: the predictions tell them apart."""
    frames = [
        [
            Det("person", (0.1 + 0.1 * i, 0.2, 0.1, 0.4)),
            Det("person", (0.7 - 0.1 * i, 0.2, 0.1, 0.4)),
        ]
        for i in range(7)
    ]
    keys, tracks, _ = run(frames)
    assert keys == [[1, 2]] * 7 and len(tracks) == 2


def test_an_occluded_object_keeps_its_track_for_lost_ms_then_a_new_one_starts():
    box = (0.4, 0.4, 0.2, 0.2)
    step = 500
    hidden = LOST_MS // step - 1  # samples it may miss: it is back LOST_MS after it was seen
    back = [[Det("car", box)]] + [[]] * hidden + [[Det("car", box)]]
    assert run(back, step)[0][-1] == [1]
    gone = [[Det("car", box)]] + [[]] * (hidden + 1) + [[Det("car", box)]]
    assert run(gone, step)[0][-1] == [2]


def test_a_missed_sample_at_one_frame_per_second_changes_nothing():
    frames = [[Det("dog", (0.1 * i, 0.5, 0.15, 0.15))] for i in range(5)]
    frames[2] = []
    assert [k for k in run(frames)[0] if k] == [[1]] * 4


def test_label_flicker_within_a_category_stays_one_track_named_by_its_votes():
    labels = ["sports ball", "frisbee", "sports ball", "sports ball", "frisbee"]
    frames = [
        [Det(label, (0.5, 0.2 + 0.2 * (i % 2), 0.05, 0.05))] for i, label in enumerate(labels)
    ]
    keys, tracks, _ = run(frames)
    assert keys == [[1]] * 5
    assert [t.label for t in tracks] == ["sports ball"]


def test_a_person_never_continues_a_tv():
    box = (0.3, 0.3, 0.2, 0.3)
    far = (0.7, 0.1, 0.2, 0.3)
    keys, tracks, _ = run([[Det("tvmonitor", box)], [Det("person", far)], [Det("person", far)]])
    assert keys == [[1], [2], [2]] and sorted(t.label for t in tracks) == ["person", "tvmonitor"]


def test_one_object_read_twice_is_one_object():
    ball, person, legs = (0.5, 0.5, 0.05, 0.05), (0.2, 0.1, 0.2, 0.8), (0.22, 0.5, 0.15, 0.38)
    both = [Det("sports ball", ball, 0.8), Det("frisbee", ball, 0.6), Det("person", person, 0.7),
            Det("person", legs, 0.9)]  # fmt: skip
    keys, tracks, _ = run([both, both])
    assert keys == [[1, None, 2, None]] * 2  # the less sure label, and the legs, are dropped
    assert [t.label for t in tracks] == ["sports ball", "person"]


def test_a_ball_held_by_a_person_is_not_read_twice():
    person, ball = (0.2, 0.1, 0.3, 0.8), (0.3, 0.4, 0.05, 0.05)
    keys, tracks, _ = run([[Det("person", person), Det("sports ball", ball)]] * 2)
    assert keys == [[1, 2]] * 2 and len(tracks) == 2


def test_a_fast_small_object_is_followed_by_distance_within_the_gate():
    """A juggled ball jumps 3 of its sizes between samples; a person nearby is another kind."""
    frames = [
        [
            Det("person", (0.4, 0.1, 0.2, 0.8)),
            Det("sports ball", (0.5, 0.3 + 0.15 * (i % 2), 0.05, 0.05)),
        ]
        for i in range(6)
    ]
    assert GATE > 0.15 / 0.05
    keys, tracks, _ = run(frames, step_ms=200)
    assert [k[1] for k in keys] == [2] * 6 and len(tracks) == 2


def test_the_only_object_of_its_kind_keeps_its_track_however_far_it_jumps():
    far = [[Det("dog", (0.1, 0.5, 0.1, 0.1))], [Det("dog", (0.8, 0.1, 0.1, 0.1))]]
    assert run(far)[0] == [[1], [1]]


def test_a_far_jump_among_several_objects_of_the_kind_starts_a_new_track():
    frames = [
        [Det("dog", (0.1, 0.5, 0.1, 0.1)), Det("dog", (0.4, 0.5, 0.1, 0.1))],
        [Det("dog", (0.9, 0.05, 0.05, 0.05))],
    ]
    assert run(frames)[0] == [[1, 2], [3]]


def test_weak_boxes_carry_a_confirmed_track_but_never_start_or_report_one():
    box = (0.3, 0.3, 0.2, 0.2)
    frames = [[Det("car", box)], [Det("car", box)], [], [], [], [Det("car", box)]]
    weak = {2: [Det("car", box, 0.15)], 3: [Det("car", box, 0.15)], 4: [Det("car", box, 0.15)]}
    keys, tracks, _ = run(frames, step_ms=1000, weak=weak)
    assert keys[-1] == [1] and len(tracks) == 1  # 3 s without a reported box: still one car
    keys, tracks, _ = run([[], []], weak={0: [Det("car", box, 0.15)], 1: [Det("car", box, 0.15)]})
    assert keys == [[], []] and tracks == []


def test_a_track_is_confirmed_by_sightings_over_time_or_one_confident_one():
    box = (0.3, 0.3, 0.2, 0.2)
    once = run([[Det("umbrella", box, CONFIDENT - 0.01)]])
    assert once[1] == [] and once[2].decided(1) is False
    twice = run([[Det("umbrella", box, 0.45)], [Det("umbrella", box, 0.3)]], step_ms=CONFIRM_MS)
    assert [t.track_id for t in twice[1]] == [1]
    flicker = run([[Det("umbrella", box, 0.6)]] * 2, step_ms=CONFIRM_MS // 2)
    assert flicker[1] == []  # two samples, but within half a second: not yet
    faint = run([[Det("umbrella", box, 0.3)], [Det("umbrella", box, 0.3)]])
    assert faint[1] == []  # never once at REPORT_MIN: not reported however often it is seen
    sure = run([[Det("umbrella", box, CONFIDENT)]])
    assert [t.track_id for t in sure[1]] == [1]


def test_an_unconfirmed_track_is_decided_once_it_has_been_lost():
    box = (0.3, 0.3, 0.2, 0.2)
    _, tracks, tracker = run([[Det("kite", box, 0.3)]] + [[]] * 3)
    assert tracks == [] and tracker.decided(1) and tracker.reported(1) is None


def test_ids_follow_confirmation_and_the_state_goes_on_exactly():
    frames = [
        [Det("person", (0.05 * i, 0.1, 0.2, 0.4), 0.5), Det("dog", (0.5, 0.5 - 0.02 * i, 0.1, 0.1))]
        for i in range(6)
    ]
    whole = run(frames)[0]
    tracker = Tracker()
    resumed = [tracker.update(i * 1000, frames[i]) for i in range(3)]
    tracker = Tracker.from_state(json.loads(json.dumps(tracker.state())))
    resumed += [tracker.update(i * 1000, frames[i]) for i in range(3, 6)]
    assert resumed == whole == run(frames)[0]
    assert [(t.track_id, t.label) for t in Tracker.from_state(tracker.state()).tracks] == [
        (1, "dog"),  # confident at once
        (2, "person"),  # confirmed at its second sighting
    ]


def test_distances_are_checked_against_the_gate_and_sizes():
    """A box 10 sizes away, or of another size, is not the same object when others are live."""
    frames = [
        [Det("car", (0.1, 0.1, 0.05, 0.05)), Det("car", (0.6, 0.6, 0.05, 0.05))],
        [Det("car", (0.1, 0.7, 0.05, 0.05)), Det("car", (0.6, 0.6, 0.3, 0.3))],
    ]
    keys, _, _ = run(frames, step_ms=200)
    assert keys == [[1, 2], [3, 4]]


def test_a_faint_object_seen_all_along_is_decided_within_a_lifetime():
    """Never once at REPORT_MIN: rejected once it has lived LOST_MS, so frames are not held for
    the whole video."""
    chair = [[Det("chair", (0.3, 0.3, 0.2, 0.2), 0.3)] for _ in range(20)]
    tracker = Tracker()
    undecided = []
    for i, frame in enumerate(chair):
        keys = tracker.update(i * 1000, frame)
        undecided.append(sum(not tracker.decided(k) for k in range(1, keys[0] + 1)))
    assert max(undecided) <= 1 and tracker.tracks == []


def test_sparse_samples_still_make_tracks():
    """Samples 5 s apart (0.2 frame/s): a track lives two intervals, so a dog seen in every
    sample is one track."""
    dog = [[Det("dog", (0.1 + 0.01 * i, 0.3, 0.2, 0.2), 0.7)] for i in range(6)]
    keys, tracks, _ = run(dog, step_ms=5000)
    assert keys == [[1]] * 6 and [t.track_id for t in tracks] == [1]


def test_a_person_overlapping_a_tv_does_not_continue_it():
    tv, person = (0.3, 0.2, 0.3, 0.4), (0.4, 0.15, 0.15, 0.6)
    assert IOU_MIN <= iou(tv, person) < SAME_BOX_IOU  # walking past it, not on it
    keys, tracks, _ = run([[Det("tvmonitor", tv)], [Det("person", person)]])
    assert keys == [[1], [2]] and {t.label for t in tracks} == {"tvmonitor", "person"}


def test_a_weak_box_never_removes_a_reported_one_nor_shows_in_its_track():
    person, around = (0.3, 0.2, 0.2, 0.5), (0.25, 0.15, 0.3, 0.6)
    tracker = Tracker()
    assert tracker.update(0, [Det("person", person, 0.9)], [Det("person", around, 0.15)]) == [1]
    tracker.update(1000, [], [Det("person", person, 0.15)])  # a dip: carried, not reported
    (track,) = tracker.tracks
    assert (track.last_ms, track.frames, track.seen_ms) == (0, 1, 1000)


def test_no_track_goes_on_across_a_shot_boundary():
    box = (0.3, 0.3, 0.2, 0.3)
    tracker = Tracker()
    assert tracker.update(0, [Det("person", box)]) == [1]
    assert tracker.update(1000, [Det("person", box)]) == [1]  # confirmed: id 1
    assert tracker.update(1200, [Det("person", box, 0.5)], new_shot=True) == [2]
    assert tracker.update(1400, [Det("person", box, 0.5)]) == [2]  # on within its shot
    assert tracker.update(1600, [Det("person", box, 0.5)], new_shot=True) == [3]
    assert tracker.decided(2) and tracker.reported(2) is None  # tentative: rejected at the cut
    (track,) = tracker.tracks
    assert (track.track_id, track.first_ms, track.last_ms) == (1, 0, 1000)
