"""`dl-tui classify` plans a run once: a short run starts no worker process."""

from __future__ import annotations

from tui.classify.plan import CHUNK, HEAD, INFER_CHUNK, Prep, default_workers, make_plan


def plan(files: int, on_cpu: bool = True, batch_size: int = 256, workers: int | None = 3):
    return make_plan([], Prep(), batch_size, workers, on_cpu, head=[None] * min(files, HEAD))


def test_a_run_that_fits_in_one_task_stays_in_this_process():
    assert plan(INFER_CHUNK).workers == 1  # on the CPU a task is a batch of at most 128
    assert plan(INFER_CHUNK + 1).workers == 3
    assert plan(CHUNK, on_cpu=False).workers == 1  # beside a GPU workers only decode, 64 a task
    assert plan(CHUNK + 1, on_cpu=False).workers == 3


def test_tasks_are_batches_on_the_cpu_and_decoding_chunks_beside_a_gpu():
    assert plan(1000, batch_size=7).chunk == 7 and plan(1000, batch_size=7).workers == 3
    assert plan(1000).chunk == INFER_CHUNK and plan(1000).infer_in_workers
    gpu = plan(1000, on_cpu=False)
    assert gpu.chunk == CHUNK and not gpu.infer_in_workers


def test_workers_default_to_the_machine():
    assert plan(1000, workers=None).workers == default_workers(True)
    assert plan(1000, on_cpu=False, workers=None).workers == default_workers(False)
