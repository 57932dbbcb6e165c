import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    from lakehouse_core.process_exit import command_line

    out = Path(sys.argv[1])
    outcome = sys.argv[2]

    def late_writer() -> None:
        time.sleep(0.3)
        with out.open("a") as f:
            f.write("thread ")

    def app() -> None:
        atexit.register(lambda: out.open("a").write("atexit "))
        threading.Thread(target=late_writer).start()
        print("printed", end="")
        if outcome == "ok":
            raise SystemExit(0)
        if outcome == "code":
            raise SystemExit(4)
        if outcome == "message":
            raise SystemExit("went wrong")

    command_line(app)()
    """
)


@pytest.mark.parametrize(
    ("outcome", "status", "stderr"),
    [("ok", 0, ""), ("code", 4, ""), ("message", 1, "went wrong\n"), ("return", 0, "")],
)
def test_a_wrapped_command_keeps_its_status_output_threads_and_exit_handlers(
    tmp_path: Path, outcome: str, status: int, stderr: str
) -> None:
    script = tmp_path / "cli.py"
    script.write_text(SCRIPT)
    marks = tmp_path / "marks"
    done = subprocess.run(
        [sys.executable, str(script), str(marks), outcome],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == status
    assert done.stdout == "printed"
    assert done.stderr == stderr
    assert marks.read_text() == "thread atexit "
