"""The README's two commands are what newcomers copy; CI must run the test one verbatim."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text.split("## Quick start", 1)[1].split("\n## ", 1)[0])


def test_readme_has_exactly_two_quick_start_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "ganaug fit digits" in commands[0] and "ganaug augment" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert readme_commands()[1] in ci


def test_both_commands_install_with_the_pinned_constraints():
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert re.search(r"^torch==\S+", constraints, re.M) and re.search(r"^torchvision==\S+", constraints, re.M)
    assert all("-c constraints.txt" in c for c in readme_commands())


def readme_training_loop() -> str:
    """The Python block of "Using synthetic images in your training loop", as a user would copy it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using synthetic images in your training loop", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.+?)\n```", section, re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


def test_the_readme_training_loop_runs_and_compares_at_equal_optimiser_steps(tmp_path, tiny_runs, write_mnist):
    """The loop runs as written (on a tiny MNIST, a tiny GAN's set and 2 epochs instead of 30), and its baseline and
    augmented runs take the same number of optimiser steps although the augmented set is half as large again."""
    import shutil

    import torch
    from torch import nn

    from ganaug.stages.augment import augment

    run = shutil.copytree(tiny_runs["unconditional"], tmp_path / "run")
    synthetic = augment(run, tmp_path / "synth", count=80, progress=False).synthetic.root
    root = write_mnist(tmp_path / "mnist", train_per_class=13, test_per_class=1)  # 130 images: 1 batch of 128
    code = readme_training_loop()
    for path in ('"runs/mnist-synth"', "range(30)"):
        assert path in code
    code = code.replace('"runs/mnist-synth"', repr(str(synthetic))).replace("range(30)", "range(2)")
    runs: list[dict] = []

    def make_model(num_classes: int) -> nn.Module:
        model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, num_classes))
        record = {"steps": 0, "images": 0}
        runs.append(record)

        def count(module, args, output) -> None:
            record["steps"] += 1
            record["images"] += len(args[0])

        model.register_forward_hook(count)
        return model

    scope = {"root": str(root), "make_model": make_model}
    exec(compile(code, "README.md", "exec"), scope)
    assert [r["steps"] for r in runs] == [2, 2] and [r["images"] for r in runs] == [256, 256]
    assert scope["train"].synthetic_count == 65 and len(scope["sampler"]) == 128
    assert torch.isfinite(scope["loss"])
