"""The README's results are read from saved data by scripts: in the results sections (and the
plasticity study), every number with a decimal point sits inside a block a script writes
(<!-- name:start --> ... <!-- name:end -->), never in hand-written prose, where it could drift
from the data it describes."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
# (first heading, heading that ends the span): the parts of the README that report results
SPANS = [("### Scores", "### Environment speed"), ("### Plasticity of the cortex", "## Wake, sleep, test"),
         ("## Results", "## Beyond one machine")]
DECIMAL = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![\w.])")
# settings and bars, not results: a decimal that names a criterion rather than a measurement
CRITERIA = {"0.9", "1.5", "0.6", "0.99", "0.5", "1.05"}


def prose_decimals(text: str) -> list[str]:
    """Lines of hand-written prose in ``text`` that hold a decimal number other than a criterion."""
    text = re.sub(r"<!-- (\w+):start -->.*?<!-- \1:end -->", "", text, flags=re.S)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)   # inline code: commands and names, not measurements
    return [line for line in text.splitlines()
            if not line.startswith("![") and set(DECIMAL.findall(line)) - CRITERIA]


def test_result_numbers_in_the_readme_come_from_script_written_blocks():
    text = README.read_text()
    for start, end in SPANS:
        span = text[text.index(start):text.index(end, text.index(start))]
        assert prose_decimals(span) == [], f"hand-written result numbers under {start!r}"


def test_the_check_sees_a_hand_written_number():
    assert prose_decimals("Fine-tuning forgets 0.87 of A.\n<!-- x:start -->\n0.5 0.42\n<!-- x:end -->") == \
        ["Fine-tuning forgets 0.87 of A."]
    assert prose_decimals("A is learned to 0.9 within 1.5x the steps.") == []
