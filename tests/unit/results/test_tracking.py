"""Object tracks on synthetic detections: ids persist, restart, and are deterministic."""

from dataclasses import dataclass

from chalicelib.results.tracking import IOU_MIN, MAX_MISSED, Tracker, iou


@dataclass(frozen=True)
class Det:
    label: str
    box: tuple
    confidence: float = 0.9


def run(frames):
    tracker = Tracker()
    ids = [tracker.update(i * 1000, dets) for i, dets in enumerate(frames)]
    return ids, tracker.tracks


def test_iou():
    assert iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0
    assert iou((0, 0, 0.5, 1), (0.5, 0, 0.5, 1)) == 0.0
    assert abs(iou((0, 0, 0.2, 0.2), (0.1, 0, 0.2, 0.2)) - 1 / 3) < 1e-9
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_a_moving_object_keeps_its_id_and_the_track_is_summarised():
    frames = [[Det("dog", (0.1 + 0.03 * i, 0.2, 0.2, 0.3), 0.5 + 0.1 * i)] for i in range(4)]
    ids, tracks = run(frames)
    assert ids == [[1], [1], [1], [1]]
    (track,) = tracks
    assert (track.track_id, track.label, track.first_ms, track.last_ms) == (1, "dog", 0, 3000)
    assert track.frames == 4 and abs(track.max_confidence - 0.8) < 1e-9
    assert track.first_box == (0.1, 0.2, 0.2, 0.3)
    assert track.last_box == (0.1 + 0.09, 0.2, 0.2, 0.3)


def test_two_objects_crossing_nothing_keep_their_own_ids_in_any_detector_order():
    left = [Det("person", (0.1, 0.1, 0.2, 0.5)), Det("person", (0.6, 0.1, 0.2, 0.5))]
    ids, _ = run([left, list(reversed(left)), left])
    assert ids == [[1, 2], [2, 1], [1, 2]]


def test_labels_never_share_a_track():
    box = (0.3, 0.3, 0.2, 0.2)
    ids, tracks = run([[Det("cat", box)], [Det("dog", box)]])
    assert ids == [[1], [2]] and [t.label for t in tracks] == ["cat", "dog"]


def test_a_jump_below_the_iou_threshold_among_several_cars_starts_a_new_track():
    a, b, other = (0.0, 0.0, 0.2, 0.2), (0.15, 0.0, 0.2, 0.2), (0.6, 0.6, 0.2, 0.2)
    assert iou(a, b) < IOU_MIN
    ids, _ = run([[Det("car", a), Det("car", other)], [Det("car", b), Det("car", other)]])
    assert ids == [[1, 2], [3, 2]]


def test_a_track_survives_missed_frames_up_to_the_tolerance_then_ends():
    box, far = (0.4, 0.4, 0.2, 0.2), (0.0, 0.0, 0.1, 0.1)
    blink = [[Det("car", box)]] + [[]] * MAX_MISSED + [[Det("car", far)]]
    assert run(blink)[0][-1] == [1]
    gone = [[Det("car", box)]] + [[]] * (MAX_MISSED + 1) + [[Det("car", box)]]
    assert run(gone)[0][-1] == [2]


def test_best_overlap_wins_when_two_boxes_compete_for_one_track():
    ids, _ = run(
        [
            [Det("car", (0.1, 0.1, 0.2, 0.2))],
            [Det("car", (0.15, 0.1, 0.2, 0.2)), Det("car", (0.11, 0.1, 0.2, 0.2))],
        ]
    )
    assert ids == [[1], [2, 1]]


def test_same_input_same_ids():
    frames = [
        [Det("person", (0.05 * i, 0.1, 0.2, 0.4)), Det("dog", (0.5, 0.5 - 0.02 * i, 0.1, 0.1))]
        for i in range(6)
    ]
    assert run(frames)[0] == run(frames)[0]


def test_the_only_object_of_its_label_keeps_its_id_however_far_it_jumps():
    far = [[Det("dog", (0.1, 0.5, 0.1, 0.1))], [Det("dog", (0.7, 0.1, 0.1, 0.1))]]
    assert run(far)[0] == [[1], [1]]


def test_a_far_jump_among_several_objects_of_the_label_starts_a_new_track():
    frames = [
        [Det("dog", (0.1, 0.5, 0.1, 0.1)), Det("dog", (0.4, 0.5, 0.1, 0.1))],
        [Det("dog", (0.8, 0.1, 0.1, 0.1))],
    ]
    assert run(frames)[0] == [[1, 2], [3]]
