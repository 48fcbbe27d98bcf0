"""The curl examples of the README and the guides under docs/, run in order against
the app holding what `make run` seeds (the demo, and the README's ONCALL_ADMIN_KEY):
every one answers 2xx. An example that collides with the demo (409 for a level it
has) or routes events with the wrong kind of key (400) fails here."""

import re
import shlex
from pathlib import Path

import pytest

from oncall_local import demo
from oncall_local.server import provide_admin_key

PROJECT = Path(__file__).resolve().parent.parent
DOCUMENTS = [PROJECT / "README.md", *sorted((PROJECT / "docs").rglob("*.md"))]
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
ASSIGNMENT = re.compile(r"([A-Za-z_]\w*)=(.*)", re.DOTALL)
# How the documents name an admin key they do not make themselves.
ADMIN_KEY_NAMES = ("ADMIN_KEY", "TOKEN")
# How a document keeps a field of an answer: VAR=$(curl ... | python3 -c '...json.load(sys.stdin)["<field>"]...').
FIELD_FROM_ANSWER = re.compile(r"""json\.load\(sys\.stdin\)\["(\w+)"\]""")


def shell_commands(text: str):
    """Each command of the document's sh blocks, split into words as the shell would
    (continued lines joined, quotes spanning lines kept, comments dropped)."""
    for block in SHELL_BLOCK.findall(text):
        pending = ""
        for line in block.splitlines(keepends=True):
            pending += line
            if line.rstrip("\n").endswith("\\"):
                continue
            try:
                words = shlex.split(pending.replace("\\\n", " "), comments=True)
            except ValueError:  # a quote still open: the command goes on
                continue
            pending = ""
            if words:
                yield words


def expand(word: str, variables: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        assert name in variables, f"${name} is used before the document sets it"
        return variables[name]

    return VARIABLE.sub(value, word)


def curl(client, words: list[str], variables: dict[str, str]):
    """What curl sends for these words (-X, -H, -d and @file, the URL), answered by the app."""
    method, headers, body, url = None, {}, None, None
    args = iter(expand(word, variables) for word in words[1:])
    for arg in args:
        if arg == "-s":
            continue
        if arg.startswith("-X"):
            method = arg[2:] or next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            body = next(args)
        else:
            assert not arg.startswith("-"), f"curl option {arg} is not read here"
            url = arg
    if body is not None:
        method = method or "POST"
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")  # curl's, with -d
        if body.startswith("@"):
            body = (PROJECT / body[1:]).read_text(encoding="utf-8")
    path = re.sub(r"^(https?://)?[^/]+", "", url)
    response = client.anonymous.request(method or "GET", path, headers=headers, body=body or "")
    assert 200 <= response.status_code < 300, (shlex.join(words), response.status_code, response.body)
    return response


def run(client, words: list[str], variables: dict[str, str]) -> bool:
    """Run one command if it speaks to the API or sets a variable; True if it was a curl."""
    if words[0] == "export":
        words = words[1:]
    assignment = ASSIGNMENT.fullmatch(words[0])
    if assignment and len(words) == 1:
        name, value = assignment.groups()
        variables[name] = expand(value, variables)
        if name == "ONCALL_ADMIN_KEY":
            assert provide_admin_key(variables[name], fresh=True)
        return False
    if assignment and assignment.group(2) == "$(curl":
        pipe = words.index("|")
        field = FIELD_FROM_ANSWER.search(" ".join(words[pipe:]))
        assert field, words
        variables[assignment.group(1)] = curl(client, ["curl", *words[1:pipe]], variables).json_body[field.group(1)]
        return True
    if words[0] == "curl":
        curl(client, words, variables)
        return True
    return False  # make, aws, python -m oncall_admin, ...: not the API


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(PROJECT)))
def test_every_curl_example_answers_2xx_against_the_demo(client, keyring, document):
    demo.seed()
    text = document.read_text(encoding="utf-8")
    variables = dict.fromkeys(ADMIN_KEY_NAMES, keyring.admin())
    ran = sum(run(client, words, variables) for words in shell_commands(text))
    written = sum(block.count("curl ") for block in SHELL_BLOCK.findall(text))
    assert ran == written


def test_every_pagerduty_notifier_example_maps_the_severity():
    """Alertmanager's pagerduty_configs sends severity "error" unless told otherwise."""
    examples = [
        block
        for document in DOCUMENTS
        for block in re.findall(r"^```yaml\n(.*?)^```", document.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
        if "pagerduty_configs" in block
    ]
    assert len(examples) >= 2
    for block in examples:
        assert "severity: '{{ if eq .CommonLabels.severity" in block, block
