"""A from-scratch image folder: 3 classes of coloured shapes, 26-38 px, plus a stray text file and a corrupt JPEG."""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

rng = np.random.default_rng(42)
root = Path("/tmp/walk/shapes")
for cls in ("circle", "square", "triangle"):
    (root / cls).mkdir(parents=True, exist_ok=True)
    for i in range(40):
        size = int(rng.integers(26, 39))
        bg = tuple(int(v) for v in rng.integers(0, 80, 3))
        fg = tuple(int(v) for v in rng.integers(120, 256, 3))
        img = Image.new("RGB", (size, size), bg)
        d = ImageDraw.Draw(img)
        r = size * rng.uniform(0.25, 0.42)
        cx, cy = size / 2 + rng.uniform(-3, 3), size / 2 + rng.uniform(-3, 3)
        if cls == "circle":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
        elif cls == "square":
            d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fg)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fg)
        img.save(root / cls / f"{i:03d}.{'jpg' if i % 3 else 'png'}")
(root / "circle" / "README.txt").write_text("notes from whoever collected these\n")
(root / "square" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
print("written", sum(1 for _ in root.rglob("*")))
