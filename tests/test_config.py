"""Settings resolve environment → mouselab.toml → default, with clear errors."""

import pytest

from mouselab import config


def test_default_file_and_environment_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("MOUSELAB_KERNEL", raising=False)
    monkeypatch.delenv("MOUSELAB_DEBUG", raising=False)
    cfg = tmp_path / "mouselab.toml"
    assert config.get("kernel", config_file=cfg) == "python3"
    cfg.write_text('[mouselab]\nkernel = "mouselab"\ndebug = true\n')
    assert config.get("kernel", config_file=cfg) == "mouselab"
    assert config.get("debug", config_file=cfg) is True
    monkeypatch.setenv("MOUSELAB_KERNEL", "other")
    monkeypatch.setenv("MOUSELAB_DEBUG", "0")
    assert config.get("kernel", config_file=cfg) == "other"
    assert config.get("debug", config_file=cfg) is False


def test_bad_values_and_unknown_names_are_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "mouselab.toml"
    cfg.write_text('[mouselab]\nkernal = "x"\n')
    with pytest.raises(ValueError, match="unknown setting.*kernal"):
        config.get("kernel", config_file=cfg)
    monkeypatch.setenv("MOUSELAB_DEBUG", "maybe")
    with pytest.raises(ValueError, match="MOUSELAB_DEBUG: debug must be true or false"):
        config.get("debug")
    with pytest.raises(ValueError, match="unknown setting"):
        config.get("colour")
