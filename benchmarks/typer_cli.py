"""A typer + httpx + rich CLI, as real CLIs are: ``python typer_cli.py run``. Modes: _modes.py."""

import httpx
import typer
from _modes import command
from rich.console import Console

app = typer.Typer(add_completion=False, help="Typer benchmark CLI.")
console = Console()


@app.callback()
def main_options() -> None:
    """Typer benchmark CLI."""


@app.command()
def run(count: int = 1000) -> None:
    """Trivial work: add up some squares and print the total."""
    with command("run") as work, work("work"):
        total = sum(i * i for i in range(count))
        url = httpx.URL("https://api.example.invalid/v1/jobs", params={"n": count})
    console.print(f"[bold]total[/bold] = {total} ({url.host})")


if __name__ == "__main__":
    app()
