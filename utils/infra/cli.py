"""Command-line options built from a settings dataclass: one option per field, no second list.

Used by ``scripts/train_dqn.py`` (notebook 07). Each field ``batch_size`` becomes the option
``--batch-size``; its type gives the parser, the comment beside the field (or the comment
block above its group) gives the help text, and the default is shown in the form the option
accepts (``--hidden-layers 256,256``, ``--gradient-clipping none``). Booleans get a
``--no-`` form. Values are checked twice: the parser rejects what is not a number or a list,
the settings' own ``validate`` rejects what cannot run; both end with one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import re
import tokenize
import types
import typing

NONE = "none"  # how an option says "no value" for fields that accept None


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def field_comments(cls: type) -> dict[str, str]:
    """The comment of every field of a dataclass and its bases, read from their source.

    A comment at the end of the field's line wins; otherwise the comment block above the
    field's group (the lines since the last blank line) is used.
    """
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        block: list[str] = []
        line_comments: dict[int, str] = {}
        in_strings: set[int] = set()  # lines of docstrings: never fields
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                line_comments[token.start[0]] = token.string.lstrip("#").strip()
            elif token.type == tokenize.STRING and token.line.lstrip()[:1] in "\"'":
                in_strings.update(range(token.start[0], token.end[0] + 1))
        in_class = after_field = False
        for number, line in enumerate(source.splitlines(), start=1):
            stripped = line.strip()
            if not in_class:
                in_class = stripped.startswith("class ")
                continue
            if not stripped or number in in_strings:
                block, after_field = [], False
            elif stripped.startswith("#"):
                if after_field:  # a new group starts
                    block, after_field = [], False
                block.append(line_comments.get(number, ""))
            elif stripped.startswith(("def ", "@")):
                break  # the fields come before the methods
            else:
                match = re.match(r"(\w+)\s*:", stripped)
                own = line_comments.get(number)
                text = own if own is not None else " ".join(block)
                if match and text:
                    comments[match.group(1)] = re.sub(r"\bNone\b", NONE, text)
                after_field = True
    return comments


def _base_type(annotation) -> tuple[type | tuple, bool]:
    """(the type without ``None``, whether None is allowed)."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    return annotation, optional


def _show(value) -> str:
    """A default in the form the option accepts."""
    if value is None:
        return NONE
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _parser_for(annotation, optional: bool):
    """A function from the option's text to the field's value, with one-line errors."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        kind = "whole numbers" if item is int else "numbers"

        def parse(text: str):
            if optional and text.lower() == NONE:
                return None
            try:
                return tuple(item(part) for part in text.split(","))
            except ValueError:
                example = "256,256" if item is int else "2.4,3.0"
                raise argparse.ArgumentTypeError(
                    f"expected {kind} separated by commas like {example}, got {text!r}"
                ) from None

        return parse, "LIST"
    names = {int: "a whole number", float: "a number", str: "text"}
    if annotation not in names:
        raise TypeError(f"No command-line form for fields of type {annotation!r}.")

    def parse(text: str):
        if optional and text.lower() == NONE:
            return None
        try:
            return annotation(text)
        except ValueError:
            extra = f" or {NONE}" if optional else ""
            raise argparse.ArgumentTypeError(
                f"expected {names[annotation]}{extra}, got {text!r}"
            ) from None

    return parse, {int: "INT", float: "X", str: "TEXT"}[annotation]


def add_settings_options(
    parser: argparse.ArgumentParser, settings, *, skip: typing.Iterable[str] = ()
) -> list[str]:
    """Add one option per field of ``settings`` (a dataclass instance, shown as defaults).

    Options the user does not give are left out of the parsed namespace, so that the caller
    can tell them apart (see :func:`changes_from`). Returns the field names added.
    """
    cls = type(settings)
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    added = []
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(settings, f.name)
        help_text = comments.get(f.name, f.name.replace("_", " "))
        annotation, optional = _base_type(hints[f.name])
        if annotation is bool:
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"{help_text} (default: {flag if default else '--no-' + flag[2:]})",
            )
        else:
            parse, metavar = _parser_for(annotation, optional)
            parse.__name__ = f.name
            parser.add_argument(
                flag,
                dest=f.name,
                type=parse,
                metavar=metavar,
                default=argparse.SUPPRESS,
                help=f"{help_text} (default: {_show(default)})".replace("%", "%%"),
            )
        added.append(f.name)
    return added


def changes_from(args: argparse.Namespace, fields: typing.Iterable[str]) -> dict:
    """The settings fields the user gave on the command line, as ``replace`` keywords."""
    given = vars(args)
    return {name: given[name] for name in fields if name in given}


def option_error(message: str, fields: typing.Iterable[str]) -> str:
    """A settings error in option terms: ``batch_size must ...`` -> ``argument --batch-size:
    must ...``."""
    match = re.match(r"(\w+) (must .*)", message)
    if match and match.group(1) in set(fields):
        return f"argument --{match.group(1).replace('_', '-')}: {match.group(2)}"
    return message
