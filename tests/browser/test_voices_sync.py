"""The page's voice list (static/js/voices.js) is the protocol's (translation/protocol.py)."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.services import missing
from tests.stack import ROOT
from translation.protocol import VOICES


def test_voices_js_mirrors_the_protocol():
    node = shutil.which("node")
    if node is None:
        missing("node (Node.js 20)")
    script = (
        "import('./static/js/voices.js').then((m) => "
        "console.log(JSON.stringify({voices: m.VOICES, defaults: m.DEFAULT_VOICES})))"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    page = json.loads(out)
    assert page["voices"] == {lang: list(names) for lang, names in VOICES.items()}
    assert all(page["defaults"][lang] in names for lang, names in VOICES.items())
