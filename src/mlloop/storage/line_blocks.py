"""A file read in blocks of whole lines: bounded memory for files of any size, and line numbers kept."""

from collections.abc import Iterator
from typing import BinaryIO


def blocks(stream: BinaryIO, block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """The stream's whole lines, about `block_bytes` at a time, each with the number of its first line."""
    rest = b""
    first_line = 1
    while chunk := stream.read(block_bytes):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            rest = chunk
            continue
        block, rest = chunk[:cut], chunk[cut:]
        yield block, first_line
        first_line += block.count(b"\n")
    if rest:
        yield rest, first_line
