"""The dataset table: every entry complete, every name listed, no dataset name tested outside data/."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from cli_helpers import run_cli
from latentatlas import cli
from latentatlas.commands import data as data_command
from latentatlas.data import REGISTRY, registry
from latentatlas.data.entry import DatasetEntry
from latentatlas.settings.stages import DataConfig

SRC = Path(registry.__file__).resolve().parents[1]       # src/latentatlas


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_entry_is_complete(name):
    entry = REGISTRY[name]
    assert isinstance(entry, DatasetEntry) and entry.name == name
    assert callable(entry.loader)
    assert entry.description.strip() and "\n" not in entry.description
    if entry.takes_path:                       # the user's files decide colour and size
        assert entry.channels is None and entry.image_size is None and entry.prefix == name.split(":")[0] + ":"
        return
    assert entry.channels in {1, 3}
    assert isinstance(entry.image_size, int) and entry.image_size > 0
    assert len(entry.class_names) == 10 and len(set(entry.class_names)) == 10
    files = registry._files_entry(entry)       # its own files, or those it is built from
    assert files is not None and files.store is not None and not files.built_from
    store = files.store_module()
    for attr in ("locate", "download", "verify_files", "not_found_message"):
        assert callable(getattr(store, attr)), (files.store, attr)
    assert store.HASHED in ("the decompressed bytes", "the file")
    if entry is files:                         # a dataset with published files: each has its SHA-256
        assert entry.files and entry.urls and all(u.startswith(("http://", "https://")) for u in entry.urls)
        assert set(entry.files.values()) == set(entry.checksums)
        assert all(re.fullmatch("[0-9a-f]{64}", h) for h in entry.checksums.values())
    for path in entry.embedded.values():
        assert Path(path).is_file()
    if entry.fallback is not None:
        assert REGISTRY[entry.fallback].embedded


def test_entries_are_frozen_and_the_derived_lists_match_the_table():
    entry = REGISTRY["mnist"]
    with pytest.raises(AttributeError):
        entry.channels = 3
    assert {f.name for f in fields(DatasetEntry)} >= {"name", "description", "loader", "channels", "image_size",
                                                      "class_names", "files", "checksums", "urls"}
    assert list(REGISTRY) == ["mnist", "fashion-mnist", "mnist-sample", "cifar10", "svhn", "mnist-color",
                              "folder:PATH", "npz:PATH"]
    assert registry.KNOWN == list(REGISTRY)[:6]
    assert registry.COLOUR_DATASETS == ["cifar10", "svhn", "mnist-color"]
    assert registry.DATASETS == {"mnist": [str(i) for i in range(10)], "fashion-mnist": registry.FASHION_CLASSES}
    assert set(registry.DESCRIPTIONS) == set(registry.KNOWN)
    assert registry.known_names() == ", ".join(REGISTRY)
    assert [n for n, e in REGISTRY.items() if e.fallback] == ["mnist"]      # the demo's


@pytest.mark.parametrize("name, entry", [("mnist", "mnist"), ("folder:/data/pets", "folder:PATH"),
                                         ("folder:", "folder:PATH"), ("npz:x.npz", "npz:PATH"),
                                         ("mnist:x", None), ("imagenet", None), ("", None), (None, None), (3, None)])
def test_entry_for(name, entry):
    found = registry.entry_for(name)
    assert (found.name if found else None) == entry


def _help(argv, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "400")                 # one line per option: names are never wrapped
    with pytest.raises(SystemExit):
        cli.main(argv)
    return re.sub(r"\s+", " ", capsys.readouterr().out)


def test_help_names_every_dataset(capsys, monkeypatch):
    """The help texts spell the names out (the registry imports numpy; --help must not): they
    must say what the table holds."""
    named = [n for n in REGISTRY if not REGISTRY[n].takes_path]
    paths = [n for n in REGISTRY if REGISTRY[n].takes_path]
    assert data_command.NAMES_HELP == ", ".join(list(REGISTRY)[:-1]) + " or " + list(REGISTRY)[-1]
    assert data_command.DOWNLOADABLE == registry._or_list(registry.downloadable_names())
    assert data_command.VERIFIABLE == registry._or_list(named)
    info = _help(["data", "info", "--help"], capsys, monkeypatch)
    assert all(n in info for n in REGISTRY), info
    assert data_command.DOWNLOADABLE in _help(["data", "fetch", "--help"], capsys, monkeypatch)
    assert data_command.VERIFIABLE in _help(["data", "verify", "--help"], capsys, monkeypatch)
    top = _help(["data", "--help"], capsys, monkeypatch)
    assert all(n in top for n in registry.downloadable_names()), top
    setting_help = next(f for f in fields(DataConfig) if f.name == "name").metadata["help"]
    assert ", ".join(named + paths) in setting_help


def test_data_list_names_every_dataset_once(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "data", "list", "--data-dir", tmp_path)   # never downloads
    assert rc == 0, err
    listed = [ln.split()[0] for ln in out.splitlines() if ln and not ln.startswith(" ")]
    assert listed == list(REGISTRY)
    for entry in REGISTRY.values():
        assert entry.description in out


DATASET_WORDS = {*REGISTRY, *(e.prefix for e in REGISTRY.values() if e.takes_path),
                 *(e.prefix.rstrip(":") for e in REGISTRY.values() if e.takes_path)}


def _branches_on_a_dataset(tree: ast.AST) -> list[int]:
    """Lines that compare with, look up or prefix-test a dataset's name."""
    def names_a_dataset(node) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value in DATASET_WORDS
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(names_a_dataset(e) for e in node.elts)
        return False

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(names_a_dataset(n) for n in (node.left, *node.comparators)):
            lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("startswith", "endswith") and any(names_a_dataset(a) for a in node.args)):
            lines.append(node.lineno)
    return lines


def test_no_code_outside_data_branches_on_a_dataset_name():
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        if "data" in path.relative_to(SRC).parts[:1]:
            continue
        lines = _branches_on_a_dataset(ast.parse(path.read_text(), str(path)))
        if lines:
            found[str(path.relative_to(SRC))] = lines
    assert not found, f"ask the dataset's registry entry instead: {found}"
    # The check itself sees the kind of branch it is meant to catch.
    assert _branches_on_a_dataset(ast.parse('if name == "mnist-sample" or x.startswith("folder:"): pass')) == [1, 1]
