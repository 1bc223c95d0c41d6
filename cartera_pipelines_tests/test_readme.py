"""The README keeps its promises: the two commands first, and every variable in its table."""

from pathlib import Path

from cartera_pipelines.settings import VARIABLES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_two_commands_come_first() -> None:
    head = README[: README.index("## Configuration")]
    assert "make demo" in head and "make test" in head


def test_every_variable_is_documented() -> None:
    missing = [v.name for v in VARIABLES if f"`{v.name}`" not in README]
    assert missing == []
