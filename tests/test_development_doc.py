"""docs/development.md's module map against the code: every package and module of deepfake/ is named there, so
the map cannot drift as files move (it listed five console scripts where pyproject had seven)."""
import re
import tomllib

from conftest import ROOT


def module_map() -> str:
    text = (ROOT / "docs" / "development.md").read_text()
    return re.search(r"```\ndeepfake/(.*?)```", text, re.S).group(1)


def test_the_module_map_names_every_package_and_module():
    named = module_map()
    missing = []
    for path in sorted((ROOT / "deepfake").rglob("*.py")):
        relative = path.relative_to(ROOT / "deepfake")
        if path.name == "__init__.py":
            if len(relative.parts) > 1 and f"{relative.parts[0]}/" not in named:
                missing.append(str(relative.parent) + "/")
            continue
        if not re.search(rf"(?<![\w/]){re.escape(path.name)}\b", named):
            missing.append(str(relative))
    assert missing == []


def test_the_console_scripts_in_the_docs_are_pyprojects():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    text = (ROOT / "docs" / "development.md").read_text()
    assert all(f"`{name}`" in text for name in scripts)


def test_test_counts_and_timings_live_in_one_place():
    """Figures that change with every test added are stated in docs/development.md alone."""
    for document in ("README.md", "CONTRIBUTING.md"):
        text = (ROOT / document).read_text()
        assert not re.search(r"\b\d{3} (tests|passed)\b", text), document
