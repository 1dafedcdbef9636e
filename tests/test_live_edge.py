"""The one test that talks to the real edge-tts service. Deselected by default (no internet in
CI); run it with `pytest -m network` on a machine that is online."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.network


def test_real_edge_tts_produces_a_programme(bc, tmp_path):
    text = bc.config.read_text(encoding="utf-8")
    import re

    text = re.sub(r"^endpoint = .*$", 'endpoint = ""', text, flags=re.M)
    bc.config.write_text(text, encoding="utf-8")
    p = tmp_path / "反诈.txt"
    p.write_text("反诈提醒\n接到陌生电话要求转账，请拨打96110咨询。", encoding="utf-8")
    r = bc("queue", "add", str(p))
    assert r.exit_code == 0, r.output
    (prog,) = json.loads(bc("programmes", "list", "--json").output)
    assert prog["engine"] == "edge", r.output
