"""Settings: one declaration per stage makes every command's options, their help and the
precedence (defaults < preset or file < the run's config.json < options given)."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields

import pytest

from latentatlas.cli import build_parser, main
from latentatlas.errors import UserError
from latentatlas.settings import (SECTION_CLASSES, RunConfig, add_section_options, given_tables, layered,
                                  load_preset, resolve_sections)
from latentatlas.settings.options import flag_of


def _cli_fields(section):
    return [f for f in fields(SECTION_CLASSES[section]) if f.metadata.get("cli")]


def _help(argv) -> str:
    with pytest.raises(SystemExit):
        main(argv + ["--help"])


def test_every_setting_is_an_option_of_run_with_its_default_shown_once(capsys):
    _help(["run"])
    text = capsys.readouterr().out
    blocks = re.split(r"\n  (?=-)", text)  # one block per option
    for section in SECTION_CLASSES:
        for f in _cli_fields(section):
            flag = flag_of(f, own=False)
            mine = [b for b in blocks if b.startswith(flag + " ") or b.startswith(flag + ",")
                    or b.startswith(flag + "\n") or b == flag]
            assert len(mine) == 1, (section, f.name, flag)
            if f.metadata.get("action") not in ("store_true", "store_false"):
                assert " ".join(mine[0].split()).count("(default:") == 1, (flag, mine[0])


def test_no_option_of_any_command_shows_two_defaults(capsys):
    for command in ["run", "train", "analyze", "sample", "interpolate", "judge", "encode", "compare"]:
        _help([command])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: None)" not in text, command
        assert "[default:" not in text, command  # the old hand-written style, beside argparse's


def test_only_options_typed_on_the_line_are_given():
    p = argparse.ArgumentParser()
    for section in SECTION_CLASSES:
        add_section_options(p, section)
    args = p.parse_args(["--latent-dim", "3", "--epochs", "5", "--no-raw", "--walk", "1", "7",
                         "--tsne-max-samples", "0", "--hidden-dim", "1024,256", "--jobs", "4"])
    assert given_tables(args) == {"model": {"latent_dim": 3, "hidden_dim": [1024, 256]},
                                  "train": {"epochs": 5},  # typed, although it is the default
                                  "analysis": {"raw_baseline": False, "tsne_max_samples": None, "n_jobs": 4},
                                  "generate": {"walks": [["1", "7"]]}}
    assert given_tables(p.parse_args([])) == {}


def test_same_name_in_two_sections_keeps_them_apart():
    p = argparse.ArgumentParser()
    for section in SECTION_CLASSES:
        add_section_options(p, section)
    given = given_tables(p.parse_args(["--seed", "1", "--analysis-seed", "2", "--generate-seed", "3",
                                       "--n-components", "4", "--components", "5"]))
    assert given["train"] == {"seed": 1} and given["analysis"] == {"seed": 2}
    assert given["generate"] == {"seed": 3, "n_components": 5} and given["model"] == {"n_components": 4}


def test_a_stage_command_uses_its_own_spelling():
    p = argparse.ArgumentParser()
    add_section_options(p, "generate", own=True, only=("seed", "classes", "n_per_class"))
    given = given_tables(p.parse_args(["--seed", "9", "--classes", "3", "8", "-n", "4"]))
    assert given == {"generate": {"seed": 9, "classes": ["3", "8"], "n_per_class": 4}}


def test_precedence_defaults_preset_run_config_options():
    preset = {"train": {"epochs": 20, "lr": 0.01}, "model": {"latent_dim": 7}}
    run_config = {"train": {"epochs": 30}}
    p = argparse.ArgumentParser()
    add_section_options(p, "train")
    args = p.parse_args(["--lr", "0.5"])
    train = resolve_sections(("train",), preset, run_config, args=args)["train"]
    assert (train.epochs, train.lr, train.batch_size) == (30, 0.5, 64)
    assert layered({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}, None) == {"a": {"x": 1, "y": 3}}


def test_run_options_over_a_preset_keep_the_rest():
    args = build_parser().parse_args(["run", "--preset", "study003-vae-148", "--latent-dim", "3",
                                      "--probes", "none"])
    from latentatlas.commands.run import build_config

    cfg, preset = build_config(args), load_preset("study003-vae-148")
    assert cfg.model.latent_dim == 3 and cfg.analysis.probes == []
    assert cfg.data == preset.data and cfg.train == preset.train and cfg.study == preset.study
    assert cfg.model.beta == preset.model.beta


@pytest.mark.parametrize("argv, words", [
    (["--optimizer", "adamm"], ["unknown optimizer 'adamm'", "did you mean 'adam'"]),
    (["--schedule", "linear"], ["unknown schedule 'linear'", "onecycle"]),
    (["--projections", "umap:4"], ["umap:4", "at most 3"]),
    (["--probes", "svn"], ["unknown probe 'svn'", "svm"]),
    (["--clusterers", "dbscan"], ["unknown clusterer 'dbscan'", "n2d"]),
    (["--epochs", "-1"], ["epochs must be >= 0"]),
    (["--jobs", "0"], ["n_jobs must be at least 1"]),
])
def test_bad_settings_are_one_line_errors_naming_the_choices(tmp_path, capsys, argv, words):
    out = tmp_path / "r"
    assert main(["run", "--out", str(out)] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err
    assert not out.exists()


def test_settings_validate_names_against_the_registries():
    from latentatlas.registry import PROJECTIONS

    with pytest.raises(UserError, match="unknown projection"):
        RunConfig.from_dict({"analysis": {"projections": ["isomap:2"]}})
    for name, entry in PROJECTIONS.items():
        RunConfig.from_dict({"analysis": {"projections": [f"{name}:{entry.limits['max_dims']}"]}})
