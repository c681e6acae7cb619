"""Every command that README.md and docs/ show still parses: none goes stale when a flag is renamed.

Each `python SCRIPT ...`, `python -m MODULE ...`, `torchrun ... SCRIPT ...` and `deepfake-*` line is handed
to its program's own argparse parser (run in-process and stopped right after parsing, so flags, choices and
value types are checked and nothing is trained); `bash tools/X.sh` must exist and read the variables set
before it; `curl` calls must name a route of the service with the method and form fields it takes. The cheap
commands also run for real elsewhere: README's first in test_shipped.py, the service's in test_serve*.py.
"""
import argparse
import re
import runpy
import shlex
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT

DOCUMENTS = [ROOT / "README.md", ROOT / "data" / "README.md", ROOT / "weights" / "MODEL_CARD.md",
             ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SERVICE_FIELDS = {"file", "files", "faces", "frames", "aggregate", "explain"}


def documented_commands():
    """(document, command line) for each line of each ```bash block, continuation lines joined, comments cut,
    shell variables set earlier in the block substituted."""
    for document in DOCUMENTS:
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", document.read_text(), re.S):
            variables = {}
            for line in block.replace("\\\n", " ").splitlines():
                line = re.sub(r"\s#.*$", "", line).strip()
                if not line or line.startswith("#"):
                    continue
                for part in re.split(r"&&|;\s", line):
                    part = part.strip().rstrip(";").strip()
                    assignment = re.fullmatch(r"([A-Z_]+)=(\S+|\"[^\"]*\"|\$\(.*\))", part)
                    if assignment:
                        variables[assignment[1]] = substitute(assignment[2].strip('"'), variables)
                    elif part:
                        yield document.relative_to(ROOT), substitute(part, variables)


def substitute(command: str, variables: dict) -> str:
    for _ in range(3):  # variables made of variables
        command = re.sub(r"\$\{?([A-Z_]+)\}?", lambda match: variables.get(match[1], "X"), command)
    return command


COMMANDS = list(documented_commands())


def words(command: str) -> list:
    command = re.sub(r"\[[^\]]*\]", "", command)  # "[DIR ...]": optional repetitions, as usage lines write them
    return [word for word in shlex.split(command) if word != "..."]


class Parsed(BaseException):
    """Raised by the patched parser once the arguments parsed: the program stops before doing any work."""


@pytest.fixture
def stop_after_parsing(monkeypatch):
    def parse_and_stop(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))  # an unknown flag or a bad value exits 2 first

    original = argparse.ArgumentParser.parse_args
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)


def console_scripts() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def run_until_parsed(target: list, arguments: list, monkeypatch, tmp_path) -> None:
    """target: ["script.py"] or ["-m", "module"] or ["console-script"]."""
    monkeypatch.chdir(tmp_path)  # relative outputs, were anything to run, land in a throw-away folder
    monkeypatch.setattr(sys, "argv", [target[-1], *arguments])
    monkeypatch.setattr(sys, "path", [str(ROOT), *sys.path])
    try:
        if target[0] == "-m":
            runpy.run_module(target[1], run_name="__main__", alter_sys=True)
        elif target[0].endswith(".py"):
            script = ROOT / target[0]
            assert script.exists(), f"{target[0]} does not exist"
            text = script.read_text()
            if "sys.argv[" in text and "argparse" not in text:
                return  # reads positional arguments from sys.argv itself: existence is what can be checked
            runpy.run_path(str(script), run_name="__main__")
        else:
            module, function = console_scripts()[target[0]].split(":")
            getattr(__import__(module, fromlist=[function]), function)(arguments)
    except Parsed:
        return
    except SystemExit as exit_:
        pytest.fail(f"{' '.join(target + arguments)}: its parser refused the arguments (exit {exit_.code})")
    if target[0] == "-m" and target[1] == "deepfake.samples":
        return  # python -m deepfake.samples DIR: reads sys.argv; it just wrote the samples into tmp_path
    pytest.fail(f"{' '.join(target)} ran without parsing its arguments through argparse")


def check_curl(argv: list, routes: dict) -> None:
    url = next(word for word in argv if word.startswith("http"))
    path = re.sub(r"^https?://[^/]+", "", url) or "/"
    fields = [word.split("=", 1) for previous, word in zip(argv, argv[1:]) if previous == "-F"]
    method = "POST" if fields else "GET"
    assert method in routes.get(path, set()), f"the service has no {method} {path}"
    for name, value in fields:
        assert name in SERVICE_FIELDS, f"{path} takes no form field {name!r}"
        if name == "aggregate":
            from deepfake.inference.aggregate import AGGREGATIONS
            assert value in AGGREGATIONS


@pytest.fixture(scope="module")
def service_routes(trained_checkpoint):
    from deepfake import load_detector
    from deepfake.serve import create_app
    app = create_app(load_detector(trained_checkpoint, device="cpu"))
    routes = {}
    for route in app.routes:
        routes.setdefault(route.path, set()).update(getattr(route, "methods", None) or set())
    yield routes
    app.state.service.close()


def test_the_documents_show_commands():
    assert len(COMMANDS) > 50
    assert any("predict.py" in command for _, command in COMMANDS)


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")  # runpy, on a module already imported
@pytest.mark.parametrize("document, command", COMMANDS, ids=[f"{doc}:{cmd[:60]}" for doc, cmd in COMMANDS])
def test_a_documented_command_parses(document, command, stop_after_parsing, monkeypatch, tmp_path, request):
    argv = words(command)
    environment = []
    while "=" in argv[0] or argv[0] in ("srun", "sudo"):  # VAR=value prefixes, launchers
        environment += [argv[0].split("=", 1)[0]] if "=" in argv[0] else []
        argv = argv[1:]
    program = argv[0]
    if program in ("python3", "cp", "pip") or program.endswith("/pip") or argv[1:3] == ["-m", "pytest"]:
        return  # the set-up lines, the test command and file copies: CI runs README's own, verbatim
    if program == "curl":
        check_curl(argv, request.getfixturevalue("service_routes"))
        return
    if program == "bash":
        script = ROOT / argv[1]
        assert script.exists(), f"{document}: {argv[1]} does not exist"
        text = script.read_text()
        text += "".join((ROOT / sourced).read_text() for sourced in re.findall(r"^source (\S+)", text, re.M))
        for name in environment:
            assert name in text, f"{argv[1]} does not read {name}, which {document} sets"
        return
    if program in console_scripts():
        run_until_parsed([program], argv[1:], monkeypatch, tmp_path)
        return
    assert program in ("python", "torchrun") or program.endswith("/python"), f"{document}: unknown program {program}"
    rest = argv[1:]
    if rest[0] == "-m":
        run_until_parsed(["-m", rest[1]], rest[2:], monkeypatch, tmp_path)
        return
    script_index = next(index for index, word in enumerate(rest) if word.endswith(".py"))
    run_until_parsed([rest[script_index]], rest[script_index + 1:], monkeypatch, tmp_path)
