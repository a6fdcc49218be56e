"""utils.infra.cli: command-line options built from a settings dataclass."""

from __future__ import annotations

import dataclasses

import pytest

from utils.infra import cli
from utils.rl.training import Settings


@dataclasses.dataclass(frozen=True, kw_only=True)
class Demo(Settings):
    """A docstring line: with a colon, never a field."""

    name: str = "demo"  # what to call it
    # The network: one size per hidden layer.
    layers: tuple[int, ...] = (256, 256)
    scale: tuple[float, ...] | None = (2.4, 0.21)  # divide by these (None: raw)
    rate: float = 1e-3
    clip: float | None = None  # largest norm, or None
    steps: int = 100  # how many steps
    fast: bool = True  # go fast

    def validate(self) -> None:
        self.require_whole("steps")


def parser_for(settings=None):
    parser = cli.OneLineParser(prog="demo")
    fields = cli.add_settings_options(parser, settings or Demo())
    return parser, fields


def test_comments_become_help_text():
    comments = cli.field_comments(Demo)
    assert comments["name"] == "what to call it"
    assert comments["layers"] == "The network: one size per hidden layer."
    assert comments["rate"] == "The network: one size per hidden layer."  # same group
    assert comments["scale"] == "divide by these (none: raw)"
    assert "A docstring line" not in comments


def test_every_field_is_an_option_with_its_default_shown_as_accepted():
    parser, fields = parser_for()
    assert fields == [f.name for f in dataclasses.fields(Demo)]
    text = parser.format_help()
    for shown in ("256,256", "2.4,0.21", "0.001", "(default: none)", "--no-fast"):
        assert shown in text
    assert parser.parse_args([]).__dict__ == {}  # nothing given: nothing changes


def test_values_parse_to_the_field_types():
    parser, fields = parser_for()
    argv = ["--layers", "64", "--scale", "none", "--clip", "2.5", "--steps", "7"]
    args = parser.parse_args([*argv, "--no-fast", "--name", "x"])
    changes = cli.changes_from(args, fields)
    assert changes == {
        "layers": (64,),
        "scale": None,
        "clip": 2.5,
        "steps": 7,
        "fast": False,
        "name": "x",
    }
    assert Demo().replace(**changes).layers == (64,)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "many"], "argument --steps: expected a whole number, got 'many'"),
        (["--rate", "none"], "argument --rate: expected a number, got 'none'"),
        (["--clip", "big"], "argument --clip: expected a number or none, got 'big'"),
        (["--layers", "64,x"], "argument --layers: expected whole numbers separated by commas"),
    ],
)
def test_bad_values_end_with_one_line(capsys, argv, message):
    parser, _ = parser_for()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("demo: error: ") and message in err[0]


def test_settings_errors_speak_of_options():
    fields = ["steps", "rate"]
    with pytest.raises(ValueError) as caught:
        Demo(steps=0)
    assert cli.option_error(str(caught.value), fields) == (
        "argument --steps: must be a whole number >= 1, got 0."
    )
    assert cli.option_error("something else", fields) == "something else"
