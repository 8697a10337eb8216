"""The README's protocol table and chat/protocol.py describe the same frames."""

import re

from django.conf import settings

from chat import protocol

ROW = re.compile(r"^\| (`\{.*?\}`(?:, `\{.*?\}`)*) \|", re.MULTILINE)
FRAME = re.compile(r"`(\{.*?\})`")


def readme_frames() -> dict[str, set[str]]:
    """Each frame type in the README's tables, with the keys its example shows."""
    text = (settings.BASE_DIR / "README.md").read_text()
    section = text[text.index("## The chat protocol") :]
    section = section[: section.index("\n## ", 1)]
    frames: dict[str, set[str]] = {}
    for row in ROW.findall(section):
        for example in FRAME.findall(row):
            kind = re.search(r'"type": "(\w+)"', example).group(1)
            # Keys at the top level only: `"sources": [{"title", "url"}]` names one key.
            keys = set(re.findall(r'"(\w+)":', re.sub(r"\[.*?\]", "[]", example)))
            frames.setdefault(kind, set()).update(keys - {"type"})
    return frames, section


def test_every_frame_in_the_readme_is_defined_with_the_same_fields():
    frames, _ = readme_frames()
    defined = {kind.type: kind for kind in (*protocol.SERVER_EVENTS, *protocol.INBOUND.values())}

    assert set(frames) == set(defined)
    for kind, keys in frames.items():
        required, optional = protocol.field_names(defined[kind])
        assert required <= keys <= required | optional, kind


def test_optional_fields_and_error_codes_are_documented_too():
    _, section = readme_frames()
    for kind in (*protocol.SERVER_EVENTS, *protocol.INBOUND.values()):
        for name in protocol.field_names(kind)[1]:
            assert f'"{name}"' in section, f"{kind.type}.{name}"
    codes = section[section.index("Error codes:") :]
    assert {code for code in protocol.ERROR_CODES if f"`{code}`" not in codes} == set()


def test_a_frame_holds_its_type_and_fields_and_leaves_an_unset_retry_after_out():
    assert protocol.Token("Hi").frame() == {"type": "token", "text": "Hi"}
    assert protocol.Error("busy", "Wait.").frame() == {
        "type": "error",
        "code": "busy",
        "message": "Wait.",
    }
    assert protocol.Error("rate_limited", "Slow.", 3).frame()["retry_after"] == 3
