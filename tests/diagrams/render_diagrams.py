"""`make diagrams`: render every Mermaid diagram of the generated READMEs with mermaid-cli
(the renderer GitHub's diagrams come from) in Debian's Chromium; fail on any that does not render.

Usage: python tests/diagrams/render_diagrams.py MMDC_BINARY PUPPETEER_CONFIG OUTPUT_DIR README...
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    mmdc, config, output, *readmes = sys.argv[1:]
    target = Path(output)
    target.mkdir(parents=True, exist_ok=True)
    failures, count = [], 0
    for readme in readmes:
        text = Path(readme).read_text(encoding="utf-8")
        for index, diagram in enumerate(re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)):
            name = re.sub(r"[^A-Za-z0-9]+", "-", readme).strip("-") + f"-{index}"
            source = target / f"{name}.mmd"
            source.write_text(diagram, encoding="utf-8")
            started = time.monotonic()
            result = subprocess.run([mmdc, "-p", config, "-i", str(source), "-o", str(target / f"{name}.png"), "-b", "white"],
                                    capture_output=True, text=True, timeout=180, check=False)
            count += 1
            status = "ok" if result.returncode == 0 else "FAILED"
            print(f"{status:<6} {readme} diagram {index + 1} ({time.monotonic() - started:.1f} s) -> {target / name}.png")
            if result.returncode != 0:
                failures.append(f"{readme} diagram {index + 1}:\n{result.stderr[-2000:]}")
    if not count:
        sys.exit("no Mermaid diagrams found; were the READMEs rendered?")
    if failures:
        sys.exit("diagrams that do not render:\n" + "\n".join(failures))
    print(f"{count} diagrams rendered")


if __name__ == "__main__":
    main()
