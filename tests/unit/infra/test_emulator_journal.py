"""The emulator's journal (infra/emulator_journal.py): every record is checked on replay; damage
stops the replay at the record before it, with an ERROR that counts what was replayed and
skipped, and a copy of the journal is kept aside, the journal itself removed only by the next
snapshot."""

import logging
import pickle

import pytest

from infra.emulator_journal import FILE_HEADER, JournalReader, JournalWriter, report

WRITES = 100


def request(i: int) -> tuple[dict, bytes]:
    environ = {"REQUEST_METHOD": "PUT", "PATH_INFO": f"/bucket/object-{i:03d}"}
    return environ, bytes([i % 251]) * (200 + 37 * i)


@pytest.fixture
def state_dir(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    return state


def write_journal(path, n=WRITES) -> list[int]:
    """A journal of ``n`` writes; the offset where each record ends."""
    writer, ends = JournalWriter(path), []
    for i in range(n):
        writer.append(*request(i))
        ends.append(writer.size())
    writer.close()
    return ends


def damage(path, at: int, n: int = 16) -> None:
    data = bytearray(path.read_bytes())
    data[at : at + n] = bytes(b ^ 0x5A for b in data[at : at + n])
    path.write_bytes(bytes(data))


def replay(path, state_dir):
    reader = JournalReader(path)
    records = list(reader)
    report(reader, state_dir)
    return reader, records


def kept_aside(state_dir):
    return sorted(state_dir.parent.glob(f"{state_dir.name}-journal-0-damaged-*.log"))


def test_a_clean_journal_replays_every_write(state_dir, caplog):
    journal = state_dir / "journal-0.log"
    write_journal(journal)
    caplog.set_level(logging.INFO)
    reader, records = replay(journal, state_dir)
    assert records == [request(i) for i in range(WRITES)]
    assert reader.replayed == WRITES and reader.end == reader.size and reader.damage is None
    assert caplog.records == [] and journal.exists() and kept_aside(state_dir) == []


def test_16_damaged_bytes_in_the_middle_stop_the_replay_there_with_an_error(state_dir, caplog):
    journal = state_dir / "journal-0.log"
    ends = write_journal(journal)
    middle = journal.stat().st_size // 2
    damage(journal, middle)
    damaged = journal.read_bytes()
    caplog.set_level(logging.INFO)
    reader, records = replay(journal, state_dir)
    before = sum(end <= middle for end in ends)  # the records wholly before the damage
    assert 0 < before < WRITES - 1
    assert records == [request(i) for i in range(before)]  # exactly those, nothing after
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = error.getMessage()
    skipped = len(damaged) - ends[before - 1]
    assert f"replayed the {before} records before the damage" in message
    assert f"skipped the last {skipped} of its {len(damaged)} bytes" in message
    assert f"and {WRITES - before - 1} intact records after it" in message
    (kept,) = kept_aside(state_dir)
    assert str(kept) in message and kept.read_bytes() == damaged
    assert journal.read_bytes() == damaged  # until a new snapshot holds what it replayed


def test_damage_inside_an_object_s_bytes_refuses_that_record(state_dir, caplog):
    journal = state_dir / "journal-0.log"
    ends = write_journal(journal)
    inside = ends[41] - 50  # in the body of write 41 (its last 50 bytes are body)
    damage(journal, inside, 4)
    caplog.set_level(logging.ERROR)
    reader, records = replay(journal, state_dir)
    assert records == [request(i) for i in range(41)]  # write 41 is not replayed with bad bytes
    assert "record 42" in reader.damage and "does not match its checksum" in reader.damage
    assert reader.later == WRITES - 42
    assert len(kept_aside(state_dir)) == 1 and "replayed the 41 records" in caplog.text


def test_a_torn_last_record_is_dropped_quietly(state_dir, caplog):
    journal = state_dir / "journal-0.log"
    ends = write_journal(journal, 10)
    with journal.open("r+b") as file:
        file.truncate(ends[-1] - 100)  # the process died writing the last record
    caplog.set_level(logging.INFO)
    reader, records = replay(journal, state_dir)
    assert records == [request(i) for i in range(9)] and reader.torn and reader.damage is None
    assert [r.levelname for r in caplog.records] == ["INFO"] and "torn" in caplog.text
    assert journal.exists() and kept_aside(state_dir) == []


def test_a_damaged_file_header_replays_nothing_and_keeps_the_journal(state_dir, caplog):
    journal = state_dir / "journal-0.log"
    write_journal(journal, 5)
    damage(journal, 0, 4)
    caplog.set_level(logging.ERROR)
    reader, records = replay(journal, state_dir)
    assert records == [] and "file header" in reader.damage and reader.later == 5
    assert len(kept_aside(state_dir)) == 1 and "replayed the 0 records" in caplog.text


def legacy_journal(path, n) -> None:
    """A journal as the emulator wrote it before checksums: a bare stream of pickles."""
    with path.open("wb") as file:
        for i in range(n):
            pickle.dump(request(i), file, pickle.HIGHEST_PROTOCOL)


def test_a_journal_of_the_format_before_checksums_still_replays(state_dir, caplog):
    journal = state_dir / "journal-0.log"
    legacy_journal(journal, 20)
    caplog.set_level(logging.INFO)
    reader, records = replay(journal, state_dir)
    assert records == [request(i) for i in range(20)] and reader.legacy
    assert caplog.records == [] and kept_aside(state_dir) == []


def test_a_journal_of_the_old_format_with_bytes_left_unread_is_kept_aside(state_dir, caplog):
    journal = state_dir / "journal-0.log"
    legacy_journal(journal, 20)
    with journal.open("ab") as file:
        file.write(b"\x80\x05\x95 torn")
    caplog.set_level(logging.INFO)
    reader, records = replay(journal, state_dir)
    assert len(records) == 20
    (warning,) = caplog.records
    assert warning.levelname == "WARNING" and "format before checksums" in warning.getMessage()
    (kept,) = kept_aside(state_dir)
    assert str(kept) in warning.getMessage()


def test_an_empty_journal_is_zero_bytes_and_a_written_one_starts_with_its_header(state_dir):
    empty, written = state_dir / "journal-0.log", state_dir / "journal-1.log"
    JournalWriter(empty).close()
    write_journal(written, 1)
    assert empty.stat().st_size == 0 and written.read_bytes().startswith(FILE_HEADER)
