"""``mouselab ingest`` and ``mouselab segment`` (the click commands; ``segment_command`` is registered in
``mouselab.cli.main`` by the lead)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mouselab.cli.ingest import command
from mouselab.cli.segment import command as segment_command
from mouselab.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
BAD = '"mt_id","subject_nr","timestamps","xpos","ypos"\n"a",1,0,0,0\n"a",1,10,oops,0\n'


def test_default_quarantines_and_summarises(tmp_path):
    (tmp_path / "bad.csv").write_text(BAD)
    result = CliRunner().invoke(command, ["mousetrap", str(tmp_path / "bad.csv"), "--store", str(tmp_path / "st")])
    assert result.exit_code == 0, result.output
    assert "2 read, 1 stored, 1 quarantined (non_numeric 1)" in result.output
    assert Store(tmp_path / "st").read("quarantine").select("line", "column").rows() == [(3, "xpos")]


def test_on_error_fail_stops_with_the_location(tmp_path):
    (tmp_path / "bad.csv").write_text(BAD)
    result = CliRunner().invoke(command, ["mousetrap", str(tmp_path / "bad.csv"), "--store", str(tmp_path / "st"),
                                          "--on-error", "fail"])
    assert result.exit_code != 0
    assert "line 3, column 'xpos'" in str(result.exception) and "'oops'" in str(result.exception)


def test_generic_mapping_options_and_segment(tmp_path):
    store = tmp_path / "st"
    result = CliRunner().invoke(command, [
        "generic", str(FIXTURES / "generic" / "g09_speed_spike.csv"), "--store", str(store),
        "--map", "participant=user,t=time,x=posX,y=posY", "--time-unit", "ms", "--max-speed", "5000"])
    assert result.exit_code == 0, result.output
    assert "30 read, 30 stored, 0 quarantined" in result.output  # the spike is below the raised limit
    result = CliRunner().invoke(command, ["balabit", str(FIXTURES / "balabit" / "training_files"), "--store",
                                          str(store), "--study", "bb", "--segment", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "segmented 3 session(s)" in result.output and " DD," in result.output and " PC " in result.output
    again = CliRunner().invoke(segment_command, ["--store", str(store), "--study", "bb"])
    assert again.exit_code == 0 and again.output.splitlines()[-1] == result.output.splitlines()[-1]
    assert set(Store(store).read("actions")["type"]) == {"MM", "PC", "DD"}


def test_run_length_option_decides_run_or_step(tmp_path):
    """The fixture's clock leaves for three samples (+25 h) and comes back (rows 12-14): a run by default;
    with --max-run 2 it is two steps, each quarantined at its boundary, splitting the session."""
    args = ["generic", str(FIXTURES / "runs" / "r01_clock_run.csv"), "--map", "participant=user,t=time,x=posX,y=posY",
            "--time-unit", "ms"]
    as_run = CliRunner().invoke(command, args + ["--store", str(tmp_path / "a")])
    assert as_run.exit_code == 0, as_run.output
    assert "60 read, 57 stored, 3 quarantined (clock_jump 3)" in as_run.output
    as_steps = CliRunner().invoke(command, args + ["--store", str(tmp_path / "b"), "--max-run", "2"])
    assert as_steps.exit_code == 0, as_steps.output
    assert "60 read, 58 stored, 2 quarantined (clock_jump 2)" in as_steps.output
    sessions = Store(tmp_path / "b").scan("samples").select("session").unique().collect()["session"].sort().to_list()
    assert sessions == ["r01_clock_run", "r01_clock_run~2", "r01_clock_run~3"]
    bad = CliRunner().invoke(command, args + ["--store", str(tmp_path / "c"), "--max-run", "0"])
    assert bad.exit_code == 2 and "--max-run" in bad.output


def test_a_corrected_file_replaces_every_split_part_of_its_session(tmp_path):
    """The fixture's clock steps forward by 2 h at line 27 and stays: the session is split (`~2`). After the
    file is corrected (times continue normally), ingesting it again leaves one session, not the old `~2`."""
    src = FIXTURES / "runs" / "r03_clock_step_forward.csv"
    args = ["generic", "--map", "participant=user,t=time,x=posX,y=posY", "--time-unit", "ms",
            "--store", str(tmp_path / "s")]
    first = CliRunner().invoke(command, args[:1] + [str(src)] + args[1:])
    assert first.exit_code == 0, first.output
    store = Store(tmp_path / "s")
    sessions = store.scan("samples").select("session").unique().collect()["session"].sort().to_list()
    assert sessions == ["r03_clock_step_forward", "r03_clock_step_forward~2"]
    lines = src.read_text().splitlines()
    fixed, shift = [lines[0]], None
    for number, line in enumerate(lines[1:], start=2):
        user, t, x, y = line.split(",")
        if number == 27:
            shift = float(t) - 5250.0  # the step: continue 10 ms after the last good sample
        fixed.append(f"{user},{float(t) - shift if shift is not None else float(t):g},{x},{y}")
    corrected = tmp_path / "r03_clock_step_forward.csv"
    corrected.write_text("\n".join(fixed) + "\n")
    again = CliRunner().invoke(command, args[:1] + [str(corrected)] + args[1:])
    assert again.exit_code == 0, again.output
    assert "0 quarantined" in again.output
    stored = Store(tmp_path / "s").scan("samples").collect()
    assert stored["session"].unique().to_list() == ["r03_clock_step_forward"]
    assert stored.height == len(lines) - 1
