"""Every ```python block in README.md and docs/ runs as it stands, after `python -m deepfake.samples samples`,
in a folder of its own: an example that no longer runs fails here."""
import contextlib
import io
import re

import pytest

from conftest import ROOT, working_directory

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
    # In this process, in a namespace of its own, as `python -c` would run it (a new Python per block spent
    # seconds importing torch); the traceback of a failing block names the document and the block.
    with working_directory(samples_folder), contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"{document}, block {index}", "exec"), {"__name__": "__main__"})
