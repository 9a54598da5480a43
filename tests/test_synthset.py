"""Opening a synthetic set checks it: a damaged or hostile set is one RunDirError naming the file, not a traceback."""

import json
import os
import pickle
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from ganaug.errors import RunDirError
from ganaug.runs.synthset import SynthSet, SynthSetWriter
from ganaug.stages.augment import augment

SHARD = "shards/shard_000001.safetensors"


@pytest.fixture(scope="module")
def good_set(tiny_runs, tmp_path_factory) -> Path:
    """30 images of the unconditional run in three shards of 10. Read-only: tests damage copies."""
    out = tmp_path_factory.mktemp("synthset") / "set"
    augment(tiny_runs["unconditional"], out, count=30, shard_size=10, progress=False, device="cpu")
    return out


@pytest.fixture
def set_copy(good_set, tmp_path) -> Path:
    return Path(shutil.copytree(good_set, tmp_path / "set"))


def edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], str]:
    def damage(root: Path) -> str:
        manifest = json.loads((root / "manifest.json").read_text())
        change(manifest)
        (root / "manifest.json").write_text(json.dumps(manifest))
        return "manifest.json"

    return damage


def replace_shard(tensors: dict[str, torch.Tensor]) -> Callable[[Path], str]:
    def damage(root: Path) -> str:
        save_file(tensors, str(root / SHARD))
        return "shard_000001.safetensors"

    return damage


def truncate_shard(root: Path) -> str:
    data = (root / SHARD).read_bytes()
    (root / SHARD).write_bytes(data[: len(data) - 100])
    return "shard_000001.safetensors"


def not_json(root: Path) -> str:
    (root / "manifest.json").write_text('{"format": 1, "shards": [')
    return "manifest.json"


def remove_table(root: Path) -> str:
    (root / "samples.csv").unlink()
    return "manifest.json"


def manifest_a_list(root: Path) -> str:
    (root / "manifest.json").write_text("[1]")
    return "manifest.json"


def drop_a_row(root: Path) -> str:
    table = pd.read_csv(root / "samples.csv")
    table.iloc[:-1].to_csv(root / "samples.csv", index=False)
    return "samples.csv"


def _extra_shard(m: dict) -> None:
    m["shards"].append({"file": "shards/shard_000003.safetensors", "count": 10})
    m["count"] += 10


def _set_first_shard(file: str) -> Callable[[dict], None]:
    return lambda m: m["shards"][0].update(file=file)


U8 = torch.uint8
DAMAGES = {
    "no shards key": (edit_manifest(lambda m: m.pop("shards")), "shards is missing"),
    "no fingerprint": (edit_manifest(lambda m: m.pop("fingerprint")), "fingerprint is missing"),
    "extra shard, count raised": (edit_manifest(_extra_shard), "shard_000003.safetensors, which is missing"),
    "extra shard, count kept": (edit_manifest(lambda m: m["shards"].append(dict(m["shards"][0]))),
                                "shards hold 40 images but count is 30"),
    "count too high": (edit_manifest(lambda m: m.update(count=31)), "shards hold 30 images but count is 31"),
    "shard outside the set": (edit_manifest(_set_first_shard("../../etc/passwd")),
                              r"'\.\./\.\./etc/passwd' is not shards/shard_NNNNNN"),
    "absolute shard path": (edit_manifest(_set_first_shard("/etc/passwd")), "'/etc/passwd' is not shards/"),
    "shard given as a string": (edit_manifest(lambda m: m["shards"].__setitem__(0, "shard_000000")),
                                "shards.0: Input should be a valid dictionary"),
    "shard count a string": (edit_manifest(lambda m: m["shards"][0].update(count="10")),
                             "shards.0.count: Input should be a valid integer"),
    "channels as text": (edit_manifest(lambda m: m.update(channels="1")), "channels: Input should be a valid integer"),
    "channels 2": (edit_manifest(lambda m: m.update(channels=2)), "channels: must be 1 or 3, not 2"),
    "conditional not bool": (edit_manifest(lambda m: m.update(conditional="no")), "conditional: Input should be"),
    "image size 0": (edit_manifest(lambda m: m.update(image_size=0)), "image_size: Input should be greater"),
    "image size bool": (edit_manifest(lambda m: m.update(image_size=True)), "image_size: Input should be a valid int"),
    "no classes": (edit_manifest(lambda m: m.update(class_names=[])), "class_names: List should have at least 1"),
    "repeated classes": (edit_manifest(lambda m: m.update(class_names=["a", "a"])), "class names must be unique"),
    "table elsewhere": (edit_manifest(lambda m: m.update(table="../samples.csv")), "table: Input should be"),
    "table missing": (remove_table, "samples.csv, which is missing"),
    "manifest a list": (manifest_a_list, "Input should be a valid dictionary"),
    "manifest not JSON": (not_json, "is not valid JSON"),
    "float32 shard": (replace_shard({"images": torch.rand(10, 1, 16, 16)}), "images are F32, not uint8"),
    "wrong image size": (replace_shard({"images": torch.zeros(10, 1, 8, 8, dtype=U8)}),
                         "images are 10x1x8x8, not 10x1x16x16"),
    "wrong shard count": (replace_shard({"images": torch.zeros(9, 1, 16, 16, dtype=U8)}),
                          "images are 9x1x16x16, not 10x1x16x16"),
    "another tensor too": (replace_shard({"images": torch.zeros(10, 1, 16, 16, dtype=U8), "x": torch.zeros(1)}),
                           r"holds \['images', 'x'\], not just 'images'"),
    "truncated shard": (truncate_shard, "not a readable safetensors file"),
    "table one row short": (drop_a_row, "it has 29 rows but the shards hold 30 images"),
}


@pytest.mark.parametrize("name", list(DAMAGES))
def test_a_damaged_set_is_one_clear_error(set_copy, name):
    damage, problem = DAMAGES[name]
    file = damage(set_copy)
    with pytest.raises(Exception) as caught:
        SynthSet(set_copy).sample_info()  # opening checks the manifest and shards; the table is read here
    error = caught.value
    assert isinstance(error, RunDirError) and isinstance(error, ValueError), repr(error)
    message = str(error)
    assert "\n" not in message and file in message, message
    assert re.search(problem, message), message
    if name != "manifest not JSON":  # that one is read_json's own message, shared with run directories
        assert "is damaged: " in message and message.endswith("; regenerate the set with ganaug augment"), message


def test_an_intact_set_opens_with_its_shards_checked_once(set_copy):
    manifest = json.loads((set_copy / "manifest.json").read_text())
    manifest["written_by_a_newer_ganaug"] = {"anything": 1}  # unknown keys are allowed
    manifest["shards"][0]["checksum"] = "abc"
    (set_copy / "manifest.json").write_text(json.dumps(manifest))
    synth = SynthSet(set_copy)
    assert len(synth) == 30 and synth.channels == 1 and synth.image_size == 16 and not synth.conditional
    assert sorted(synth._handles) == [0, 1, 2], "the handles opened to check the headers are kept for reading"
    assert torch.equal(synth.image(25), synth.all_images()[25])
    copy = pickle.loads(pickle.dumps(synth))
    assert copy._handles == {}, "handles stay in their process"
    assert torch.equal(copy.image(25), synth.image(25))


def test_shards_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        writer = SynthSetWriter(tmp_path, shard_size=4)
        writer.add(torch.zeros(6, 1, 4, 4, dtype=torch.uint8), pd.DataFrame({"index": range(6)}))
        shards = writer.close()
    finally:
        os.umask(old)
    assert [s["count"] for s in shards] == [4, 2]
    for shard in shards:
        assert stat.S_IMODE((tmp_path / shard["file"]).stat().st_mode) == 0o644
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["shard_000000.safetensors",
                                                                      "shard_000001.safetensors"]
