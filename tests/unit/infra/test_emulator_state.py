"""The emulator's state store (infra/emulator_state.py): a damaged journal is copied aside, and
the journal itself goes only once a new snapshot holds the writes replayed from it."""

import pickle

import pytest

from infra import emulator_state
from infra.emulator_journal import JournalWriter
from infra.emulator_state import SNAPSHOT, StateStore


class Killed(Exception):
    """The emulator dying between keeping the damaged journal and writing the snapshot."""


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(emulator_state, "collect", dict)  # no moto: an empty state to pickle
    state = tmp_path / "state"
    state.mkdir()
    return state


def damaged_journal(path, writes: int) -> int:
    """A journal of ``writes`` writes with damage in the last one; how many come before it."""
    writer = JournalWriter(path)
    for i in range(writes):
        writer.append({"PATH_INFO": f"/bucket/object-{i}"}, b"x" * 100)
    writer.close()
    data = bytearray(path.read_bytes())
    data[-10:] = bytes(b ^ 0x5A for b in data[-10:])
    path.write_bytes(bytes(data))
    return writes - 1


def test_dying_before_the_snapshot_keeps_the_damaged_journal_to_replay_again(
    state_dir, monkeypatch
):
    journal = state_dir / "journal-0.log"
    intact = damaged_journal(journal, 5)
    damaged = journal.read_bytes()

    def killed(_store):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(StateStore, "snapshot", killed)
        with pytest.raises(Killed):
            StateStore(state_dir).restore(lambda environ, body: None)
    assert journal.read_bytes() == damaged  # the writes replayed from it are not lost
    kept = list(state_dir.parent.glob("state-journal-0-damaged-*.log"))
    assert kept and all(copy.read_bytes() == damaged for copy in kept)

    replayed: list[str] = []
    store = StateStore(state_dir)
    assert store.restore(lambda environ, body: replayed.append(environ["PATH_INFO"])) == intact
    assert replayed == [f"/bucket/object-{i}" for i in range(intact)]
    assert pickle.loads((state_dir / SNAPSHOT).read_bytes())["generation"] == 1
    assert sorted(p.name for p in state_dir.glob("journal-*.log")) == ["journal-1.log"]
