"""RunConfig: presets from package data, TOML/JSON files, one-line errors for bad keys and types."""

from __future__ import annotations

import json

import pytest

from latentatlas.cli import main
from latentatlas.settings import (DataConfig, RunConfig, StudyConfig, list_presets, load_config, load_preset,
                                read_preset, save_config)
from latentatlas.errors import UserError

STUDY_PRESETS = ["study000-cae-lda", "study001-vae-svm", "study002-fashion-ae2", "study003-vae-148",
                 "study004-ae32-sampling"]


def test_every_documented_preset_exists_and_validates():
    names = list_presets()
    for name in ["demo", "default-ae", "default-vae", "deep-ae", "n2d", "gpu-vae", "cifar10-vae",
                 "svhn-ae", "folder-64"] + STUDY_PRESETS:
        assert name in names
        cfg = load_preset(name)
        assert isinstance(cfg.data, DataConfig)
        # Not empty, and every value it sets is the value loaded (an empty or ignored preset fails).
        raw = read_preset(name)
        assert raw.get("model") or raw.get("train"), name
        for section in ("data", "model", "train", "analysis", "generate"):
            for key, value in (raw.get(section) or {}).items():
                loaded = getattr(getattr(cfg, section), key)
                assert loaded == value or (isinstance(value, list) and loaded == list(value)), (name, section, key)
        # round trip through the dict form is lossless
        assert RunConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


def test_study_presets_quote_their_study_with_a_source():
    for name in STUDY_PRESETS:
        study = load_preset(name).study
        assert isinstance(study, StudyConfig), name
        assert study.source and study.figures, name
        assert all(f.name and f.published is not None for f in study.figures), name


def test_unknown_preset_lists_the_existing_ones():
    with pytest.raises(UserError) as err:
        load_preset("no-such-preset")
    msg = str(err.value)
    assert "no-such-preset" in msg
    for name in list_presets():
        assert name in msg


def test_toml_and_json_files_load_the_same(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[data]\nname = "mnist-sample"\nclasses = ["1", "4"]\ntest_fraction = 1\n')
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"data": {"name": "mnist-sample", "classes": ["1", "4"], "test_fraction": 1}}))
    a, b = load_config(toml), load_config(js)
    assert a.to_dict() == b.to_dict()
    assert a.data.classes == ["1", "4"] and a.data.test_fraction == 1.0  # int widened to float
    out = tmp_path / "saved.json"
    save_config(out, a)
    assert load_config(out).to_dict() == a.to_dict()


@pytest.mark.parametrize("text, words", [
    ('[data]\nnmae = "mnist"\n', ["data.nmae", "did you mean 'name'", "accepts"]),
    ('[data]\nsplit_seed = "zero"\n', ["data.split_seed", "an integer"]),
    ('[data]\nclasses = "1,4"\n', ["data.classes", "a list of strings"]),
    ('[data]\nclasses = [1, 4]\n', ["data.classes[0]", "a string"]),
    ('[train]\nepochs = 2.5\n', ["train.epochs", "an integer"]),
    ('[model]\nlatent_dim = true\n', ["model.latent_dim", "an integer"]),
    ('[dataa]\nname = "mnist"\n', ["unknown section 'dataa'", "data, model, train"]),
    ('[study]\ntitle = 3\n', ["study.title", "a string"]),
])
def test_bad_config_names_the_key_and_the_type(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    for w in words:
        assert w in msg, msg


def test_bad_config_file_itself(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "c.yaml").write_text("data: {}\n")
    with pytest.raises(UserError, match=r"\.toml or \.json"):
        load_config(tmp_path / "c.yaml")
    (tmp_path / "broken.toml").write_text("[data\n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_config(tmp_path / "broken.toml")


def test_cli_bad_config_and_preset_exit_2_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[model]\nlatent_dimm = 3\n')
    assert main(["run", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.latent_dimm" in err
    assert main(["run", "--preset", "nope", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "demo" in err and "study001-vae-svm" in err
    assert not (tmp_path / "r").exists()  # nothing written


def test_preset_tables_are_plain_toml():
    raw = read_preset("demo")
    assert set(raw) <= {"data", "model", "train", "analysis", "generate", "study"}
