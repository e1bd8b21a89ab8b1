"""``mouselab synth sample-study`` writes the study into a store, idempotently."""

from __future__ import annotations

from click.testing import CliRunner

from mouselab.cli.synth import command
from mouselab.store import Store


def test_sample_study_writes_a_store(tmp_path):
    out = tmp_path / "store"
    args = ["sample-study", "--out", str(out), "--seed", "3", "--participants", "3", "--trials-per-condition", "4"]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    assert "study cogload: 3 participants" in result.output and "content sha256" in result.output
    store = Store(out)
    assert store.verify() == []
    assert store.read("trials").height == 3 * 8
    assert store.read("participants").height == 3
    first = store.content_hash()
    again = CliRunner().invoke(command, args)
    assert again.exit_code == 0 and "already up to date" in again.output
    assert Store(out).content_hash() == first


def test_seed_is_required(tmp_path):
    result = CliRunner().invoke(command, ["sample-study", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "--seed" in result.output


def test_refuses_to_mix_builds(tmp_path):
    out = str(tmp_path / "store")
    base = ["sample-study", "--out", out, "--seed", "3", "--trials-per-condition", "2"]
    assert CliRunner().invoke(command, base + ["--participants", "3"]).exit_code == 0
    result = CliRunner().invoke(command, base + ["--participants", "2"])
    assert result.exit_code != 0
    assert "new folder" in str(result.exception)
