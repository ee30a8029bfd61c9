"""The Python agent of examples/python-agent.toml: yields its answer in chunks."""

from collections.abc import Iterator


def run(prompt: str) -> Iterator[str]:
    """Stream a short answer; crondeck shows each chunk as it comes."""
    yield "Hello from a Python agent.\n"
    yield f"I was asked: {prompt}\n"
