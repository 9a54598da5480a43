"""`ganaug augment`: the synthetic set on disk, quotas, filtering, the teacher,
and writes that never leave half a set."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from ganaug.data import Split, load_pool
from ganaug.errors import GanaugError
from ganaug.runs import teacher as teacher_module
from ganaug.runs.generator import RunGenerator
from ganaug.runs.run_dir import RunDir
from ganaug.runs.synthset import SynthSet, SynthSetWriter
from ganaug.runs.teacher import get_teacher
from ganaug.stages.augment import augment
from ganaug.stages.augment import run as augment_run


def test_cli_writes_a_complete_set(tmp_path, cli, tiny_runs):
    out = tmp_path / "synth"
    result = cli(["augment", tiny_runs["unconditional"], "--out", out, "--count", 70, "--shard-size", 32, "--seed", 3])
    assert result.exit_code == 0, result.output
    assert f"{out} (70 images of 10 classes, labels uniform" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generated"] == 70 and manifest["rejected"] == 0, "no filter: nothing generated in vain"
    assert manifest["count"] == 70 and manifest["labels"] == "uniform" and manifest["teacher"] is None
    assert manifest["image_size"] == 16 and manifest["channels"] == 1 and not manifest["conditional"]
    assert manifest["checkpoint"] == "checkpoints/step_0000020"
    assert [s["count"] for s in manifest["shards"]] == [32, 32, 6]
    table = pd.read_csv(out / "samples.csv")
    assert list(table["index"]) == list(range(70))
    assert set(table["checkpoint"]) == {"checkpoints/step_0000020"}
    assert not list(tmp_path.glob(".synth*")), "no temporary folder may be left behind"
    assert preview_rows(out) == 7  # 70 images, no class to sort them by: a plain grid of 10 columns


def preview_rows(synth_dir, named: bool = False) -> int:
    """Rows of the preview grid; `named`: the rows are classes, whose names stand in a margin at the left."""
    from PIL import Image

    width, height = Image.open(synth_dir / "preview.png").size
    grid_width = (10 * 18 + 2) * 4  # ten 16 px cells with 2 px padding, enlarged 4x
    assert width > grid_width if named else width == grid_width
    return (height // 4 - 2) // 18


def test_shards_round_trip_and_each_seed_regenerates_its_image(tmp_path, tiny_runs):
    result = augment(tiny_runs["conditional"], tmp_path / "s", count=45, shard_size=20, seed=7, progress=False)
    synth = SynthSet(tmp_path / "s")
    assert len(synth) == 45 and len(result.synthetic) == 45
    table = synth.table()
    generator = RunGenerator.load(tiny_runs["conditional"], device="cpu")
    rows = [0, 19, 20, 44]  # both ends of a shard boundary
    expected = generator.generate(torch.tensor(table["seed"].to_numpy()[rows]),
                                  torch.tensor(table["generated_for"].to_numpy()[rows]))
    stored = torch.stack([synth.image(i) for i in rows])
    assert stored.dtype == torch.uint8 and stored.shape == (4, 1, 16, 16)
    assert torch.equal(stored, expected)
    assert table["generated_for"].value_counts().max() - table["generated_for"].value_counts().min() <= 1
    with pytest.raises(IndexError):
        synth.image(45)


def test_same_seed_same_set_other_seed_other_images(tmp_path, tiny_runs):
    run = tiny_runs["unconditional"]
    a, b, c = (augment(run, tmp_path / name, count=10, seed=seed, progress=False).synthetic
               for name, seed in (("a", 1), ("b", 1), ("c", 2)))
    assert all(torch.equal(a.image(i), b.image(i)) for i in range(10))
    assert not all(torch.equal(a.image(i), c.image(i)) for i in range(10))


def test_per_class_quotas_on_a_conditional_run(tmp_path, cli, tiny_runs):
    out = tmp_path / "s"
    assert cli(["augment", tiny_runs["conditional"], "--out", out, "--per-class", 3]).exit_code == 0
    counts = SynthSet(out).table()["generated_for"].value_counts()
    assert counts.to_dict() == {c: 3 for c in range(10)}
    assert preview_rows(out, named=True) == 10  # one row per class


def test_balance_tops_every_class_up_to_the_largest(tmp_path, tiny_runs):
    run = RunDir(tiny_runs["conditional"])
    pool = load_pool(run.load_recipe().data)
    train_counts = torch.bincount(pool.labels[Split.load(run.split).train], minlength=10)
    synth = augment(run.root, tmp_path / "s", balance=True, progress=False).synthetic
    made = torch.bincount(torch.tensor(synth.table()["generated_for"].to_numpy()), minlength=10)
    assert torch.equal(train_counts + made, torch.full((10,), int(train_counts.max())))


def test_teacher_labels_filter_and_table(tmp_path, run_copy):
    run = run_copy("unconditional")
    synth = augment(run, tmp_path / "s", count=40, labels="argmax", min_confidence=0.15, progress=False).synthetic
    table = synth.table()
    probs = table[[f"teacher_p{k}" for k in range(10)]].to_numpy()
    assert probs.shape == (40, 10)
    assert abs(probs.sum(1) - 1).max() < 1e-4
    assert (table["teacher_class"].to_numpy() == probs.argmax(1)).all()
    assert (table["teacher_confidence"] >= 0.15).all()
    m = synth.manifest
    assert m["generated"] == 40 + m["rejected"] and m["min_confidence"] == 0.15
    assert 0 <= m["teacher"]["val_accuracy"] <= 1
    assert m["teacher"]["train_images"] == len(Split.load(run / "split.json").train)


def test_unreachable_confidence_gives_up_with_a_clear_error_and_writes_nothing(tmp_path, run_copy):
    with pytest.raises(GanaugError, match="only 0 of 5 images were accepted.*lower --min-confidence"):
        augment(run_copy("unconditional"), tmp_path / "s", count=5, labels="soft", min_confidence=1.0, progress=False)
    assert not any(tmp_path.glob("*s*"))


def test_folder_export_and_parquet_table(tmp_path, tiny_runs):
    pytest.importorskip("pyarrow")
    out = tmp_path / "s"
    synth = augment(tiny_runs["conditional"], out, per_class=2, formats=("parquet", "folder"), progress=False).synthetic
    assert synth.manifest["table"] == "samples.parquet" and not (out / "samples.csv").exists()
    assert len(synth.table()) == 20
    for name in synth.class_names:
        assert len(list((out / "folder" / name).glob("*.png"))) == 2
    from PIL import Image

    png = sorted((out / "folder" / "3").glob("*.png"))[0]
    index = int(png.stem)
    assert synth.table()["generated_for"][index] == 3
    assert torch.equal(torch.from_numpy(__import__("numpy").array(Image.open(png)))[None], synth.image(index))


def test_teacher_sees_only_the_training_split_and_is_reused(run_copy, monkeypatch):
    run = RunDir(run_copy("unconditional"))
    pool = load_pool(run.load_recipe().data)
    split = Split.load(run.split)
    seen = {}
    real_train = teacher_module.train_classifier

    def spy(model, train, val_images, val_labels, *args, **kwargs):
        seen.update(train=train.images.clone(), val=val_images.clone())
        return real_train(model, train, val_images, val_labels, *args, **kwargs)

    monkeypatch.setattr(teacher_module, "train_classifier", spy)
    first = get_teacher(run, torch.device("cpu"), progress=False)
    assert torch.equal(seen["train"], pool.images[split.train])
    assert torch.equal(seen["val"], pool.images[split.val])
    assert set(split.test).isdisjoint(split.train) and set(split.test).isdisjoint(split.val)
    assert first.info["train_images"] == len(split.train)
    seen.clear()
    second = get_teacher(run, torch.device("cpu"), progress=False)
    assert not seen, "a saved teacher that matches the split is reused, not retrained"
    assert second.info == first.info
    x = pool.images[split.val[:8]]
    torch.testing.assert_close(second.probabilities(x), first.probabilities(x))
    monkeypatch.setattr(teacher_module, "SETTINGS", dataclasses.replace(teacher_module.SETTINGS, lr=1e-3))
    get_teacher(run, torch.device("cpu"), progress=False)
    assert seen, "a teacher trained with other settings is retrained, not silently reused"


def test_a_failure_mid_write_leaves_no_set(tmp_path, tiny_runs, monkeypatch):
    flushes = []
    real_flush = SynthSetWriter._flush

    def flush_then_fail(self, n):
        real_flush(self, n)
        flushes.append(n)
        if len(flushes) == 2:
            raise OSError("disk full")

    monkeypatch.setattr(SynthSetWriter, "_flush", flush_then_fail)
    with pytest.raises(OSError):
        augment(tiny_runs["unconditional"], tmp_path / "s", count=100, shard_size=10, progress=False)
    assert flushes == [10, 10]
    assert list(tmp_path.iterdir()) == []


def test_killed_mid_write_leaves_no_set_and_a_rerun_completes(tmp_path, tiny_runs):
    out = tmp_path / "s"
    args = [sys.executable, "-m", "ganaug", "augment", str(tiny_runs["unconditional"]), "--out", str(out),
            "--count", "200000", "--shard-size", "200", "--device", "cpu"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".s.*/shards/shard_000001.safetensors")):
        assert process.poll() is None and time.monotonic() < deadline, "augment ended before it could be killed"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists(), "a killed augment must not leave a set under the final name"
    assert len(list(tmp_path.glob(".s.*.tmp"))) == 1  # the dead process's temporary folder
    subprocess.run(args[:8] + ["50"] + args[9:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert len(SynthSet(out)) == 50
    assert [p.name for p in tmp_path.iterdir()] == ["s"], "the rerun removed the dead process's temporaries"


@pytest.mark.parametrize("args, message", [
    (["--count", "5", "--per-class", "2"], "give exactly one of --count N, --per-class N or --balance"),
    ([], "give exactly one of"),
    (["--count", "0"], "--count must be at least 1"),
    (["--count", "5", "--labels", "conditional"], "--labels conditional needs a conditional GAN"),
    (["--count", "5", "--min-confidence", "1.5"], "--min-confidence must be in (0, 1]"),
    (["--count", "5", "--checkpoint", "3"], "checkpoint '3' is not in"),
    (["--count", "5", "--checkpoint", "best"], "no best checkpoint"),
    (["--count", "5", "--drop-worst", "1"], "--drop-worst is the fraction of images to leave out"),
])
def test_bad_requests_fail_with_one_line(tmp_path, cli, cli_error, tiny_runs, args, message):
    result = cli(["augment", tiny_runs["unconditional"], "--out", tmp_path / "s", *args])
    assert message in cli_error(result)
    assert not (tmp_path / "s").exists()


def test_drop_worst_leaves_out_the_least_realistic_fraction(tmp_path, run_copy):
    run = run_copy("conditional")
    result = augment(run, tmp_path / "s", count=400, drop_worst=0.4, progress=False)
    manifest, table = result.synthetic.manifest, result.synthetic.table()
    assert len(table) == 400
    assert table["realism"].min() >= manifest["realism_threshold"]
    assert 0.45 < 400 / manifest["generated"] < 0.75  # about 1 - 0.4 of the generated images are kept
    unfiltered = augment(run, tmp_path / "u", count=400, progress=False).synthetic
    assert "realism" not in unfiltered.table()


def test_existing_output_is_never_overwritten(tmp_path, cli, cli_error, tiny_runs, hash_files):
    out = tmp_path / "s"
    assert cli(["augment", tiny_runs["unconditional"], "--out", out, "--count", 5]).exit_code == 0
    before = hash_files(out)
    assert "already exists" in cli_error(cli(["augment", tiny_runs["unconditional"], "--out", out, "--count", 9]))
    assert hash_files(out) == before


def test_not_a_run_and_a_run_without_checkpoints(tmp_path, cli, cli_error, run_copy):
    assert "not a ganaug run directory" in cli_error(cli(["augment", tmp_path, "--out", tmp_path / "s", "--count", 1]))
    run = run_copy("unconditional")
    for folder in (run / "checkpoints").iterdir():
        __import__("shutil").rmtree(folder)
    assert "no complete checkpoint yet" in cli_error(cli(["augment", run, "--out", tmp_path / "s", "--count", 1]))


def test_a_named_checkpoint_is_used(tmp_path, tiny_runs):
    synth = augment(tiny_runs["unconditional"], tmp_path / "s", count=3, checkpoint=10, progress=False).synthetic
    assert synth.manifest["checkpoint"] == "checkpoints/step_0000010"
    assert list(augment_run.FORMATS) == ["csv", "parquet", "folder"]


def test_a_teacher_saved_before_classical_policies_had_names_is_still_reused():
    """Earlier versions saved `classic: true` and no `rebalance`: the same training, so no retraining."""
    today = dataclasses.asdict(dataclasses.replace(teacher_module.SETTINGS, classic="classic"))
    old = {k: v for k, v in today.items() if k != "rebalance"} | {"classic": True}
    assert teacher_module._as_today(old) == today
    assert teacher_module._as_today(old | {"classic": False}) != today
    assert teacher_module._as_today(old | {"lr": 1e-3}) != today
