"""What the engine process sends: results with their row values and stored documents."""

from __future__ import annotations

import pickle

import pytest

from core.storage import result_document
from desktop.engine_process import CheckBatch
from desktop.rows import row_values
from tests.desktop.fakes import make_result


def test_a_batch_is_its_results_with_values_and_documents() -> None:
    results = [make_result(f"h{i}.test", days=i) for i in range(5)]
    batch = CheckBatch.prepare(results)
    assert list(batch) == results and len(batch) == 5 and batch[2] is results[2]
    assert batch.values == [row_values(r) for r in results]
    assert batch.documents == [result_document(r) for r in results]
    assert CheckBatch.prepare(batch) is batch  # made once, never again


def test_slices_and_joins_keep_results_values_and_documents_together() -> None:
    batch = CheckBatch.prepare([make_result(f"h{i}.test", days=i) for i in range(10)])
    head, tail = batch[:4], batch[4:]
    assert isinstance(head, CheckBatch) and len(head) == 4 and len(tail) == 6
    assert tail.values[0] == batch.values[4] and tail.documents[0] == batch.documents[4]
    joined = CheckBatch.join([head, tail])
    assert (joined.results, joined.values, joined.documents) == (
        batch.results,
        batch.values,
        batch.documents,
    )
    assert len(CheckBatch.join([])) == 0


def test_a_batch_crosses_the_process_pipe() -> None:
    batch = CheckBatch.prepare([make_result("a.test"), make_result("b.test", error="refused")])
    copy = pickle.loads(pickle.dumps(batch))
    assert (copy.results, copy.values, copy.documents) == (
        batch.results,
        batch.values,
        batch.documents,
    )


def test_values_and_documents_must_match_the_results() -> None:
    result = make_result("a.test")
    with pytest.raises(ValueError):
        CheckBatch([result], [], [result_document(result)])
