"""examples/sine.py, the seed notebook in Python, runs end to end (few GD steps) and its numbers
are consistent: the global bound lies under every model's objective and the convex fits reach it."""

import os
import re
import subprocess
import sys


def test_sine_example(repo, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(repo / "examples" / "sine.py"), "--steps", "300",
                             "--output", str(tmp_path)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    bound = float(re.search(r"any network of any width: (\S+)", out).group(1))
    objectives = {name.strip(): float(value)
                  for name, value in re.findall(r"^(gradient descent|convex, initial patterns|global optimum)\s+(\S+)",
                                                out, re.MULTILINE)}
    assert set(objectives) == {"gradient descent", "convex, initial patterns", "global optimum"}
    assert all(value >= bound for value in objectives.values())
    assert objectives["global optimum"] <= bound * (1 + 1e-6)
    assert objectives["gradient descent"] > objectives["global optimum"]  # 300 steps are far from it
    assert "(global)" in out
    assert (tmp_path / "sine.png").stat().st_size > 10000
