"""Every ```python block in README.md and docs/ runs as it stands, after `python -m deepfake.samples samples`,
in a folder of its own: an example that no longer runs fails here."""
import re
import subprocess
import sys

import pytest

from conftest import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [(document.relative_to(ROOT), index, code) for document in DOCUMENTS
          for index, code in enumerate(re.findall(r"```python\n(.*?)```", document.read_text(), re.S))]


@pytest.fixture(scope="module")
def samples_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs_python")
    from deepfake.samples import write_samples
    write_samples(folder / "samples")
    return folder


def test_the_python_api_page_has_examples():
    assert sum(str(document) == "docs/python_api.md" for document, _, _ in BLOCKS) >= 5


@pytest.mark.parametrize("document, index, code", BLOCKS, ids=[f"{doc}#{i}" for doc, i, _ in BLOCKS])
def test_a_documented_python_example_runs(document, index, code, samples_folder):
    result = subprocess.run([sys.executable, "-c", code], cwd=samples_folder, capture_output=True, text=True,
                            timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"{document}, block {index}:\n{result.stderr[-3000:]}"
