"""How a file is cut into chunks: by rows, and earlier by text so that long rows stay bounded."""

from pipeline.formats import RawRow
from pipeline.processing import _batched, _chunk_count
from pipeline.settings import Settings


def rows(sizes):
    return [RawRow(n, {}, size=size) for n, size in enumerate(sizes, start=1)]


def test_chunks_end_after_so_many_rows_or_earlier_once_their_text_adds_up():
    settings = Settings(chunk_readings=3, chunk_mb=1)
    mb = 2**20
    sizes = [10, 10, 10, 10, mb // 2, mb // 2, 10, 10]
    chunks = list(_batched(rows(sizes), settings))
    assert [[r.number for r in chunk] for chunk in chunks] == [[1, 2, 3], [4, 5, 6], [7, 8]]
    assert _chunk_count(rows(sizes), settings) == 3, "the first pass counts what the second cuts"
    by_text = Settings(chunk_readings=10, chunk_mb=1)
    assert [[r.number for r in c] for c in _batched(rows([mb // 2, mb // 2, 10, 10]), by_text)] == [[1, 2], [3, 4]]
    assert [len(c) for c in _batched(rows([mb] * 2), settings)] == [1, 1]
    assert _chunk_count(rows([mb] * 2), settings) == 2 and _chunk_count(rows([1] * 3), settings) == 1
