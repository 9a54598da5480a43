"""`augment --shard I/N` and torchrun augment: shares made apart, assembled into one valid set (the one-process
set, image for image, when nothing is filtered)."""

import json

import pandas as pd
import pytest
import torch
from conftest import torchrun

from ganaug.labels.quotas import Quotas
from ganaug.runs.synthset import SynthSet
from ganaug.sharding import Shard
from ganaug.stages.augment import augment

VOLATILE = {"created", "parts"}
"""Manifest keys an assembled set may differ in from the one-process set."""


def assert_same_set(assembled, single) -> None:
    a, b = SynthSet(assembled), SynthSet(single)
    assert torch.equal(a.all_images(), b.all_images())
    pd.testing.assert_frame_equal(a.table(), b.table())
    assert {k: v for k, v in a.manifest.items() if k not in VOLATILE} == \
        {k: v for k, v in b.manifest.items() if k not in VOLATILE}


@pytest.mark.parametrize("total, count", [(10, 3), (7, 7), (2, 5), (0, 2), (100, 1)])
def test_spans_partition_the_request_in_order(total, count):
    spans = [Shard(i, count).span(total) for i in range(1, count + 1)]
    assert [i for span in spans for i in span] == list(range(total))
    assert max(map(len, spans)) - min(map(len, spans)) <= 1


def test_quota_shares_add_up_class_by_class():
    quotas = Quotas(10, (3, 0, 4, 3))
    shares = [quotas.share(Shard(i, 3).span(10)) for i in (1, 2, 3)]
    assert [s.per_class for s in shares] == [(3, 0, 1, 0), (0, 0, 3, 0), (0, 0, 0, 3)]
    assert Quotas(7).share(range(2, 5)) == Quotas(3)


@pytest.mark.parametrize("request_args", [["--count", "70"], ["--per-class", "5", "--format", "folder"]])
def test_shards_assembled_are_the_one_process_set(tmp_path, cli, tiny_runs, request_args):
    run, out, single_root = tiny_runs["conditional"], tmp_path / "synth", tmp_path / "single"
    common = [run, *request_args, "--shard-size", "16", "--seed", "4"]
    single = cli(["augment", *common, "--out", tmp_path / "single"])
    assert single.exit_code == 0, single.output
    for i in (1, 3):  # share 2 is left to the assembly
        part = cli(["augment", *common, "--out", out, "--shard", f"{i}/3"])
        assert part.exit_code == 0, part.output
        assert f"part {i}/3: {out}.parts/{i}-of-3" in part.stdout and not out.exists()
    assembled = cli(["augment", *common, "--out", out])
    assert assembled.exit_code == 0, assembled.output
    assert_same_set(out, tmp_path / "single")
    assert json.loads((out / "manifest.json").read_text())["parts"] == 3
    assert not (tmp_path / "synth.parts").exists(), "the parts are removed once assembled"
    if "folder" in request_args:
        pngs = [sorted(p.relative_to(root) for p in (root / "folder").rglob("*.png")) for root in (out, single_root)]
        assert pngs[0] == pngs[1] and len(pngs[0]) == 50


def test_filtered_shares_make_one_valid_set(tmp_path, run_copy):
    run = run_copy("unconditional")  # the teacher trained by the first share, a confidence filter rejecting some
    parts = [augment(run, tmp_path / "probe", shard=f"{i}/2", count=30, labels="argmax", progress=False)
             for i in (1, 2)]
    assert (run / "teacher" / "teacher.json").is_file() and not (tmp_path / "probe").exists()
    median = float(pd.concat([p.synthetic.table() for p in parts])["teacher_confidence"].median())
    kwargs = dict(count=30, labels="argmax", min_confidence=median, seed=1, shard_size=8, progress=False)
    parts = [augment(run, tmp_path / "synth", shard=f"{i}/2", **kwargs) for i in (1, 2)]
    assert all(p.part is not None for p in parts)
    result = augment(run, tmp_path / "synth", **kwargs)
    synthetic = result.synthetic
    table = synthetic.table()
    assert len(synthetic) == 30 and list(table["index"]) == list(range(30))
    assert (table["teacher_confidence"] >= median).all()
    assert table["seed"].is_unique, "no two shares draw the same seed"
    assert result.generated == sum(p.generated for p in parts) == synthetic.manifest["generated"]
    assert synthetic.manifest["rejected"] == result.generated - 30 > 0


def test_a_finished_share_is_kept_and_mismatched_shares_are_refused(tmp_path, cli, cli_error, tiny_runs):
    run, out = tiny_runs["conditional"], tmp_path / "synth"
    assert cli(["augment", run, "--out", out, "--count", "40", "--shard", "1/2"]).exit_code == 0
    made = (out.parent / "synth.parts" / "1-of-2" / "shards" / "shard_000000.safetensors").stat().st_mtime_ns
    again = cli(["augment", run, "--out", out, "--count", "40", "--shard", "1/2"])
    assert again.exit_code == 0, again.output
    assert (out.parent / "synth.parts" / "1-of-2" / "shards" / "shard_000000.safetensors").stat().st_mtime_ns == made
    other = cli_error(cli(["augment", run, "--out", out, "--count", "50", "--shard", "2/2"]))
    assert "holds shares of another request (count 40 there, 50 here)" in other
    split = cli_error(cli(["augment", run, "--out", out, "--count", "40", "--shard", "2/3"]))
    assert "holds shares of 2, not 3" in split and "--shard I/2" in split
    bad = cli_error(cli(["augment", run, "--out", out, "--count", "40", "--shard", "3/2"]))
    assert "--shard must be I/N" in bad


def test_torchrun_ranks_make_one_set(tmp_path, tiny_runs):
    run, out = tiny_runs["conditional"], tmp_path / "synth"
    launched = torchrun("-m", "ganaug", "augment", run, "--out", out, "--count", "50", "--shard-size", "16",
                        "--device", "cpu")
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert f"part 2/2: {out}.parts/2-of-2" in launched.stdout and f"synthetic: {out} (50 images" in launched.stdout
    augment(run, tmp_path / "single", count=50, shard_size=16, device="cpu", progress=False)
    assert_same_set(out, tmp_path / "single")


def test_shard_under_torchrun_is_refused(tmp_path, tiny_runs, monkeypatch):
    from ganaug.errors import UsageError

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(UsageError, match="drop --shard"):
        augment(tiny_runs["conditional"], tmp_path / "synth", count=10, shard="1/2", progress=False)


def test_python_api_shares_and_assembles(tmp_path, tiny_runs):
    import ganaug
    from ganaug.errors import WrongTypeError

    out = tmp_path / "synth"
    part = ganaug.augment(tiny_runs["conditional"], out, count=20, shard="2/2", progress=False)
    assert part.part == Shard(2, 2) and len(part.synthetic) == 10 and not out.exists()
    whole = ganaug.augment(tiny_runs["conditional"], out, count=20, progress=False)
    assert whole.part is None and len(whole.synthetic) == 20 and whole.synthetic.root == out
    with pytest.raises(WrongTypeError, match="shard must be"):
        ganaug.augment(tiny_runs["conditional"], tmp_path / "other", count=20, shard=2, progress=False)
