"""The README's quick example runs as written."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_quick_example_runs():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md quick example", "exec"), namespace)
    wrapper = namespace["discriminator"].layers[0]
    assert set(wrapper.spectral_norms()) == {"sigma", "sigma1", "sigma2"}
    assert tuple(namespace["d_real"].shape) == (8, 1)
