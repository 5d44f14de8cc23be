"""`lab completion bash|zsh`: a shell completion script made from the CLI's own argparse parser, so
it always knows the commands, actions, options and choices the parser does (no extra dependency).

bash: `source <(lab completion bash)` (or save it under ~/.local/share/bash-completion/completions/lab).
zsh: `source <(lab completion zsh)` in ~/.zshrc: the same function through zsh's bashcompinit.
"""
from __future__ import annotations

import argparse
import shlex

SHELLS = ("bash", "zsh")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _words(parser: argparse.ArgumentParser) -> tuple[list[str], dict[str, list[str]]]:
    """(the words after this parser: sub-commands and options; {option: its choices})."""
    words = list(_subparsers(parser))
    choices: dict[str, list[str]] = {}
    for action in parser._actions:
        words.extend(o for o in action.option_strings if o.startswith("--") or len(action.option_strings) == 1)
        if action.option_strings and action.choices:
            for option in action.option_strings:
                choices[option] = [str(c) for c in action.choices]
        elif not action.option_strings and action.choices and not isinstance(action, argparse._SubParsersAction):
            words.extend(str(c) for c in action.choices)      # a positional with choices (`lab ad USER disable`)
    return words, choices


def _cases(parser: argparse.ArgumentParser, path: str) -> list[str]:
    """bash `case` arms: what may follow the command path so far ("lab", "lab phone", ...)."""
    words, _ = _words(parser)
    arms = [f'        {shlex.quote(path)}) words={shlex.quote(" ".join(words))} ;;']
    for name, sub in _subparsers(parser).items():
        arms.extend(_cases(sub, f"{path} {name}"))
    return arms


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for `shell` (bash or zsh)."""
    body = "\n".join(_cases(parser, "lab"))
    bash = f"""# lab's completion, from `lab completion {shell}`.
_lab_complete() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" path="lab" word words i
    # The command path so far: `lab`, then each word that names a sub-command of the path before it.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$path $word" in
{_path_arms(parser, "lab")}
        esac
    done
    words=""
    case "$path $prev" in
{_option_arms(parser, "lab")}
    esac
    if [[ -z "$words" ]]; then
        case "$path" in
{body}
        esac
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _lab_complete lab
"""
    if shell == "zsh":
        return ("# zsh: bash's completion through zsh's bashcompinit.\n"
                "autoload -U +X bashcompinit && bashcompinit\n" + bash)
    return bash


def _path_arms(parser: argparse.ArgumentParser, path: str) -> str:
    arms = []
    for name, sub in _subparsers(parser).items():
        full = f"{path} {name}"
        arms.append(f'            {shlex.quote(full)}) path={shlex.quote(full)} ;;')
        if _subparsers(sub):
            arms.append(_path_arms(sub, full))
    return "\n".join(a for a in arms if a)


def _option_arms(parser: argparse.ArgumentParser, path: str) -> str:
    """After an option with choices, offer only those (`lab up --runtime <TAB>`)."""
    _, choices = _words(parser)
    arms = [f'        {shlex.quote(path + " " + o)}) words={shlex.quote(" ".join(v))} ;;' for o, v in choices.items()]
    for name, sub in _subparsers(parser).items():
        arms.append(_option_arms(sub, f"{path} {name}"))
    return "\n".join(a for a in arms if a)
